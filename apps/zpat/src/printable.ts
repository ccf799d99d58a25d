/** How zpat shows bytes on a terminal. */

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_NEWLINE = /[\u0000-\u001f\u007f]/;

/**
 * A frame for a terminal: UTF-8 text when it is printable, else `0x` and hex. With `singleLine`,
 * text holding a newline or tab prints as hex too, so one value stays on one line.
 */
export function printable(frame: Buffer, options: { singleLine?: boolean } = {}): string {
  const text = frame.toString('utf8');
  const control = options.singleLine === true ? CONTROL_OR_NEWLINE : CONTROL;
  return Buffer.from(text, 'utf8').equals(frame) && !control.test(text) ? text : `0x${frame.toString('hex')}`;
}
