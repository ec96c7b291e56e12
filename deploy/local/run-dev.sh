#!/usr/bin/env bash
# `make run`: the whole pipeline on one machine, no Docker, no services:
# the in-memory dev broker, ingest-api on :8080, and the uploader writing
# to ./data/. For trying millrace out: nothing here is durable.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=${BIN:-build}
run=.run/dev
mkdir -p "$run" data
rm -f "$run/bootstrap"

pids=()
stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping..."
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null || true
        wait "${pids[$i]}" 2>/dev/null || true
    done
    echo "stopped. Objects written are still under ./data/; the events in the dev broker are gone."
}
trap stop INT TERM EXIT

# Waits until a command succeeds, at most $1 seconds.
wait_for() {
    local limit=$1
    shift
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "timed out waiting for: $*" >&2
            return 1
        fi
        sleep 0.1 # poll interval
    done
}

"$bin/millrace-devbroker" --port-file "$run/bootstrap" --partitions 4 \
    2>"$run/devbroker.log" &
pids+=($!)
wait_for 10 test -s "$run/bootstrap"
brokers=$(cat "$run/bootstrap")

KAFKA_BROKERS=$brokers "$bin/ingest-api" 2>"$run/ingest-api.log" &
pids+=($!)
wait_for 10 curl -fs http://127.0.0.1:8080/healthz

KAFKA_BROKERS=$brokers STORE=local MILLRACE_UPLOADER_LOCAL_DIR=./data \
    MAX_AGE_MS=${MAX_AGE_MS:-10000} "$bin/uploader" 2>"$run/uploader.log" &
pids+=($!)
wait_for 10 curl -fs http://127.0.0.1:8081/healthz

cat <<MSG

millrace is running (dev mode: in-memory broker at $brokers, not durable).

  POST events:   curl -X POST localhost:8080/v1/events -d '{"hello":"world"}'
  NDJSON:        curl -X POST localhost:8080/v1/events \\
                      -H 'Content-Type: application/x-ndjson' --data-binary \$'{"a":1}\\n{"a":2}\\n'
  objects:       ./data/events/dt=YYYY-MM-DD/hour=HH/events-P-OFFSET.ndjson.gz
                 (a batch closes after ${MAX_AGE_MS:-10000} ms; zcat the files to read them)
  metrics:       curl localhost:8080/metrics   curl localhost:8081/metrics
  logs:          $run/*.log

Ctrl-C stops everything.
MSG

# Ends when any process exits (or on Ctrl-C, through the trap).
wait -n "${pids[@]}" || true
echo "a process exited; see $run/*.log" >&2
