#!/usr/bin/env bash
# Local container runtimes with an image built from Debian packages (no registry can be pulled from here):
#   image  : bookworm "essential" (bash, coreutils) + python3, made by mmdebstrap once and cached in
#            $PW_ROOT/containers (rootfs.tar; rebuilt only when its recipe below changes)
#   podman : 4.3 (Debian), root, its own overlay store in that folder (CONTAINERS_CONF and
#            CONTAINERS_STORAGE_CONF point at it), runc (crun 1.8 refuses this box's hybrid cgroup v1/v2),
#            cgroupfs, no network by default (netns none), ulimits capped at this box's hard limits
#   API    : `podman system service` on a unix socket, a Docker-compatible API (DOCKER_HOST) for the docker
#            CLI and docker-py; pass --network none / network_mode="none" there (the API's default is podman's
#            CNI bridge, which stop then removes)
#   bwrap  : bubblewrap over the same rootfs unpacked (PIPEWORK_TEST_ROOTFS; no daemon)
# Usage: tests/services/containers.sh start|stop|status|check|build|rootfs     (root)
#   build = image and unpacked rootfs, no API; rootfs = the unpacked rootfs only (apptainer.sh uses it)
#   eval "$(tests/services/containers.sh start)"; podman run --rm -v "$PWD:$PWD" "$PIPEWORK_TEST_IMAGE" python3 -V
set -euo pipefail
SVC=containers; D=$(cd "$(dirname "$0")" && pwd); . "$D/_lib.sh"; . "$D/_containers_lib.sh"
S=$PW_ROOT/containers; IMG=localhost/pw-bookworm:latest; SOCK=$S/podman.sock
# the image's recipe: what jobs need is bash and python3 (bash, coreutils are in "essential")
IMAGE_SUITE=bookworm; IMAGE_ARGS=(--variant=essential --include=python3)
export CONTAINERS_CONF=$S/containers.conf CONTAINERS_STORAGE_CONF=$S/storage.conf

env_lines() {
  cat <<EOF
export CONTAINERS_CONF=$CONTAINERS_CONF
export CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF
export PIPEWORK_TEST_CONTAINER_RUNTIME=podman
export PIPEWORK_TEST_IMAGE=$IMG
export PIPEWORK_TEST_ROOTFS=$S/rootfs
export DOCKER_HOST=unix://$SOCK
EOF
}

install() {
  local need=()
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  command -v bwrap >/dev/null || need+=(bubblewrap)
  [ ${#need[@]} = 0 ] || { log "installing ${need[*]}"; apt_install "${need[@]}"; }
}

write_conf() {
  # podman raises its own nproc to 32768, and the default container limits (1048576) need CAP_SYS_RESOURCE,
  # which this box lacks: "runc: setrlimit RLIMIT_NOFILE/NPROC: Operation not permitted" without these
  cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$S/run/events.log"
EOF
  cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "overlay"
graphroot = "$S/storage"
runroot = "$S/run"
EOF
}

# the rootfs tarball (mmdebstrap, once) and its unpacked copy for bwrap and apptainer's sandbox
build_rootfs() {
  debian_rootfs "$S/rootfs.tar" "$IMAGE_SUITE" "${IMAGE_ARGS[@]}"
  local id; id=$(recipe_of "$S/rootfs.tar")
  [ -d "$S/rootfs" ] && [ "$(cat "$S/rootfs.recipe" 2>/dev/null)" = "$id" ] && return 0
  log "unpacking $S/rootfs.tar -> $S/rootfs"
  rm -rf "$S/rootfs" "$S/rootfs.recipe"; mkdir -p "$S/rootfs"
  tar -C "$S/rootfs" -xf "$S/rootfs.tar"
  mkdir -p "$S/rootfs/data"   # a mount point for bwrap, whose root is read-only
  echo "$id" >"$S/rootfs.recipe"
}

# the podman image, imported from the tarball; its label pw.recipe says which recipe it was made from
build_image() {
  local id; id=$(recipe_of "$S/rootfs.tar")
  [ "$(podman image inspect --format '{{index .Labels "pw.recipe"}}' "$IMG" 2>/dev/null)" = "$id" ] && return 0
  log "podman import -> $IMG"
  podman import -q --change 'CMD ["/bin/bash"]' --change "LABEL pw.recipe=$id" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'ENV LANG=C.UTF-8' \
    "$S/rootfs.tar" "$IMG" >/dev/null
  podman image prune -f >/dev/null   # the image of an older recipe, if any
}

api_up() { curl -s -m 2 --unix-socket "$SOCK" http://d/_ping | grep -q OK; }

start() {
  mkdir -p "$S"
  local t0; t0=$(date +%s%N)
  install; write_conf; build_rootfs; build_image
  if alive "$S/service.pid"; then log "already running (image checked in $(secs_since "$t0") s)"; env_lines; return; fi
  rm -f "$SOCK"
  # Docker-API clients that give no network get podman's CNI bridge (cni-podman0 10.88.0.1/16 and iptables
  # CNI-* chains): remember whether it was there, so that stop removes only one we caused
  if ip link show cni-podman0 >/dev/null 2>&1; then rm -f "$S/cni-created-by-us"; else touch "$S/cni-created-by-us"; fi
  run_bg service podman system service --time=0 "unix://$SOCK"
  wait_for 30 api_up || { log "podman API not up: $S/service.log"; exit 1; }
  log "ready in $(secs_since "$t0") s (image $IMG, API $SOCK; $(tree_mem "$(cat "$S/service.pid")"))"
  env_lines
}

stop() {
  # containers left in OUR store (only ours: private graphroot and runroot), e.g. by an interrupted job
  [ -f "$CONTAINERS_CONF" ] && { timeout 60 podman rm -af -t 0 >/dev/null 2>&1 || true; }
  stop_pid "$S/service.pid"
  rm -f "$SOCK"
  if [ -f "$S/cni-created-by-us" ] && ip link show cni-podman0 >/dev/null 2>&1; then
    log "removing the CNI bridge cni-podman0 and CNI-* iptables chains (a Docker-API run without --network none)"
    ip link del cni-podman0 || true
    while iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null; do :; done
    local ch; for ch in CNI-FORWARD CNI-ADMIN; do iptables -F "$ch" 2>/dev/null && iptables -X "$ch" 2>/dev/null || true; done
  fi
  rm -f "$S/cni-created-by-us"
  log "stopped (image and rootfs stay cached in $S)"
}

status() {   # exit 1 if the API is down or the image is missing
  local rc=0
  if alive "$S/service.pid"; then echo "podman API: running (pid $(cat "$S/service.pid")) on $SOCK, $(tree_mem "$(cat "$S/service.pid")")"
  else echo "podman API: not running (not started by us)"; rc=1; fi
  command -v podman >/dev/null || { echo "podman: not installed"; return 1; }
  if podman image exists "$IMG"; then echo "image $IMG: present"; else echo "image $IMG: missing"; rc=1; fi
  podman info --format 'runtime={{.Host.OCIRuntime.Name}} cgroups={{.Host.CgroupsVersion}}/{{.Host.CgroupManager}} storage={{.Store.GraphDriverName}}:{{.Store.GraphRoot}}' || rc=1
  return $rc
}

check() {
  local e W; e=$(bash "$D/containers.sh" start) || exit 1; eval "$e"
  W=$(mktemp -d /tmp/pw-check-containers.XXXX)
  # a host dir bound at the same path, written from inside; the environment passed with -e
  podman run --rm -v "$W:$W" -e PW_CHECK=ok "$IMG" bash -c "echo \$PW_CHECK > $W/podman.txt"
  wrote_ok "$W" podman.txt "podman: bash in $IMG, bind mount $W written from inside, env passed"
  podman run --rm "$IMG" python3 -c 'import sys; print("podman: python3 of the image:", sys.executable, sys.version.split()[0])'
  if command -v docker >/dev/null; then   # DOCKER_HOST is the podman socket
    docker run --rm --network none -v "$W:$W" "$IMG" bash -c "echo ok > $W/docker.txt"
    wrote_ok "$W" docker.txt "docker CLI via the podman API ($DOCKER_HOST): bind mount"
  else
    curl -s --unix-socket "$SOCK" http://d/v1.41/version | grep -q Podman && echo "docker API (/v1.41/version): OK"
  fi
  bwrap --ro-bind "$S/rootfs" / --bind "$W" /data --proc /proc --dev /dev --tmpfs /tmp --unshare-all \
    --die-with-parent bash -c 'echo ok > /data/bwrap.txt'
  wrote_ok "$W" bwrap.txt "bwrap: bash in $S/rootfs, bind mount"
  time_runs 10 "podman run bash+bind" podman run --rm -v "$W:$W" "$IMG" bash -c "echo {} > $W/p{}.txt"
  time_runs 10 "bwrap bash+bind" bwrap --ro-bind "$S/rootfs" / --bind "$W" /data --proc /proc --dev /dev \
    --tmpfs /tmp --unshare-all --die-with-parent bash -c 'echo {} > /data/b{}.txt'
  [ "$(cat "$W"/p*.txt "$W"/b*.txt | wc -l)" = 20 ] || { echo "outputs missing in $W"; exit 1; }
  rm -rf "$W"
  echo "containers: OK"
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; check) check ;;
  build) mkdir -p "$S"; install; write_conf; build_rootfs; build_image ;;
  rootfs) mkdir -p "$S"; command -v mmdebstrap >/dev/null || apt_install mmdebstrap; build_rootfs ;;
  *) echo "usage: $0 start|stop|status|check|build|rootfs" >&2; exit 2 ;;
esac
