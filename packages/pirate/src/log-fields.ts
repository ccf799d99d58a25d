import { type Message } from '@zpatterns/core';
import { hex } from '@zpatterns/core/internal';

/** The sender identity (first frame) of a ROUTER message as hex, for log lines. */
export function peerOf(message: Message): string | undefined {
  const id = message[0];
  return id === undefined ? undefined : hex(id);
}
