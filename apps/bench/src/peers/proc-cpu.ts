/**
 * The CPU a process under test has used so far, read from `/proc` by the drivers that measure it
 * from outside (Linux only).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ on Linux: the unit of utime and stime in `/proc/PID/stat`. */
const TICK_HZ = 100;

/** User + system CPU time of `pid` so far, in microseconds (10 ms resolution); 0 without a pid. */
export function cpuUs(pid: string | undefined): number {
  if (pid === undefined) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat; here, after "pid (comm) ", indexes 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) / TICK_HZ) * 1e6;
}

/**
 * CPU time (ns, from schedstat) of the process's threads so far, in three groups: its main
 * thread, libzmq's (ZMQbg/...), and the rest (V8's helpers: compiler, GC; libuv's pool); all 0
 * without a pid.
 */
export function threadNs(pid: string | undefined): { main: number; zmq: number; helpers: number } {
  const out = { main: 0, zmq: 0, helpers: 0 };
  if (pid === undefined) return out;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (tid === pid) out.main += ns;
      else if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').startsWith('ZMQ')) out.zmq += ns;
      else out.helpers += ns;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}
