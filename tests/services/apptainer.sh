#!/usr/bin/env bash
# Apptainer 1.4 from Debian sid (bookworm and trixie have none, and sid's needs libc6 >= 2.38), installed in a
# sid rootfs (mmdebstrap, built once into $PW_ROOT/apptainer/rootfs) and run by the wrapper $S/bin/apptainer
# (also `singularity`), which enters that rootfs with bubblewrap; the host's data folders (/tmp, /var/tmp,
# /work, /root, /home, /opt, /mnt, /srv, /media, the project's own top-level folder) are bound at the same
# paths, so the paths a job sees on the host are there too.
# Always user-namespace mode (APPTAINER_USERNS=1): as root, apptainer asks for every capability and this box
# lacks CAP_SYS_RESOURCE ("Requesting capability set ... while permitted capability set is ...").
# --containall / --pid fail here (cannot mount proc); plain exec/run/shell with -B binds work.
# Images: the bookworm+python3 rootfs of containers.sh as a sandbox dir (PIPEWORK_TEST_SANDBOX) and as a SIF
# (PIPEWORK_TEST_SIF, squashfuse mounts it), rebuilt only when that rootfs changes.
# Usage: tests/services/apptainer.sh start|stop|status|check   (root; no daemon: start builds and prints exports)
#   eval "$(tests/services/apptainer.sh start)"; apptainer exec -B "$PWD" "$PIPEWORK_TEST_SIF" python3 -V
set -euo pipefail
SVC=apptainer; D=$(cd "$(dirname "$0")" && pwd); . "$D/_lib.sh"; . "$D/_containers_lib.sh"
S=$PW_ROOT/apptainer; R=$S/rootfs; SANDBOX=$PW_ROOT/containers/rootfs; SIF=$S/pw-bookworm.sif

env_lines() {
  echo "export PATH=$S/bin:\$PATH"
  echo "export PIPEWORK_TEST_SIF=$SIF"
  echo "export PIPEWORK_TEST_SANDBOX=$SANDBOX"
}

install() {
  command -v mmdebstrap >/dev/null && command -v bwrap >/dev/null \
    || { log "installing mmdebstrap bubblewrap"; apt_install mmdebstrap bubblewrap; }
  # shellcheck disable=SC2016  # $1 is the hook's: the new root
  debian_rootfs "$R" sid --variant=essential \
    --include=apptainer,squashfs-tools,squashfuse,fuse3,ca-certificates \
    --customize-hook='cp -L /etc/localtime "$1/etc/localtime"'   # apptainer binds it; no tzdata in there
  bash "$D/containers.sh" rootfs   # the sandbox (the unpacked image rootfs), built once
}

# the wrapper: the usual data folders, /var/tmp, and the top-level folders of this project and of the
# current directory, bound at the same paths (plus PW_APPTAINER_BINDS, space-separated folders)
write_wrapper() {
  local b binds="" seen=" "
  local top_root top_pwd; top_root=/$(cd "$D/../.." && pwd | cut -d/ -f2); top_pwd=/$(pwd | cut -d/ -f2)
  for b in /tmp /var/tmp /work /root /home /opt /mnt /srv /media "$top_root" "$top_pwd" ${PW_APPTAINER_BINDS:-}; do
    case $b in / | /bin | /dev | /etc | /lib* | /proc | /run | /sbin | /sys | /usr | /var) continue ;; esac
    [ -d "$b" ] && [ ! -L "$b" ] || continue
    case $seen in *" $b "*) continue ;; esac
    seen+="$b "; binds+=" --bind $b $b"
  done
  mkdir -p "$S/bin"
  cat >"$S/bin/apptainer.part" <<EOF
#!/bin/sh
# apptainer from the sid rootfs $R (tests/services/apptainer.sh), user-namespace mode, cwd kept
exec bwrap --bind $R /$binds --bind /proc /proc --dev-bind /dev /dev --bind /sys /sys \\
  --ro-bind /etc/hosts /etc/hosts --setenv PATH /usr/sbin:/usr/bin:/sbin:/bin --setenv APPTAINER_USERNS 1 \\
  --chdir "\$PWD" -- apptainer "\$@"
EOF
  chmod 755 "$S/bin/apptainer.part"; mv "$S/bin/apptainer.part" "$S/bin/apptainer"
  ln -sf apptainer "$S/bin/singularity"
}

# the SIF of the sandbox; SIF.recipe holds the sandbox's recipe it was made from
build_sif() {
  local id; id=$(cat "$SANDBOX.recipe")
  [ -s "$SIF" ] && [ "$(cat "$SIF.recipe" 2>/dev/null)" = "$id" ] && return 0
  log "apptainer build $SIF from $SANDBOX"
  rm -f "$SIF" "$SIF.recipe"
  "$S/bin/apptainer" -s build --force "$SIF.part" "$SANDBOX" >"$S/build.log" 2>&1 \
    || { log "apptainer build failed: $S/build.log"; tail -5 "$S/build.log" >&2; exit 1; }
  mv "$SIF.part" "$SIF"; echo "$id" >"$SIF.recipe"
}

start() {
  mkdir -p "$S"
  local t0; t0=$(date +%s%N)
  install; write_wrapper; build_sif
  log "ready in $(secs_since "$t0") s ($("$S/bin/apptainer" --version); SIF $SIF, sandbox $SANDBOX)"
  env_lines
}

stop() { log "nothing to stop (no daemon; the images stay cached in $S)"; }

status() {
  [ -x "$S/bin/apptainer" ] && [ -s "$SIF" ] || { echo "apptainer: not built"; return 1; }
  echo "apptainer: $("$S/bin/apptainer" --version), SIF $SIF ($(du -h "$SIF" | cut -f1)), sandbox $SANDBOX"
}

check() {
  local e W img n=0; e=$(bash "$D/apptainer.sh" start) || exit 1; eval "$e"
  W=$(mktemp -d /tmp/pw-check-apptainer.XXXX)
  for img in "$PIPEWORK_TEST_SIF" "$PIPEWORK_TEST_SANDBOX"; do
    n=$((n + 1))
    # a host dir bound at the same path, written from inside; the environment passed
    PW_CHECK=ok apptainer -s exec -B "$W" "$img" bash -c "echo \$PW_CHECK > $W/out.txt"
    wrote_ok "$W" out.txt "apptainer exec $img: bash, bind mount $W written from inside, env passed"
    apptainer -s exec "$img" python3 -c 'import sys; print("  python3 of the image:", sys.executable, sys.version.split()[0])'
    time_runs 10 "  apptainer exec bash+bind" apptainer -s exec -B "$W" "$img" bash -c "echo {} > $W/a$n-{}.txt"
  done
  [ "$(cat "$W"/a*.txt | wc -l)" = 20 ] || { echo "outputs missing in $W"; exit 1; }
  rm -rf "$W"
  echo "apptainer: OK"
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;; check) check ;;
  *) echo "usage: $0 start|stop|status|check" >&2; exit 2 ;;
esac
