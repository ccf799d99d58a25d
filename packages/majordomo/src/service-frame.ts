/**
 * A service name as the frame a client sends: a string is encoded once while the same one comes
 * again (a client usually calls one service), a `Buffer` or byte array is used as it is.
 */
import type { Frame } from '@zpatterns/core';
import { toBuffer } from '@zpatterns/core/internal';

export class ServiceFrames {
  #last: string | undefined;
  #frame: Buffer = Buffer.alloc(0);

  /** `service` as a frame. */
  of(service: string | Frame): Buffer {
    if (typeof service !== 'string') return toBuffer(service);
    if (service !== this.#last) {
      this.#frame = Buffer.from(service, 'utf8');
      this.#last = service;
    }
    return this.#frame;
  }
}
