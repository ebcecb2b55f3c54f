#!/usr/bin/env bash
# Validate Pace's Prometheus files: the local config, the rules, and the rules'
# unit tests. `make lint` runs this; `make prometheus` installs promtool.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

promtool="${PROMTOOL:-$(command -v promtool || true)}"
if [[ -z "$promtool" ]]; then
  echo "promtool not found: run 'make prometheus' (Debian's prometheus package ships it)" >&2
  exit 127
fi

cd "$here"
"$promtool" check config prometheus.yml
"$promtool" check rules rules/*.yml
"$promtool" test rules tests/*.test.yml
