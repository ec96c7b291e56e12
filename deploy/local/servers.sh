#!/usr/bin/env bash
# The real servers of the local test stack, on loopback:
#   Kafka 3.9 (KRaft, broker+controller)  127.0.0.1:19092  (deploy/local/kafka.sh)
#   versitygw S3, SigV4-checking          127.0.0.1:17070  (deploy/local/s3.sh)
#
#   deploy/local/servers.sh start    install what is missing, start both (in parallel),
#                                    return once both answer real requests
#   deploy/local/servers.sh stop     stop both
#   deploy/local/servers.sh status   exit 0 only if both are running and ready
#   deploy/local/servers.sh reset    stop both and wipe their data
#
# Then `. deploy/local/env.sh` for MILLRACE_KAFKA_BROKERS, MILLRACE_S3_ENDPOINT,
# MILLRACE_S3_BUCKET and the AWS_* test credentials. Ports and options: see kafka.sh
# and s3.sh (KAFKA_PORT, S3_PORT, S3_BUCKET, KAFKA_RESET=1, S3_RESET=1, ...).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Runs the same subcommand of kafka.sh and s3.sh side by side (each prints its own
# prefixed lines), and fails if either fails.
both() {
    bash "$HERE/kafka.sh" "$1" &
    local k=$!
    bash "$HERE/s3.sh" "$1" &
    local s=$!
    local rk=0 rs=0
    wait "$k" || rk=$?
    wait "$s" || rs=$?
    [ "$rk" = 0 ] && [ "$rs" = 0 ] && return 0
    echo "servers: $1 failed (kafka.sh exit $rk, s3.sh exit $rs)" >&2
    return 1
}

case "${1:-}" in
start)
    bash "$HERE/install-deps.sh" || exit 1
    both start || exit 1
    echo "servers: both ready in $(elapsed) s; settings: . deploy/local/env.sh"
    ;;
stop)
    both stop || exit 1
    echo "servers: stopped in $(elapsed) s"
    ;;
status)
    both status || exit 1
    echo "servers: both running and ready"
    ;;
reset)
    both reset || exit 1
    ;;
*)
    echo "usage: $0 {start|stop|status|reset}" >&2
    exit 2
    ;;
esac
