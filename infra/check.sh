#!/usr/bin/env bash
# Validates infra/: dashboards, YAML, the compose file, the Helm chart, the Prometheus
# config and rules, the Dockerfiles, and that dashboards and alerts use only metrics the
# binaries export. Prints what it checked and what it skipped (and why); exits 1 on a failure.
#
#   infra/check.sh                      static checks (no cargo, no running services)
#   infra/check.sh --metrics FILE...    check that every starfarm_* metric the dashboards and
#       [--allow-missing NAME[,NAME…]]  alert rules use appears in FILEs: Prometheus text
#                                       scraped from running processes (the sequencer's and the
#                                       scheduler's /metrics), and that the label names of
#                                       the scraped starfarm_* families are the ones
#                                       infra/dashboard_metrics.py's EXPORTED table (which the
#                                       static label check uses) says. Labelled families appear only
#                                       after their first event (the prometheus crate exports
#                                       no empty vector): allow the ones a run does not cause.
#
# Tools used when present, else a structural check in Python is done instead and the skip
# is reported: `docker compose` or docker-compose (apt: docker-compose), helm (see
# docs/operators.md, "Validating infra/"), promtool. Needs python3 with PyYAML.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
py=${PYTHON:-python3}
failures=0
skipped=()

section() { printf '== %s\n' "$*"; }
run() { # run DESCRIPTION CMD...: prints ok/FAIL with the command's output on failure
  local what=$1; shift
  local out
  if out=$("$@" 2>&1); then
    printf '  ok   %s\n' "$what"
  else
    printf '  FAIL %s\n' "$what"
    printf '%s\n' "$out" | sed 's/^/       /'
    failures=$((failures + 1))
  fi
}
py_check() { # py_check ARGS...: check_files.py prints its own ok/FAIL lines
  if ! "$py" "$here/check_files.py" "$@"; then failures=$((failures + 1)); fi
}
skip() { skipped+=("$*"); printf '  skip %s\n' "$*"; }

if ! "$py" -c 'import yaml' 2>/dev/null; then
  echo "check.sh: $py has no PyYAML (pip install pyyaml, or apt install python3-yaml)" >&2
  exit 2
fi

if [ "${1:-}" = "--metrics" ]; then
  shift
  [ $# -gt 0 ] || { echo "usage: infra/check.sh --metrics FILE... [--allow-missing NAME[,NAME…]]" >&2; exit 2; }
  files=() allow=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --allow-missing) allow+=(--allow-missing "${2:?--allow-missing needs names}"); shift 2 ;;
      --allow-missing=*) allow+=(--allow-missing "${1#*=}"); shift ;;
      *) [ -r "$1" ] || { echo "check.sh: cannot read $1" >&2; exit 2; }; files+=("$1"); shift ;;
    esac
  done
  section "metrics used by dashboards and alerts vs ${#files[@]} scraped file(s)"
  "$py" "$here/dashboard_metrics.py" --scrape "${files[@]}" "${allow[@]}"
  exit $?
fi

section "dashboards and YAML"
py_check dashboards
py_check yaml
run "dashboards are what infra/grafana/generate.py writes" "$py" "$here/grafana/generate.py" --check

section "metric names and labels (dashboards, alert rules) vs what the binaries export"
run "$("$py" "$here/dashboard_metrics.py" | wc -l | tr -d ' ') starfarm_* names, labels as exported" \
  "$py" "$here/dashboard_metrics.py" --check-known

section "compose"
py_check compose
compose_file="$here/compose/compose.yaml"
if docker compose version >/dev/null 2>&1; then
  run "docker compose config -q" docker compose -p starfarm -f "$compose_file" config -q
  run "docker compose --profile gpu config -q" docker compose -p starfarm -f "$compose_file" --profile gpu config -q
elif command -v docker-compose >/dev/null 2>&1; then
  run "docker-compose ($(docker-compose version --short 2>/dev/null)) config -q" \
    docker-compose -p starfarm -f "$compose_file" config -q
  run "docker-compose --profile gpu config -q" \
    docker-compose -p starfarm -f "$compose_file" --profile gpu config -q
else
  skip "compose CLI validation: neither 'docker compose' nor docker-compose is installed (structural check above only)"
fi

section "Helm chart"
chart="$here/helm/starfarm"
py_check helm
if command -v helm >/dev/null 2>&1; then
  for values in "$chart"/ci/*-values.yaml; do
    name=$(basename "$values")
    run "helm lint -f ci/$name" helm lint "$chart" -f "$values" --strict
    rendered=$(mktemp)
    if helm template starfarm "$chart" -f "$values" >"$rendered" 2>"$rendered.err"; then
      printf '  ok   helm template -f ci/%s\n' "$name"
      py_check helm-rendered "$rendered"
    else
      printf '  FAIL helm template -f ci/%s\n' "$name"; sed 's/^/       /' "$rendered.err"
      failures=$((failures + 1))
    fi
    rm -f "$rendered" "$rendered.err"
  done
  # Required values must stop an install that lacks them.
  if helm template starfarm "$chart" >/dev/null 2>&1; then
    printf '  FAIL helm template without secrets should fail (required values)\n'
    failures=$((failures + 1))
  else
    printf '  ok   helm template without secrets fails (required values enforced)\n'
  fi
else
  skip "helm lint / helm template: helm is not installed (structural template check above only)"
fi

section "Prometheus"
py_check prometheus
if command -v promtool >/dev/null 2>&1; then
  run "promtool check rules" promtool check rules "$here/prometheus/alerts.yml"
  run "promtool test rules: $(grep -c '^  - name:' "$here/prometheus/alerts.test.yml") alert tests (prometheus/alerts.test.yml)" \
    promtool test rules "$here/prometheus/alerts.test.yml"
  # The config names the rule file by its path in the container: check a copy.
  tmp=$(mktemp -d)
  sed "s|/etc/prometheus/alerts.yml|$here/prometheus/alerts.yml|" "$here/prometheus/prometheus.yml" >"$tmp/prometheus.yml"
  run "promtool check config" promtool check config "$tmp/prometheus.yml"
  "$py" "$here/dashboard_metrics.py" --as-rules "$tmp/exprs.yml" >/dev/null
  run "promtool parses every dashboard and alert expression ($(grep -c 'record:' "$tmp/exprs.yml"))" \
    promtool check rules "$tmp/exprs.yml"
  rm -rf "$tmp"
else
  skip "promtool check and test rules: promtool is not installed (apt: prometheus; structural rule check above only)"
fi

section "Dockerfiles"
py_check dockerfiles
skip "docker build: not run by check.sh (a full release build of the Stwo stack takes ~15 min on 2 cores; build the images in CI or by hand)"

echo
if [ ${#skipped[@]} -gt 0 ]; then
  echo "skipped ${#skipped[@]}:"
  printf '  - %s\n' "${skipped[@]}"
fi
if [ "$failures" -gt 0 ]; then
  echo "infra/check.sh: $failures check(s) FAILED"
  exit 1
fi
echo "infra/check.sh: all checks passed"
