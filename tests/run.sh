#!/usr/bin/env bash
# Run the whole test suite from a fresh clone: a virtualenv of its own, pipework with its test
# extras, the real test services (SLURM, SGE, storage emulators, the local Batch API, PostgreSQL and
# MariaDB for the run store), then pytest.
#
#   bash tests/run.sh                 # everything (needs root for the cluster services)
#   bash tests/run.sh tests/unit -x   # extra arguments go to pytest
#   PW_SERVICES="" bash tests/run.sh  # no services: the marked tests skip
#
# Only the services this script starts are stopped at the end; ones already running are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${PW_TEST_VENV:-$ROOT/.venv-test}
PYTHON=${PYTHON:-python3}

quiet_pip() { grep -v -e "^WARNING: Location" -e "^\[notice\]" || true; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "tests/run.sh: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | quiet_pip
"$VENV/bin/python" -m pip install -q -e "$ROOT[test,all]" -e "$ROOT/examples/scheduler_plugin" 2>&1 | quiet_pip

# the bioinformatics tools some tests run as a user would (bwa, samtools, bcftools), and the headless
# Chromium the report's tests load it in, from Debian
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && { ! command -v bwa || ! command -v chromium; } >/dev/null; then
  echo "tests/run.sh: installing bwa samtools bcftools chromium chromium-driver" >&2
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bwa samtools bcftools chromium chromium-driver; } \
    >/dev/null 2>&1 || echo "tests/run.sh: could not install bwa/samtools/bcftools/chromium" >&2
fi

# services: each script exists only once its part of pipework does; all of them by default
default_services=""
for svc in storage slurm sge gbatch postgres mariadb; do
  [ -f "tests/services/$svc.sh" ] && default_services="$default_services $svc"
done
SERVICES=${PW_SERVICES-$default_services}
export PW_GBATCH_PYTHON="$VENV/bin/python"   # the local Batch API runs with the test environment
started=()
cleanup() {
  local svc
  for svc in "${started[@]}"; do bash "tests/services/$svc.sh" stop >&2 || true; done
}
trap cleanup EXIT
for svc in $SERVICES; do
  if bash "tests/services/$svc.sh" status >/dev/null 2>&1; then
    echo "tests/run.sh: $svc already running, reusing it" >&2
  else
    started+=("$svc")
  fi
  exports=$(bash "tests/services/$svc.sh" start) || { echo "tests/run.sh: $svc failed to start" >&2; exit 1; }
  eval "$exports"
done

set +e
"$VENV/bin/python" -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when a selection collected no test: that is not a failure of the suite
[ $rc -eq 5 ] && rc=0
exit $rc
