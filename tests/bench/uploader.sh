#!/usr/bin/env bash
# `make bench-uploader`: how fast the uploader drains a backlog into S3,
# side by side in one run with what bounds it. A benchmark, not a test:
# nothing is asserted but that every event arrived.
#
# Each run pre-fills a fresh topic with BENCH_EVENTS events of about 500
# bytes (tests/bench/gen_events.c, built by the Makefile; the same events
# every run), dealt evenly over BENCH_PARTITIONS partitions by kcat -P, then
# starts build/uploader on it with a fresh group and a fresh S3 prefix, and
# times the drain: from the uploader's start until its /metrics count every
# event in millrace_uploader_records_written_total (then it waits for the
# group's commits to reach the end, untimed, and stops the uploader).
# Beside it, in the same repeat and on the same data:
#   kcat   the broker's own consume rate: kcat -C ... -o beginning -e > /dev/null
#   codec  gzip -L (or zstd -L) over the same NDJSON bytes: one core doing
#          the uploader's main work, at the level the run uses
# Per run: events/s, MB/s (uncompressed NDJSON), the uploader's CPU (user +
# sys from /proc/<pid>/stat) and peak RSS (VmHWM); the broker's and the S3
# server's CPU, and what the rest of the machine used meanwhile (other
# processes, and time the hypervisor stole: the machine is shared). Runs take turns within each repeat. The objects, the topic and
# the group are deleted after each run. Writes
# tests/bench/results/uploader.{tsv,md,svg} and the table between the
# bench:uploader markers of docs/benchmarks.md (readme_section.py; it fails, and so
# does this script, unless each marker occurs there exactly once).
#
# Uses the running test servers (Kafka 127.0.0.1:19092, versitygw
# 127.0.0.1:17070, bucket millrace; deploy/local/servers.sh), or starts
# them and stops them again.
#
# The Go peer (tests/bench/go/uploader: franz-go consumer, aws-sdk-go-v2
# PutObject, gzip, 10,000 records per object, built by the Makefile) runs
# as format "go" on the same data in the same repeat; the table divides
# the uploader's events per CPU-second by the peer's.
#
# Environment: BENCH_RUNS (FORMAT:LEVEL:WORKERS each, format go for the
# peer; "gzip:6:4 go:6:4 zstd:3:4"; the plot shows the gzip:6 ones and the
# peer), BENCH_REPEAT (2), BENCH_EVENTS (1000000), BENCH_PARTITIONS (4),
# BENCH_MAX_RECORDS (empty: the uploader's defaults, which the memory bound
# sizes), BENCH_MAX_AGE_MS (1000: the tail of a finite backlog is flushed
# this long after its first record, by the uploader and the peer alike),
# BENCH_UPLOADER_ENV (more settings for the uploader, "NAME=value ..."),
# KAFKA_PORT (19092), S3_PORT (17070), S3_BUCKET (millrace), BENCH_PORT_BASE
# (health ports from here; unset: any free port).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

EVENTS=${BENCH_EVENTS:-1000000}
PARTITIONS=${BENCH_PARTITIONS:-4}
RUNS=${BENCH_RUNS:-"gzip:6:4 go:6:4 zstd:3:4"}
REPEAT=${BENCH_REPEAT:-2}
MAX_RECORDS=${BENCH_MAX_RECORDS:-}
MAX_AGE_MS=${BENCH_MAX_AGE_MS:-1000}
EXTRA_ENV=${BENCH_UPLOADER_ENV:-}
BIN=${BIN:-build}
OUT=tests/bench/results
RUN=.run/bench-uploader
TAG=$(date +%s)-$$
mkdir -p "$OUT" "$RUN"

say() { echo "bench-uploader: $*"; }
die() {
    echo "bench-uploader: ERROR: $*" >&2
    exit 1
}

# --- tools ------------------------------------------------------------------
for t in kcat gzip zstd curl; do
    command -v "$t" >/dev/null || die "$t missing: run deploy/local/install-deps.sh"
done
if ! python3 -c 'import boto3, confluent_kafka' 2>/dev/null; then
    bash deploy/local/install-deps.sh --test >/dev/null
fi
[ -x "$BIN/uploader" ] && [ -x "$BIN/bench/gen-events" ] && [ -x "$BIN/bench/go-uploader" ] ||
    die "build first: make bench-uploader builds $BIN/bench/gen-events and $BIN/bench/go-uploader"

# --- servers ----------------------------------------------------------------
started=0
upid=
DATA=$RUN/events
cleanup() {
    rm -f "$DATA".* # 1 GB, made again in a few seconds by the next run
    if [ -n "$upid" ]; then
        kill -TERM "$upid" 2>/dev/null || true
        wait "$upid" 2>/dev/null || true
    fi
    [ "$started" = 1 ] && bash deploy/local/servers.sh stop || true
}
trap cleanup EXIT
if ! bash deploy/local/servers.sh status >/dev/null 2>&1; then
    say "the test servers are not running: starting them"
    bash deploy/local/servers.sh start
    started=1
fi
# shellcheck source=../../deploy/local/env.sh
. deploy/local/env.sh
BROKERS=$MILLRACE_KAFKA_BROKERS
KAFKA_PID=$(cat .run/kafka/kafka.pid 2>/dev/null || echo 0)
S3_PID=$(cat .run/s3/versitygw.pid 2>/dev/null || echo 0)

# --- data -------------------------------------------------------------------
BYTES=$("$BIN/bench/gen-events" "$EVENTS" "$PARTITIONS" "$DATA")
cat "$DATA".[0-9]* >"$DATA.ndjson"
say "$EVENTS events, $BYTES bytes of NDJSON ($((BYTES / EVENTS)) bytes an event with its newline), $PARTITIONS partitions"

# --- helpers ------------------------------------------------------------------
NEXT_PORT=${BENCH_PORT_BASE:-0}
free_port() { # from BENCH_PORT_BASE up when set, else any free port
    python3 - "$NEXT_PORT" <<'PY'
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
}
ticks() { # pid -> utime+stime in clock ticks (0 when gone)
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

# Times a command: prints "wall_s cpu_s" (cpu: user + sys of its children).
timed() {
    local me=$BASHPID t0 t1 c0 c1
    c0=$(awk '{print $16 + $17}' "/proc/$me/stat")
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    c1=$(awk '{print $16 + $17}' "/proc/$me/stat")
    awk -v a="$t0" -v b="$t1" -v c="$c0" -v d="$c1" -v hz="$(getconf CLK_TCK)" \
        'BEGIN {printf "%.3f %.2f\n", b - a, (d - c) / hz}'
}

kafka_admin() { # create|count|committed|delete topic [group]
    python3 - "$BROKERS" "$@" <<'PY'
import sys, time
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
brokers, op, topic = sys.argv[1:4]
a = AdminClient({"bootstrap.servers": brokers})
def parts():
    t = a.list_topics(topic, timeout=10).topics.get(topic)
    return sorted(t.partitions) if t and not t.error else []
if op == "create":
    for f in a.create_topics([NewTopic(topic, int(sys.argv[4]), 1)]).values():
        f.result(30)
    for _ in range(300):
        if len(parts()) == int(sys.argv[4]):
            break
        time.sleep(0.1)  # poll interval of the metadata wait
elif op == "count":
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": brokers, "group.id": "bench-count"})
    print(sum(c.get_watermark_offsets(TopicPartition(topic, p), 10)[1]
              for p in parts()))
    c.close()
elif op == "committed":
    r = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(sys.argv[4])])
    tps = list(r.values())[0].result(10).topic_partitions
    print(sum(tp.offset for tp in tps if tp.topic == topic and tp.offset > 0))
elif op == "delete":
    if len(sys.argv) > 4:
        for f in a.delete_consumer_groups([sys.argv[4]]).values():
            try:
                f.result(30)
            except Exception:
                pass
    for f in a.delete_topics([topic, topic + ".dlq"]).values():
        try:
            f.result(30)
        except Exception:
            pass  # the .dlq topic exists only if something created it
PY
}

s3_delete_prefix() { # prefix -> number of objects deleted
    python3 - "$1" <<'PY'
import os, sys
import boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["MILLRACE_S3_ENDPOINT"],
                  config=Config(s3={"addressing_style": "path"}))
bucket = os.environ["MILLRACE_S3_BUCKET"]
n = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=sys.argv[1] + "/"):
    keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        n += len(keys)
print(n)
PY
}

# kcat -P, one per partition, each with its share of the events.
fill() { # topic
    local pids=() rc=0
    for p in $(seq 0 $((PARTITIONS - 1))); do
        kcat -P -b "$BROKERS" -t "$1" -p "$p" -l "$DATA.$p" \
            -X linger.ms=50 -X batch.num.messages=10000 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    return $rc
}

# The drain: starts the uploader, polls its /metrics every 50 ms until
# records_written_total reaches EVENTS, and writes one JSON line to out.
drain() { # topic group prefix format level workers port out
    local topic=$1 group=$2 prefix=$3 format=$4 level=$5 workers=$6 port=$7 out=$8
    local k0 s0 b0 t0 line
    local cmd=("$BIN/uploader") settings=(MILLRACE_UPLOADER_LEVEL="$level"
        MILLRACE_UPLOADER_FORMAT="$format" MAX_AGE_MS="$MAX_AGE_MS")
    [ -n "$MAX_RECORDS" ] && settings+=(MILLRACE_UPLOADER_MAX_RECORDS="$MAX_RECORDS")
    if [ "$format" = go ]; then
        cmd=("$BIN/bench/go-uploader" -workers "$workers" -level "$level"
            -records 10000 -flush "${MAX_AGE_MS}ms")
        settings=()
    fi
    # shellcheck disable=SC2086
    env KAFKA_BROKERS="$BROKERS" KAFKA_TOPIC="$topic" CONSUMER_GROUP="$group" \
        S3_ENDPOINT="$MILLRACE_S3_ENDPOINT" S3_BUCKET="$MILLRACE_S3_BUCKET" \
        S3_PREFIX="$prefix" HEALTH_PORT="127.0.0.1:$port" MAX_WORKERS="$workers" \
        LOG_LEVEL=warn "${settings[@]}" $EXTRA_ENV \
        "${cmd[@]}" 2>"$RUN/uploader-$format$level-w$workers.log" &
    upid=$!
    t0=$(date +%s.%N)
    k0=$(ticks "$KAFKA_PID")
    s0=$(ticks "$S3_PID")
    b0=$(busy_ticks)
    line=$(python3 - "$upid" "$port" "$EVENTS" "$t0" "$k0" "$s0" "$b0" \
        "$KAFKA_PID" "$S3_PID" <<'PY'
import json, os, sys, time, urllib.request
pid, port, events = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
t0 = float(sys.argv[4])
k0, s0, b0 = (int(x) for x in sys.argv[5:8])
kpid, spid = int(sys.argv[8]), int(sys.argv[9])
hz = os.sysconf("SC_CLK_TCK")
ticks = lambda p: sum(int(x) for x in open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[11:13])
busy = lambda: sum(int(x) for i, x in enumerate(open("/proc/stat").readline().split()[1:]) if i in (0, 1, 2, 5, 6, 7))
def metrics():
    out = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("millrace_uploader_") and " " in line:
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
    return out
first = None
deadline = time.time() + 1800
m = {}
while True:
    if time.time() > deadline:
        sys.exit(f"the uploader wrote {m.get('millrace_uploader_records_written_total')} of {events} in 30 min")
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the uploader exited")
    try:
        m = metrics()
    except OSError:
        m = {}
    now = time.time()
    if first is None and m.get("millrace_uploader_records_consumed_total", 0) > 0:
        first = now
    if m.get("millrace_uploader_records_written_total", 0) >= events:
        break
    time.sleep(0.05)  # poll interval of the metrics
cpu = ticks(pid) / hz
hwm = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM:"))
print(json.dumps({
    "drain_s": now - t0, "first_s": (first or now) - t0, "cpu_s": cpu, "hwm_kb": hwm,
    "kafka_cpu_s": (ticks(kpid) - k0) / hz if kpid else 0,
    "s3_cpu_s": (ticks(spid) - s0) / hz if spid else 0,
    "machine_cores": (busy() - b0) / hz / (now - t0),
    "written": m["millrace_uploader_records_written_total"],
    "objects": m.get("millrace_uploader_objects_written_total", 0),
    "object_bytes": m.get("millrace_uploader_bytes_written_total", 0),
    "dlq": m.get("millrace_uploader_dlq_records_total", 0)}))
PY
    ) || die "drain failed; log: $RUN/uploader-$format$level-w$workers.log"
    # Every record is stored; the commit of the last batches follows.
    for _ in $(seq 600); do
        [ "$(kafka_admin committed "$topic" "$group")" = "$EVENTS" ] && break
        sleep 0.1 # poll interval of the committed offsets
    done
    kill -TERM "$upid"
    wait "$upid" || die "the uploader exited $?; log: $RUN/uploader-$format$level-w$workers.log"
    upid=
    echo "$line" >"$out"
}

# --- runs -------------------------------------------------------------------
TSV=$OUT/uploader.tsv
printf 'repeat\tformat\tlevel\tworkers\tdrain_s\tfirst_s\tevents_s\tmb_s\tcpu_s\tcpu_cores\trss_mib\tkafka_cores\ts3_cores\tmachine_cores\tobjects\tratio\tload1\tkcat_s\tkcat_cpu_s\tcodec_s\tcodec_cpu_s\tcodec_ratio\n' >"$TSV"
# shellcheck disable=SC2086
codecs=$(printf '%s\n' $RUNS | cut -d: -f1,2 | sed 's/^go:/gzip:/' | sort -u)
declare -A CODEC
for r in $(seq "$REPEAT"); do
    # The command-line compressor at each level the runs use, on one core.
    for c in $codecs; do
        f=${c%:*} l=${c#*:}
        read -r cs ccpu < <(timed sh -c "$f -q -$l -c '$DATA.ndjson' >'$RUN/ref.out'")
        CODEC[$c]="$cs $ccpu $(stat -c %s "$RUN/ref.out")"
        say "repeat $r/$REPEAT: $f -$l over the same bytes: $cs s (cpu $ccpu s)"
    done
    rm -f "$RUN/ref.out"
    for run in $RUNS; do
        IFS=: read -r fmt lvl w <<<"$run"
        name=$fmt$lvl-w$w
        topic=bench-uploader-$TAG-r$r-$name
        group=$topic
        prefix=bench-uploader/$TAG-r$r-$name
        kafka_admin create "$topic" "$PARTITIONS"
        read -r fill_s _ < <(timed fill "$topic")
        n=$(kafka_admin count "$topic")
        [ "$n" = "$EVENTS" ] || die "$topic holds $n records, not $EVENTS"
        read -r kcat_s kcat_cpu < <(timed sh -c "kcat -C -b '$BROKERS' -t '$topic' -o beginning -e -q >/dev/null")
        load1=$(cut -d' ' -f1 /proc/loadavg)
        drain "$topic" "$group" "$prefix" "$fmt" "$lvl" "$w" "$(free_port)" "$RUN/drain.json"
        deleted=$(s3_delete_prefix "$prefix")
        kafka_admin delete "$topic" "$group"
        cf=$fmt
        [ "$fmt" = go ] && cf=gzip
        read -r cs ccpu csize <<<"${CODEC[$cf:$lvl]}"
        python3 - "$r" "$fmt" "$lvl" "$w" "$EVENTS" "$BYTES" "$RUN/drain.json" "$load1" \
            "$kcat_s" "$kcat_cpu" "$cs" "$ccpu" "$csize" >>"$TSV" <<'PY'
import json, sys
r, fmt, lvl, w, events, nbytes, path, load1, ks, kc, cs, cc, csize = sys.argv[1:]
j = json.load(open(path))
events, nbytes, d = int(events), int(nbytes), j["drain_s"]
assert j["written"] == events and j["dlq"] == 0, j
print(f"{r}\t{fmt}\t{lvl}\t{w}\t{d:.2f}\t{j['first_s']:.2f}\t{events / d:.0f}\t"
      f"{nbytes / d / 1e6:.1f}\t{j['cpu_s']:.2f}\t{j['cpu_s'] / d:.2f}\t{j['hwm_kb'] / 1024:.0f}\t"
      f"{j['kafka_cpu_s'] / d:.2f}\t{j['s3_cpu_s'] / d:.2f}\t{j['machine_cores']:.2f}\t"
      f"{j['objects']:.0f}\t{nbytes / max(j['object_bytes'], 1):.2f}\t{load1}\t{ks}\t{kc}\t"
      f"{cs}\t{cc}\t{nbytes / int(csize):.2f}")
PY
        say "  $fmt -$lvl, $w workers: $(tail -n 1 "$TSV" | awk -F'\t' '{printf "%s events/s, %s MB/s, drain %s s, uploader %s cores, RSS %s MiB; kcat %s s; load %s", $7, $8, $5, $10, $11, $18, $17}') ($fill_s s to fill, $deleted objects deleted)"
    done
done

# --- table, plot, docs/benchmarks.md ------------------------------------------
MD=$OUT/uploader.md
rm -f "$RUN/plot.dat.runs"
python3 - "$TSV" "$EVENTS" "$BYTES" "$PARTITIONS" "$MAX_RECORDS" "$(nproc)" \
    "$(git rev-parse --short HEAD)" "$RUN/plot.dat" "$RUN/plot-ref.dat" >"$MD" <<'PY'
import csv, statistics, sys
tsv, events, nbytes, parts, maxrec, ncpu, commit, dat, refdat = sys.argv[1:]
events, nbytes = int(events), int(nbytes)
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
med = statistics.median
def stat(vals, fmt="{:,.0f}"):
    vals = [float(v) for v in vals]
    if len(vals) == 1:
        return fmt.format(vals[0])
    return f"{fmt.format(med(vals))} ({fmt.format(min(vals))}–{fmt.format(max(vals))})"
runs = list(dict.fromkeys((r["format"], r["level"], r["workers"]) for r in rows))
nrep = len({r["repeat"] for r in rows})
batches = (f"batches of {int(maxrec):,} records ({int(maxrec) * nbytes / events / 1e6:.0f} MB)"
           if maxrec else "the uploader's default settings (batches sized by "
           "uploader.max_buffer_bytes)")
print(f"{events:,} events of {nbytes / events:.0f} bytes ({nbytes / 1e6:.0f} MB of NDJSON) in "
      f"{parts} partitions; {batches}, the tail flushed by age; format go is the Go peer "
      f"(franz-go, aws-sdk-go-v2, gzip, 10,000 records per object); "
      f"{ncpu} CPUs shared with Kafka, the S3 server and whatever else runs; commit {commit}. "
      + (f"Median of {nrep} runs (min–max):\n" if nrep > 1 else "One run:\n"))
print("| format | workers | events/s | events per CPU-second | MB/s | × kcat | × codec | uploader CPU (cores) | "
      "CPU µs/event | peak RSS MiB | drain s | Kafka + S3 CPU (cores) | others + steal (cores) | "
      "NDJSON / objects |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
with open(dat, "w") as f:
    for fmt, lvl, w in runs:
        rs = [r for r in rows if (r["format"], r["level"], r["workers"]) == (fmt, lvl, w)]
        eps = [float(r["events_s"]) for r in rs]
        xk = [float(r["events_s"]) * float(r["kcat_s"]) / events for r in rs]
        xc = [float(r["events_s"]) * float(r["codec_s"]) / events for r in rs]
        us = [float(r["cpu_s"]) / events * 1e6 for r in rs]
        ks = [float(r["kafka_cores"]) + float(r["s3_cores"]) for r in rs]
        others = [max(0.0, float(r["machine_cores"]) - float(r["cpu_cores"]) - k)
                  for r, k in zip(rs, ks)]
        label = f"Go peer, gzip -{lvl}" if fmt == "go" else f"{fmt} -{lvl}"
        epc = [events / float(r["cpu_s"]) for r in rs]
        print(f"| {label} | {w} | {stat(eps)} | {stat(epc)} | {stat([r['mb_s'] for r in rs], '{:.1f}')} | "
              f"{stat(xk, '{:.2f}')} | {stat(xc, '{:.2f}')} | "
              f"{stat([r['cpu_cores'] for r in rs], '{:.2f}')} | {stat(us, '{:.1f}')} | "
              f"{stat([r['rss_mib'] for r in rs])} | {stat([r['drain_s'] for r in rs], '{:.1f}')} | "
              f"{stat(ks, '{:.2f}')} | {stat(others, '{:.2f}')} | "
              f"{stat([r['ratio'] for r in rs], '{:.2f}')} |")
        if (fmt, lvl) == ("gzip", "6"):
            f.write(f"{w} {med(eps):.0f} {min(eps):.0f} {max(eps):.0f}\n")
            with open(dat + ".runs", "a") as g:
                for r, e in zip(rs, eps):
                    others = (float(r["machine_cores"]) - float(r["cpu_cores"])
                              - float(r["kafka_cores"]) - float(r["s3_cores"]))
                    g.write(f"{w} {e:.0f} {max(0.0, others):.2f}\n")
go = [r for r in rows if r["format"] == "go"]
mine = [r for r in rows if (r["format"], r["level"]) == ("gzip", "6") and
        r["workers"] == (go[0]["workers"] if go else "4")]
if go and mine:
    print("\nThe uploader (gzip -6) against the Go peer, each repeat on the same data "
          "back to back (ratios above 1 favour the uploader, but RSS):\n")
    print("| repeat | events/s | events per CPU-second | peak RSS MiB (uploader, peer) | "
          "NDJSON / objects (uploader, peer) |")
    print("|---:|---:|---:|---:|---:|")
    ratios = []
    for rep in sorted({r["repeat"] for r in mine} & {r["repeat"] for r in go}, key=int):
        a = next(r for r in mine if r["repeat"] == rep)
        g = next(r for r in go if r["repeat"] == rep)
        ep = float(a["events_s"]) / float(g["events_s"])
        cp = float(g["cpu_s"]) / float(a["cpu_s"])
        ratios.append((ep, cp))
        print(f"| {rep} | {ep:.2f} | {cp:.2f} | {a['rss_mib']}, {g['rss_mib']} | "
              f"{a['ratio']}, {g['ratio']} |")
    print(f"| mean | {statistics.mean(x for x, _ in ratios):.2f} | "
          f"{statistics.mean(y for _, y in ratios):.2f} | | |")
kcat_rate = [events / float(r["kcat_s"]) for r in rows]
mb = lambda rate: rate * nbytes / events / 1e6
print("\nReferences on the same data, in the same runs (each on one core):\n")
print("| reference | events/s | MB/s | CPU µs/event | NDJSON / output |")
print("|---|---:|---:|---:|---:|")
kc = [float(r["kcat_cpu_s"]) / events * 1e6 for r in rows]
print(f"| broker consume: `kcat -C -o beginning -e > /dev/null` | {stat(kcat_rate)} | "
      f"{stat([mb(x) for x in kcat_rate], '{:.0f}')} | {stat(kc, '{:.1f}')} | |")
gz6 = 0
for fmt, lvl in dict.fromkeys((r["format"], r["level"]) for r in rows if r["format"] != "go"):
    rs = list({r["repeat"]: r for r in rows if (r["format"], r["level"]) == (fmt, lvl)}.values())
    rate = [events / float(r["codec_s"]) for r in rs]
    if (fmt, lvl) == ("gzip", "6"):
        gz6 = med(rate)
    print(f"| `{fmt} -{lvl} -c` on the NDJSON | {stat(rate)} | "
          f"{stat([mb(x) for x in rate], '{:.1f}')} | "
          f"{stat([float(r['codec_cpu_s']) / events * 1e6 for r in rs], '{:.1f}')} | "
          f"{stat([r['codec_ratio'] for r in rs], '{:.2f}')} |")
print("\n\"× kcat\" and \"× codec\" divide the uploader's events/s by the reference's in the "
      "same repeat (× codec: the command-line compressor at the same level). MB/s counts "
      "the uncompressed NDJSON.")
with open(refdat, "w") as f:
    f.write(f"{med(kcat_rate):.0f} {gz6:.0f}\n")
PY

python3 - "$TSV" "$OUT/uploader.svg" "$EVENTS" "$(git rev-parse --short HEAD)" <<'PY'
# A bar per run configuration: events/s and events per CPU-second (median).
import csv, statistics, sys
tsv, svg, events, commit = sys.argv[1:]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
runs = list(dict.fromkeys((r["format"], r["level"], r["workers"]) for r in rows))
def med(run, f):
    return statistics.median(f(r) for r in rows if (r["format"], r["level"], r["workers"]) == run)
vals = [(f"{'Go peer, gzip' if f == 'go' else f} -{l}, {w} workers",
         med((f, l, w), lambda r: float(r["events_s"])),
         med((f, l, w), lambda r: int(events) / float(r["cpu_s"]))) for f, l, w in runs]
W, rowh, L = 900, 56, 200
hi = max(max(a, b) for _, a, b in vals) * 1.15
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{60 + rowh * len(vals)}" '
       'font-family="sans-serif" font-size="12">',
       f'<rect width="100%" height="100%" fill="white"/>',
       f'<text x="10" y="20" font-size="14">make bench-uploader: {int(events):,} events, '
       f'median of the repeats (commit {commit})</text>',
       '<rect x="560" y="30" width="12" height="10" fill="#1f77b4"/><text x="576" y="39">events/s</text>',
       '<rect x="660" y="30" width="12" height="10" fill="#ff7f0e"/>'
       '<text x="676" y="39">events per CPU-second</text>']
for i, (name, a, b) in enumerate(vals):
    y = 50 + i * rowh
    out.append(f'<text x="{L - 8}" y="{y + 24}" text-anchor="end">{name}</text>')
    for k, (v, col) in enumerate(((a, "#1f77b4"), (b, "#ff7f0e"))):
        w = v / hi * (W - L - 90)
        out.append(f'<rect x="{L}" y="{y + 4 + k * 22}" width="{w:.0f}" height="18" fill="{col}"/>')
        out.append(f'<text x="{L + w + 5:.0f}" y="{y + 18 + k * 22}">{v:,.0f}</text>')
out.append("</svg>")
open(svg, "w").write("\n".join(out) + "\n")
PY

python3 tests/bench/readme_section.py uploader "$MD"
cat "$MD"
say "wrote $TSV, $MD, $OUT/uploader.svg"
