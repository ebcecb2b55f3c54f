#!/usr/bin/env bash
# Two Pace instances and HAProxy on one machine, sharing PostgreSQL and Redis.
#
#   deploy/run-two-instances.sh          # from the repository root, after make install
#
# Clients use http://127.0.0.1:8080 (HAProxy); the instances listen on 8001
# and 8002, HAProxy's stats page on 8404. Ctrl-C stops all three. Override
# with PACE_DATABASE_URL, PACE_BROKER_URL, PACE_BROKER_PREFIX, PACE_A_PORT,
# PACE_B_PORT, PACE_LB_PORT. See docs/scaling.md.
set -euo pipefail
cd "$(dirname "$0")/.."

export PACE_DATABASE_URL="${PACE_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres?schema=pace}"
export PACE_BROKER_URL="${PACE_BROKER_URL:-redis://127.0.0.1:6379/0}"
export PACE_BROKER_PREFIX="${PACE_BROKER_PREFIX:-pace:}"
a_port="${PACE_A_PORT:-8001}"
b_port="${PACE_B_PORT:-8002}"
lb_port="${PACE_LB_PORT:-8080}"
python=.venv/bin/python
[[ -x $python ]] || { echo "run 'make install' first" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "install haproxy: sudo apt-get install haproxy" >&2; exit 1; }

pids=()
stop() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
}
trap stop INT TERM EXIT

start_instance() {  # name port
    PACE_INSTANCE_ID="$1" PACE_PORT="$2" PACE_PUBLIC_URL="http://127.0.0.1:$lb_port" \
        "$python" -m pace_websockets &
    pids+=("$!")
}

wait_ready() {  # port
    for _ in $(seq 1 300); do
        "$python" -c "import sys, urllib.request as u; u.urlopen('http://127.0.0.1:$1/readyz', timeout=1)" \
            2>/dev/null && return 0
        sleep 0.2
    done
    echo "instance on port $1 did not become ready" >&2
    return 1
}

start_instance a "$a_port"
start_instance b "$b_port"
wait_ready "$a_port"
wait_ready "$b_port"

PACE_LB_BIND="127.0.0.1:$lb_port" PACE_A="127.0.0.1:$a_port" PACE_B="127.0.0.1:$b_port" \
    haproxy -db -f deploy/haproxy.cfg &
haproxy_pid=$!
pids+=("$haproxy_pid")
echo "pace: instances a (:$a_port, pid ${pids[0]}) and b (:$b_port, pid ${pids[1]})" \
    "behind http://127.0.0.1:$lb_port; Ctrl-C stops them" >&2
# An instance that dies is not restarted here: HAProxy sends its clients to the
# other one, which is the point of the exercise. Only HAProxy's exit ends this.
wait "$haproxy_pid"
