#!/bin/sh
# One trial of `npm run bench -- vs-c --shapes clone-client`: the floor server (bare-clonesrv) on
# the book's ports, the burst driver warmed up (clone-burst.js with BURST_ON_SIGNAL), then the
# process under test (a client that takes a snapshot and prints `ready`), then the burst of
# $UPDATES. Prints the client's line (it measures itself) with "load=<1-minute load average>".
#
#   vs-c-clone-client.sh <server.js> <driver.js> <client...>
. "$(dirname "$0")/vs-c-lib.sh"
set -u
server_js=$1; driver=$2; shift 2
tmp=$(mktemp -d)
node "$server_js" 5556 >/dev/null 2>&1 &
server=$!
sleep "${STARTUP_S:-1}"
BURST_ON_SIGNAL=1 node "$driver" tcp://127.0.0.1:5556 tcp://127.0.0.1:5557 tcp://127.0.0.1:5558 \
  "${UPDATES:-100000}" "$server" >"$tmp/driver" 2>"$tmp/driver.err" &
burst=$!
wait_for() { _i=0; while ! grep -q "$2" "$1" 2>/dev/null && [ "$_i" -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done; }
wait_for "$tmp/driver.err" warm
"$@" tcp://127.0.0.1:5556 tcp://127.0.0.1:5557 tcp://127.0.0.1:5558 "${UPDATES:-100000}" >"$tmp/client" 2>&1 &
client=$!
wait_for "$tmp/client" ready
kill -USR1 "$burst"
wait "$client"
wait "$burst"
stop_pid "$server"
wait 2>/dev/null
echo "$(grep rate= "$tmp/client") load=$(load1)"
rm -rf "$tmp"
