import { toError } from './errors.js';

/**
 * The close of a long-lived object, run once. Every `close()` returns the same promise (so a second
 * call during the first waits for the same end and never starts a second close), and `closed()`
 * resolves after it, never rejecting: with `undefined`, or with the error the close ran into. A
 * `closed()` taken before `close()` stays pending until the object is closed.
 */
export class CloseOnce {
  readonly #run: () => Promise<void>;
  #closing: Promise<void> | undefined;
  #onCalled: () => void = () => undefined;
  readonly #called = new Promise<void>((resolve) => {
    this.#onCalled = resolve;
  });

  /** @param run - the object's own close steps, run on the first `close()` */
  constructor(run: () => Promise<void>) {
    this.#run = run;
  }

  /** Whether `close()` has been called (the object is closing or closed). */
  get started(): boolean {
    return this.#closing !== undefined;
  }

  /** Run the close steps on the first call; every call returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#run();
    this.#onCalled();
    return this.#closing;
  }

  /** Resolves once closed: `undefined`, or the error the close steps ran into. */
  async closed(): Promise<void | Error> {
    await this.#called;
    return (this.#closing as Promise<void>).then(
      () => undefined,
      (err: unknown) => toError(err),
    );
  }
}
