#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes mdworker,mdclient`: the book's C mdbroker, and
# around it the process under test with C peers. Prints one line of key=value pairs (see
# src/vs-c/harness.ts): rate, cpu_us (the process under test, per request), replies, expected,
# rss_kb, load (and p50_us/p99_us when the client under test times its requests).
#
# $WARMUP requests (default 0) go through the same broker and peers first, for every contender
# alike, and are not counted: to the worker under test from a first mdclient2_n run; to a C client
# as a first run of the same program (C has no JIT to warm: this warms the broker and the
# workers); a node client does them itself before it starts measuring. `cold_cpu_us` is the CPU
# per request over the warm-up and the measured run together (not printed for a C client, whose
# two runs are two processes).
#
#   vs-c-mdlibs.sh worker <cbin> <worker...>   one worker under test; C mdclient2_n $REQUESTS, in
#                                              $SLICES runs (cpu_us: the median run's)
#   vs-c-mdlibs.sh cclient <cbin> <client...>  C mdworker x $WORKERS; a C client under test,
#                                              measured by /usr/bin/time, given $REQUESTS
#   vs-c-mdlibs.sh nclient <cbin> <client...>  C mdworker x $WORKERS; a node client under test,
#                                              which prints its own figures
set -u
. "$(dirname "$0")/vs-c-lib.sh"
mode=$1; cbin=$2; shift 2
n=${REQUESTS:-50000}
warmup=${WARMUP:-0}
"$cbin/mdbroker" >/dev/null 2>&1 &
broker=$!
sleep 0.5
peers=""
if [ "$mode" = worker ]; then
  "$@" >/dev/null 2>&1 &
  worker=$!
  sleep "${STARTUP_S:-1.5}"
  cw=$(cpu_ns_total "$worker")
  warm=0
  [ "$warmup" -gt 0 ] && warm=$("$cbin/mdclient2_n" "$warmup" 2>/dev/null | awk '/replies received/ {print $1}')
  # The measured requests in $SLICES runs of the client (default 5), the worker's CPU read around
  # each: cpu_us is the median slice's CPU per request (a worker's cost moves with how many
  # requests wait at each wake-up, so one burst of load elsewhere skews a mean); cpu_mean_us is
  # the whole run's, cpu_min_us/cpu_max_us the extreme slices.
  slices=${SLICES:-5}
  [ "$slices" -ge 1 ] 2>/dev/null || slices=1
  per=$((n / slices))
  replies=0; costs=""
  c0=$(cpu_ns_total "$worker"); t0=$(now)
  i=0
  while [ "$i" -lt "$slices" ]; do
    k=$per; [ "$i" -eq $((slices - 1)) ] && k=$((n - per * (slices - 1)))
    cs=$(cpu_ns_total "$worker")
    r=$("$cbin/mdclient2_n" "$k" 2>/dev/null | awk '/replies received/ {print $1}')
    ce=$(cpu_ns_total "$worker")
    replies=$((replies + ${r:-0}))
    costs="$costs $(awk -v a="$cs" -v b="$ce" -v k="$k" 'BEGIN { printf "%.4f", (b - a) / k / 1000 }')"
    i=$((i + 1))
  done
  t1=$(now); c1=$(cpu_ns_total "$worker")
  rss=$(peak_rss_kb "$worker")
  stop_pid "$worker"
  [ "${warm:-0}" -eq "$warmup" ] || replies=0 # a warm-up not fully answered fails the trial
  med=$(printf '%s\n' $costs | sort -g | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "cpu_us=%.2f cpu_min_us=%.2f cpu_max_us=%.2f", m, v[1], v[NR] }')
  line=$(awk -v n="$n" -v w="$warmup" -v t0="$t0" -v t1="$t1" -v cw="$cw" -v c0="$c0" -v c1="$c1" -v r="${replies:-0}" -v rss="$rss" -v med="$med" \
    'BEGIN { printf "rate=%.1f %s cpu_mean_us=%.2f cold_cpu_us=%.2f replies=%d expected=%d rss_kb=%d", n / (t1 - t0), med, (c1 - c0) / n / 1000, (c1 - cw) / (n + w) / 1000, r, n, rss }')
else
  i=0
  while [ "$i" -lt "${WORKERS:-10}" ]; do "$cbin/mdworker" >/dev/null 2>&1 & peers="$peers $!"; i=$((i + 1)); done
  sleep 1
  if [ "$mode" = cclient ]; then
    [ "$warmup" -gt 0 ] && "$@" "$warmup" >/dev/null 2>&1
    t0=$(now)
    out=$(/usr/bin/time -f 'cpu_s=%U+%S rss_kb=%M' "$@" "$n" 2>&1)
    t1=$(now)
    replies=$(printf '%s\n' "$out" | awk '/replies received|requests\/replies processed/ {print $1}')
    line=$(printf '%s\n' "$out" | awk -v n="$n" -v t0="$t0" -v t1="$t1" -v r="${replies:-0}" '
      /cpu_s=/ { split($1, kv, "="); split(kv[2], us, "+"); cpu = us[1] + us[2]; rss = $2 }
      END { printf "rate=%.1f cpu_us=%.2f replies=%d expected=%d %s", n / (t1 - t0), cpu * 1e6 / n, r, n, rss }')
  else
    line=$("$@" "$n" 2>/dev/null | grep 'rate=' | tail -1)
  fi
  kill $peers 2>/dev/null
  # A C worker can hang on exit (its broker gone first): give them 2 s, then SIGKILL.
  i=0
  alive() { for p in $peers; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
  while [ "$i" -lt 20 ] && alive; do sleep 0.1; i=$((i + 1)); done
  kill -9 $peers 2>/dev/null
fi
stop_pid "$broker"
wait 2>/dev/null
echo "$line load=$(load1)"
