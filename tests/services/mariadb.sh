#!/usr/bin/env bash
# A throwaway MariaDB (Debian mariadb-server, 10.11 on bookworm) on 127.0.0.1:3307 for the run store's
# server tests, fresh at every start: its datadir is copied from a template made once by
# mariadb-install-db; database `pipework`, user 'pipework'@'%' with password `pipework`. No system
# config is read (--no-defaults).
# Usage: tests/services/mariadb.sh start|stop|status|check     (root; mariadbd drops to user mysql)
set -euo pipefail
SVC=mariadb; D=$(cd "$(dirname "$0")" && pwd); . "$D/_lib.sh"
S=$PW_ROOT/mariadb; PORT=${PW_MYSQL_PORT:-3307}; SOCK=$S/mysqld.sock
URL=mysql+pymysql://pipework:pipework@127.0.0.1:$PORT/pipework

env_lines() { echo "export PIPEWORK_TEST_MYSQL_URL=$URL"; }

install() {
  if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null; then
    log "installing mariadb-server"
    apt_install mariadb-server   # policy-rc.d keeps Debian's own instance (3306) from starting
  fi
}

# a small redo log: the template is ~20 MB instead of ~110 MB, so the copy at each start is quick
DBOPTS=(--innodb-log-file-size=16M)

template() {
  [ -f "$S/template/.ok" ] && return 0
  log "mariadb-install-db -> $S/template (once)"
  rm -rf "$S/template"
  mariadb-install-db --no-defaults --datadir="$S/template" --user=mysql "${DBOPTS[@]}" \
    --auth-root-authentication-method=socket --skip-test-db >"$S/install-db.log" 2>&1 \
    || { log "mariadb-install-db failed: $S/install-db.log"; exit 1; }
  touch "$S/template/.ok"
}

ping_db() { mariadb-admin --no-defaults -S "$SOCK" -u root ping; }

start() {
  mkdir -p "$S"
  if alive "$S/mariadbd.pid"; then log "already running"; env_lines; return; fi
  install; chown mysql:mysql "$S"; template
  local t0; t0=$(date +%s%N)
  rm -rf "$S/data" "$S/mariadbd.log"
  cp -a "$S/template" "$S/data"
  # --user=mysql: started as root, it switches user itself (same pid, so the pid file stays right)
  setsid mariadbd --no-defaults --datadir="$S/data" --user=mysql --port="$PORT" --bind-address=127.0.0.1 \
    --socket="$SOCK" --pid-file="$S/data/mariadbd.pid" --log-error="$S/mariadbd.log" --skip-name-resolve \
    "${DBOPTS[@]}" --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=128M --max-connections=200 \
    >"$S/mariadbd.out" 2>&1 </dev/null &
  echo $! >"$S/mariadbd.pid"
  wait_for 60 ping_db || { log "mariadbd not up: $S/mariadbd.log"; tail -5 "$S/mariadbd.log" >&2; exit 1; }
  mariadb --no-defaults -S "$SOCK" -u root -e "CREATE DATABASE pipework;
    CREATE USER 'pipework'@'%' IDENTIFIED BY 'pipework'; GRANT ALL ON *.* TO 'pipework'@'%';"
  log "ready in $(secs_since "$t0") s"
  env_lines
}

stop() {
  stop_pid "$S/mariadbd.pid"   # TERM: a clean shutdown (1-2 s)
  log "stopped"
}

status() {
  if alive "$S/mariadbd.pid"; then
    echo "mariadbd: running (pid $(cat "$S/mariadbd.pid"))"
    ping_db || return 1
  else
    echo "mariadbd: not running (not started by us)"; return 1
  fi
}

check() {   # the store's own round trip: a run recorded and read back through pipework
  local e; e=$("$0" start) || exit 1; eval "$e"
  "${PW_TEST_VENV:-$D/../../.venv-test}/bin/python" -c "
import sys; from pipework.store import RunStore
s = RunStore(sys.argv[1]); i = s.start_run(pipeline='check', workdir='/w', outdir='/o', scheduler='local')
s.end_run(i, state='done'); print('mariadb: run', i, s.run(i).state)" "$PIPEWORK_TEST_MYSQL_URL"
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; check) check ;;
  *) echo "usage: $0 start|stop|status|check" >&2; exit 2 ;;
esac
