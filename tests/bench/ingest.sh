#!/usr/bin/env bash
# `make bench-ingest`: ingest-api's throughput and latency, side by side in
# one run with its ceiling and with its Go peers. A benchmark, not a test:
# nothing is asserted.
#
#   bare        a civetweb handler that reads the body and answers 202
#               (tests/bench/bare_civetweb.c, built by the Makefile)
#   queued      ingest-api, ack mode queued
#   kafka       ingest-api, ack mode kafka (202 after acks=all)
#   go-promise  the Go peer (tests/bench/go/ingest: net/http + franz-go,
#               acks=all, idempotent): Produce, wait on the promise, 5 ms linger
#   go-sync     the same with ProduceSync (no linger: sends at once while no
#               request is in flight for the partition, batches meanwhile)
#   go-async    the same answering 202 once buffered (the peer of queued)
#   queued-ref, kafka-ref
#               ingest-api as built from commit BENCH_REF (when set), so that
#               a change is compared with the commit before it in one run
#
# All publish to the same real local Kafka (deploy/local/kafka.sh; the running
# one on 127.0.0.1:$KAFKA_PORT is used if it answers, else one is started and
# stopped again), topic bench-ingest. The C servers get the same civetweb
# threads; all get the same ~300-byte event (tests/bench/event.json).
#
# First BENCH_WARMUP_S of load shared by the targets (a broker that has just
# started runs its produce path interpreted until the JVM compiles it, and
# costs several times the CPU per record meanwhile).
#
# Closed loop: wrk, keep-alive, at each concurrency in BENCH_CONCURRENCY,
# the targets taking turns at each level, BENCH_ROUNDS rounds (the order
# reversed every other round); the tables show the mean of the rounds, and
# each ratio is the median of the rounds' paired ratios with their range
# (runs minutes apart share the machine's mood; rounds do not). Per
# run: requests/s answered 202, p50/p99, the server's CPU, the broker's CPU
# (per request: what a target costs Kafka), and the share of the machine's
# CPU time the hypervisor took (steal), and the broker's mean wait in the
# run queue each time one of its threads was scheduled (from its threads'
# /proc schedstat: Kafka shares the 2 CPUs, and a target that keeps it
# waiting slows its own produce requests).
#
# Open loop, at half of kafka's peak rate against bare, queued, kafka and
# go-sync, BENCH_OPEN_S each, BENCH_THREADS/2 connections: BENCH_OPEN_RUNS
# rounds (2) of build/bench/openloop (tests/bench/openloop.c), which times
# each request from when it was due, so a stalled server's queueing counts
# in full (no coordinated omission). Each row names the CPU the generator
# used itself (gen_cpu_s) and the server's and the broker's CPU per request.
#
# Writes tests/bench/results/ingest.{tsv,md,png}, ingest-openloop.tsv and
# the tables between the bench:ingest markers of docs/benchmarks.md
# (readme_section.py; it fails, and so does this script, unless each marker
# occurs there exactly once).
#
# Environment: BENCH_DURATION (s per run, 10), BENCH_CONCURRENCY
# ("8 64 256 512"), BENCH_ROUNDS (3), BENCH_TARGETS (all six),
# BENCH_THREADS (civetweb threads, 512), BENCH_WARMUP_S (30), BENCH_OPEN_S
# (open-loop seconds, 15), BENCH_OPEN_RUNS (2), KAFKA_PORT (19092),
# BENCH_PORT_BASE (the servers listen on free ports from here; unset: any
# free port), INGEST_ENV (more settings for both ingest-api, "NAME=value ..."),
# BENCH_REF (a commit: adds queued-ref and kafka-ref, its ingest-api).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

DURATION=${BENCH_DURATION:-10}
CONCURRENCY=${BENCH_CONCURRENCY:-"8 64 256 512"}
ROUNDS=${BENCH_ROUNDS:-3}
TARGETS=${BENCH_TARGETS:-"bare queued kafka go-promise go-sync go-async"}
THREADS=${BENCH_THREADS:-512}
WARMUP_S=${BENCH_WARMUP_S:-30}
OPEN_S=${BENCH_OPEN_S:-15}
OPEN_RUNS=${BENCH_OPEN_RUNS:-2}
INGEST_ENV=${INGEST_ENV:-}
REF=${BENCH_REF:-}
KAFKA_PORT=${KAFKA_PORT:-19092}
BROKERS=127.0.0.1:$KAFKA_PORT
TOPIC=bench-ingest
EVENT=tests/bench/event.json
BIN=${BIN:-build}
OUT=tests/bench/results
RUN=.run/bench-ingest
mkdir -p "$OUT" "$RUN"

say() { echo "bench-ingest: $*"; }
die() {
    echo "bench-ingest: ERROR: $*" >&2
    exit 1
}

# --- tools ------------------------------------------------------------------
command -v wrk >/dev/null || die "wrk missing: run deploy/local/install-deps.sh"
for b in ingest-api bench/bare-civetweb bench/openloop bench/go-ingest; do
    [ -x "$BIN/$b" ] || die "build first: make bench-ingest builds $BIN/$b"
done
REF_SRC=$RUN/ref-src
if [ -n "$REF" ]; then
    REF=$(git rev-parse --short "$REF^{commit}") || die "BENCH_REF: no commit $REF"
    git worktree remove --force "$REF_SRC" 2>/dev/null || rm -rf "$REF_SRC"
    git worktree add --detach "$REF_SRC" "$REF" >/dev/null
    say "building ingest-api at $REF"
    make -s -C "$REF_SRC" -j"$(nproc)" build/ingest-api >"$RUN/ref-build.log" 2>&1 ||
        die "cannot build ingest-api at $REF: see $RUN/ref-build.log"
    TARGETS="$TARGETS queued-ref kafka-ref"
fi

# --- Kafka ------------------------------------------------------------------
started_kafka=0
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [ "$started_kafka" = 1 ]; then
        KAFKA_PORT=$KAFKA_PORT bash deploy/local/kafka.sh stop || true
    fi
    if [ -n "$REF" ]; then
        git worktree remove --force "$REF_SRC" 2>/dev/null || true
    fi
}
trap cleanup EXIT
if ! kcat -b "$BROKERS" -L -m 3 >/dev/null 2>&1; then
    say "no Kafka on $BROKERS: starting one"
    KAFKA_PORT=$KAFKA_PORT bash deploy/local/kafka.sh start
    started_kafka=1
fi

# The topic anew, 4 partitions, each keeping at most 512 MiB: a run writes
# several GB, and a broker whose disk fills up with old runs stalls (its
# metadata answers time out and every target answers 503).
python3 - "$BROKERS" "$TOPIC" <<'PY' || die "cannot create topic $TOPIC"
import sys, time
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
brokers, topic = sys.argv[1:]
admin = AdminClient({"bootstrap.servers": brokers})
if topic in admin.list_topics(timeout=10).topics:
    admin.delete_topics([topic])[topic].result()
cfg = {"retention.bytes": str(512 << 20), "segment.bytes": str(64 << 20)}
for _ in range(100):  # deletion completes in the background
    try:
        admin.create_topics([NewTopic(topic, 4, 1, config=cfg)])[topic].result()
        break
    except KafkaException as e:
        if "TOPIC_ALREADY_EXISTS" not in str(e):
            raise
        time.sleep(0.2)  # poll interval
PY

# --- servers ----------------------------------------------------------------
# A free port: from BENCH_PORT_BASE up when it is set (private servers keep
# to their range), else any the kernel gives.
NEXT_PORT=${BENCH_PORT_BASE:-0}
free_port() {
    local p
    p=$(python3 - "$NEXT_PORT" <<'PY'
import socket, sys
base = int(sys.argv[1])
for p in (range(base, base + 1000) if base else [0]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    print(s.getsockname()[1])
    break
PY
)
    [ "$NEXT_PORT" != 0 ] && NEXT_PORT=$((p + 1))
    echo "$p"
}

KAFKA_PID=$(cat "${KAFKA_RUN_DIR:-.run/kafka}/kafka.pid" 2>/dev/null || echo 0)
kill -0 "$KAFKA_PID" 2>/dev/null || KAFKA_PID=0
declare -A PORT PID
start_target() { # target
    local t=$1
    PORT[$t]=$(free_port)
    case $t in
    bare)
        "$BIN/bench/bare-civetweb" "127.0.0.1:${PORT[$t]}" "$THREADS" 2>"$RUN/$t.log" &
        ;;
    queued | kafka | queued-ref | kafka-ref)
        local bin=$BIN/ingest-api
        [ "${t%-ref}" != "$t" ] && bin=$REF_SRC/build/ingest-api
        # shellcheck disable=SC2086
        env KAFKA_BROKERS=$BROKERS KAFKA_TOPIC=$TOPIC PORT="127.0.0.1:${PORT[$t]}" \
            ACK_MODE="${t%-ref}" MILLRACE_INGEST_THREADS=$THREADS LOG_LEVEL=warn \
            $INGEST_ENV "$bin" 2>"$RUN/$t.log" &
        ;;
    go-*)
        "$BIN/bench/go-ingest" -listen "127.0.0.1:${PORT[$t]}" -brokers "$BROKERS" \
            -topic "$TOPIC" -mode "${t#go-}" 2>"$RUN/$t.log" &
        ;;
    esac
    PID[$t]=$!
    pids+=("${PID[$t]}")
}
for t in $TARGETS; do start_target "$t"; done
wait_ok() { # url
    for _ in $(seq 300); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.1 # poll interval
    done
    die "$1 did not answer"
}
for t in $TARGETS; do
    if [ "$t" = bare ]; then
        for _ in $(seq 300); do
            curl -fs -o /dev/null -X POST --data-binary @"$EVENT" \
                "http://127.0.0.1:${PORT[bare]}/v1/events" && break
            sleep 0.1 # poll interval
        done
    else
        wait_ok "http://127.0.0.1:${PORT[$t]}/readyz"
    fi
done

cpu_s() { # pid (0: none) -> CPU seconds so far
    if [ "$1" = 0 ]; then echo 0; else awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; fi
}
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# The broker's threads so far: "ns waited in the run queue, times scheduled".
sched_wait() {
    if [ "$KAFKA_PID" = 0 ]; then echo "0 0"; else
        cat "/proc/$KAFKA_PID/task/"*/schedstat 2>/dev/null | awk '{w += $2; n += $3} END {print w + 0, n + 0}'
    fi
}
wait_per_slice_ms() { # "ns slices" before, after
    echo "$1 $2" | awk '{n = $4 - $2; printf "%.2f", (n > 0 ? ($3 - $1) / n / 1e6 : 0)}'
}
# The machine's CPU time so far, all of it and the part stolen: "total steal".
cpu_total() { awk '$1 == "cpu" {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9}' /proc/stat; }
steal_pct() { # "total steal" before, after
    echo "$1 $2" | awk '{d = $3 - $1; printf "%.1f", (d > 0 ? 100 * ($4 - $2) / d : 0)}'
}

# Waits until an ingest-api's producer queue is empty, so that a backlog
# left by one run (ack mode queued answers before Kafka has the records)
# does not load the machine during the next.
drained() { # target
    [ "$1" = bare ] && return 0
    for _ in $(seq 600); do
        q=$(curl -fs "http://127.0.0.1:${PORT[$1]}/metrics" |
            awk '$1 == "millrace_ingest_producer_queue_messages" {print $2}')
        [ "${q:-1}" = 0 ] && return 0
        sleep 0.1 # poll interval
    done
    say "warning: $1 still has $q records queued"
}

wrk_run() { # target connections seconds -> one JSON line
    local t=$1 c=$2 d=$3 threads=2
    [ "$c" -lt 2 ] && threads=1
    EVENT_FILE=$EVENT wrk -t"$threads" -c"$c" -d"${d}s" --timeout 10s \
        -s tests/bench/post.lua "http://127.0.0.1:${PORT[$t]}/v1/events" | tail -n 1
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "warming up for $WARMUP_S s (load average $LOAD_BEFORE)"
ntargets=$(echo "$TARGETS" | wc -w)
for t in $TARGETS; do
    drained "$t"
    wrk_run "$t" 128 $(((WARMUP_S + ntargets - 1) / ntargets)) >/dev/null
done

# One run: wrk against target at c connections, one TSV line.
TSV=$OUT/ingest.tsv
printf 'round\ttarget\tconnections\trps_202\trps_all\tp50_ms\tp99_ms\tcpu_cores\tbroker_cores\tnon202\tsocket_errors\tsteal_pct\tbroker_wait_ms\n' >"$TSV"
closed_run() { # round target connections
    local r=$1 t=$2 c=$3 before after kb ka m0 json steal w0 bwait
    for u in $TARGETS; do drained "$u"; done
    before=$(cpu_s "${PID[$t]}")
    kb=$(cpu_s "$KAFKA_PID")
    m0=$(cpu_total)
    w0=$(sched_wait)
    json=$(wrk_run "$t" "$c" "$DURATION")
    after=$(cpu_s "${PID[$t]}")
    ka=$(cpu_s "$KAFKA_PID")
    bwait=$(wait_per_slice_ms "$w0" "$(sched_wait)")
    steal=$(steal_pct "$m0" "$(cpu_total)")
    python3 - "$r" "$t" "$c" "$before" "$after" "$kb" "$ka" "$json" "$steal" "$bwait" >>"$TSV" <<'PY'
import json, sys
rnd, t, c, before, after, kb, ka, line, steal, bwait = sys.argv[1:]
r = json.loads(line)
secs = r["duration_us"] / 1e6
ok = r["requests"] - r["non2xx"]
errs = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
print(f"{rnd}\t{t}\t{c}\t{ok / secs:.0f}\t{r['rps']:.0f}\t{r['p50_us'] / 1000:.2f}\t"
      f"{r['p99_us'] / 1000:.2f}\t{(float(after) - float(before)) / secs:.2f}\t"
      f"{(float(ka) - float(kb)) / secs:.2f}\t{r['non2xx']}\t{errs}\t{steal}\t{bwait}")
PY
    say "$(tail -n 1 "$TSV")"
}
for r in $(seq "$ROUNDS"); do
    order=$TARGETS
    [ $((r % 2)) = 0 ] && order=$(echo "$TARGETS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for c in $CONCURRENCY; do
        for t in $order; do closed_run "$r" "$t" "$c"; done
    done
done

# --- open loop at half of kafka's peak ----------------------------------------
OPEN_TARGETS=$(for t in bare queued kafka go-sync; do
    case " $TARGETS " in *" $t "*) echo "$t" ;; esac
done | tr '\n' ' ')
rate=$(awk -F'\t' 'NR > 1 && $2 == "kafka" && $4 > m {m = $4} END {printf "%d", m / 2}' "$TSV")
OPEN=$OUT/ingest-openloop.tsv
printf 'target\trun\trate\tsuccess\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tgen_cpu_s\tsteal_pct\tserver_cpu_s\tbroker_cpu_s\n' >"$OPEN"
# Connections stay below the servers' threads (one thread each).
OPEN_CONNS=$((THREADS / 2))
if [ "${rate:-0}" -ge 1 ] && [ "$OPEN_RUNS" -gt 0 ]; then
    for run in $(seq "$OPEN_RUNS"); do
        for t in $OPEN_TARGETS; do
            for u in $TARGETS; do drained "$u"; done
            m0=$(cpu_total)
            before=$(cpu_s "${PID[$t]}")
            kb=$(cpu_s "$KAFKA_PID")
            "$BIN/bench/openloop" -r "$rate" -d "$OPEN_S" -c "$OPEN_CONNS" -t 10 \
                -b "$EVENT" "http://127.0.0.1:${PORT[$t]}/v1/events" >"$RUN/open-$t.json"
            after=$(cpu_s "${PID[$t]}")
            ka=$(cpu_s "$KAFKA_PID")
            steal=$(steal_pct "$m0" "$(cpu_total)")
            python3 - "$t" "$run" "$rate" "$RUN/open-$t.json" "$steal" "$before" "$after" "$kb" "$ka" >>"$OPEN" <<'PY'
import json, sys
t, run, rate, path, steal, before, after, kb, ka = sys.argv[1:]
r = json.load(open(path))
ok = r["status"].get("202", 0) / max(r["intended"], 1)
print(f"{t}\t{run}\t{rate}\t{ok:.4f}\t{r['p50_ms']:.3f}\t{r['p90_ms']:.3f}\t"
      f"{r['p99_ms']:.3f}\t{r['max_ms']:.3f}\t{r['cpu_s']:.2f}\t{steal}\t"
      f"{float(after) - float(before):.2f}\t{float(ka) - float(kb):.2f}")
for k in ("errors", "dropped", "late_sends"):
    if r[k]:
        print(f"bench-ingest: open loop {t}: {k} {r[k]}", file=sys.stderr)
PY
            say "open loop: $(tail -n 1 "$OPEN")"
        done
    done
fi

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
HWM_ARGS=()
for t in $TARGETS; do HWM_ARGS+=("$t=$(hwm_kb "${PID[$t]}")"); done

# --- tables, plot, docs/benchmarks.md -----------------------------------------
MD=$OUT/ingest.md
python3 tests/bench/ingest_report.py "$TSV" "$OPEN" "$OUT/ingest.svg" \
    "duration=$DURATION" "threads=$THREADS" "ncpu=$(nproc)" \
    "commit=$(git rev-parse --short HEAD)" "ref=$REF" "load_before=$LOAD_BEFORE" \
    "load_after=$LOAD_AFTER" "open_s=$OPEN_S" "open_conns=$OPEN_CONNS" \
    "${HWM_ARGS[@]}" >"$MD"
python3 tests/bench/readme_section.py ingest "$MD"
cat "$MD"
say "wrote $TSV, $OPEN, $MD, $OUT/ingest.svg"
