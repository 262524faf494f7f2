# Shared helpers for tests/services/*.sh (sourced, not run).
# State lives in /tmp/pw-services/<name>/ : pid files of what WE started, logs, data.
PW_ROOT=${PW_SERVICES_DIR:-/tmp/pw-services}

log() { echo "[$SVC] $*" >&2; }

# apt install with daemons kept from auto-starting (policy-rc.d -> 101), restored afterwards.
apt_install() {
  local pol=/usr/sbin/policy-rc.d bak=""
  if [ -e "$pol" ]; then bak=$(mktemp); cp -p "$pol" "$bak"; fi
  printf '#!/bin/sh\nexit 101\n' >"$pol"; chmod 755 "$pol"
  # 'apt-get update' once per boot (marker in /tmp), then install
  [ -f "$PW_ROOT/.apt-updated" ] || { apt-get update -qq >&2 && touch "$PW_ROOT/.apt-updated"; }
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
  if [ -n "$bak" ]; then cp -p "$bak" "$pol"; rm -f "$bak"; else rm -f "$pol"; fi
  return $rc
}

# alive PIDFILE -> 0 if the pid in that file is a live process
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid PIDFILE [SIGNAL] : TERM (or SIGNAL), wait up to 10 s, then KILL. Only this pid.
stop_pid() {
  local f=$1 sig=${2:-TERM} pid i
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$sig" "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$f"
}

# wait_for SECONDS CMD... : poll CMD every 0.2 s until it succeeds
wait_for() {
  local t=$1 i; shift
  for i in $(seq $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# secs_since T0 (T0 from `date +%s%N`) -> elapsed seconds with one decimal
secs_since() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}'; }
