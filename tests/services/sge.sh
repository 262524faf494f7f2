#!/usr/bin/env bash
# Single-host Son of Grid Engine 8.1.9 (Debian packages): queue all.q with 8 slots, PE "smp".
# The daemons bind 0.0.0.0:6444/6445, so iptables drops non-loopback traffic to them while up.
# Usage: tests/services/sge.sh start|stop|status     (root; always pass `qsub -N name`)
set -euo pipefail
SVC=sge; . "$(dirname "$0")/_lib.sh"
S=$PW_ROOT/sge; H=$(hostname)
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
C=$SGE_ROOT/$SGE_CELL/common
FW=(INPUT -p tcp -m multiport --dports 6444,6445 ! -i lo -m comment --comment pw-sge -j DROP)

env_lines() { echo "export SGE_ROOT=$SGE_ROOT"; echo "export SGE_CELL=$SGE_CELL"; }

install() {
  command -v sge_qmaster >/dev/null && command -v sge_execd >/dev/null && command -v qsub >/dev/null \
    && command -v iptables >/dev/null && return 0
  log "installing gridengine-master gridengine-exec gridengine-client iptables"
  local p
  # the postinst initialises the cell from these answers (the master question is shared/gridenginemaster)
  for p in gridengine-common gridengine-master gridengine-client gridengine-exec; do
    printf '%s shared/%s\n' \
      "$p" "gridengineconfig boolean true" "$p" "gridenginecell string default" \
      "$p" "gridenginemaster string $H" "$p" "gridenginesqmaster string $H"
  done | debconf-set-selections
  apt_install gridengine-master gridengine-exec gridengine-client iptables
}

# qed 'SED-EXPR' QCONF-ARGS... : edit an SGE object non-interactively (qconf runs $EDITOR on a temp file)
qed() {
  # first sed joins qconf's backslash-continued lines, so each attribute is one line
  printf '#!/bin/bash\nsed -i -e %q -e %q "$1"\n' ':a;/\\$/{N;s/\\\n[[:space:]]*/ /;ba}' "$1" >"$S/editor.sh"
  chmod +x "$S/editor.sh"; shift
  EDITOR=$S/editor.sh qconf "$@" >/dev/null
}

configure() {
  qed 's/^min_uid .*/min_uid 0/; s/^min_gid .*/min_gid 0/; s/^load_report_time .*/load_report_time 00:00:05/;
       s/^reporting_params .*/reporting_params accounting=true reporting=false flush_time=0:0:0 accounting_flush_time=0:0:0 joblog=false sharelog=0:0:0/' -mconf
  qed 's/^schedule_interval .*/schedule_interval 0:0:1/; s/^flush_submit_sec .*/flush_submit_sec 1/;
       s/^flush_finish_sec .*/flush_finish_sec 1/; s/^job_load_adjustments .*/job_load_adjustments NONE/;
       s/^load_adjustment_decay_time .*/load_adjustment_decay_time 0:0:0/' -msconf
  qconf -ss 2>/dev/null | grep -qx "$H" || qconf -as "$H" >/dev/null   # submit host
  qconf -sp smp >/dev/null 2>&1 || \
    qed 's/^slots .*/slots 8/; s/^allocation_rule .*/allocation_rule $pe_slots/' -ap smp
  local q='s/^hostlist .*/hostlist '"$H"'/; s/^slots .*/slots 8/; s/^pe_list .*/pe_list smp/; s/^load_thresholds .*/load_thresholds NONE/'
  if qconf -sq all.q >/dev/null 2>&1; then qed "$q" -mq all.q; else qed "$q" -aq all.q; fi
}

qmaster_up() { qconf -sconf >/dev/null 2>&1; }
# ready = the exec host reports load and all.q@host has no error/alarm/unknown state
exec_ready() {
  qstat -f -q "all.q@$H" 2>/dev/null \
    | awk -v q="all.q@$H" '$1==q{found=1; if (NF>5 && $6 ~ /[uaEcdsS]/) bad=1} END{exit !(found && !bad)}'
}

start() {
  mkdir -p "$S"
  if alive "$S/qmaster.pid" && alive "$S/execd.pid"; then log "already running"; env_lines; return; fi
  local t0=$SECONDS; install; log "install/check: $((SECONDS - t0)) s"
  t0=$(date +%s%N)
  echo "$H" >"$C/act_qmaster"
  # 127.0.0.1 resolves back to "localhost": alias it to the hostname so qmaster and execd agree
  echo "$H localhost" >"$C/host_aliases"
  iptables -C "${FW[@]}" 2>/dev/null || iptables -I "${FW[@]}" \
    || { log "iptables failed: not starting daemons that listen on 0.0.0.0"; exit 1; }
  mkdir -p /var/run/gridengine; chown sgeadmin:sgeadmin /var/run/gridengine
  if ! alive "$S/qmaster.pid"; then
    sge_qmaster   # daemonises, runs as sgeadmin, pid in its spool dir
    wait_for 30 qmaster_up || { log "qmaster not up; see /var/spool/gridengine/qmaster/messages"; exit 1; }
    cp /var/spool/gridengine/qmaster/qmaster.pid "$S/qmaster.pid"
  fi
  configure
  if ! alive "$S/execd.pid"; then
    # its spool dir is named by the reverse lookup of 127.0.0.1 ("localhost"), not $H: glob for the pid file
    rm -f /var/spool/gridengine/execd/*/execd.pid
    sge_execd     # an admin host's execd registers itself as exec host
    wait_for 30 sh -c 'test -s /var/spool/gridengine/execd/*/execd.pid'
    cp /var/spool/gridengine/execd/*/execd.pid "$S/execd.pid"
  fi
  wait_for 60 exec_ready || { log "exec host not ready"; qstat -f >&2 || true; exit 1; }
  log "ready in $(secs_since "$t0") s"
  env_lines
}

stop() {
  if alive "$S/qmaster.pid"; then   # drop leftover jobs first
    timeout 10 qdel -u '*' >/dev/null 2>&1 || true
    wait_for 10 sh -c '[ -z "$(qstat -u "*")" ]' || true
  fi
  stop_pid "$S/execd.pid"
  stop_pid "$S/qmaster.pid"
  while iptables -C "${FW[@]}" 2>/dev/null; do iptables -D "${FW[@]}"; done
  log "stopped"
}

status() {   # exit 1 if any of our daemons is down
  local n rc=0
  for n in qmaster execd; do
    if alive "$S/$n.pid"; then echo "$n: running (pid $(cat "$S/$n.pid"))"; else echo "$n: not running (not started by us)"; rc=1; fi
  done
  iptables -C "${FW[@]}" 2>/dev/null && echo "firewall rule: present" || echo "firewall rule: absent"
  qstat -f 2>&1 || true
  return $rc
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
