#!/bin/sh
# One-shot job in the apache/kafka image (docker-compose.yml service kafka-init, and
# the Job create-topics of deploy/k8s/topics-job.yaml, which carries a copy):
# creates the events topic and its dead-letter topic, and exits 0 when both exist.
# Idempotent: a topic that exists is left as it is (see docs/deployment.md, "Sizing
# partitions, replicas and workers", before adding partitions to a live topic).
#
# Environment:
#   BOOTSTRAP           Kafka bootstrap servers (default kafka:9092)
#   TOPIC               events topic (default events); the DLQ is "$TOPIC.dlq"
#   PARTITIONS          partitions of the events topic (default 12): the most
#                       uploader replicas that get work
#   DLQ_PARTITIONS      partitions of the DLQ topic (default 3)
#   REPLICATION_FACTOR  (default 1: the compose file runs one broker)
#   KAFKA_TOPICS        the kafka-topics tool (default /opt/kafka/bin/kafka-topics.sh)
set -eu
BOOTSTRAP=${BOOTSTRAP:-kafka:9092}
TOPIC=${TOPIC:-events}
PARTITIONS=${PARTITIONS:-12}
DLQ_PARTITIONS=${DLQ_PARTITIONS:-3}
REPLICATION_FACTOR=${REPLICATION_FACTOR:-1}
KAFKA_TOPICS=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}

create() { # topic partitions
    echo "create-topics: $1 ($2 partitions, replication factor $REPLICATION_FACTOR)"
    "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$1" --partitions "$2" --replication-factor "$REPLICATION_FACTOR"
}

create "$TOPIC" "$PARTITIONS"
create "$TOPIC.dlq" "$DLQ_PARTITIONS"
"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --describe --topic "$TOPIC"
"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --describe --topic "$TOPIC.dlq"
echo "create-topics: done"
