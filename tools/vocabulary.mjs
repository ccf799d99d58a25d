#!/usr/bin/env node
/**
 * The one vocabulary and glossary, checked on the public types as a user's compiler sees them
 * (the built `.d.ts` of every public library's entry points, read with the TypeScript compiler):
 *
 * - every status event (a `*Status` type, or the status type a `Component<...>` is built on) is
 *   one of core's `StatusEvent` types, with exactly the fields STATUS_EVENTS gives it;
 * - every optional member of an `*Options` type is written `?: T | undefined`, and no option
 *   uses a replaced name (REPLACED_OPTIONS);
 * - every `*ErrorCode` is a closed union of string literals;
 * - every error class that is a give-up or a timeout has `attempts`;
 * - no `*Stats` type uses a replaced stat name (REPLACED_STATS).
 *
 *   npx turbo run build && node tools/vocabulary.mjs    print the problems (exit 1 if any)
 *
 * tools/test/vocabulary.test.ts runs it, and runs it on hand-written snippets that must fail.
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { publicPackages } from './workspaces.mjs';

/**
 * Core's status events: `type` → its fields. A field is `name` (required) or `name?`
 * (optional); `reason` lists the literals it may take where the reasons are closed.
 * @type {Record<string, { fields: string[], reasons?: string[] }>}
 */
export const STATUS_EVENTS = {
  started: { fields: [] },
  closed: { fields: ['error?'] },
  connected: { fields: ['peer', 'session?'] },
  disconnected: { fields: ['peer', 'reason', 'silentMs?', 'session?'], reasons: ['silent', 'disconnect', 'error'] },
  reconnecting: { fields: ['peer', 'attempt', 'delayMs'] },
  failover: { fields: ['from', 'to'] },
  resync: { fields: ['peer', 'reason'], reasons: ['gap', 'behind', 'restart'] },
  'worker-ready': { fields: ['worker', 'service?'] },
  'worker-removed': {
    fields: ['worker', 'reason', 'busy', 'service?'],
    reasons: ['silent', 'disconnect', 'unreachable', 'error'],
  },
  'service-available': { fields: ['service'] },
  'service-unavailable': { fields: ['service'] },
  role: { fields: ['from', 'to', 'reason?'] },
  'split-brain': { fields: ['peer', 'stays?', 'sequence?', 'peerSequence?'] },
  unhealthy: { fields: ['reason', 'error?'] },
  healthy: { fields: [] },
  saturated: { fields: ['queued', 'limit'] },
  drained: { fields: ['queued'] },
};

/** Option names that one name replaced: old → the one name. */
export const REPLACED_OPTIONS = {
  heartbeatMs: 'heartbeatIntervalMs',
  intervalMs: 'heartbeatIntervalMs',
  serverTtlMs: 'peerTtlMs',
  reconnect: 'reconnectDelay',
  reconnectDelayMs: 'reconnectDelay',
  closeLingerMs: 'lingerMs',
  maxFrames: 'maxFramesPerMessage',
  curve: 'security',
  commitTimeoutMs: 'timeoutMs',
};

/** Where a replaced name is the right word after all: `Interface.member`. */
const NOT_REPLACED = new Set([
  // The CURVE keys inside `security: SecurityOptions`, not an option of a class.
  'SecurityOptions.curve',
]);

/** Stat names that one name replaced: old → the one name. `invalid*` is matched as a prefix. */
export const REPLACED_STATS = {
  resends: 'retries',
  badMessages: 'malformed',
  invalidMessages: 'malformed',
  'invalid*': 'malformed',
  refusedRequests: 'refused',
};

/**
 * The `.d.ts` entry points of every public library: the files its `exports` map serves, except
 * `./internal` (no semver promise) and `./package.json`.
 * @param {string} root
 * @returns {string[]}
 */
export function publicEntryPoints(root) {
  const files = [];
  for (const pkg of publicPackages(root).filter((p) => p.library)) {
    for (const [subpath, target] of Object.entries(pkg.manifest.exports ?? {})) {
      if (subpath === './internal' || subpath === './package.json') continue;
      const types = typeof target === 'object' && target !== null ? target.types : undefined;
      if (typeof types === 'string') files.push(join(pkg.dir, types));
    }
  }
  return files;
}

/**
 * Every problem found in the exports of these `.d.ts` files, one line each.
 * @param {string[]} entryPoints `.d.ts` files
 * @param {string} root paths in messages are relative to it
 * @returns {string[]}
 */
export function vocabularyProblems(entryPoints, root) {
  const missing = entryPoints.filter((f) => !existsSync(f));
  if (missing.length > 0) return missing.map((f) => `${relative(root, f)}: not built (run npx turbo run build)`);
  const program = ts.createProgram(entryPoints, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const problems = new Set();
  /** @type {Set<ts.Symbol>} */
  const seen = new Set();
  const modules = entryPoints.flatMap((file) => {
    const source = program.getSourceFile(file);
    const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source);
    return moduleSymbol === undefined ? [] : [moduleSymbol];
  });
  const exportedNames = new Set(modules.flatMap((m) => checker.getExportsOfModule(m).map((e) => e.getName())));

  for (const moduleSymbol of modules) {
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (seen.has(symbol)) continue;
      seen.add(symbol);
      const name = exported.getName();
      const where = `${packageOfDeclaration(symbol, root)}${name}`;
      for (const p of checkSymbol(checker, symbol, name, where, exportedNames)) problems.add(p);
    }
  }
  return [...problems].sort();
}

/** `@zpatterns/x: ` from the declaration's path, for messages. */
function packageOfDeclaration(/** @type {ts.Symbol} */ symbol, /** @type {string} */ root) {
  const file = symbol.declarations?.[0]?.getSourceFile().fileName;
  if (file === undefined) return '';
  const rel = relative(root, file);
  const match = /^(?:packages|apps)\/([^/]+)\//.exec(rel) ?? /node_modules\/(@[^/]+\/[^/]+)\//.exec(rel);
  if (match === null) return `${rel}: `;
  return `${match[1]?.startsWith('@') ? match[1] : `@zpatterns/${match[1]}`}: `;
}

/**
 * @param {ts.TypeChecker} checker
 * @param {ts.Symbol} symbol
 * @param {string} name the exported name
 * @param {string} where for messages
 * @param {Set<string>} exportedNames every name the entry points export
 * @returns {string[]}
 */
function checkSymbol(checker, symbol, name, where, exportedNames) {
  const problems = [];
  const isType = (symbol.flags & (ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Interface)) !== 0;
  const isClass = (symbol.flags & ts.SymbolFlags.Class) !== 0;

  if (isType && /Status$|^StatusEvent$/.test(name)) {
    const declared = checker.getDeclaredTypeOfSymbol(symbol);
    // A wire status code (`MmiServiceStatus = '200' | '404' | ...`) is not a status event.
    const objects = (declared.isUnion() ? declared.types : [declared]).some((t) => t.flags & ts.TypeFlags.Object);
    if (objects) problems.push(...checkStatus(checker, declared, where));
  }
  if (isClass) {
    for (const statusType of componentStatusTypes(checker, symbol, exportedNames)) {
      problems.push(...checkStatus(checker, statusType, `${where} (its status)`));
    }
  }
  if (isType && name === 'StatusEvent') {
    const declared = checker.getDeclaredTypeOfSymbol(symbol);
    const types = new Set(
      (declared.isUnion() ? declared.types : [declared]).flatMap((member) => {
        const prop = checker.getPropertyOfType(member, 'type');
        const t = prop === undefined ? undefined : checker.getTypeOfSymbol(prop);
        return t === undefined
          ? []
          : (t.isUnion() ? t.types : [t]).flatMap((l) => (l.isStringLiteral() ? [l.value] : []));
      }),
    );
    for (const type of Object.keys(STATUS_EVENTS)) {
      if (!types.has(type)) problems.push(`${where}: lacks the status type '${type}' (the vocabulary has it)`);
    }
  }
  if (isType && /Options$/.test(name)) {
    problems.push(...checkOptions(checker, symbol, name, where));
  }
  if (isType && /ErrorCode$/.test(name)) {
    problems.push(...checkErrorCode(checker, symbol, where));
  }
  if (isClass && /Error$/.test(name) && /GaveUp|Timeout/.test(name)) {
    const instance = checker.getDeclaredTypeOfSymbol(symbol);
    if (checker.getPropertyOfType(instance, 'attempts') === undefined) {
      problems.push(`${where}: a give-up or timeout error without \`attempts\``);
    }
  }
  if (isType && /Stats$/.test(name)) {
    for (const prop of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
      const old = prop.getName();
      const replaced =
        Object.hasOwn(REPLACED_STATS, old) && old !== 'invalid*'
          ? REPLACED_STATS[/** @type {keyof typeof REPLACED_STATS} */ (old)]
          : /^invalid[A-Z]/.test(old)
            ? REPLACED_STATS['invalid*']
            : undefined;
      if (replaced !== undefined) problems.push(`${where}.${old}: a replaced stat name, use \`${replaced}\``);
    }
  }
  return problems;
}

/** The `TStatus` of `extends Component<TStatus>` (or of any base class with one type argument named Component). */
function componentStatusTypes(
  /** @type {ts.TypeChecker} */ checker,
  /** @type {ts.Symbol} */ symbol,
  /** @type {Set<string>} */ exportedNames,
) {
  const found = [];
  for (const declaration of symbol.declarations ?? []) {
    if (!ts.isClassDeclaration(declaration)) continue;
    for (const clause of declaration.heritageClauses ?? []) {
      if (clause.token !== ts.SyntaxKind.ExtendsKeyword) continue;
      for (const base of clause.types) {
        if (base.expression.getText() !== 'Component') continue;
        const [arg] = base.typeArguments ?? [];
        // A named status type exported as `*Status` is checked under its own name.
        const named = arg !== undefined && ts.isTypeReferenceNode(arg) ? arg.typeName.getText() : undefined;
        if (arg === undefined || (named !== undefined && /Status$/.test(named) && exportedNames.has(named))) continue;
        found.push(checker.getTypeFromTypeNode(arg));
      }
    }
  }
  return found;
}

/**
 * @param {ts.TypeChecker} checker
 * @param {ts.Type} type
 * @param {string} where
 * @returns {string[]}
 */
function checkStatus(checker, type, where) {
  const problems = [];
  const members = type.isUnion() ? type.types : [type];
  for (const member of members) {
    const typeProp = checker.getPropertyOfType(member, 'type');
    if (typeProp === undefined) {
      problems.push(`${where}: a status member without a \`type\`: ${checker.typeToString(member)}`);
      continue;
    }
    const typeType = checker.getTypeOfSymbol(typeProp);
    const literals = (typeType.isUnion() ? typeType.types : [typeType]).map((t) =>
      t.isStringLiteral() ? t.value : undefined,
    );
    for (const literal of literals) {
      if (literal === undefined) {
        problems.push(`${where}: a status \`type\` that is not a string literal: ${checker.typeToString(typeType)}`);
        continue;
      }
      const event = Object.hasOwn(STATUS_EVENTS, literal)
        ? STATUS_EVENTS[/** @type {keyof typeof STATUS_EVENTS} */ (literal)]
        : undefined;
      if (event === undefined) {
        problems.push(`${where}: status type '${literal}' is not one of core's StatusEvent types`);
        continue;
      }
      const expected = new Map(event.fields.map((f) => [f.replace(/\?$/, ''), f.endsWith('?')]));
      for (const prop of checker.getPropertiesOfType(member)) {
        const field = prop.getName();
        if (field === 'type') continue;
        const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
        if (!expected.has(field)) {
          problems.push(`${where}: status '${literal}' has a field \`${field}\` that core's '${literal}' has not`);
        } else if (optional && expected.get(field) === false) {
          problems.push(`${where}: status '${literal}' has \`${field}\` optional; it is required`);
        }
        if (field === 'reason' && event.reasons !== undefined) {
          const reasonType = checker.getTypeOfSymbol(prop);
          for (const r of reasonType.isUnion() ? reasonType.types : [reasonType]) {
            if (r.flags & ts.TypeFlags.Undefined) continue;
            if (!r.isStringLiteral() || !event.reasons.includes(r.value)) {
              problems.push(
                `${where}: status '${literal}' reason ${checker.typeToString(r)} is not one of ${event.reasons.map((x) => `'${x}'`).join(' | ')}`,
              );
            }
          }
        }
      }
      for (const [field, optional] of expected) {
        if (!optional && checker.getPropertyOfType(member, field) === undefined) {
          problems.push(`${where}: status '${literal}' lacks its field \`${field}\``);
        }
      }
    }
  }
  return problems;
}

/**
 * Every member of an options type (inherited ones included), as written in its `.d.ts`:
 * optional members are `?: T | undefined`, and none uses a replaced name.
 * @param {ts.TypeChecker} checker
 * @param {ts.Symbol} symbol the options interface or type alias
 * @param {string} interfaceName
 * @param {string} where
 * @returns {string[]}
 */
function checkOptions(checker, symbol, interfaceName, where) {
  const problems = [];
  for (const prop of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
    const name = prop.getName();
    if (Object.hasOwn(REPLACED_OPTIONS, name) && !NOT_REPLACED.has(`${interfaceName}.${name}`)) {
      problems.push(
        `${where}.${name}: a replaced option name, use \`${REPLACED_OPTIONS[/** @type {keyof typeof REPLACED_OPTIONS} */ (name)]}\``,
      );
    }
    for (const member of prop.declarations ?? []) {
      if (!ts.isPropertySignature(member) && !ts.isMethodSignature(member)) continue;
      if (member.questionToken === undefined) continue;
      if (ts.isMethodSignature(member)) {
        problems.push(`${where}.${name}: an optional method; write it as a property \`?: (...) => T | undefined\``);
        continue;
      }
      const type = member.type;
      const acceptsUndefined =
        type !== undefined &&
        (type.kind === ts.SyntaxKind.UndefinedKeyword ||
          type.kind === ts.SyntaxKind.AnyKeyword ||
          type.kind === ts.SyntaxKind.UnknownKeyword ||
          (ts.isUnionTypeNode(type) && type.types.some((t) => t.kind === ts.SyntaxKind.UndefinedKeyword)));
      if (!acceptsUndefined) {
        problems.push(`${where}.${name}: optional but does not accept undefined (write \`?: T | undefined\`)`);
      }
    }
  }
  return problems;
}

/**
 * @param {ts.TypeChecker} checker
 * @param {ts.Symbol} symbol
 * @param {string} where
 * @returns {string[]}
 */
function checkErrorCode(checker, symbol, where) {
  const type = checker.getDeclaredTypeOfSymbol(symbol);
  const members = type.isUnion() ? type.types : [type];
  if (members.every((t) => t.isStringLiteral())) return [];
  const declaration = symbol.declarations?.[0];
  const written =
    declaration !== undefined && ts.isTypeAliasDeclaration(declaration)
      ? declaration.type.getText()
      : checker.typeToString(type);
  return [`${where}: not a closed union of string literals: ${written.replace(/\s+/g, ' ')}`];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(import.meta.dirname, '..');
  const problems = vocabularyProblems(publicEntryPoints(root), root);
  for (const p of problems) console.log(p);
  process.exitCode = problems.length > 0 ? 1 : 0;
}
