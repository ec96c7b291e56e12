#!/usr/bin/env bash
# `make bench-ingest`: ingest-api's throughput and latency, side by side in
# one run with its ceiling. A benchmark, not a test: nothing is asserted.
#
#   (a) bare     a civetweb handler that reads the body and answers 202
#                (tests/bench/bare_civetweb.c, built by the Makefile)
#   (b) queued   ingest-api, ack mode queued
#   (c) kafka    ingest-api, ack mode kafka (202 after acks=all)
#
# (b) and (c) publish to the real local Kafka (deploy/local/kafka.sh; the
# running one on 127.0.0.1:19092 is used if it answers, else one is started
# and stopped again), topic bench-ingest. All three get the same civetweb
# threads and the same ~300-byte event (tests/bench/event.json).
#
# First BENCH_WARMUP_S of load shared by the three (a broker that has just
# started runs its produce path interpreted until the JVM compiles it, and
# costs several times the CPU per record meanwhile).
#
# Closed loop: wrk, keep-alive, at each concurrency in BENCH_CONCURRENCY,
# the three servers taking turns at each level. Per run: requests/s
# answered 202, p50/p99, the server's CPU, its peak RSS, and the share of
# the machine's CPU time the hypervisor took (steal): a tail that comes
# with steal is the host's, not the server's.
#
# Open loop, at half of (c)'s peak rate against all three, BENCH_OPEN_S
# each, BENCH_THREADS/2 connections: BENCH_OPEN_RUNS rounds (3) of
# build/bench/openloop (tests/bench/openloop.c, built by the Makefile),
# which times each request from when it was due, so a stalled server's
# queueing counts in full (no coordinated omission) and costs a fraction of
# vegeta's CPU; then vegeta
# (installed into .cache/bin by `go install`) as a cross-check, whose
# latency runs from its actual send and includes its own scheduling. Each
# row names its generator and the CPU it used itself (gen_cpu_s). The
# table shows each target's median openloop run by p99, and every run's p99:
# one run's tail on a shared machine is one sample of the host's hiccups.
#
# Writes tests/bench/results/ingest.{tsv,md,png}, ingest-openloop.tsv and
# the table between the bench:ingest markers of docs/benchmarks.md (readme_section.py;
# it fails, and so does this script, unless each marker occurs there exactly once).
#
# Environment: BENCH_DURATION (s per run, 10), BENCH_CONCURRENCY
# ("8 32 64 128 256 384 512"), BENCH_THREADS (civetweb threads, 512),
# BENCH_WARMUP_S (30), BENCH_OPEN_S (open-loop seconds, 15),
# BENCH_OPEN_RUNS (3), KAFKA_PORT (19092).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

DURATION=${BENCH_DURATION:-10}
CONCURRENCY=${BENCH_CONCURRENCY:-"8 32 64 128 256 384 512"}
THREADS=${BENCH_THREADS:-512}
WARMUP_S=${BENCH_WARMUP_S:-30}
OPEN_S=${BENCH_OPEN_S:-15}
OPEN_RUNS=${BENCH_OPEN_RUNS:-3}
KAFKA_PORT=${KAFKA_PORT:-19092}
BROKERS=127.0.0.1:$KAFKA_PORT
TOPIC=bench-ingest
VEGETA_VERSION=v12.13.0
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
command -v gnuplot >/dev/null || die "gnuplot missing: run deploy/local/install-deps.sh"
VEGETA=.cache/bin/vegeta
if ! [ -x "$VEGETA" ] || [ "$(cat .cache/bin/vegeta.version 2>/dev/null)" != "$VEGETA_VERSION" ]; then
    command -v go >/dev/null || die "go missing: needed to install vegeta"
    say "installing vegeta $VEGETA_VERSION into .cache/bin"
    mkdir -p .cache/bin
    GOBIN=$root/.cache/bin GOPATH=$root/.cache/go GOFLAGS=-mod=mod \
        go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
    echo "$VEGETA_VERSION" >.cache/bin/vegeta.version
fi
for b in ingest-api bench/bare-civetweb bench/openloop; do
    [ -x "$BIN/$b" ] ||
        die "build first: make all $BIN/bench/bare-civetweb $BIN/bench/openloop"
done

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
}
trap cleanup EXIT
if ! kcat -b "$BROKERS" -L -m 3 >/dev/null 2>&1; then
    say "no Kafka on $BROKERS: starting one"
    KAFKA_PORT=$KAFKA_PORT bash deploy/local/kafka.sh start
    started_kafka=1
fi

# --- servers ----------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A PORT PID
PORT[bare]=$(free_port)
"$BIN/bench/bare-civetweb" "127.0.0.1:${PORT[bare]}" "$THREADS" 2>"$RUN/bare.log" &
PID[bare]=$!
pids+=("${PID[bare]}")
for mode in queued kafka; do
    PORT[$mode]=$(free_port)
    KAFKA_BROKERS=$BROKERS KAFKA_TOPIC=$TOPIC PORT="127.0.0.1:${PORT[$mode]}" \
        ACK_MODE=$mode MILLRACE_INGEST_THREADS=$THREADS LOG_LEVEL=warn \
        "$BIN/ingest-api" 2>"$RUN/$mode.log" &
    PID[$mode]=$!
    pids+=("${PID[$mode]}")
done
wait_ok() { # url
    for _ in $(seq 300); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.1 # poll interval
    done
    die "$1 did not answer"
}
wait_ok "http://127.0.0.1:${PORT[queued]}/readyz"
wait_ok "http://127.0.0.1:${PORT[kafka]}/readyz"
curl -fs -o /dev/null -X POST --data-binary @"$EVENT" "http://127.0.0.1:${PORT[bare]}/v1/events" ||
    die "bare-civetweb did not answer"

cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
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
for t in bare queued kafka; do
    drained "$t"
    wrk_run "$t" 128 $(((WARMUP_S + 2) / 3)) >/dev/null
done

TSV=$OUT/ingest.tsv
printf 'target\tconnections\trps_202\trps_all\tp50_ms\tp99_ms\tcpu_cores\tnon202\tsocket_errors\tsteal_pct\n' >"$TSV"
for c in $CONCURRENCY; do
    for t in bare queued kafka; do
        for u in bare queued kafka; do drained "$u"; done
        before=$(cpu_s "${PID[$t]}")
        m0=$(cpu_total)
        json=$(wrk_run "$t" "$c" "$DURATION")
        after=$(cpu_s "${PID[$t]}")
        steal=$(steal_pct "$m0" "$(cpu_total)")
        python3 - "$t" "$c" "$before" "$after" "$json" "$steal" >>"$TSV" <<'PY'
import json, sys
t, c, before, after, line, steal = sys.argv[1:]
r = json.loads(line)
secs = r["duration_us"] / 1e6
ok = r["requests"] - r["non2xx"]
errs = r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
print(f"{t}\t{c}\t{ok / secs:.0f}\t{r['rps']:.0f}\t{r['p50_us'] / 1000:.2f}\t"
      f"{r['p99_us'] / 1000:.2f}\t{(float(after) - float(before)) / secs:.2f}\t"
      f"{r['non2xx']}\t{errs}\t{steal}")
PY
        say "$(tail -n 1 "$TSV")"
    done
done

# --- open loop at half of (c)'s peak ------------------------------------------
rate=$(awk -F'\t' '$1 == "kafka" && $3 > m {m = $3} END {printf "%d", m / 2}' "$TSV")
[ "$rate" -ge 1 ] || die "(c) answered no 202 at all: no rate for the open loop"
# Connections stay below the servers' threads (one thread each).
OPEN_CONNS=$((THREADS / 2))
OPEN=$OUT/ingest-openloop.tsv
printf 'target\trun\trate\tsuccess\tp50_ms\tp90_ms\tp99_ms\tmax_ms\tgen_cpu_s\tsteal_pct\tgenerator\n' >"$OPEN"
TIMEFORMAT='%3U %3S' # bash's `time`: the timed command's own CPU
# openloop: OPEN_RUNS rounds, the three targets taking turns in each.
for run in $(seq "$OPEN_RUNS"); do
    for t in bare queued kafka; do
        for u in bare queued kafka; do drained "$u"; done
        m0=$(cpu_total)
        "$BIN/bench/openloop" -r "$rate" -d "$OPEN_S" -c "$OPEN_CONNS" -t 10 \
            -b "$EVENT" "http://127.0.0.1:${PORT[$t]}/v1/events" >"$RUN/open-$t.json"
        steal=$(steal_pct "$m0" "$(cpu_total)")
        python3 - "$t" "$run" "$rate" "$RUN/open-$t.json" "$steal" >>"$OPEN" <<'PY'
import json, sys
t, run, rate, path, steal = sys.argv[1:]
r = json.load(open(path))
ok = r["status"].get("202", 0) / max(r["intended"], 1)
print(f"{t}\t{run}\t{rate}\t{ok:.4f}\t{r['p50_ms']:.3f}\t{r['p90_ms']:.3f}\t"
      f"{r['p99_ms']:.3f}\t{r['max_ms']:.3f}\t{r['cpu_s']:.2f}\t{steal}\topenloop")
for k in ("errors", "dropped", "late_sends"):
    if r[k]:
        print(f"bench-ingest: open loop {t}: {k} {r[k]}", file=sys.stderr)
PY
        say "open loop: $(tail -n 1 "$OPEN")"
    done
done
# vegeta: one run per target, the cross-check.
for t in bare queued kafka; do
    for u in bare queued kafka; do drained "$u"; done
    echo "POST http://127.0.0.1:${PORT[$t]}/v1/events" >"$RUN/vegeta-targets.txt"
    m0=$(cpu_total)
    { time "$VEGETA" attack -targets="$RUN/vegeta-targets.txt" -rate="$rate" \
        -duration="${OPEN_S}s" -body="$EVENT" \
        -header='Content-Type: application/json' -keepalive=true -timeout=10s \
        -workers=32 -max-workers="$OPEN_CONNS" -max-connections="$OPEN_CONNS" \
        >"$RUN/vegeta-$t.bin"; } 2>"$RUN/vegeta-$t.time"
    steal=$(steal_pct "$m0" "$(cpu_total)")
    "$VEGETA" report -type=json <"$RUN/vegeta-$t.bin" >"$RUN/vegeta-$t.json"
    python3 - "$t" "$rate" "$RUN/vegeta-$t.json" "$RUN/vegeta-$t.time" "$steal" >>"$OPEN" <<'PY'
import json, sys
t, rate, path, timef, steal = sys.argv[1:]
r = json.load(open(path))
l = r["latencies"]
ms = lambda ns: f"{ns / 1e6:.3f}"
codes = r.get("status_codes", {})
ok = codes.get("202", 0) / max(r["requests"], 1)
try:
    cpu = f"{sum(float(x) for x in open(timef).read().split()[-2:]):.2f}"
except (OSError, ValueError):
    cpu = ""
print(f"{t}\t1\t{rate}\t{ok:.4f}\t{ms(l['50th'])}\t{ms(l['90th'])}\t{ms(l['99th'])}\t"
      f"{ms(l['max'])}\t{cpu}\t{steal}\tvegeta")
PY
    say "open loop: $(tail -n 1 "$OPEN")"
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A HWM
for t in bare queued kafka; do HWM[$t]=$(hwm_kb "${PID[$t]}"); done

# --- table, plot, docs/benchmarks.md ------------------------------------------
MD=$OUT/ingest.md
python3 - "$TSV" "$OPEN" "${HWM[bare]}" "${HWM[queued]}" "${HWM[kafka]}" \
    "$DURATION" "$THREADS" "$(nproc)" "$(git rev-parse --short HEAD)" \
    "$LOAD_BEFORE" "$LOAD_AFTER" "$OPEN_S" "$OPEN_CONNS" >"$MD" <<'PY'
import csv, sys
tsv, openl, hb, hq, hk, dur, threads, ncpu, commit, lb, la, open_s, oconns = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
hwm = {"bare": int(hb), "queued": int(hq), "kafka": int(hk)}
names = {"bare": "(a) bare civetweb (ceiling)", "queued": "(b) ingest-api, ack queued",
         "kafka": "(c) ingest-api, ack kafka"}
peak = {t: max((r for r in rows if r["target"] == t), key=lambda r: float(r["rps_202"]))
        for t in names}
ceil = float(peak["bare"]["rps_202"])
print(f"Closed loop (wrk, keep-alive, {dur} s per run, {threads} civetweb threads, "
      f"{ncpu} CPUs shared with Kafka and the load generator; commit {commit}; "
      f"load average {lb} before, {la} after). Each target's best concurrency:\n")
print("| target | connections | 202/s | × ceiling | p50 ms | p99 ms | server CPU (cores) | peak RSS MiB | CPU stolen |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for t, n in names.items():
    r = peak[t]
    print(f"| {n} | {r['connections']} | {float(r['rps_202']):,.0f} | "
          f"{float(r['rps_202']) / ceil:.2f} | {r['p50_ms']} | {r['p99_ms']} | "
          f"{r['cpu_cores']} | {hwm[t] / 1024:.0f} | {r['steal_pct']}% |")
print("\nAt each concurrency (202/s, and the ratio to the ceiling at the same concurrency):\n")
conns = sorted({int(r["connections"]) for r in rows})
print("| connections | " + " | ".join(f"{names[t].split(',')[0].split(' ')[0]} {t} 202/s (p99 ms)" for t in names) + " | (b)/(a) | (c)/(a) |")
print("|---:|" + "---:|" * (len(names) + 2))
for c in conns:
    by = {r["target"]: r for r in rows if int(r["connections"]) == c}
    a = float(by["bare"]["rps_202"])
    cells = [f"{float(by[t]['rps_202']):,.0f} ({by[t]['p99_ms']})" for t in names]
    print(f"| {c} | " + " | ".join(cells) +
          f" | {float(by['queued']['rps_202']) / a:.2f} | {float(by['kafka']['rps_202']) / a:.2f} |")
orows = list(csv.DictReader(open(openl), delimiter="\t"))
nruns = max(int(r["run"]) for r in orows if r["generator"] == "openloop")
print(f"\nOpen loop ({orows[0]['rate']} requests/s = half of (c)'s peak, {open_s} s, "
      f"{oconns} connections). openloop (tests/bench/openloop.c) times each request "
      f"from when it was due, so queueing behind a slow server counts; it ran "
      f"{nruns} rounds, the targets taking turns, and each target's row is its "
      f"median run by p99. vegeta, the cross-check (one run), times from its "
      f"actual send. The generator's own CPU shares the {ncpu} CPUs with the "
      f"server; \"CPU stolen\" is the hypervisor's share of the machine during "
      f"the run:\n")
print("| target | generator | answered 202 | p50 ms | p90 ms | p99 ms | p99 of each run | max ms | generator CPU s (cores) | CPU stolen |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for t, n in names.items():
    for g in ("openloop", "vegeta"):
        runs = [r for r in orows if r["target"] == t and r["generator"] == g]
        if not runs:
            continue
        by_p99 = sorted(runs, key=lambda r: float(r["p99_ms"]))
        r = by_p99[(len(by_p99) - 1) // 2]
        each = ", ".join(f"{float(x['p99_ms']):.1f}" for x in runs)
        cpu = r["gen_cpu_s"]
        cpu = f"{float(cpu):.1f} ({float(cpu) / float(open_s):.2f})" if cpu else "n/a"
        print(f"| {n} | {g} | {float(r['success']) * 100:.2f}% | {r['p50_ms']} | "
              f"{r['p90_ms']} | {r['p99_ms']} | {each} | {r['max_ms']} | {cpu} | "
              f"{r['steal_pct']}% |")
PY

for t in bare queued kafka; do
    awk -F'\t' -v t="$t" 'NR > 1 && $1 == t {print $2, $3, $6}' "$TSV" >"$RUN/plot-$t.dat"
done
gnuplot <<EOF
set terminal pngcairo size 900,620 noenhanced font ",10"
set output "$OUT/ingest.png"
set multiplot layout 2,1 title "make bench-ingest: ~300-byte events, keep-alive, $(nproc) CPUs"
set logscale x 2
set grid
set key top left
set ylabel "requests/s answered 202"
set format y "%.0s%c"
plot "$RUN/plot-bare.dat" using 1:2 with linespoints title "(a) bare civetweb", \
     "$RUN/plot-queued.dat" using 1:2 with linespoints title "(b) ack queued", \
     "$RUN/plot-kafka.dat" using 1:2 with linespoints title "(c) ack kafka"
set ylabel "p99 latency (ms)"
set xlabel "connections"
set format y "%g"
set logscale y
plot "$RUN/plot-bare.dat" using 1:3 with linespoints title "(a) bare civetweb", \
     "$RUN/plot-queued.dat" using 1:3 with linespoints title "(b) ack queued", \
     "$RUN/plot-kafka.dat" using 1:3 with linespoints title "(c) ack kafka"
unset multiplot
EOF

python3 tests/bench/readme_section.py ingest "$MD"
cat "$MD"
say "wrote $TSV, $OPEN, $MD, $OUT/ingest.png"
