#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes broker-scale`: a broker, one C `mdworker` (echo) and
# the C `mdclient2_n` ($REQUESTS), first alone, then with $IDLE_WORKERS idle workers registered
# (md-idle-workers.js x $IDLE_PEERS, one service each, heartbeating). Prints one line:
#   rate=, cpu_us=       echo requests/s and broker CPU per request with the idle workers registered
#   rate0=, cpu0_us=     the same before they came (same broker, same run, after the warm-up and
#                        the settling requests): the median of $ALONE_WINDOWS (3) windows of $REQUESTS
#   cpu0_lo_us=, cpu0_hi_us=   the lowest and highest of those windows
#   cpu0_js_us=, cpu0_io_us=, cpu0_other_us=   the same CPU over all the windows, by thread: the
#                        main (JavaScript) thread, libzmq's threads, the rest (V8's helper threads:
#                        compiling, GC; libuv's pool)
#   cold_cpu_us=         broker CPU per request over the $WARMUP_REQUESTS (3,000) warm-up requests
#                        from its cold start, before anything else is measured; then
#                        $SETTLE_REQUESTS (20,000) unmeasured, while V8 finishes compiling the path
#   idle_cpu_ms_s=       broker CPU per second, idle, with them registered (heartbeating them)
#   dispatch_us=         cpu_us less the idle CPU over the same time: the echo requests' own cost
#   rss_kb=, rss0_kb=    broker peak RSS at the end, and its RSS before the idle workers came
#   register_s=          from starting the idle workers until every one heard from the broker
#   idle_workers=, disconnects=   idle workers, and DISCONNECTs they got (0: none dropped)
#   replies=, expected=, load=  (with FLOOR=1: answered=, sent=, not checked: the bare broker
#                        routes echo requests to idle workers too)
#
#   vs-c-scale.sh <cbin> <broker...>
set -u
. "$(dirname "$0")/vs-c-lib.sh"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# CPU of PID so far by thread, in ns: "<main thread> <libzmq's threads> <the rest>"
cpu_ns_threads() {
  for t in /proc/"$1"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null)" "$(cat "$t/comm" 2>/dev/null)"
  done | awk -v pid="$1" '$1 == pid {js += $2; next} $3 ~ /^ZMQbg/ {io += $2; next} {other += $2}
    END {printf "%.0f %.0f %.0f", js, io, other}'
}
fail() { echo "vs-c-scale: $*" >&2; }
cbin=$1; shift
n=${REQUESTS:-20000}
idle=${IDLE_WORKERS:-10000}
npeers=${IDLE_PEERS:-2}
per=$(( (idle + npeers - 1) / npeers ))
tmp=$(mktemp -d)
"$@" >/dev/null 2>&1 &
broker=$!
sleep "${STARTUP_S:-1.5}"
"$cbin/mdworker" >/dev/null 2>&1 &
worker=$!
sleep 1
# Warm-up: the first requests through a fresh broker pay for its JIT compiling (measured, apart).
w=${WARMUP_REQUESTS:-3000}
cw0=$(cpu_ns_total "$broker")
rw=$("$cbin/mdclient2_n" "$w" 2>/dev/null | awk '/replies received/ {print $1}')
cw1=$(cpu_ns_total "$broker")
# Settling, unmeasured: with 3,000 requests behind it a Node broker is still compiling the path of
# a long queue (the floor's one short function is done); one window later it is not.
ws=${SETTLE_REQUESTS:-20000}
rs=0
[ "$ws" -gt 0 ] && rs=$("$cbin/mdclient2_n" "$ws" 2>/dev/null | awk '/replies received/ {print $1}')
rss0=$(rss_kb "$broker")
# Alone: $ALONE_WINDOWS windows of $n requests; the median window is the figure (one window's CPU
# per request moves with how the scheduler interleaves the broker, its I/O thread and the worker).
windows=${ALONE_WINDOWS:-3}
th0=$(cpu_ns_threads "$broker")
wins=""; r0=0; k=0
while [ "$k" -lt "$windows" ]; do
  c0=$(cpu_ns_total "$broker"); t0=$(now)
  rk=$("$cbin/mdclient2_n" "$n" 2>/dev/null | awk '/replies received/ {print $1}')
  t1=$(now); c1=$(cpu_ns_total "$broker")
  r0=$((r0 + ${rk:-0}))
  wins="$wins $(awk -v n="$n" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.3f:%.1f", (c1 - c0) / 1000 / n, n / (t1 - t0)}')"
  k=$((k + 1))
done
th1=$(cpu_ns_threads "$broker")
alone=$(printf '%s\n' $wins | sort -t: -k1,1n | awk -F: -v th0="$th0" -v th1="$th1" -v n=$((n * windows)) '
  {cpu[NR] = $1; rate[NR] = $2}
  END {
    split(th0, a, " "); split(th1, b, " "); m = int((NR + 1) / 2)
    printf "rate0=%.1f cpu0_us=%.2f cpu0_lo_us=%.2f cpu0_hi_us=%.2f ", rate[m], cpu[m], cpu[1], cpu[NR]
    printf "cpu0_js_us=%.2f cpu0_io_us=%.2f cpu0_other_us=%.2f", (b[1] - a[1]) / 1000 / n, (b[2] - a[2]) / 1000 / n, (b[3] - a[3]) / 1000 / n
  }')

peers=""
p=0; started=0
s0=$(now)
while [ "$started" -lt "$idle" ]; do
  count=$per
  [ $((started + count)) -gt "$idle" ] && count=$((idle - started))
  "${NODE:-node}" "$IDLE" tcp://127.0.0.1:5555 "$count" "$started" >"$tmp/peer$p" 2>&1 &
  peers="$peers $!"
  started=$((started + count)); p=$((p + 1))
done
# Wait (at most 90 s) until every idle worker has heard from the broker.
i=0
while [ "$(cat "$tmp"/peer* | grep -c registered)" -lt "$p" ] && [ "$i" -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
s1=$(now)
[ "$i" -ge 900 ] && fail "idle workers not all registered after 90 s"

# Idle, with every worker registered: the broker heartbeats them.
ci0=$(cpu_ns_total "$broker"); ti0=$(now)
sleep "${IDLE_S:-5}"
ti1=$(now); ci1=$(cpu_ns_total "$broker")

c2=$(cpu_ns_total "$broker"); t2=$(now)
r1=$("$cbin/mdclient2_n" "$n" 2>/dev/null | awk '/replies received/ {print $1}')
t3=$(now); c3=$(cpu_ns_total "$broker")

# shellcheck disable=SC2086
kill -TERM $peers 2>/dev/null
for pid in $peers; do wait "$pid" 2>/dev/null; done
status=$(cat "$tmp"/peer* | awk -F'[ =]' '/^idle_workers=/ {w += $2; h += $4; d += $6} END {printf "idle_workers=%d heard=%d disconnects=%d", w, h, d}')
stop_pid "$worker" TERM &
rss=$(peak_rss_kb "$broker")
stop_pid "$broker" INT
wait 2>/dev/null
rm -rf "$tmp"
load=$(load1)
awk -v n="$n" -v w="$w" -v rw="${rw:-0}" -v cw0="$cw0" -v cw1="$cw1" -v r0="${r0:-0}" -v r1="${r1:-0}" -v t2="$t2" -v t3="$t3" \
  -v ws="$ws" -v rs="${rs:-0}" -v windows="$windows" -v alone="$alone" \
  -v c2="$c2" -v c3="$c3" -v ci0="$ci0" -v ci1="$ci1" -v ti0="$ti0" -v ti1="$ti1" \
  -v s0="$s0" -v s1="$s1" -v rss="$rss" -v rss0="$rss0" -v load="$load" -v status="$status" -v floor="${FLOOR:-0}" 'BEGIN {
    idle = (ci1 - ci0) / (ti1 - ti0)
    printf "rate=%.1f cpu_us=%.2f %s idle_cpu_ms_s=%.2f ", n / (t3 - t2), (c3 - c2) / 1000 / n, alone, idle / 1e6
    printf "dispatch_us=%.2f cold_cpu_us=%.2f ", (c3 - c2 - idle * (t3 - t2)) / 1000 / n, (cw1 - cw0) / 1000 / w
    printf "rss_kb=%d rss0_kb=%d register_s=%.2f %s %s=%d %s=%d load=%s\n", rss, rss0, s1 - s0, status,
      floor ? "answered" : "replies", rw + rs + r0 + r1, floor ? "sent" : "expected", w + ws + (windows + 1) * n, load }'
