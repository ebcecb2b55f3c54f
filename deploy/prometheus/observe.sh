#!/usr/bin/env bash
# `make observe`: a throwaway local Prometheus scraping a local Pace service.
#
#   PACE_PORT        port of the service to scrape (default 8000, as make run-websockets)
#   PACE_TARGET_HOST host of that service (default 127.0.0.1)
#   PROMETHEUS_PORT  port of Prometheus's own web UI (default 9090)
#   PROMETHEUS_SCRAPE_INTERVAL  default 5s
#
# Storage lives in a temporary directory removed on exit: this is for watching
# a race on your machine, not for keeping history.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

service_port="${PACE_PORT:-8000}"
service_host="${PACE_TARGET_HOST:-127.0.0.1}"
web_port="${PROMETHEUS_PORT:-9090}"
interval="${PROMETHEUS_SCRAPE_INTERVAL:-5s}"

prometheus="${PROMETHEUS:-$(command -v prometheus || true)}"
if [[ -z "$prometheus" ]]; then
  echo "prometheus not found: run 'make prometheus' (installs Debian's prometheus package)" >&2
  exit 127
fi

workdir="$(mktemp -d "${TMPDIR:-/tmp}/pace-observe.XXXXXX")"
trap 'rm -rf "$workdir"' EXIT

# The shipped config, pointed at the requested service, with absolute rule paths.
sed -e "s|127.0.0.1:8000|${service_host}:${service_port}|" \
    -e "s|^  scrape_interval: .*|  scrape_interval: ${interval}|" \
    -e "s|^  - rules/|  - ${here}/rules/|" \
    "$here/prometheus.yml" > "$workdir/prometheus.yml"

if ! (exec 3<>"/dev/tcp/${service_host}/${service_port}") 2>/dev/null; then
  echo "note: nothing answers on ${service_host}:${service_port} yet; start it with 'make run-websockets'" >&2
fi

base="http://127.0.0.1:${web_port}"
cat <<MSG
Prometheus on ${base}, scraping http://${service_host}:${service_port}/metrics every ${interval}
  points accepted: ${base}/graph?g0.expr=pace_points_accepted_total&g0.tab=0&g0.range_input=15m
  ingest rate:     ${base}/graph?g0.expr=job%3Apace_points_accepted%3Arate1m&g0.tab=0&g0.range_input=15m
  alerts:          ${base}/alerts
  targets:         ${base}/targets
Ctrl-C stops it. Grafana users: deploy/grafana/ has a dashboard (docs/observability.md).
MSG

"$prometheus" \
  --config.file="$workdir/prometheus.yml" \
  --storage.tsdb.path="$workdir/data" \
  --web.listen-address="127.0.0.1:${web_port}" \
  --log.level=warn &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$workdir"' EXIT INT TERM
wait "$pid"
