#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes mdbroker,flserver`: start a server, the book's C
# peers against it, and print one line: "rate=<requests/s> cpu_us=<server user+sys CPU per
# request, us> replies=<C client's count> expected=<requests sent> rss_kb=<server's peak RSS>
# load=<1-minute load average at the end>"
# (and "rtt_us=<flclient3's own average round trip>" for fl).
#
#   vs-c-trial.sh md <cbin> <server...>   the C mdworker x $WORKERS, mdclient2_n $REQUESTS
#   vs-c-trial.sh fl <cbin> <server...>   the C flclient3 (10,000 sequential requests)
#
# <server...> is the command line of the server (the C mdbroker/flserver3, or node + a script).
# The book's programs use fixed ports (5555), so the driver runs this inside `unshare -n` when it
# can (an empty network namespace per trial); otherwise those ports must be free.
set -u
shape=$1; cbin=$2; shift 2
"$@" >/dev/null 2>&1 &
server=$!
cpu() { awk '{print $14+$15}' "/proc/$server/stat"; }
tick=$(getconf CLK_TCK)
sleep "${STARTUP_S:-1.5}"
peers=""
if [ "$shape" = md ]; then
  i=0
  while [ "$i" -lt "${WORKERS:-10}" ]; do "$cbin/mdworker" >/dev/null 2>&1 & peers="$peers $!"; i=$((i + 1)); done
  sleep 1
  n=${REQUESTS:-100000}
  c0=$(cpu); t0=$(date +%s.%N)
  replies=$("$cbin/mdclient2_n" "$n" 2>/dev/null | awk '/replies received/ {print $1}')
  t1=$(date +%s.%N); c1=$(cpu)
else
  n=10000
  c0=$(cpu); t0=$(date +%s.%N)
  # Line-buffered: flclient3 can abort in its destructor after printing, losing a full buffer.
  out=$(stdbuf -oL "$cbin/flclient3" 2>/dev/null)
  t1=$(date +%s.%N); c1=$(cpu)
  case "$out" in *"Average round trip"*) replies=$n ;; *) replies=0 ;; esac
  rtt=$(printf '%s\n' "$out" | awk '/Average round trip/ {print $5}')
fi
if [ -n "$peers" ]; then
  kill $peers 2>/dev/null
  # A C worker can hang on exit (its broker gone first): give them 2 s, then SIGKILL.
  i=0
  alive() { for p in $peers; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
  while [ "$i" -lt 20 ] && alive; do sleep 0.1; i=$((i + 1)); done
  kill -9 $peers 2>/dev/null
fi
rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$server/status")
kill -INT "$server" 2>/dev/null
i=0
while kill -0 "$server" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$server" 2>/dev/null
wait 2>/dev/null
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v n="$n" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$tick" -v r="${replies:-0}" \
  -v rtt="${rtt:-}" -v load="$load" -v rss="$rss" 'BEGIN {
    printf "rate=%.1f cpu_us=%.2f replies=%d expected=%d rss_kb=%d load=%s", n / (t1 - t0), (c1 - c0) / hz * 1e6 / n, r, n, rss, load
    if (rtt != "") printf " rtt_us=%s", rtt
    printf "\n" }'
