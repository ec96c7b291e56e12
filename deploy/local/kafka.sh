#!/usr/bin/env bash
# Local Apache Kafka for tests and development: one KRaft node that is both broker
# and controller, on loopback only.
#
#   deploy/local/kafka.sh install   fetch the broker's jars from Maven Central (cached)
#   deploy/local/kafka.sh start     install if needed, format storage once, start,
#                                   wait until a metadata request succeeds
#   deploy/local/kafka.sh stop      SIGTERM, wait for exit (SIGKILL after a deadline)
#   deploy/local/kafka.sh status    exit 0 if running and answering metadata requests
#   deploy/local/kafka.sh reset     stop and wipe the data (topics, offsets, cluster id)
#   deploy/local/kafka.sh check     produce + consume in a consumer group with commit
#                                   using kcat (Debian's librdkafka), to prove the
#                                   broker and the client library get along
#
# Environment: KAFKA_PORT (broker, default 19092), KAFKA_CONTROLLER_PORT (default
# KAFKA_PORT+1), KAFKA_RESET=1 (start wipes the data first), KAFKA_START_TIMEOUT
# (seconds, default 90), KAFKA_CONTAINER_PORT (default KAFKA_PORT+2; 0: none): a
# third listener, also on 127.0.0.1, that advertises itself as 10.0.2.2 (podman's
# slirp4netns address for the host's loopback, allow_host_loopback=true), so that
# containers with a network of their own reach the broker (tests/e2e/test_images.py),
# KAFKA_HEAP_OPTS (default -Xmx512m -Xms256m), KAFKA_WARMUP=0
# (skip the warm-up of the producer-id and group coordinators, see warm_up).
# KAFKA_NODE_ID, KAFKA_QUORUM_VOTERS, KAFKA_CLUSTER_ID_FILE, KAFKA_REPLICATION,
# KAFKA_MIN_ISR: one node of a cluster (deploy/local/kafka-cluster.sh sets them).
# KAFKA_SECURE_PORT (default 0: none): four more listeners on loopback for the secured
# connection tests (tests/e2e/test_kafka_security.py): SSL on that port (TLS, server
# verified), MTLS on +1 (TLS, client certificate required), SASL_SSL on +2 and
# SASL_PLAINTEXT on +3 (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER unsecured). They need
# KAFKA_TLS_DIR holding ca.pem (the CA that signed the clients' certificates),
# broker.pem and broker.key (the broker's certificate chain and its unencrypted
# PKCS#8 key, read as PEM: ssl.keystore.type=PEM), and KAFKA_SASL_USERS,
# "name:password" pairs separated by spaces: PLAIN users of both SASL listeners, and
# SCRAM credentials stored at format time by Kafka's own StorageTool
# (kafka-storage.sh format --add-scram), so a storage that exists keeps its users.
# KAFKA_RUN_DIR: state directory (pid, logs, data; default .run/kafka): with another port,
# a second, private instance, e.g. for tests that stop and restart the server.
# MILLRACE_CACHE_DIR: where downloads are cached (default .cache/ in the repo; point
# it at a folder kept across clones to skip the downloads in a fresh clone).
#
# Version pinned: Apache Kafka 3.9.2 (Scala 2.13), the newest release of the 3.9 line
# (the same line as 3.9.1, with later fixes and dependency updates).
# Why not 4.x: Kafka 4.0 removed the protocol API versions older than its 2.1 baseline
# (KIP-896) and ZooKeeper mode; millrace's C code links Debian 12's librdkafka 2.0.2
# (January 2023, two years before Kafka 4.0). 3.9 is the last line that still serves
# every old request version while running in KRaft mode (no ZooKeeper), so whatever
# versions librdkafka 2.0.2 negotiates are served.
# Verified here with kcat 1.7.1, which links Debian's librdkafka 2.0.2 (the Python
# test harness's confluent-kafka wheel bundles its own, newer librdkafka): metadata,
# idempotent produce with acks=all, consume in a consumer group with offset commit,
# and a second member of the group resuming after the committed offset;
# `deploy/local/kafka.sh check` does exactly that.
set -euo pipefail

KAFKA_VERSION=3.9.2

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
CACHE="${MILLRACE_CACHE_DIR:-$ROOT/.cache}"
LIBS="$CACHE/kafka/$KAFKA_VERSION/libs"
M2="$CACHE/m2"
RUN="${KAFKA_RUN_DIR:-$ROOT/.run/kafka}"
DATA="$RUN/data"
LOGS="$RUN/logs"
PIDFILE="$RUN/kafka.pid"
OUT="$RUN/kafka.out"
PROPS="$RUN/server.properties"
CLUSTER_ID_FILE="${KAFKA_CLUSTER_ID_FILE:-$RUN/cluster-id}"

KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
# One node of a cluster (deploy/local/kafka-cluster.sh): its id, the controller
# quorum, and the replication of the internal topics and of new topics.
KAFKA_NODE_ID=${KAFKA_NODE_ID:-1}
KAFKA_QUORUM_VOTERS=${KAFKA_QUORUM_VOTERS:-$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT}
KAFKA_REPLICATION=${KAFKA_REPLICATION:-1}
KAFKA_MIN_ISR=${KAFKA_MIN_ISR:-1}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-60}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}
KAFKA_CONTAINER_PORT=${KAFKA_CONTAINER_PORT:-$((KAFKA_PORT + 2))}
KAFKA_SECURE_PORT=${KAFKA_SECURE_PORT:-0}
KAFKA_TLS_DIR=${KAFKA_TLS_DIR:-}
KAFKA_SASL_USERS=${KAFKA_SASL_USERS:-}
BROKER="127.0.0.1:$KAFKA_PORT"

JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

NAME=kafka
PROC_PATTERN='kafka\.Kafka'
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_tools() {
    if ! command -v "$JAVA" >/dev/null || ! command -v mvn >/dev/null || ! command -v kcat >/dev/null; then
        say "java, mvn or kcat missing: running install-deps.sh"
        bash "$HERE/install-deps.sh"
    fi
}

do_install() {
    if [ -f "$LIBS/.complete" ]; then
        say "jars of Kafka $KAFKA_VERSION cached in ${LIBS#"$ROOT"/}"
        return 0
    fi
    need_tools
    say "fetching jars of Kafka $KAFKA_VERSION with Maven into ${LIBS#"$ROOT"/}"
    rm -rf "$LIBS"
    mkdir -p "$LIBS" "$M2"
    local mvnlog="$CACHE/kafka/mvn.log"
    if ! mvn -q -B -Dstyle.color=never -f "$HERE/kafka/pom.xml" -Dmaven.repo.local="$M2" \
        -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$LIBS" >"$mvnlog" 2>&1; then
        tail -n 30 "$mvnlog" >&2
        die "mvn could not fetch the jars of Kafka $KAFKA_VERSION (log: ${mvnlog#"$ROOT"/})"
    fi
    [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
    touch "$LIBS/.complete"
    say "installed Kafka $KAFKA_VERSION ($(ls "$LIBS" | wc -l) jars) in $(elapsed) s"
}

# pid of our broker if it is running, else nothing (and a stale pid file is removed)
# one metadata request; succeeds when the broker answers and lists itself
probe() {
    kcat -b "$BROKER" -L -m 3 2>/dev/null |
        grep -q "broker $KAFKA_NODE_ID at 127.0.0.1:$KAFKA_PORT"
}

write_config() {
    mkdir -p "$DATA" "$LOGS"
    local listeners="PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT"
    local advertised="PLAINTEXT://127.0.0.1:$KAFKA_PORT"
    local protocols="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    if [ "$KAFKA_CONTAINER_PORT" != 0 ]; then
        listeners="$listeners,CONTAINERS://127.0.0.1:$KAFKA_CONTAINER_PORT"
        advertised="$advertised,CONTAINERS://10.0.2.2:$KAFKA_CONTAINER_PORT"
        protocols="$protocols,CONTAINERS:PLAINTEXT"
    fi
    if [ "$KAFKA_SECURE_PORT" != 0 ]; then
        local p=$KAFKA_SECURE_PORT
        listeners="$listeners,SSL://127.0.0.1:$p,MTLS://127.0.0.1:$((p + 1))"
        listeners="$listeners,SASL_SSL://127.0.0.1:$((p + 2)),SASL_PLAINTEXT://127.0.0.1:$((p + 3))"
        advertised="$advertised,SSL://127.0.0.1:$p,MTLS://127.0.0.1:$((p + 1))"
        advertised="$advertised,SASL_SSL://127.0.0.1:$((p + 2)),SASL_PLAINTEXT://127.0.0.1:$((p + 3))"
        protocols="$protocols,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT"
    fi
    cat >"$PROPS" <<EOF
# generated by deploy/local/kafka.sh; edits are overwritten at each start
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_QUORUM_VOTERS
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$DATA
num.partitions=4
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$KAFKA_MIN_ISR
offsets.topic.replication.factor=$KAFKA_REPLICATION
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_ISR
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
log.retention.hours=168
log.segment.bytes=268435456
# After a kill -9 the restarted node must wait for its old broker session to expire
# (DUPLICATE_BROKER_REGISTRATION until then): 5 s instead of 9 s keeps restarts in the
# fault tests short while staying far above any pause seen on a loaded 2-core machine.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=5000
EOF
    if [ "$KAFKA_SECURE_PORT" != 0 ]; then
        write_secure_config >>"$PROPS"
    fi
}

# A PEM file as one Java properties value: lines joined by \n escapes.
pem_value() {
    awk 'NF { printf "%s%s", sep, $0; sep = "\\n" }' "$1"
}

# The secured listeners (KAFKA_SECURE_PORT): the broker's identity, the CA the MTLS
# listener trusts, the SASL mechanisms and the PLAIN users.
write_secure_config() {
    local d=$KAFKA_TLS_DIR f pair users="" m l
    [ -n "$d" ] || die "KAFKA_SECURE_PORT needs KAFKA_TLS_DIR"
    for f in ca.pem broker.pem broker.key; do
        [ -r "$d/$f" ] || die "KAFKA_TLS_DIR: $d/$f missing"
    done
    for pair in $KAFKA_SASL_USERS; do
        users="$users user_${pair%%:*}=\"${pair#*:}\""
    done
    echo "ssl.keystore.type=PEM"
    echo "ssl.keystore.certificate.chain=$(pem_value "$d/broker.pem")"
    echo "ssl.keystore.key=$(pem_value "$d/broker.key")"
    echo "ssl.truststore.type=PEM"
    echo "ssl.truststore.location=$d/ca.pem"
    echo "listener.name.mtls.ssl.client.auth=required"
    # OAUTHBEARER with Kafka's unsecured validator: it takes only unsigned JWTs, so an
    # MSK IAM token reaches it and is refused (the tests check the exchange happens).
    echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"
    for l in sasl_ssl sasl_plaintext; do
        echo "listener.name.$l.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$users;"
        echo "listener.name.$l.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
        for m in scram-sha-256 scram-sha-512; do
            echo "listener.name.$l.$m.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
        done
    done
}

# --add-scram arguments of the format command: both SCRAM mechanisms for each user
# of KAFKA_SASL_USERS.
scram_args() {
    local pair m
    SCRAM=()
    [ "$KAFKA_SECURE_PORT" != 0 ] || return 0
    for pair in $KAFKA_SASL_USERS; do
        for m in SCRAM-SHA-256 SCRAM-SHA-512; do
            SCRAM+=(--add-scram "$m=[name=${pair%%:*},password=${pair#*:}]")
        done
    done
}

java_opts() {
    # shellcheck disable=SC2206
    local heap=($KAFKA_HEAP_OPTS)
    JOPTS=("${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent
        -Djava.awt.headless=true
        "-Dlog4j.configuration=file:$HERE/kafka/log4j.properties"
        "-Dkafka.logs.dir=$LOGS")
}

new_cluster_id() {
    # Kafka's Uuid: 16 random bytes, URL-safe base64 without padding, never starting
    # with '-' (the same thing `kafka-storage.sh random-uuid` prints).
    python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break'
}

format_storage() {
    if [ -f "$DATA/meta.properties" ]; then
        return 0
    fi
    [ -s "$CLUSTER_ID_FILE" ] || new_cluster_id >"$CLUSTER_ID_FILE"
    local cid
    cid=$(cat "$CLUSTER_ID_FILE")
    say "formatting storage in ${DATA#"$ROOT"/} (cluster id $cid)"
    java_opts
    scram_args
    "$JAVA" "${JOPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format \
        -t "$cid" -c "$PROPS" --ignore-formatted "${SCRAM[@]}" >>"$OUT" 2>&1 ||
        {
            tail -n 20 "$OUT" >&2
            die "formatting storage failed"
        }
}

wait_ready() {
    local pid=$1 deadline=$(($(date +%s) + KAFKA_START_TIMEOUT))
    while :; do
        if probe; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            say "broker process $pid exited during startup; last lines of its logs:" >&2
            tail -n 30 "$OUT" >&2 || true
            tail -n 30 "$LOGS/server.log" >&2 2>/dev/null || true
            rm -f "$PIDFILE"
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            say "not ready after ${KAFKA_START_TIMEOUT} s; last lines of its log:" >&2
            tail -n 40 "$LOGS/server.log" >&2 2>/dev/null || tail -n 40 "$OUT" >&2 || true
            return 1
        fi
        sleep 0.3
    done
}

do_start() {
    local pid
    if [ "${KAFKA_RESET:-0}" = 1 ]; then
        do_reset
    fi
    if pid=$(running_pid); then
        say "already running (pid $pid), checking readiness on $BROKER"
        wait_ready "$pid" || die "running but not ready"
        say "ready on $BROKER ($(elapsed) s)"
        return 0
    fi
    do_install
    need_tools
    local p
    local secure=()
    if [ "$KAFKA_SECURE_PORT" != 0 ]; then
        secure=("$KAFKA_SECURE_PORT" $((KAFKA_SECURE_PORT + 1)) $((KAFKA_SECURE_PORT + 2)) $((KAFKA_SECURE_PORT + 3)))
    fi
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_CONTAINER_PORT" "${secure[@]}"; do
        if [ "$p" != 0 ] && port_busy "$p"; then
            die "port $p on 127.0.0.1 is used by another process"
        fi
    done
    write_config
    format_storage
    java_opts
    say "starting broker+controller on $BROKER (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
    echo "---- start $(date -Is)" >>"$OUT"
    # setsid + redirections: the broker outlives this script and never holds the
    # caller's terminal or pipes open.
    setsid nohup "$JAVA" "${JOPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$PROPS" \
        </dev/null >>"$OUT" 2>&1 &
    pid=$!
    echo "$pid" >"$PIDFILE"
    say "waiting for a metadata request to succeed (pid $pid, deadline ${KAFKA_START_TIMEOUT} s)"
    if ! wait_ready "$pid"; then
        do_stop >&2 || true
        die "broker did not become ready"
    fi
    if [ "${KAFKA_WARMUP:-1}" != 0 ]; then
        warm_up
    fi
    say "ready on $BROKER, started in $(elapsed) s"
}

# Warm-up, so that "ready" also means "idempotent producers and consumer groups work
# now": after every start one idempotent produce (the first InitProducerId after a
# start answers "coordinator load in progress" while the broker fetches a block of
# producer ids from the controller), and on fresh storage one group consume with a
# commit, which creates __consumer_offsets (otherwise created, slowly, by the first
# group of a test).
warm_up() {
    local topic=_millrace_probe deadline=$(($(date +%s) + KAFKA_START_TIMEOUT))
    say "warming up: idempotent producer$([ -f "$RUN/warmed" ] || echo ', consumer group coordinator')"
    until echo warm | kcat -b "$BROKER" -P -t "$topic" -p 0 -X acks=all \
        -X enable.idempotence=true -X log_level=0 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || die "warm-up produce failed until the deadline"
        sleep 0.3
    done
    [ -f "$RUN/warmed" ] && return 0
    until timeout 30 kcat -b "$BROKER" -G _millrace_probe -X auto.offset.reset=earliest \
        -X log_level=0 -c 1 -e -q "$topic" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || die "warm-up group consume failed until the deadline"
        sleep 0.3
    done
    touch "$RUN/warmed"
}

do_stop() {
    stop_server "$KAFKA_STOP_TIMEOUT"
}

do_status() {
    local pid
    if ! pid=$(running_pid); then
        say "not running"
        return 3
    fi
    if probe; then
        say "running (pid $pid), ready on $BROKER"
        return 0
    fi
    say "running (pid $pid) but not answering metadata requests on $BROKER"
    return 1
}

do_reset() {
    do_stop
    say "wiping ${DATA#"$ROOT"/} and the cluster id"
    rm -rf "$DATA" "$CLUSTER_ID_FILE" "$RUN/warmed"
}

# Proves that Debian's librdkafka (through kcat) works against this broker:
# produce with acks=all + idempotence, consume in a consumer group with a commit,
# then a second consumer of the same group starts after the committed offset.
do_check() {
    do_status >/dev/null || die "not running/ready; start it first"
    local topic="millrace-check-$$-$RANDOM" group="millrace-check-$$" n=5 got
    say "librdkafka: $(kcat -V 2>/dev/null | grep -o 'librdkafka [0-9.]*' | head -n1)"
    seq 1 $n | sed 's/^/check-/' |
        kcat -b "$BROKER" -P -t "$topic" -p 0 -X acks=all -X enable.idempotence=true ||
        die "produce failed"
    got=$(timeout 60 kcat -b "$BROKER" -G "$group" -X auto.offset.reset=earliest \
        -X enable.auto.commit=true -X auto.commit.interval.ms=100 \
        -c $n -e -q -f '%s\n' "$topic" 2>/dev/null | wc -l) || true
    [ "$got" = "$n" ] || die "group consume got $got of $n records"
    say "produced $n, consumed $n in group $group"
    echo "check-6" | kcat -b "$BROKER" -P -t "$topic" -p 0 || die "produce failed"
    got=$(timeout 60 kcat -b "$BROKER" -G "$group" -X auto.offset.reset=earliest \
        -c 1 -e -q -f '%s\n' "$topic" 2>/dev/null) || true
    [ "$got" = "check-6" ] || die "after commit, the group resumed at '$got', not at check-6"
    say "committed offset honoured: the group resumed at the next record"
    say "check passed ($(elapsed) s)"
}

dispatch "$@"
