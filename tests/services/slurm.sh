#!/usr/bin/env bash
# Single-node SLURM 22.05 (Debian packages) on 127.0.0.1, 8 oversubscribed CPUs.
# Usage: tests/services/slurm.sh start|stop|status      (root)
# No slurmdbd: plain `sacct` fails ("Slurm accounting storage is disabled"); `sacct -c` reads the jobcomp file.
set -euo pipefail
SVC=slurm; . "$(dirname "$0")/_lib.sh"
S=$PW_ROOT/slurm; H=$(hostname -s); CONF=/etc/slurm/slurm.conf

env_lines() { echo "export SLURM_CONF=$CONF"; }

install() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
    && command -v munged >/dev/null && return 0
  log "installing slurmctld slurmd slurm-client munge"
  apt_install slurmctld slurmd slurm-client munge
}

write_conf() {
  # RealMemory must not exceed what slurmd detects, or the node is drained: take 80% of MemAvailable
  local mem=$(( $(awk '/MemAvailable/{print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
  mkdir -p /etc/slurm "$S/state" "$S/spool"
  cat >"$CONF" <<EOF
ClusterName=pw
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
# bind to the NodeAddr/SlurmctldHost address (127.0.0.1), not 0.0.0.0
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
# no cgroups needed: plain /proc process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
JobCompType=jobcomp/filetxt
JobCompLoc=$S/jobcomp.txt
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
# schedule new jobs immediately instead of batching them
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MaxJobCount=50000
# slurmd trusts the CPUs= below although the box has fewer cores (oversubscription)
SlurmdParameters=config_overrides
NodeName=$H NodeAddr=127.0.0.1 CPUs=8 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
  # reuse a working munged (ours or not); else start one and remember its pid
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  fi
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  rm -f /run/munge/munged.pid
  runuser -u munge -- munged --pid-file=/run/munge/munged.pid
  wait_for 10 sh -c 'munge -n | unmunge' || { log "munged did not come up"; exit 1; }
  cp /run/munge/munged.pid "$S/munged.pid"
}

# "idle*" (trailing *) = slurmd not registered yet, so match the whole word
node_idle() { sinfo -h -n "$H" -o '%t' | grep -qxE '(idle|mixed|mix|alloc|allocated)'; }

start() {
  mkdir -p "$S"
  if alive "$S/slurmctld.pid" && alive "$S/slurmd.pid"; then log "already running"; env_lines; return; fi
  local t0=$SECONDS; install; log "install/check: $((SECONDS - t0)) s"
  t0=$(date +%s%N)
  # fresh controller state and logs at each start (job ids restart at 1, no stale jobs/node states)
  alive "$S/slurmctld.pid" || rm -rf "$S/state" "$S/spool" "$S"/*.log "$S/jobcomp.txt"
  write_conf
  start_munge
  alive "$S/slurmctld.pid" || slurmctld -i   # -i: ignore unreadable saved state
  alive "$S/slurmd.pid" || slurmd
  wait_for 60 node_idle || { log "node not idle; see $S/*.log"; sinfo >&2 || true; exit 1; }
  log "ready in $(secs_since "$t0") s"
  env_lines
}

stop() {
  # cancel leftover jobs first: their slurmstepd/job processes are not children of slurmd
  if alive "$S/slurmctld.pid"; then
    timeout 10 scancel -p debug 2>/dev/null || true
    wait_for 10 sh -c '[ -z "$(squeue -h -o %i)" ]' || true
  fi
  stop_pid "$S/slurmd.pid"
  stop_pid "$S/slurmctld.pid"
  stop_pid "$S/munged.pid"     # only if we started it
  log "stopped"
}

status() {   # exit 1 if any of our daemons is down
  local n rc=0
  for n in munged slurmctld slurmd; do
    if alive "$S/$n.pid"; then echo "$n: running (pid $(cat "$S/$n.pid"))"; else echo "$n: not running (not started by us)"; [ $n = munged ] || rc=1; fi
  done
  sinfo 2>&1 || true
  return $rc
}

case "${1:-}" in
  start) start ;; stop) stop ;; status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
