"""Complete hours, marked, on the real servers: _SUCCESS manifests appear for
exactly the hours that hold records, only once every record of the hour is
stored (checked against the records the test produced), through a kill -9
and a rebalance among several replicas; late events by event time are
written, counted and left out of the already written manifest, which never
changes, not even under `uploader replay`."""
import gzip
import json
import threading
import time
import uuid

from confluent_kafka import Producer

from conftest import BROKERS, BUCKET, Stack, s3_client, wait_until
from test_replay import replay

HOUR = 3_600_000


def produce_at(topic, rows):
    """rows: [(partition, kafka timestamp ms, event dict)], in order."""
    p = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True,
                  "linger.ms": 5})
    errors = []
    for part, ts, e in rows:
        while True:
            try:
                p.produce(topic, json.dumps(e).encode(), partition=part,
                          timestamp=ts,
                          on_delivery=lambda err, _m: err and errors.append(err))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    assert p.flush(60) == 0
    assert not errors, errors[:3]


def hour_folder(stack, hour_ms):
    t = time.gmtime(hour_ms // 1000)
    return (f"{stack.prefix}/{stack.topic}/dt={t.tm_year:04d}-{t.tm_mon:02d}-"
            f"{t.tm_mday:02d}/hour={t.tm_hour:02d}/")


def listing(prefix):
    s3 = s3_client()
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                              Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o
    return out


def markers(stack):
    """{key: (bytes, LastModified)} of every _SUCCESS under the prefix."""
    s3 = s3_client()
    out = {}
    for key, o in listing(stack.prefix + "/").items():
        if key.endswith("/_SUCCESS"):
            out[key] = (s3.get_object(Bucket=BUCKET, Key=key)["Body"].read(),
                        o["LastModified"])
    return out


def lines_of(key):
    body = s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    text = gzip.decompress(body).decode() if key.endswith(".gz") else body.decode()
    return len(body), [json.loads(x) for x in text.splitlines()]


def check_manifest(stack, hour_ms, want_ids):
    """The hour's manifest lists objects holding exactly want_ids, each
    once, with their true sizes and record counts; returns its keys."""
    folder = hour_folder(stack, hour_ms)
    raw = s3_client().get_object(Bucket=BUCKET, Key=folder + "_SUCCESS")["Body"].read()
    m = json.loads(raw)
    keys, ids, total_bytes = [], [], 0
    for e in m["entries"]:
        assert e["mandatory"] is True
        assert e["url"].startswith(f"s3://{BUCKET}/{folder}"), e["url"]
        key = e["url"][len(f"s3://{BUCKET}/"):]
        size, events = lines_of(key)
        assert e["meta"]["content_length"] == size, key
        assert e["meta"]["record_count"] == len(events), key
        keys.append(key)
        ids += [x["id"] for x in events]
        total_bytes += size
    assert keys == sorted(keys)
    assert len(ids) == len(set(ids)), "an event twice in one hour's manifest"
    assert set(ids) == set(want_ids), (
        f"{folder}: manifest holds {len(set(ids))} of {len(set(want_ids))} "
        f"events, {len(set(ids) - set(want_ids))} foreign")
    assert m["meta"] == {"content_length": total_bytes, "record_count": len(ids)}
    return keys


def sum_metric(daemons, name):
    return sum(d.metrics().get(name, 0) for d in daemons if d.proc.poll() is None)


MARKER_ENV = {"MILLRACE_UPLOADER_HOUR_LATENESS_MS": 1000,
              "MILLRACE_UPLOADER_HOUR_CHECK_MS": 300,
              "MILLRACE_UPLOADER_SHUTDOWN_TIMEOUT_MS": 3000}


def test_markers_exact_with_replicas_through_kill_and_rebalance():
    """Three past hours of Kafka-timestamped records on 4 partitions, already
    in the topic (as after an outage), drained by three replicas in small
    batches; one is killed with SIGKILL and another joins meanwhile. Each
    hour's marker must list every record of the hour exactly once, whenever
    it was written, and the hours must be marked in order while later hours
    are still uploading."""
    stack = Stack(partitions=4)
    try:
        base = (int(time.time() * 1000) // HOUR - 3) * HOUR
        hours = [base, base + HOUR, base + 2 * HOUR]
        per_hour = 1500
        rows, want = [], {h: [] for h in hours}
        for h in hours:
            for k in range(per_hour):
                ev = {"id": uuid.uuid4().hex, "k": k}
                rows.append((k % 4, h + k * (HOUR // per_hour), ev))
                want[h].append(ev["id"])
        produce_at(stack.topic, rows)

        env = dict(MARKER_ENV, MAX_AGE_MS=200,
                   MILLRACE_UPLOADER_MAX_RECORDS=60, MAX_WORKERS=2)
        ups = [stack.uploader(**env).start() for _ in range(3)]
        seen = {}  # marker key -> time first seen, and what was stored then
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                for key in markers(stack):
                    seen.setdefault(key, time.monotonic())
                time.sleep(0.2)  # poll interval of the watcher

        w = threading.Thread(target=watch, daemon=True)
        w.start()
        # Kill one replica once the group has stored and committed some.
        wait_until(lambda: max(stack.committed().values()) > 0, 60,
                   "a first commit", interval=0.2)
        ups[1].kill()
        ups.append(stack.uploader(**env).start())
        wait_until(stack.fully_committed, 120, "every record committed", interval=0.5)
        folders = [hour_folder(stack, h) + "_SUCCESS" for h in hours]
        wait_until(lambda: all(k in seen for k in folders), 60, "three markers",
                   interval=0.5)
        stop.set()
        w.join()

        # Only hours with records have folders and markers.
        assert sorted(seen) == sorted(folders), sorted(seen)
        # Earlier hours complete first (a later hour never before an
        # earlier one).
        assert seen[folders[0]] <= seen[folders[1]] <= seen[folders[2]] + 1.0
        for h in hours:
            keys = check_manifest(stack, h, want[h])
            data = [k for k in listing(hour_folder(stack, h))
                    if not k.endswith("/_SUCCESS")]
            assert sorted(data) == keys, "an object of the hour not in its manifest"
        # Entries are removed once their hour is marked.
        wait_until(lambda: not listing(f"{stack.prefix}/_millrace/hours/"), 30,
                   "hour entries removed", interval=0.5)
        live = [u for u in ups if u.proc.poll() is None]
        assert sum_metric(live, "millrace_uploader_late_records_total") == 0
        for u in live:  # each replica's gauge follows its own next look
            wait_until(lambda: u.metrics()[
                "millrace_uploader_complete_through_timestamp_seconds"] * 1000
                >= hours[-1] + HOUR, 10, "complete_through", interval=0.3)
            assert u.metrics()["millrace_uploader_hour_check_failures_total"] == 0
        # Written once: more passes by new and old replicas change nothing.
        before = markers(stack)
        ups.append(stack.uploader(**env).start())
        wait_until(lambda: ups[-1].metrics()[
            "millrace_uploader_complete_through_timestamp_seconds"] * 1000
            >= hours[-1] + HOUR, 10, "the new replica's first look", interval=0.2)
        assert markers(stack) == before
        for u in ups:
            if u.proc.poll() is None:
                assert u.stop() == 0
    finally:
        stack.close()


def test_late_events_by_event_time_written_counted_not_in_manifest():
    """Event time (uploader.time_field): an hour is marked once the allowed
    lateness has passed; events of that hour arriving later are still
    written (once), counted in late_records_total and logged, and the
    manifest is not rewritten. An idle partition holds nothing back; a
    replay leaves markers alone."""
    stack = Stack(partitions=3)
    try:
        hour = (int(time.time() * 1000) // HOUR - 30) * HOUR  # a day ago
        on_time = [(k % 2, None, {"id": uuid.uuid4().hex,
                                  "t": hour + k * 1000}) for k in range(200)]
        produce_at(stack.topic, [(p, int(time.time() * 1000), e)
                                 for p, _, e in on_time])
        env = dict(MARKER_ENV, MAX_AGE_MS=200,
                   MILLRACE_UPLOADER_TIME_FIELD="t")
        up = stack.uploader(**env).start()
        marker = hour_folder(stack, hour) + "_SUCCESS"
        wait_until(lambda: marker in markers(stack), 60, "the hour's marker",
                   interval=0.3)
        first = markers(stack)[marker]
        check_manifest(stack, hour, [e["id"] for _, _, e in on_time])

        late = [(k % 2, None, {"id": uuid.uuid4().hex, "t": hour + 5000 + k})
                for k in range(10)]
        nxt = [(0, None, {"id": uuid.uuid4().hex, "t": hour + HOUR + k})
               for k in range(5)]
        produce_at(stack.topic, [(p, int(time.time() * 1000), e)
                                 for p, _, e in late + nxt])
        wait_until(lambda: up.metrics().get(
            "millrace_uploader_late_records_total", 0) == 10, 60,
            "late records counted", interval=0.3)
        assert up.metrics()["millrace_uploader_late_objects_total"] >= 1
        assert "late:" in up.log_text()
        # Written, once, in the hour's folder; the manifest unchanged.
        ids = []
        for key in listing(hour_folder(stack, hour)):
            if not key.endswith("/_SUCCESS"):
                ids += [x["id"] for x in lines_of(key)[1]]
        assert sorted(ids) == sorted(e["id"] for _, _, e in on_time + late)
        assert markers(stack)[marker] == first
        # The next hour is marked in its turn, with its own events only.
        nmarker = hour_folder(stack, hour + HOUR) + "_SUCCESS"
        wait_until(lambda: nmarker in markers(stack), 60, "the next hour's marker",
                   interval=0.3)
        check_manifest(stack, hour + HOUR, [e["id"] for _, _, e in nxt])
        assert up.metrics()["millrace_uploader_complete_through_timestamp_seconds"] \
            * 1000 >= hour + 2 * HOUR
        wait_until(stack.fully_committed, 30, "committed")

        # A replay of everything rewrites objects, never markers.
        before = markers(stack)
        r = replay(stack, "--since", "0", MILLRACE_UPLOADER_TIME_FIELD="t")
        assert r.returncode == 0, r.stderr
        assert markers(stack) == before
        assert not [k for k in listing(f"{stack.prefix}/_millrace/hours/")], \
            "replay wrote hour entries"
        assert up.stop() == 0
    finally:
        stack.close()


def test_markers_off_and_held_by_a_backlog():
    """uploader.hour_markers=false writes neither entries nor markers;
    turned on later, the hours stored from then on are marked."""
    stack = Stack(partitions=2)
    try:
        hour = (int(time.time() * 1000) // HOUR - 5) * HOUR
        rows = [(k % 2, hour + k, {"id": uuid.uuid4().hex}) for k in range(50)]
        produce_at(stack.topic, rows)
        up = stack.uploader(MILLRACE_UPLOADER_HOUR_MARKERS="false",
                            **MARKER_ENV).start()
        # Committed means stored: entries would be written before that.
        wait_until(stack.fully_committed, 60, "committed", interval=0.3)
        assert markers(stack) == {}
        assert not listing(f"{stack.prefix}/_millrace/hours/")
        assert "millrace_uploader_hour_markers_total" not in up.metrics()
        assert up.stop() == 0

        produce_at(stack.topic, [(0, hour + HOUR + 5, {"id": "a"})])
        produce_at(stack.topic, [(1, hour + HOUR + 9, {"id": "b"})])
        up = stack.uploader(**MARKER_ENV, MAX_AGE_MS=200).start()
        marker = hour_folder(stack, hour + HOUR) + "_SUCCESS"
        wait_until(lambda: marker in markers(stack), 60, "marker once stored",
                   interval=0.3)
        check_manifest(stack, hour + HOUR, ["a", "b"])
        assert up.stop() == 0
    finally:
        stack.close()
