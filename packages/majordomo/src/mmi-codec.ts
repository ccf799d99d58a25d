/**
 * The 8/MMI part of the Majordomo wire format: the reserved `mmi.` services the broker answers
 * itself, and the body of the `mmi.services` extension. Pure functions, no sockets; checked by
 * `test/codec.test.ts` with the rest of the wire format.
 */

/** 8/MMI: the reserved service prefix and the status codes of `mmi.service`. */
export const MMI_PREFIX = 'mmi.';
/** The Majordomo Management Interface services (8/MMI) the broker answers itself. */
export const MMI = {
  SERVICE: 'mmi.service',
  /** Extension: the list of services with their live worker counts. */
  SERVICES: 'mmi.services',
  /** Extension: live workers of one service. */
  WORKERS: 'mmi.workers',
  OK: '200',
  NOT_FOUND: '404',
  NOT_IMPLEMENTED: '501',
} as const;

const MMI_PREFIX_BYTES = Buffer.from(MMI_PREFIX);

/*
 * 8/MMI reply layouts (the broker answers every `mmi.*` request itself; the reply's service frame
 * is the `mmi.*` name that was asked):
 *
 *   mmi.service  request body [..., name]  -> reply body [..., "200" | "404"]
 *                (as the book: the LAST body frame is replaced by the code, other frames echoed;
 *                 "200" when `name` has at least one live worker)
 *   mmi.*        any other name            -> reply body [..., "501"]  (last frame replaced)
 *
 * Extensions (not in 8/MMI; a book broker answers them "501"):
 *   mmi.services request body [anything]  -> reply body ["200", name1, workers1, name2, workers2, ...]
 *                one pair per service the broker knows (it has live workers or queued requests),
 *                sorted by name bytes; counts are decimal ASCII. Only "200" when there are none.
 *   mmi.workers  request body [..., name]  -> reply body [..., count]  (last frame replaced by the
 *                decimal ASCII number of live workers of `name`; "0" when unknown)
 */

/** One entry of the `mmi.services` extension reply. */
export interface MmiServiceEntry {
  /** The service name, as registered (bytes). */
  readonly name: Buffer;
  /** Its live workers (idle or busy). */
  readonly workers: number;
}

/** Encode the `mmi.services` reply body: `["200", name, workers, ...]`. */
export function encodeMmiServicesBody(entries: readonly MmiServiceEntry[]): Buffer[] {
  const body: Buffer[] = [Buffer.from(MMI.OK)];
  for (const entry of entries) body.push(entry.name, Buffer.from(String(entry.workers)));
  return body;
}

/**
 * Decode the `mmi.services` reply body. Returns a reason string when it is not `"200"` followed by
 * (name, decimal count) pairs (e.g. "501" from a broker without the extension).
 */
export function decodeMmiServicesBody(body: readonly Buffer[]): MmiServiceEntry[] | string {
  const [status] = body;
  if (status === undefined || status.toString('latin1') !== MMI.OK) {
    return `mmi.services answered ${status === undefined ? 'nothing' : JSON.stringify(status.toString('latin1'))}`;
  }
  if ((body.length - 1) % 2 !== 0) return 'mmi.services reply with an odd number of frames after the status';
  const entries: MmiServiceEntry[] = [];
  for (let i = 1; i < body.length; i += 2) {
    const name = body[i] as Buffer;
    const count = (body[i + 1] as Buffer).toString('latin1');
    if (!/^\d+$/.test(count)) return `mmi.services reply with a bad worker count ${JSON.stringify(count)}`;
    entries.push({ name, workers: Number(count) });
  }
  return entries;
}

/** True for a service name in the reserved `mmi.` namespace. */
export function isMmiService(service: Uint8Array): boolean {
  // Byte by byte: no subarray view and no native call per request.
  return (
    service.length >= 4 &&
    service[0] === MMI_PREFIX_BYTES[0] &&
    service[1] === MMI_PREFIX_BYTES[1] &&
    service[2] === MMI_PREFIX_BYTES[2] &&
    service[3] === MMI_PREFIX_BYTES[3]
  );
}
