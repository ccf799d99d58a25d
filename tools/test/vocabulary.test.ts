/**
 * One meaning per word, over every public library's built types (what a user's compiler sees):
 * status events are core's, with core's fields; options are `?: T | undefined` and use the one
 * name per idea; error codes are closed unions; give-up and timeout errors carry `attempts`;
 * stats use the one name per idea. The glossary is docs/api.md; tools/vocabulary.mjs lists the
 * replaced names. Reads `dist/`, so build first (`npx turbo run build`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { publicEntryPoints, vocabularyProblems } from '../vocabulary.mjs';

const root = resolve(import.meta.dirname, '../..');

describe('the vocabulary and glossary of the public types', () => {
  it('every status event, option, error code, give-up error and stat of every public library', () => {
    const entries = publicEntryPoints(root);
    expect(entries.length).toBeGreaterThan(8);
    expect(vocabularyProblems(entries, root)).toEqual([]);
  }, 60_000);
});

describe('the check itself, on hand-written declarations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vocabulary-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // One file per case, all checked in one program (a program costs seconds): each case's
  // problems are the lines that name its file.
  const cases: string[] = [];
  let problems: string[] | undefined;
  const check = (text: string): (() => string[]) => {
    const file = `case-${cases.length}.d.ts`;
    cases.push(file);
    writeFileSync(join(dir, file), text);
    return () => {
      problems ??= vocabularyProblems(
        cases.map((c) => join(dir, c)),
        dir,
      );
      return problems.filter((p) => p.startsWith(`${file}: `)).map((p) => p.slice(file.length + 2));
    };
  };

  const good = check(`
export type GoodStatus =
  | { readonly type: 'connected'; readonly peer: string; readonly session?: number }
  | { readonly type: 'disconnected'; readonly peer: string; readonly reason: 'silent' | 'error'; readonly silentMs?: number }
  | { readonly type: 'worker-removed'; readonly worker: string; readonly reason: 'silent'; readonly busy: boolean };
export type WireStatus = '200' | '404';
export interface GoodOptions { peer: string; heartbeatIntervalMs?: number | undefined; lingerMs?: number | undefined }
export type GoodErrorCode = 'ERR_A' | 'ERR_B';
export declare class GaveUpError extends Error { readonly attempts: number }
export declare class TimeoutError extends Error { readonly attempts?: number }
export interface GoodStats { readonly retries: number; readonly malformed: number }
`);
  const badStatus = check(`
export type BadStatus =
  | { readonly type: 'server-alive'; readonly server: string }
  | { readonly type: 'connected'; readonly server: string }
  | { readonly type: 'disconnected'; readonly peer: string; readonly reason: 'broker-dead' }
  | { readonly type: 'worker-removed'; readonly worker: string; readonly reason: string }
  | { readonly kind: 'x' };
`);
  const inlineStatus = check(`
declare class Component<T> { status(): AsyncIterable<T> }
export declare class Thing extends Component<{ readonly type: 'backlog-full'; readonly queued: number }> {}
type HiddenStatus = { readonly type: 'state'; readonly from: string };
export declare class Other extends Component<HiddenStatus> {}
export {};
`);
  const badOptions = check(`
export interface BadOptions {
  heartbeatMs?: number | undefined;
  closeLingerMs: number;
  logger?: object;
  onEvent?(x: number): void;
}
`);
  const badErrors = check(`
export type OpenErrorCode = 'ERR_A' | (string & {});
export type WideErrorCode = string;
export declare class WorkerGaveUpError extends Error { readonly code: 'ERR_GAVE_UP' }
export declare class ThingTimeoutError extends Error {}
export interface ThingStats { readonly resends: number; readonly invalidFrames: number; readonly refusedRequests: number }
`);
  const statusEvent = check(
    `export type StatusEvent = { readonly type: 'started' } | { readonly type: 'closed'; readonly error?: Error };`,
  );

  it('passes declarations written in the vocabulary', () => {
    expect(good()).toEqual([]);
  });

  it('fails an unknown status type, a renamed field, a missing field, a wrong reason and a member without a type', () => {
    expect(badStatus()).toEqual([
      `BadStatus: a status member without a \`type\`: { readonly kind: "x"; }`,
      `BadStatus: status 'connected' has a field \`server\` that core's 'connected' has not`,
      `BadStatus: status 'connected' lacks its field \`peer\``,
      `BadStatus: status 'disconnected' reason "broker-dead" is not one of 'silent' | 'disconnect' | 'error'`,
      `BadStatus: status 'worker-removed' lacks its field \`busy\``,
      `BadStatus: status 'worker-removed' reason string is not one of 'silent' | 'disconnect' | 'unreachable' | 'error'`,
      `BadStatus: status type 'server-alive' is not one of core's StatusEvent types`,
    ]);
  });

  it('fails the status a Component is built on, written inline or named but not exported', () => {
    expect(inlineStatus()).toEqual([
      `Other (its status): status type 'state' is not one of core's StatusEvent types`,
      `Thing (its status): status type 'backlog-full' is not one of core's StatusEvent types`,
    ]);
  });

  it('fails an optional option that rejects undefined, an optional method, and a replaced option name', () => {
    expect(badOptions()).toEqual([
      'BadOptions.closeLingerMs: a replaced option name, use `lingerMs`',
      'BadOptions.heartbeatMs: a replaced option name, use `heartbeatIntervalMs`',
      'BadOptions.logger: optional but does not accept undefined (write `?: T | undefined`)',
      'BadOptions.onEvent: an optional method; write it as a property `?: (...) => T | undefined`',
    ]);
  });

  it('fails an open error code, a give-up or timeout error without attempts, and replaced stat names', () => {
    expect(badErrors()).toEqual([
      "OpenErrorCode: not a closed union of string literals: 'ERR_A' | (string & {})",
      'ThingStats.invalidFrames: a replaced stat name, use `malformed`',
      'ThingStats.refusedRequests: a replaced stat name, use `refused`',
      'ThingStats.resends: a replaced stat name, use `retries`',
      'ThingTimeoutError: a give-up or timeout error without `attempts`',
      'WideErrorCode: not a closed union of string literals: string',
      'WorkerGaveUpError: a give-up or timeout error without `attempts`',
    ]);
  });

  it("fails core's StatusEvent when it lacks a type of the vocabulary", () => {
    const problems = statusEvent();
    expect(problems).toContain("StatusEvent: lacks the status type 'connected' (the vocabulary has it)");
    expect(problems).not.toContain("StatusEvent: lacks the status type 'started' (the vocabulary has it)");
  });
});
