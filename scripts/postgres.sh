#!/usr/bin/env bash
# A throw-away PostgreSQL for the job store's tests (scripts/test.sh, .ci/run): installs
# Debian's postgresql if its tools are missing, keeps one cluster outside the repository,
# starts it on 127.0.0.1 on a free port, and prints its URL on stdout:
#   postgres://starfarm:starfarm@127.0.0.1:PORT/starfarm
# Idempotent: a cluster this script already started is reused.
#   scripts/postgres.sh          start (or reuse) and print the URL
#   scripts/postgres.sh stop     stop the cluster it started (by its postmaster.pid)
# Everything but the URL goes to stderr. STARFARM_PG_DIR overrides the cluster's folder.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian keeps the server tools in /usr/lib/postgresql/<version>/bin, off the PATH.
find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] && command -v pg_ctl >/dev/null 2>&1; then
    # Another layout: pg_ctl (or a link to it) on the PATH, its siblings beside it.
    dir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
  fi
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/psql" ] && echo "$dir"
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
  log "installing Debian's postgresql"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin=$(find_bin) || { log "no initdb after installing postgresql"; exit 1; }
fi

# initdb refuses to run as root: as root, the cluster belongs to the postgres user (created
# by the Debian package) and lives where that user can write.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  dir=${STARFARM_PG_DIR:-/var/tmp/starfarm-pg}
  run() { runuser -u postgres -- "$@"; }
  mkdir -p "$dir"
  chown postgres: "$dir"
else
  dir=${STARFARM_PG_DIR:-$HOME/.cache/starfarm/pg}
  run() { "$@"; }
  mkdir -p "$dir"
fi
data=$dir/data
chmod 700 "$dir"
cd "$dir"  # the postgres user may not be allowed into the caller's folder
# One caller at a time starts or stops the cluster (parallel test runs share it).
exec 9>"$dir/lock"
flock 9

if [ "${1:-}" = stop ]; then
  if [ -f "$data/postmaster.pid" ]; then run "$bin/pg_ctl" -D "$data" -m fast -w stop >&2; fi
  exit 0
fi

# Creates the tests' role and database if missing, then prints the URL.
ready() {
  run "$bin/psql" -q -h "$dir" -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 >&2 <<'SQL'
SELECT 'CREATE ROLE starfarm LOGIN PASSWORD ''starfarm'''
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'starfarm') \gexec
SELECT 'CREATE DATABASE starfarm OWNER starfarm'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'starfarm') \gexec
SQL
  echo "postgres://starfarm:starfarm@127.0.0.1:$1/starfarm"
}

if [ -f "$data/postmaster.pid" ] && run "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  port=$(sed -n 4p "$data/postmaster.pid")  # the port the running server listens on
  for _ in $(seq 60); do
    if run "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      ready "$port"
      exit 0
    fi
    sleep 0.5
  done
  log "the cluster in $data runs but does not answer on port $port: see $dir/server.log"
  exit 1
fi

if [ ! -f "$data/PG_VERSION" ]; then
  log "creating a cluster in $data"
  pwfile=$(mktemp)
  echo postgres >"$pwfile"
  chmod 644 "$pwfile"
  # Local socket: trust (this script's own setup); TCP: passwords, as a real deployment.
  run "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 -E UTF8 --no-locale >/dev/null
  rm -f "$pwfile"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The socket goes in the cluster's folder: /var/run/postgresql may not exist or be writable.
# Tests run in parallel, each with its own pool: more connections than the default 100.
run "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" \
  start >&2 9>&-  # the server must not inherit (and hold) the lock
ready "$port"
