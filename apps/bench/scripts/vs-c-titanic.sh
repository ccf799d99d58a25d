#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes titanic`: the C mdbroker and one C mdworker
# ("echo"), a Titanic (when given) started in a fresh temporary working directory (the book's C
# titanic keeps its files in ./.titanic), then the one driver, tsp-driver.js, sequential. Prints
# the driver's figures (rate, submit_rate, p50_us, p99_us, cpu_us, polls, replies, expected)
# and "rss_kb=<the titanic's peak RSS> load=<1-minute load average>".
#
#   vs-c-titanic.sh <cbin> <node> <tsp-driver.js> titanic <titanic...>   REQUESTS through it
#   vs-c-titanic.sh <cbin> <node> <tsp-driver.js> mdp                    REQUESTS straight to echo
set -u
. "$(dirname "$0")/vs-c-lib.sh"
cbin=$1; node=$2; driver=$3; mode=$4; shift 4
n=${REQUESTS:-2000}
work=$(mktemp -d "${TMPDIR:-/tmp}/vs-c-titanic-XXXXXX")
"$cbin/mdbroker" >/dev/null 2>&1 &
broker=$!
sleep 0.3
"$cbin/mdworker" >/dev/null 2>&1 &
echo_worker=$!
server=""
if [ "$mode" = titanic ]; then
  (cd "$work" && exec "$@" >/dev/null 2>"$work/stderr") &
  server=$!
fi
out=$("$node" "$driver" "$mode" tcp://127.0.0.1:5555 "$n" $server)
rss=""
if [ -n "$server" ]; then
  rss=" rss_kb=$(peak_rss_kb "$server")"
  stop_pid "$server" INT
fi
stop_pid "$echo_worker" INT
stop_pid "$broker" INT
wait 2>/dev/null
if [ -n "$server" ] && [ -s "$work/stderr" ] && ! printf '%s' "$out" | grep -q 'replies=[1-9]'; then
  tail -5 "$work/stderr" >&2
fi
rm -rf "$work"
echo "$out$rss load=$(load1)"
