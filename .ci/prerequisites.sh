#!/usr/bin/env bash
# What the test suite needs from the machine beside Node, installed with apt-get when missing, so
# that CI passes on a fresh machine with nothing installed by hand (CI runs as root):
#   postgresql  initdb and pg_ctl, for Titanic's PostgreSQL store (packages/testkit/src/postgres.ts
#               looks in /usr/lib/postgresql/<version>/bin, then on PATH)
#   util-linux  runuser: PostgreSQL refuses root, the test cluster runs as the postgres user
#   passwd      useradd: creates that user when the package did not
#   mount       mount/umount: the full-disk tests mount a 2 MB tmpfs
#   systemd     systemd-analyze: the deploy tests verify the unit files with it
# ZPATTERNS_PG_LIB and ZPATTERNS_APT_GET replace /usr/lib/postgresql and apt-get (for its test).
set -euo pipefail

pg_lib="${ZPATTERNS_PG_LIB:-/usr/lib/postgresql}"
apt_get="${ZPATTERNS_APT_GET:-apt-get}"

have_postgres() {
  local bin
  for bin in "$pg_lib"/*/bin; do
    [[ -x "$bin/pg_ctl" && -x "$bin/initdb" ]] && return 0
  done
  bin="$(command -v pg_ctl || true)"
  [[ -n "$bin" && -x "$(dirname "$bin")/initdb" ]]
}

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have_postgres || missing+=(postgresql)
have runuser || missing+=(util-linux)
have useradd || missing+=(passwd)
{ have mount && have umount; } || missing+=(mount)
have systemd-analyze || missing+=(systemd)

if ((${#missing[@]} == 0)); then
  echo "prerequisites: PostgreSQL, runuser, useradd, mount and systemd-analyze are present"
  exit 0
fi
echo "prerequisites: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"$apt_get" update
"$apt_get" install -y --no-install-recommends "${missing[@]}"
if ! have_postgres; then
  echo "prerequisites: postgresql is installed but no pg_ctl and initdb in $pg_lib/*/bin or on PATH" >&2
  exit 1
fi
