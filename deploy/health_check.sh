#!/usr/bin/env bash
# Holodeck health check for operators and cron: the gateway API, the disk, the memory,
# NATS and how far the gateway's projection is behind the event stream. One line per
# check (✓ or ✗), exit 0 when every check passes, 1 otherwise (every check still runs,
# so one run shows everything that is wrong).
#
#   deploy/health_check.sh
#   HOLODECK_URL=https://holodeck.example.com NATS_MONITOR_URL=http://nats-1:8222 deploy/health_check.sh
#
# Settings (environment):
#   HOLODECK_URL       the gateway (or the load balancer in front)   http://localhost:8080
#   NATS_MONITOR_URL   a NATS server's monitoring port               http://localhost:8222
#   DISK_PATH          the file system to watch (NATS store, data)   /
#   DISK_MAX_PERCENT   highest use allowed                            90
#   MEMORY_MIN_MB      least available memory allowed                 1024
#   LAG_MAX_EVENTS     most events the projection may be behind       100
#   CHECK_TIMEOUT_S    per HTTP request                               5
set -u

HOLODECK_URL=${HOLODECK_URL:-http://localhost:8080}
NATS_MONITOR_URL=${NATS_MONITOR_URL:-http://localhost:8222}
DISK_PATH=${DISK_PATH:-/}
DISK_MAX_PERCENT=${DISK_MAX_PERCENT:-90}
MEMORY_MIN_MB=${MEMORY_MIN_MB:-1024}
LAG_MAX_EVENTS=${LAG_MAX_EVENTS:-100}
CHECK_TIMEOUT_S=${CHECK_TIMEOUT_S:-5}

failed=0
health_body=""

pass() { echo "✓ $*"; }
fail() { echo "✗ $*"; failed=1; }

need() {
    command -v "$1" >/dev/null 2>&1 || { echo "✗ $1 is needed by this script (apt-get install $2)"; exit 2; }
}
need curl curl
need python3 python3

check_api() {
    local code
    health_body=$(curl -s -m "$CHECK_TIMEOUT_S" -w '\n%{http_code}' "$HOLODECK_URL/health") || true
    code=${health_body##*$'\n'}
    health_body=${health_body%$'\n'*}
    if [ "$code" = "200" ]; then
        pass "API is responding ($HOLODECK_URL/health: 200)"
    elif [ -z "$code" ] || [ "$code" = "000" ]; then
        fail "API is not responding ($HOLODECK_URL/health: no answer within ${CHECK_TIMEOUT_S}s)"
    else
        reason=$(printf '%s' "$health_body" | python3 -c 'import json,sys
try: print("; ".join(json.load(sys.stdin).get("reasons", [])))
except Exception: pass' 2>/dev/null)
        fail "API is unhealthy (HTTP $code${reason:+: $reason})"
    fi
}

check_disk_space() {
    local usage
    usage=$(df -P "$DISK_PATH" 2>/dev/null | awk 'NR==2 {sub("%", "", $5); print $5}')
    if [ -z "$usage" ]; then
        fail "Disk: cannot read the use of $DISK_PATH"
    elif [ "$usage" -lt "$DISK_MAX_PERCENT" ]; then
        pass "Disk space is sufficient ($DISK_PATH ${usage}% used, limit ${DISK_MAX_PERCENT}%)"
    else
        fail "Disk space is low ($DISK_PATH ${usage}% used, limit ${DISK_MAX_PERCENT}%)"
    fi
}

check_memory() {
    local available
    available=$(awk '/^MemAvailable:/ {printf "%d", $2 / 1024}' /proc/meminfo 2>/dev/null)
    if [ -z "$available" ]; then
        fail "Memory: /proc/meminfo has no MemAvailable"
    elif [ "$available" -gt "$MEMORY_MIN_MB" ]; then
        pass "Memory is sufficient (${available} MB available, minimum ${MEMORY_MIN_MB} MB)"
    else
        fail "Memory is low (${available} MB available, minimum ${MEMORY_MIN_MB} MB)"
    fi
}

check_nats() {
    local code
    code=$(curl -s -o /dev/null -m "$CHECK_TIMEOUT_S" -w '%{http_code}' \
        "$NATS_MONITOR_URL/healthz?js-enabled-only=true") || true
    if [ "$code" = "200" ]; then
        pass "NATS JetStream is healthy ($NATS_MONITOR_URL)"
    else
        fail "NATS JetStream is not healthy ($NATS_MONITOR_URL/healthz: ${code:-no answer})"
    fi
}

# The gateway's /health carries {"projection": {"behind": N, ...}}: events of the stream
# not yet applied to its database (what GET /v1/scenes shows).
check_stream_lag() {
    local behind
    if [ -z "$health_body" ]; then
        fail "Stream lag: unknown (no answer from $HOLODECK_URL/health)"
        return
    fi
    behind=$(printf '%s' "$health_body" | python3 -c 'import json,sys
try: print(int(json.load(sys.stdin)["projection"]["behind"]))
except Exception: pass' 2>/dev/null)
    if [ -z "$behind" ]; then
        fail "Stream lag: /health has no projection.behind"
    elif [ "$behind" -le "$LAG_MAX_EVENTS" ]; then
        pass "Projection keeps up with the stream ($behind events behind, limit $LAG_MAX_EVENTS)"
    else
        fail "Projection is behind the stream ($behind events, limit $LAG_MAX_EVENTS)"
    fi
}

check_api
check_disk_space
check_memory
check_nats
check_stream_lag

if [ "$failed" -eq 0 ]; then
    echo "All health checks passed!"
    exit 0
fi
echo "Some health checks failed."
exit 1
