/**
 * Loading a store's database driver when the store starts, not when the package is imported:
 * `better-sqlite3` and `pg` are optional peer dependencies, so a service that only submits
 * requests with `TitanicClient` installs neither. A missing driver is one clear error that says
 * what to install.
 */
import { InvalidStateError } from '@zpatterns/core';

/** A driver package a store loads at `start()`. */
export interface DriverPackage {
  /** The package name, as `import()` takes it. */
  readonly name: string;
  /** The major version the store is written against, for the install line. */
  readonly major: number;
}

/** True when `err` is the module loader's "cannot find package `name`" (not a failure inside it). */
function isMissing(err: unknown, name: string): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = err instanceof Error ? err.message : '';
  return message.includes(`'${name}'`) || message.includes(`"${name}"`);
}

/**
 * The default export of `driver` (both drivers are CommonJS), imported on first use. Rejects
 * with `InvalidStateError` `<who> needs the <name> package: npm install <name>@<major>` when the
 * package is not installed; any other failure to load it is rethrown as it is.
 */
export async function loadDriver<T>(who: string, driver: DriverPackage): Promise<T> {
  let module: { default: unknown };
  try {
    module = (await import(driver.name)) as { default: unknown };
  } catch (err) {
    if (!isMissing(err, driver.name)) throw err;
    throw new InvalidStateError(`${who} needs the ${driver.name} package: npm install ${driver.name}@${driver.major}`, {
      cause: err,
    });
  }
  return module.default as T;
}
