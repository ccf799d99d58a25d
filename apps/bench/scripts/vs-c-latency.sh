#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes latency`: a broker, one C `mdworker` (echo), and one
# sequential client, one request at a time. Prints "rate=<requests/s> mean_us=<mean round trip>
# cpu_us=<broker user+sys CPU per request> replies=<answered> expected=<requests> rss_kb=<broker's
# peak RSS> load=<1-minute load average>", and with the timed driver also p50_us and p99_us.
#
#   vs-c-latency.sh c    <cbin> <broker...>   the C mdclient_n $REQUESTS (gives only its total)
#   vs-c-latency.sh node <cbin> <broker...>   $DRIVER (md-latency-client.js): $WARMUP untimed, then
#                                             $REQUESTS timed round trips
#
# Both first warm the broker up with $WARMUP_REQUESTS (3,000) requests of mdclient_n, unmeasured.
# The C programs use fixed ports (5555): run inside `unshare -n` (the harness does) or with 5555 free.
set -u
. "$(dirname "$0")/vs-c-lib.sh"
client=$1; cbin=$2; shift 2
"$@" >/dev/null 2>&1 &
broker=$!
sleep "${STARTUP_S:-1.5}"
"$cbin/mdworker" >/dev/null 2>&1 &
worker=$!
sleep 1
# Warm-up, outside the measurement: the JIT of a Node broker compiles and its first major GC runs.
"$cbin/mdclient_n" "${WARMUP_REQUESTS:-3000}" >/dev/null 2>&1
n=${REQUESTS:-10000}
c0=$(cpu_ns_total "$broker"); t0=$(now)
if [ "$client" = c ]; then
  replies=$("$cbin/mdclient_n" "$n" 2>/dev/null | awk '/replies received|requests\/replies processed/ {print $1}')
  total=$n
  out=""
else
  out=$("${NODE:-node}" "$DRIVER" tcp://127.0.0.1:5555 "$n" "${WARMUP:-500}")
  replies=$(printf '%s\n' "$out" | sed -n 's/.*replies=\([0-9]*\).*/\1/p')
  total=$(printf '%s\n' "$out" | sed -n 's/.*total=\([0-9]*\).*/\1/p')
fi
t1=$(now); c1=$(cpu_ns_total "$broker")
stop_pid "$worker" TERM &
rss=$(peak_rss_kb "$broker")
stop_pid "$broker" INT
wait 2>/dev/null
load=$(load1)
if [ "$client" = c ]; then
  awk -v n="$n" -v t0="$t0" -v t1="$t1" -v r="${replies:-0}" 'BEGIN {
    printf "rate=%.1f mean_us=%.1f replies=%d expected=%d ", n / (t1 - t0), (t1 - t0) * 1e6 / n, r, n }'
else
  # The driver's own figures (rate over its timed requests only), then the broker's.
  printf '%s ' "$out"
fi
awk -v c0="$c0" -v c1="$c1" -v total="${total:-$n}" -v rss="$rss" -v load="$load" 'BEGIN {
  printf "cpu_us=%.2f rss_kb=%d load=%s\n", (c1 - c0) / 1000 / total, rss, load }'
