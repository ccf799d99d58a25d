/**
 * 8/MMI, answered by the broker itself: `mmi.service` ("200"/"404"), and the extensions
 * `mmi.services` and `mmi.workers`; any other `mmi.*` name gets "501". Reply layouts are
 * documented in codec.ts. Pure: the broker passes a view of its tables.
 */
import { encodeMmiServicesBody, MMI, type MmiServiceEntry } from './codec.js';

/** What MMI needs to know about the broker's services. */
export interface MmiView {
  /** Live workers of the service named `key` (latin1), 0 when unknown. */
  liveWorkers(key: string): number;
  /** Every known service with its live worker count. */
  services(): MmiServiceEntry[];
}

const OK = Buffer.from(MMI.OK);
const NOT_FOUND = Buffer.from(MMI.NOT_FOUND);
const NOT_IMPLEMENTED = Buffer.from(MMI.NOT_IMPLEMENTED);
const SERVICE = Buffer.from(MMI.SERVICE);
const SERVICES = Buffer.from(MMI.SERVICES);
const WORKERS = Buffer.from(MMI.WORKERS);

/** The book's reply construction: the LAST body frame replaced, the others echoed. */
function replaceLast(body: readonly Buffer[], last: Buffer): Buffer[] {
  const out = body.slice(0, -1);
  out.push(last);
  return out;
}

/** The reply body for an `mmi.*` request (`body` has at least one frame). */
export function answerMmi(service: Buffer, body: readonly Buffer[], view: MmiView): Buffer[] {
  const lastFrame = body[body.length - 1] ?? Buffer.alloc(0);
  if (service.equals(SERVICE)) {
    return replaceLast(body, view.liveWorkers(lastFrame.toString('latin1')) > 0 ? OK : NOT_FOUND);
  }
  if (service.equals(SERVICES)) {
    const entries = view.services().sort((a, b) => Buffer.compare(a.name, b.name));
    return encodeMmiServicesBody(entries);
  }
  if (service.equals(WORKERS)) {
    return replaceLast(body, Buffer.from(String(view.liveWorkers(lastFrame.toString('latin1')))));
  }
  return replaceLast(body, NOT_IMPLEMENTED);
}
