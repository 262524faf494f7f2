#!/usr/bin/env bash
# A throwaway PostgreSQL (Debian postgresql, 15 on bookworm) on 127.0.0.1:5433 for the run store's
# server tests, fresh at every start: its data dir is copied from a template made once by initdb;
# role and database `pipework` (password `pipework`, scram over TCP). Durability is off (fsync,
# synchronous_commit, full_page_writes): a crash loses data, tests go faster.
# Usage: tests/services/postgres.sh start|stop|status|check     (root; the server runs as user postgres)
set -euo pipefail
SVC=postgres; D=$(cd "$(dirname "$0")" && pwd); . "$D/_lib.sh"
S=$PW_ROOT/postgres; PORT=${PW_PG_PORT:-5433}
URL=postgresql+psycopg://pipework:pipework@127.0.0.1:$PORT/pipework

env_lines() { echo "export PIPEWORK_TEST_PG_URL=$URL"; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

install() {
  if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
    log "installing postgresql"
    apt_install postgresql   # policy-rc.d keeps Debian's own cluster (5432) from starting
  fi
}

psql_su() { "$(bindir)/psql" -X -q -h "$S" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

start() {
  mkdir -p "$S"
  if alive "$S/postgres.pid"; then log "already running"; env_lines; return; fi
  install
  local t0 B; t0=$(date +%s%N); B=$(bindir)
  chown postgres:postgres "$S"   # initdb and postgres refuse to run as root
  if [ ! -f "$S/template/.ok" ]; then   # initdb once, then a copy per start
    rm -rf "$S/template"
    runuser -u postgres -- "$B/initdb" -D "$S/template" -U postgres -E UTF8 --locale=C.UTF-8 -A trust \
      >"$S/initdb.log" 2>&1 || { log "initdb failed: $S/initdb.log"; exit 1; }
    # the socket (in $S, for the setup below): trust; TCP: a password
    printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n' \
      >"$S/template/pg_hba.conf"
    touch "$S/template/.ok"
  fi
  rm -rf "$S/data" "$S/postgres.log"
  cp -a "$S/template" "$S/data"
  local opts="-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$S -c max_connections=200"
  opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  runuser -u postgres -- "$B/pg_ctl" -D "$S/data" -l "$S/postgres.log" -w -t 60 -o "$opts" start >/dev/null \
    || { log "pg_ctl start failed: $S/postgres.log"; tail -5 "$S/postgres.log" >&2; exit 1; }
  head -1 "$S/data/postmaster.pid" >"$S/postgres.pid"
  psql_su -c "CREATE ROLE pipework LOGIN CREATEDB PASSWORD 'pipework'" -c "CREATE DATABASE pipework OWNER pipework"
  log "ready in $(secs_since "$t0") s"
  env_lines
}

stop() {
  stop_pid "$S/postgres.pid" INT   # SIGINT: fast shutdown (TERM waits for the clients to disconnect)
  log "stopped"
}

status() {
  if alive "$S/postgres.pid"; then
    echo "postgres: running (pid $(cat "$S/postgres.pid"))"
    "$(bindir)/pg_isready" -h 127.0.0.1 -p "$PORT" || return 1
  else
    echo "postgres: not running (not started by us)"; return 1
  fi
}

check() {   # the store's own round trip: a run recorded and read back through pipework
  local e; e=$("$0" start) || exit 1; eval "$e"
  "${PW_TEST_VENV:-$D/../../.venv-test}/bin/python" -c "
import sys; from pipework.store import RunStore
s = RunStore(sys.argv[1]); i = s.start_run(pipeline='check', workdir='/w', outdir='/o', scheduler='local')
s.end_run(i, state='done'); print('postgres: run', i, s.run(i).state)" "$PIPEWORK_TEST_PG_URL"
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; check) check ;;
  *) echo "usage: $0 start|stop|status|check" >&2; exit 2 ;;
esac
