"""The uploader's promise on the real servers: every record in exactly one
object through kill -9, rebalances, an S3 outage; bad records to the DLQ."""

import json
import os
import random
import subprocess
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import BROKERS, BUCKET, free_port, s3_client, wait_until


def produce(topic, events, partition=None):
    """Produces events (dicts or raw bytes) and returns once all are
    acknowledged; fails if any is not."""
    p = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True,
                  "linger.ms": 5})
    errors = []

    def dr(err, _msg):
        if err:
            errors.append(err)

    for e in events:
        value = e if isinstance(e, bytes) else json.dumps(e).encode()
        kw = {"partition": partition} if partition is not None else {}
        while True:
            try:
                p.produce(topic, value, on_delivery=dr, **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    assert p.flush(60) == 0
    assert not errors, errors[:3]


class Load:
    """Steady load in the background: batches of events with unique ids,
    produced to the topic until stopped; remembers every acknowledged id."""

    def __init__(self, topic, rate_batches=20, batch=50):
        self.topic = topic
        self.ids = []
        self.stop_flag = threading.Event()
        self.batch = batch
        self.pause = 1.0 / rate_batches
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop_flag.is_set():
            ids = [uuid.uuid4().hex for _ in range(self.batch)]
            produce(self.topic, [{"id": i, "pad": "p" * 200} for i in ids])
            self.ids.extend(ids)
            self.stop_flag.wait(self.pause)  # pacing of the load, not a readiness wait

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join()


def assert_exactly(stack, ids, timeout=180):
    want = set(ids)
    assert len(want) == len(ids)

    def done():
        found = stack.events_in_s3()
        return found if {e["id"] for _, e in found} >= want else None

    found = wait_until(done, timeout, f"{len(want)} events in S3", interval=1)
    counts = {}
    for key, e in found:
        counts.setdefault(e["id"], []).append(key)
    dups = {i: k for i, k in counts.items() if len(k) > 1}
    assert not dups, f"{len(dups)} duplicated, e.g. {list(dups.items())[:2]}"
    extra = set(counts) - want
    assert not extra, f"{len(extra)} unexpected events"
    return found


FAST = {"MAX_AGE_MS": 300, "MILLRACE_UPLOADER_MAX_RECORDS": 400,
        "MILLRACE_UPLOADER_SHUTDOWN_TIMEOUT_MS": 2000}


def test_kill_9_during_load_loses_and_duplicates_nothing(stack):
    rnd = random.Random(7)
    kills = 0
    with Load(stack.topic) as load:
        for _ in range(4):
            up = stack.uploader(**FAST).start()
            wait_until(lambda: up.metrics().get(
                "millrace_uploader_objects_written_total", 0) > 0, 60,
                "an object written")
            time.sleep(rnd.uniform(0.2, 2.0))  # a random point in the upload cycle
            up.kill()
            kills += 1
    assert kills == 4 and len(load.ids) > 1000
    final = stack.uploader(**FAST).start()
    found = assert_exactly(stack, load.ids)
    assert len(found) == len(load.ids)
    wait_until(stack.fully_committed, 60, "offsets committed to the end")
    assert final.stop() == 0


def test_scaling_1_3_1_during_load_keeps_exactly_once(stack):
    with Load(stack.topic) as load:
        first = stack.uploader(**FAST).start()
        wait_until(lambda: first.metrics().get(
            "millrace_uploader_objects_written_total", 0) > 0, 60, "first objects")
        more = [stack.uploader(**FAST).start() for _ in range(2)]

        def spread():
            return all(u.metrics().get("millrace_uploader_assigned_partitions", 0) >= 1
                       for u in [first] + more)
        wait_until(spread, 60, "partitions spread over 3 replicas")
        for u in more:
            assert u.stop() == 0
        wait_until(lambda: first.metrics().get(
            "millrace_uploader_assigned_partitions", 0) == 4, 60,
            "all partitions back on one replica")
    assert_exactly(stack, load.ids)
    wait_until(stack.fully_committed, 60, "offsets committed to the end")
    assert first.stop() == 0


def test_bad_records_go_to_the_dlq_with_their_coordinates(stack):
    good = [{"id": uuid.uuid4().hex} for _ in range(20)]
    bad = [b"not json", b'{"truncated": ', b"[1,2,3]", b'{"a":"\xff"}']
    big = json.dumps({"id": "big", "x": "y" * 5000}).encode()
    produce(stack.topic, good[:10] + bad + [big] + good[10:], partition=1)
    up = stack.uploader(MILLRACE_UPLOADER_MAX_RECORD_BYTES=4096).start()
    assert_exactly(stack, [g["id"] for g in good])

    c = Consumer({"bootstrap.servers": BROKERS, "group.id": "dlq-" + uuid.uuid4().hex,
                  "auto.offset.reset": "earliest"})
    c.subscribe([stack.topic + ".dlq"])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 5 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m)
    c.close()
    assert sorted(m.value() for m in got) == sorted(bad + [big])
    for m in got:
        h = {k: v.decode() for k, v in m.headers()}
        assert h["source_topic"] == stack.topic
        assert h["source_partition"] == "1"
        assert h["reason"] == ("too_large" if m.value() == big else "not_json")
        assert h["detail"]
    offsets = sorted(int(dict(m.headers())["source_offset"]) for m in got)
    assert offsets == [10, 11, 12, 13, 14]
    wait_until(lambda: up.metrics().get("millrace_uploader_dlq_records_total") == 5,
               30, "DLQ metric")
    wait_until(stack.fully_committed, 60, "offsets committed past the DLQ records")
    assert up.stop() == 0


def test_permanent_error_with_dlq_policy_moves_on(stack):
    ids = [uuid.uuid4().hex for _ in range(30)]
    produce(stack.topic, [{"id": i} for i in ids], partition=0)
    up = stack.uploader(AWS_SECRET_ACCESS_KEY="wrong",
                        MILLRACE_UPLOADER_ON_PERMANENT_ERROR="dlq",
                        MILLRACE_UPLOADER_PERMANENT_RETRIES=2,
                        MILLRACE_UPLOADER_RETRY_MAX_MS=50).start()
    wait_until(lambda: up.metrics().get("millrace_uploader_dlq_records_total") == 30,
               60, "records sent to the DLQ")
    wait_until(stack.fully_committed, 60, "the partition moved on")
    assert stack.objects() == {}
    assert up.stop() == 0


def test_metrics_show_lag_latency_and_workers(stack):
    produce(stack.topic, [{"id": uuid.uuid4().hex} for _ in range(50)])
    up = stack.uploader().start()
    wait_until(lambda: up.metrics().get("millrace_uploader_records_written_total") == 50,
               60, "records written")
    m = wait_until(lambda: (lambda x: x if any(k.startswith("millrace_uploader_consumer_lag{")
                                               for k in x) else None)(up.metrics()),
                   30, "lag gauges")
    lags = {k: v for k, v in m.items() if k.startswith("millrace_uploader_consumer_lag{")}
    assert len(lags) == 4
    assert m["millrace_uploader_upload_duration_seconds_count"] >= 1
    for k in ("millrace_uploader_queue_depth", "millrace_uploader_busy_workers",
              "millrace_uploader_bytes_written_total", "millrace_uploader_retries_total"):
        assert k in m
    assert up.stop() == 0


def lag_and_paused(up):
    m = up.metrics()
    lags = {k: v for k, v in m.items() if k.startswith("millrace_uploader_consumer_lag{")}
    return sum(lags.values()), len(lags), m.get("millrace_uploader_paused_partitions")


def test_lag_stays_true_while_s3_is_down_and_partitions_are_paused(stack):
    """With S3 unreachable, every partition pauses once a batch waits for the
    worker; the lag reported must still follow the records produced (it used
    to freeze at the fetcher's last watermark)."""
    dead = free_port()  # nothing listens there: every PUT is refused
    up = stack.uploader(S3_ENDPOINT=f"http://127.0.0.1:{dead}", MAX_WORKERS=1, MAX_QUEUE=1,
                        MAX_AGE_MS=300, MILLRACE_UPLOADER_MAX_RECORDS=100,
                        MILLRACE_UPLOADER_RETRY_MAX_MS=1000,
                        MILLRACE_UPLOADER_SHUTDOWN_TIMEOUT_MS=2000,
                        MILLRACE_UPLOADER_LAG_INTERVAL_MS=500).start()
    wait_until(lambda: up.metrics().get("millrace_uploader_assigned_partitions") == 4, 30,
               "4 partitions assigned")
    for p in range(4):
        produce(stack.topic, [{"id": uuid.uuid4().hex} for _ in range(250)], partition=p)
    wait_until(lambda: lag_and_paused(up) == (1000, 4, 4), 60,
               "lag 1000 over 4 partitions, all paused")
    assert up.metrics()["millrace_uploader_retries_total"] > 0
    assert up.metrics().get("millrace_uploader_objects_written_total", 0) == 0
    # the backlog grows while nothing can be fetched: the lag follows it
    for p in range(4):
        produce(stack.topic, [{"id": uuid.uuid4().hex} for _ in range(500 + p)],
                partition=p)
    wait_until(lambda: lag_and_paused(up) == (3006, 4, 4), 30,
               "lag 3006 (every record produced), partitions still paused")
    per = {k: v for k, v in up.metrics().items()
           if k.startswith("millrace_uploader_consumer_lag{")}
    assert per == {f'millrace_uploader_consumer_lag{{partition="{p}"}}': 750 + p
                   for p in range(4)}
    # nothing stored, nothing committed past the first batch's plan (offset 0)
    assert set(stack.committed().values()) <= {0, -1001}, stack.committed()
    assert up.stop() == 0


def in_progress_uploads(prefix):
    r = s3_client().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix + "/")
    return r.get("Uploads", [])


def test_kill_9_during_multipart_upload_leaves_no_orphan(stack):
    # ~48 MB uncompressed in one partition: one batch, one object in 5 MiB
    # parts, uploaded by a single worker so the upload takes a while.
    ids = [uuid.uuid4().hex for _ in range(24_000)]
    pad = "m" * 2000
    produce(stack.topic, [{"id": i, "pad": pad} for i in ids], partition=2)
    env = {"MILLRACE_UPLOADER_FORMAT": "none", "MAX_WORKERS": 1,
           "MILLRACE_UPLOADER_MAX_BYTES": "128M", "MAX_AGE_MS": 3000,
           "MILLRACE_UPLOADER_MAX_RECORDS": 1_000_000,
           "MILLRACE_UPLOADER_MULTIPART_THRESHOLD": "5M",
           "MILLRACE_UPLOADER_PART_SIZE": "5M"}
    up = stack.uploader(**env).start()
    wait_until(lambda: in_progress_uploads(stack.prefix), 60,
               "a multipart upload in progress", interval=0.02)
    up.kill()
    assert in_progress_uploads(stack.prefix), "the killed upload should be pending"

    again = stack.uploader(**env).start()
    found = assert_exactly(stack, ids, timeout=240)
    assert len(found) == len(ids)
    assert in_progress_uploads(stack.prefix) == []
    assert again.metrics()["millrace_uploader_multipart_uploads_total"] >= 1
    wait_until(stack.fully_committed, 60, "offsets committed")
    assert again.stop() == 0


@pytest.fixture
def private_s3():
    """A versitygw of this test's own, so it can be stopped and started
    without disturbing anyone else's tests."""
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    # MILLRACE_TEST_S3_OUTAGE_PORT: another port, for runs side by side
    port = os.environ.get("MILLRACE_TEST_S3_OUTAGE_PORT", "27171")
    env = dict(os.environ, S3_PORT=port,
               S3_RUN_DIR=os.path.join(root, ".run", "s3-outage-test"))
    script = os.path.join(root, "deploy", "local", "s3.sh")

    def run(cmd):
        subprocess.run(["bash", script, cmd], env=env, check=True,
                       stdout=subprocess.DEVNULL)

    run("start")
    yield run, "http://127.0.0.1:" + port
    run("stop")


def test_s3_outage_of_30s_recovers_without_loss(stack, private_s3):
    run, endpoint = private_s3
    up = stack.uploader(S3_ENDPOINT=endpoint, **FAST).start()
    with Load(stack.topic) as load:
        wait_until(lambda: up.metrics().get(
            "millrace_uploader_objects_written_total", 0) > 0, 60, "first objects")
        run("stop")
        outage_ends = time.monotonic() + 30
        wait_until(lambda: up.metrics().get("millrace_uploader_retries_total", 0) > 0,
                   30, "retries during the outage")
        time.sleep(max(0.0, outage_ends - time.monotonic()))  # the outage lasts 30 s
        run("start")
    found = assert_exactly(stack_on(stack, endpoint), load.ids)
    assert len(found) == len(load.ids)
    wait_until(stack.fully_committed, 60, "lag drained")
    assert up.stop() == 0


def stack_on(stack, endpoint):
    """The same stack, read back from another S3 endpoint."""
    import conftest
    other = conftest.Stack.__new__(conftest.Stack)
    other.__dict__.update(stack.__dict__)
    other.s3_endpoint = endpoint
    return other


def test_zstd_line_metadata_and_time_field(stack):
    ids = [uuid.uuid4().hex for _ in range(40)]
    events = [{"id": i, "t": "2026-01-02T03:%02d:00Z" % (k % 60)} for k, i in enumerate(ids)]
    produce(stack.topic, events, partition=1)
    up = stack.uploader(MILLRACE_UPLOADER_FORMAT="zstd",
                        MILLRACE_UPLOADER_LINE_METADATA="true",
                        MILLRACE_UPLOADER_TIME_FIELD="t", **FAST).start()

    def lines():
        out = []
        for key, body in stack.objects().items():
            assert key.endswith(".ndjson.zst"), key
            assert "/dt=2026-01-02/hour=03/" in key, key
            text = subprocess.run(["zstd", "-dc"], input=body, capture_output=True,
                                  check=True).stdout.decode()
            out += [json.loads(x) for x in text.splitlines()]
        return out if len(out) >= len(ids) else None

    got = wait_until(lines, 60, "zstd objects", interval=1)
    assert sorted(e["id"] for e in got) == sorted(ids)
    for e in got:
        assert list(e)[0] == "_kafka"
        assert e["_kafka"]["topic"] == stack.topic
        assert e["_kafka"]["partition"] == 1
    assert sorted(e["_kafka"]["offset"] for e in got) == list(range(40))
    assert up.stop() == 0
