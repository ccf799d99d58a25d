# Shared by the vs-c trial scripts (sourced, POSIX sh).
#   cpu_us_total PID   user+sys CPU of PID so far (all threads), in microseconds
#   cpu_ns_total PID   CPU of PID so far (all threads), in nanoseconds, from schedstat: finer than
#                      /proc/PID/stat's 10 ms clock ticks over a short trial
#   peak_rss_kb PID    VmHWM of PID (its peak resident set), KiB
#   load1              the 1-minute load average
#   stop_pid PID [SIG] signal PID (default INT), wait up to 5 s, then SIGKILL
#   now                seconds since the epoch, with nanoseconds
tick=$(getconf CLK_TCK)
cpu_us_total() { awk -v hz="$tick" '{printf "%.0f", ($14 + $15) / hz * 1e6}' "/proc/$1/stat"; }
cpu_ns_total() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
stop_pid() {
  kill "-${2:-INT}" "$1" 2>/dev/null
  _i=0
  while kill -0 "$1" 2>/dev/null && [ "$_i" -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
  kill -9 "$1" 2>/dev/null
}
