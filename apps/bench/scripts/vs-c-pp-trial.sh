#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes ppqueue`: start a Paranoid Pirate queue on the book's
# ports (clients 5555, workers 5556), $WORKERS bare echo workers (apps/bench/dist/peers/pp-workers.js)
# and the pipelined driver (pp-driver.js: $REQUESTS requests, $WINDOW in flight), then print the
# driver's "rate= replies= expected= p50_us= p99_us=" and the queue's "cpu_us=<CPU per request,
# us, from schedstat> rss_kb=<peak RSS> load=<1-minute load average at the end>". A first driver
# run of $WARMUP requests (2,000) warms the queue up (JIT compilation, first connections) and is
# not measured.
#
#   vs-c-pp-trial.sh <peers-dir> <queue...>
set -u
here=$(dirname "$0")
. "$here/vs-c-lib.sh"
peers=$1; shift
"$@" >/dev/null 2>&1 &
queue=$!
sleep "${STARTUP_S:-1.5}"
node=${NODE:-node}
"$node" "$peers/pp-workers.js" --workers "${WORKERS:-10}" >/dev/null &
workers=$!
sleep 1
n=${REQUESTS:-50000}
"$node" "$peers/pp-driver.js" --requests "${WARMUP:-2000}" --window "${WINDOW:-100}" >/dev/null
c0=$(cpu_ns_total "$queue")
out=$("$node" "$peers/pp-driver.js" --requests "$n" --window "${WINDOW:-100}")
c1=$(cpu_ns_total "$queue")
rss=$(peak_rss_kb "$queue")
stop_pid "$workers" TERM
stop_pid "$queue" INT
wait 2>/dev/null
printf '%s cpu_us=%s rss_kb=%s load=%s\n' "$out" "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n / 1000}')" "$rss" "$(load1)"
