#!/usr/bin/env bash
# The local Google Cloud Batch v1 REST API of tests/fakes/gbatch on 127.0.0.1:8095. It runs tasks for real
# and maps /mnt/disks/<bucket> to the GCS emulator: start tests/services/storage.sh first.
# Usage: tests/services/gbatch.sh start|stop|status    (uses the python that has google-cloud-batch:
# $PW_GBATCH_PYTHON, else the current virtualenv's python3)
set -euo pipefail
SVC=gbatch; . "$(dirname "$0")/_lib.sh"
S=$PW_ROOT/gbatch; ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PORT=${PW_GBATCH_PORT:-8095}
PY=${PW_GBATCH_PYTHON:-python3}

env_lines() { echo "export PW_GBATCH_ENDPOINT=http://127.0.0.1:$PORT"; }

start() {
  mkdir -p "$S"
  if alive "$S/server.pid"; then log "already running"; env_lines; return; fi
  [ -n "${STORAGE_EMULATOR_HOST:-}" ] || { log "STORAGE_EMULATOR_HOST is not set: start storage.sh first"; exit 1; }
  "$PY" -c "import google.cloud.batch_v1, google.cloud.storage" 2>/dev/null \
    || { log "$PY lacks google-cloud-batch/google-cloud-storage (pip install 'pipework[gbatch]')"; exit 1; }
  mkdir -p /mnt/disks
  cd "$ROOT"
  setsid "$PY" -m tests.fakes.gbatch --port "$PORT" >"$S/server.log" 2>&1 </dev/null &
  echo $! >"$S/server.pid"
  wait_for 30 curl -sf -m 2 "http://127.0.0.1:$PORT/_fake/requests" || { log "not up; see $S/server.log"; exit 1; }
  log "ready"
  env_lines
}

stop() { stop_pid "$S/server.pid"; log "stopped"; }
status() { if alive "$S/server.pid"; then echo "server: running (pid $(cat "$S/server.pid"))"; else echo "server: not running"; return 1; fi; }

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
