#!/usr/bin/env bash
# The AWS Batch API of moto_server (PyPI moto 5) on 127.0.0.1:5055, whose jobs REALLY run: moto's batch backend
# drives "docker", here the Docker-compatible API of podman from containers.sh (started if it is not running,
# and then also stopped by our stop). Job containers share the host network (MOTO_DOCKER_NETWORK_MODE=host), so
# they reach S3 on 127.0.0.1: this moto's own or storage.sh's on :5000; no CNI bridge is made ("none" would
# leave jobs without S3, the default makes podman's bridge). Job definitions must name a local image, e.g.
# $PIPEWORK_TEST_IMAGE (nothing can be pulled here).
# A second moto beside storage.sh's on :5000, which has no DOCKER_HOST (its Batch jobs would fail).
# Exports the endpoint (also as AWS_ENDPOINT_URL_BATCH/_LOGS/_IAM: boto3 then finds Batch, the jobs' CloudWatch
# logs and IAM here while S3 stays on storage.sh's AWS_ENDPOINT_URL), credentials, region, and containers.sh's
# exports. moto 5.2: array children get AWS_BATCH_JOB_ID=<parent>:<i> but no AWS_BATCH_JOB_ARRAY_INDEX; a failed
# child has no exitCode in DescribeJobs (its log stream has the output); an array parent turns SUCCEEDED with
# its last child but never FAILED.
# Usage: tests/services/aws-batch.sh start|stop|status|check     (root)
set -euo pipefail
SVC=aws-batch; D=$(cd "$(dirname "$0")" && pwd); . "$D/_lib.sh"; . "$D/_containers_lib.sh"
S=$PW_ROOT/aws-batch; V=$PW_ROOT/venv; PORT=${PW_AWS_BATCH_PORT:-5055}; EP=http://127.0.0.1:$PORT

env_lines() {
  cat <<EOF
export PIPEWORK_TEST_AWS_BATCH_ENDPOINT=$EP
export AWS_ENDPOINT_URL_BATCH=$EP
export AWS_ENDPOINT_URL_LOGS=$EP
export AWS_ENDPOINT_URL_IAM=$EP
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_DEFAULT_REGION=us-east-1
EOF
}

install() {
  # the venv of storage.sh (moto[server] has the docker SDK); a minimal one if it is not there yet
  "$V/bin/python" -c 'import moto, docker' 2>/dev/null && [ -x "$V/bin/moto_server" ] && return 0
  log "installing moto[server] docker into $V"
  [ -x "$V/bin/pip" ] || python3 -m venv "$V"
  "$V/bin/pip" install -q 'moto[server]' docker 2>&1 | grep -v "^WARNING: Location" >&2 || true
  [ -x "$V/bin/moto_server" ] || { log "pip install failed"; exit 1; }
}

start() {
  mkdir -p "$S"
  local t0 cenv; t0=$(date +%s%N)
  if ! alive "$S/moto.pid"; then   # containers.sh is ours to stop only if it was not running before
    if bash "$D/containers.sh" status >/dev/null 2>&1; then rm -f "$S/started-containers"; else touch "$S/started-containers"; fi
  fi
  cenv=$(bash "$D/containers.sh" start)   # podman API and image; its export lines are passed on below
  eval "$cenv"
  if alive "$S/moto.pid"; then log "already running"; env_lines; echo "$cenv"; return; fi
  install
  DOCKER_HOST=$DOCKER_HOST MOTO_DOCKER_NETWORK_MODE=host run_bg moto "$V/bin/moto_server" -H 127.0.0.1 -p "$PORT"
  wait_for 60 http_up "$EP/moto-api/" || { log "moto not up: $S/moto.log"; exit 1; }
  curl -s -m 5 -X POST -H 'Content-Type: application/json' -d '{"batch": {"use_docker": true}}' \
    "$EP/moto-api/config" >/dev/null
  log "ready in $(secs_since "$t0") s on $EP ($(tree_mem "$(cat "$S/moto.pid")"))"
  env_lines
  echo "$cenv"
}

# the job containers our moto left in containers.sh's store (their env names our port), e.g. after a kill
rm_job_containers() {
  [ -f "$PW_ROOT/containers/containers.conf" ] && command -v podman >/dev/null || return 0
  export CONTAINERS_CONF=$PW_ROOT/containers/containers.conf CONTAINERS_STORAGE_CONF=$PW_ROOT/containers/storage.conf
  local c
  for c in $(timeout 30 podman ps -aq 2>/dev/null); do
    timeout 30 podman inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$c" 2>/dev/null \
      | grep -qx "MOTO_PORT=$PORT" && { timeout 60 podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; }
  done
}

stop() {
  stop_pid "$S/moto.pid"
  rm_job_containers
  if [ -f "$S/started-containers" ]; then
    bash "$D/containers.sh" stop; rm -f "$S/started-containers"
  else
    log "containers.sh was running before us: left running"
  fi
  log "stopped"
}

status() {
  local rc=0
  if alive "$S/moto.pid"; then echo "moto (batch): running (pid $(cat "$S/moto.pid")) on $EP, $(tree_mem "$(cat "$S/moto.pid")")"
  else echo "moto (batch): not running (not started by us)"; rc=1; fi
  bash "$D/containers.sh" status || rc=1
  return $rc
}

check() {
  local e s3; e=$(bash "$D/aws-batch.sh" start) || exit 1; eval "$e"
  # outputs on storage.sh's S3 when it runs (as in the test suite), else on this moto's own S3
  if [ -z "${AWS_ENDPOINT_URL:-}" ] && bash "$D/storage.sh" status >/dev/null 2>&1; then
    eval "$(bash "$D/storage.sh" start 2>/dev/null)"
  fi
  s3=${AWS_ENDPOINT_URL:-$PIPEWORK_TEST_AWS_BATCH_ENDPOINT}
  "$V/bin/python" "$D/aws_batch_check.py" "$PIPEWORK_TEST_AWS_BATCH_ENDPOINT" "$PIPEWORK_TEST_IMAGE" "$s3"
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; check) check ;;
  *) echo "usage: $0 start|stop|status|check" >&2; exit 2 ;;
esac
