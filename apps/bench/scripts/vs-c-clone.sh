#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes clone,clone-snapshot`: start a Clone server (and,
# after `--peer`, its Binary Star peer), then the driver on the book's ports (snapshot 5556,
# publisher 5557, collector 5558): `clone-burst.js` (a burst of $UPDATES KVSETs, a subscriber
# counting them and their gaps), or with $SNAPSHOT_KEYS set `clone-snapshot.js` (fill that many
# keys, then $SNAPSHOTS snapshots timed). The first server is the one measured (the active of a
# pair; the burst driver also reports the passive's CPU, `peer_us`). Prints the driver's line with
# "load=<1-minute load average at the end>" added.
#
#   vs-c-clone.sh <driver.js> <server...> [--peer <peer...>]
. "$(dirname "$0")/vs-c-lib.sh"
set -u
driver=$1; shift
server_cmd=""; peer_cmd=""; target=server
for arg in "$@"; do
  if [ "$arg" = "--peer" ]; then target=peer; continue; fi
  q=$(printf "'%s'" "$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")")
  if [ "$target" = server ]; then server_cmd="$server_cmd $q"; else peer_cmd="$peer_cmd $q"; fi
done
eval "exec $server_cmd" >/dev/null 2>&1 &
server=$!
peer=""
if [ -n "$peer_cmd" ]; then
  eval "exec $peer_cmd" >/dev/null 2>&1 &
  peer=$!
fi
sleep "${STARTUP_S:-1.5}"
if [ -n "${SNAPSHOT_KEYS:-}" ]; then
  out=$(node "$driver" tcp://127.0.0.1:5556 tcp://127.0.0.1:5557 tcp://127.0.0.1:5558 "$SNAPSHOT_KEYS" "${SNAPSHOTS:-3}" "$server")
else
  out=$(node "$driver" tcp://127.0.0.1:5556 tcp://127.0.0.1:5557 tcp://127.0.0.1:5558 "${UPDATES:-50000}" "$server" $peer)
fi
stop_pid "$server"
[ -n "$peer" ] && stop_pid "$peer"
wait 2>/dev/null
echo "$out load=$(load1)"
