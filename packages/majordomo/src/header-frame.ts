/**
 * Whether `frame` holds the six bytes of an MDP protocol header (`MDPC01`, `MDPW02`...): the loop
 * `frameEquals` runs, unrolled, for the readers that recognise a message in place.
 */
export function isHeader(frame: Buffer | undefined, header: Buffer): boolean {
  return (
    frame !== undefined &&
    frame.length === 6 &&
    frame[0] === header[0] &&
    frame[1] === header[1] &&
    frame[2] === header[2] &&
    frame[3] === header[3] &&
    frame[4] === header[4] &&
    frame[5] === header[5]
  );
}
