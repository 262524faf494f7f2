# shellcheck shell=bash
# Helpers of containers.sh, apptainer.sh and aws-batch.sh (sourced after _lib.sh, not run).

# apt_install, as in _lib.sh (daemons kept from auto-starting via policy-rc.d -> 101), but waiting up to
# 15 min for the dpkg/apt locks instead of failing when another apt or dpkg holds them.
apt_install() {
  local pol=/usr/sbin/policy-rc.d bak="" L=(-o DPkg::Lock::Timeout=900)
  if [ -e "$pol" ]; then bak=$(mktemp); cp -p "$pol" "$bak"; fi
  printf '#!/bin/sh\nexit 101\n' >"$pol"; chmod 755 "$pol"
  mkdir -p "$PW_ROOT"
  [ -f "$PW_ROOT/.apt-updated" ] || { apt-get "${L[@]}" update -qq >&2 && touch "$PW_ROOT/.apt-updated"; }
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get "${L[@]}" install -y -qq --no-install-recommends "$@" >&2 || rc=$?
  if [ -n "$bak" ]; then cp -p "$bak" "$pol"; rm -f "$bak"; else rm -f "$pol"; fi
  return $rc
}

# run_bg NAME CMD... : start CMD in the background in its own session, pid -> $S/NAME.pid, log -> $S/NAME.log
run_bg() {
  local n=$1; shift
  alive "$S/$n.pid" && return 0
  setsid "$@" >"$S/$n.log" 2>&1 </dev/null &
  echo $! >"$S/$n.pid"
}

http_up() { [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1")" != 000 ]; }

# tree_mem PID : "N procs, X MiB RSS" summed over PID and all its descendants
tree_mem() {
  local p rss=0 n=0 kb
  for p in $(ps -e -o pid=,ppid= | awk -v root="$1" '{kids[$2]=kids[$2]" "$1}
      END{q[1]=root; n=1; for(i=1;i<=n;i++){print q[i]; m=split(kids[q[i]],k," "); for(j=1;j<=m;j++) q[++n]=k[j]}}'); do
    kb=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null) || continue
    rss=$((rss + ${kb:-0})); n=$((n + 1))
  done
  echo "$n procs, $((rss / 1024)) MiB RSS"
}

# DEBIAN_MIRROR: where mmdebstrap takes the Debian packages of the images (nothing else is downloaded)
DEBIAN_MIRROR=${PW_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# debian_rootfs OUT SUITE MMDEBSTRAP_ARGS... : a Debian SUITE tree made by mmdebstrap into OUT (a .tar file
# when OUT ends in .tar, else a directory), built once: OUT.recipe holds a hash of the suite, the mirror and
# the arguments, so an unchanged recipe returns at once and a changed one builds again.
# Docs, man pages and locales are left out (they are most of the size and no job needs them).
debian_rootfs() {
  local out=$1 suite=$2 id part; shift 2
  id=$(printf '%s\n' "$suite" "$DEBIAN_MIRROR" "$@" | sha256sum | cut -c1-16)
  if [ -e "$out" ] && [ "$(cat "$out.recipe" 2>/dev/null)" = "$id" ]; then return 0; fi
  case $out in *.tar) part=${out%.tar}.part.tar ;; *) part=$out.part ;; esac   # mmdebstrap goes by the suffix
  log "mmdebstrap $suite $* -> $out (once; cached by recipe $id)"
  rm -rf "$out" "$out.recipe" "$part"
  timeout 900 mmdebstrap "$@" \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Check-Date "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$suite" "$part" "deb $DEBIAN_MIRROR $suite main" >"$out.log" 2>&1 \
    || { log "mmdebstrap failed: $out.log"; tail -5 "$out.log" >&2; rm -rf "$part"; return 1; }
  mv "$part" "$out"
  echo "$id" >"$out.recipe"
}

# recipe_of OUT : the recipe hash debian_rootfs recorded for OUT
recipe_of() { cat "$1.recipe"; }

# time_runs N LABEL CMD... : run CMD N times ({} in the args = run number), print the time per run
time_runs() {
  local n=$1 label=$2 i a t0; shift 2; t0=$(date +%s%N)
  for i in $(seq "$n"); do
    local args=(); for a in "$@"; do args+=("${a//\{\}/$i}"); done
    "${args[@]}" >/dev/null || { echo "$label: run $i failed"; return 1; }
  done
  awk -v a="$t0" -v b="$(date +%s%N)" -v l="$label" -v n="$n" \
    'BEGIN{printf "%s: %d runs, %.0f ms each\n", l, n, (b-a)/1e6/n}'
}

# wrote_ok DIR NAME LABEL : DIR/NAME holds "ok" (written from inside a container): print "LABEL: OK" and
# remove it; else say so and fail
wrote_ok() {
  [ "$(cat "$1/$2" 2>/dev/null)" = ok ] || { echo "$3: $1/$2 was not written from inside"; return 1; }
  rm -f "${1:?}/$2"; echo "$3: OK"
}
