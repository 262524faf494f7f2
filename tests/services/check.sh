#!/usr/bin/env bash
# Smoke-test a running service of this kit: tests/services/check.sh slurm|sge|storage|seaweedfs
# slurm/sge: 20 one-second jobs (8 run at once), all outputs checked, plus cancel/accounting checks.
set -euo pipefail
D=$(cd "$(dirname "$0")" && pwd)
svc=${1:?usage: check.sh slurm|sge|storage|seaweedfs}
eval "$("$D/$svc.sh" start 2>/dev/null)"
W=$(mktemp -d /tmp/pw-check-$svc.XXXX)
t0=$(date +%s%N); el() { awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}'; }
outputs_ok() { [ "$(cat "$W"/t*.out 2>/dev/null | grep -cx "$(hostname)")" = 20 ]; }

case $svc in
slurm)
  for i in $(seq 20); do sbatch -Q -J "t$i" -o "$W/t$i.out" --wrap 'sleep 1; hostname'; done
  while [ -n "$(squeue -h -o %i)" ]; do sleep 0.2; done
  outputs_ok && echo "slurm: 20 jobs OK in $(el) s" || { echo "slurm: outputs missing in $W"; exit 1; }
  j=$(sbatch --parsable -J long -o /dev/null --wrap 'sleep 300'); sleep 1
  echo "squeue -h -o '%i %T': $(squeue -h -o '%i %T' -j "$j")"; scancel "$j"; sleep 1
  echo "after scancel: $(sacct -c -n -P -o jobid,state -j "$j")   (sacct -c reads the jobcomp file)"
  echo "plain sacct: $(sacct -j "$j" 2>&1 | head -1) (exit $(sacct -j "$j" >/dev/null 2>&1; echo $?))" ;;
sge)
  for i in $(seq 20); do qsub -b y -N "t$i" -o "$W/t$i.out" -e "$W/t$i.err" 'sleep 1; hostname' >/dev/null; done
  while [ -n "$(qstat)" ]; do sleep 0.2; done
  outputs_ok && echo "sge: 20 jobs OK in $(el) s" || { echo "sge: outputs missing in $W"; exit 1; }
  j=$(qsub -terse -b y -N long -o /dev/null -e /dev/null sleep 300)
  for _ in $(seq 50); do qstat -s r | grep -q "^ *$j " && break; sleep 0.2; done
  qdel "$j" >/dev/null; for _ in $(seq 50); do [ -z "$(qstat)" ] && break; sleep 0.2; done
  sleep 1; echo "after qdel: qstat='$(qstat)' qacct: $(qacct -j "$j" | awk '/^(failed|exit_status)/{printf "%s=%s ", $1, $2}')" ;;
storage)
  "$PW_STORAGE_VENV/bin/python" "$D/storage_check.py" s3 gs az ;;
seaweedfs)
  V=/tmp/pw-services/venv   # seaweedfs.sh only installs weed there; the check needs cloudpathlib too
  "$V/bin/python" -c 'import cloudpathlib, boto3' 2>/dev/null || "$V/bin/pip" install -q 'cloudpathlib[s3]' 2>/dev/null
  "$V/bin/python" "$D/storage_check.py" seaweed ;;
esac
rm -rf "$W"
