#!/usr/bin/env bash
# A three-node Kafka cluster on loopback, as production runs it: three KRaft nodes
# that are each broker and controller (a quorum of three), internal topics and new
# topics at replication factor 3 with min.insync.replicas=2. Each node is one
# deploy/local/kafka.sh instance (the same jars and scripts as the single broker).
#
#   deploy/local/kafka-cluster.sh start         start the nodes not running, wait
#                                               until all three serve metadata
#   deploy/local/kafka-cluster.sh stop          stop all three (SIGTERM)
#   deploy/local/kafka-cluster.sh status        exit 0 if all three are ready
#   deploy/local/kafka-cluster.sh reset         stop and wipe the data
#   deploy/local/kafka-cluster.sh start-node N  start node N (1-3), wait until ready
#   deploy/local/kafka-cluster.sh stop-node N   SIGTERM node N, wait for its exit
#   deploy/local/kafka-cluster.sh kill-node N   SIGKILL node N
#   deploy/local/kafka-cluster.sh bootstrap     print the bootstrap servers
#
# Environment: KAFKA_CLUSTER_PORT (node 1's broker port, default 19192; node N uses
# that + 10 x (N-1), its controller the port after), KAFKA_CLUSTER_DIR (default
# .run/kafka-cluster), KAFKA_HEAP_OPTS (default -Xmx384m -Xms128m a node: three
# JVMs share the machine). tests/e2e/test_cluster.py runs the failover tests on it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
BASE=${KAFKA_CLUSTER_PORT:-19192}
DIR=${KAFKA_CLUSTER_DIR:-$ROOT/.run/kafka-cluster}
NODES=(1 2 3)

port_of() { echo $((BASE + 10 * ($1 - 1))); }
voters() {
    local n out=""
    for n in "${NODES[@]}"; do
        out="$out${out:+,}$n@127.0.0.1:$(($(port_of "$n") + 1))"
    done
    echo "$out"
}
bootstrap() {
    local n out=""
    for n in "${NODES[@]}"; do
        out="$out${out:+,}127.0.0.1:$(port_of "$n")"
    done
    echo "$out"
}

# Runs kafka.sh for node $1 with the rest of the arguments.
node() {
    local n=$1
    shift
    case "$n" in 1 | 2 | 3) ;; *)
        echo "kafka-cluster: no node $n (1-3)" >&2
        exit 2
        ;;
    esac
    env KAFKA_PORT="$(port_of "$n")" KAFKA_NODE_ID="$n" KAFKA_QUORUM_VOTERS="$(voters)" \
        KAFKA_CONTAINER_PORT=0 KAFKA_CLUSTER_ID_FILE="$DIR/cluster-id" \
        KAFKA_REPLICATION=3 KAFKA_MIN_ISR=2 KAFKA_RUN_DIR="$DIR/node-$n" KAFKA_WARMUP=0 \
        KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx384m -Xms128m}" \
        bash "$HERE/kafka.sh" "$@" 2>&1 | sed -u "s/^kafka: /kafka-$n: /"
    return "${PIPESTATUS[0]}"
}

# Every node formats its storage with the same cluster id.
cluster_id() {
    mkdir -p "$DIR"
    [ -s "$DIR/cluster-id" ] && return 0
    python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break' >"$DIR/cluster-id"
}

# The nodes start together: none is ready before a quorum of controllers is.
start_all() {
    cluster_id
    bash "$HERE/kafka.sh" install >/dev/null
    local n pids=() rc=0
    for n in "${NODES[@]}"; do
        node "$n" start &
        pids+=($!)
    done
    for n in "${pids[@]}"; do
        wait "$n" || rc=1
    done
    [ "$rc" = 0 ] || {
        echo "kafka-cluster: a node did not start" >&2
        return 1
    }
    warm_up
    echo "kafka-cluster: ready, bootstrap $(bootstrap)"
}

# One idempotent produce with acks=all (all three replicas take part) and one
# group consume with a commit, as kafka.sh does for the single broker.
warm_up() {
    local deadline=$(($(date +%s) + 120))
    until echo warm | kcat -b "$(bootstrap)" -P -t _millrace_probe -p 0 -X acks=all \
        -X enable.idempotence=true -X log_level=0 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || {
            echo "kafka-cluster: warm-up produce failed" >&2
            return 1
        }
        sleep 0.3 # poll until the cluster takes a record
    done
    until timeout 30 kcat -b "$(bootstrap)" -G _millrace_probe -X auto.offset.reset=earliest \
        -X log_level=0 -c 1 -e -q _millrace_probe >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || {
            echo "kafka-cluster: warm-up group consume failed" >&2
            return 1
        }
        sleep 0.3 # poll until the group coordinator answers
    done
}

case "${1:-}" in
start) start_all ;;
stop)
    for n in "${NODES[@]}"; do node "$n" stop || true; done
    ;;
status)
    rc=0
    for n in "${NODES[@]}"; do node "$n" status || rc=1; done
    exit "$rc"
    ;;
reset)
    for n in "${NODES[@]}"; do node "$n" reset || true; done
    rm -rf "$DIR"
    ;;
start-node) node "${2:?node}" start ;;
stop-node) node "${2:?node}" stop ;;
kill-node)
    pidfile="$DIR/node-${2:?node}/kafka.pid"
    [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    echo "kafka-cluster: node $2 killed"
    ;;
bootstrap) bootstrap ;;
*)
    echo "usage: $0 {start|stop|status|reset|start-node N|stop-node N|kill-node N|bootstrap}" >&2
    exit 2
    ;;
esac
