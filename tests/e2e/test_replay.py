"""`uploader replay` on the real servers: repairs rewrite the same objects,
time ranges and the DLQ replay without duplicates, the live group is never
moved, bad arguments are refused clearly."""

import json
import os
import subprocess
import uuid

from confluent_kafka import Producer

from conftest import BIN, BROKERS, BUCKET, ACCESS_KEY, SECRET_KEY, S3_ENDPOINT, REGION
from conftest import s3_client, wait_until
from test_uploader import FAST, Load, assert_exactly, produce


def replay(stack, *args, **env):
    """Runs `uploader replay` with the stack's settings; returns the
    completed process (stdout and stderr as text)."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("MILLRACE_", "AWS_"))}
    e.update({"KAFKA_BROKERS": BROKERS, "KAFKA_TOPIC": stack.topic,
              "CONSUMER_GROUP": stack.group, "S3_ENDPOINT": S3_ENDPOINT,
              "S3_BUCKET": BUCKET, "S3_PREFIX": stack.prefix,
              "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
              "AWS_REGION": REGION})
    e.update({k: str(v) for k, v in env.items()})
    return subprocess.run([os.path.join(BIN, "uploader"), "replay", *map(str, args)],
                          env=e, capture_output=True, text=True, timeout=300)


def stored_and_settled(stack, ids, up):
    assert_exactly(stack, ids)
    wait_until(stack.fully_committed, 60, "offsets committed")
    assert up.stop() == 0
    return stack.objects()


def test_deleted_objects_come_back_byte_for_byte(stack):
    ids = [uuid.uuid4().hex for _ in range(3000)]
    with Load(stack.topic) as load:
        up = stack.uploader(**FAST).start()
        wait_until(lambda: len(load.ids) >= 3000, 120, "load")
    before = stored_and_settled(stack, load.ids, up)
    committed = stack.committed()
    assert len(before) > 8
    s3 = s3_client()
    victims = sorted(before)[1::3]
    for k in victims:
        s3.delete_object(Bucket=BUCKET, Key=k)
    part = int(victims[0].rsplit("-", 2)[1])
    lost = [k for k in victims if int(k.rsplit("-", 2)[1]) == part]
    first = int(lost[0].rsplit("-", 1)[1].split(".")[0])
    r = replay(stack, "--partition", part, "--from-offset", first,
               "--to-offset", committed[part] - 1)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "failed batches:        0" in r.stdout
    # The rest of the victims, by time: all partitions, the whole run.
    r = replay(stack, "--since", "0")
    assert r.returncode == 0, r.stdout + r.stderr
    after = stack.objects()
    assert after == before, (set(before) ^ set(after))
    assert stack.committed() == committed, "replay moved the live group"
    del ids


def test_time_range_across_hours_and_partitions_has_no_duplicates(stack):
    hour = 3600_000
    base = 1_790_000_000_000 // hour * hour  # an hour boundary in 2026
    p = Producer({"bootstrap.servers": BROKERS})
    ids = []
    for i in range(400):
        ts = base - 30_000 + i * 250  # 100 s across the boundary
        i_d = uuid.uuid4().hex
        ids.append(i_d)
        p.produce(stack.topic, json.dumps({"id": i_d}).encode(), partition=i % 4,
                  timestamp=ts)
    assert p.flush(30) == 0
    up = stack.uploader(**FAST).start()
    before = stored_and_settled(stack, ids, up)
    hours = {k.split("/hour=")[1][:2] for k in before}
    assert len(hours) == 2, hours
    r = replay(stack, "--since", str(base - 60_000), "--until", str(base + 60_000))
    assert r.returncode == 0, r.stdout + r.stderr
    assert stack.objects() == before
    assert_exactly(stack, ids)


def test_dlq_records_land_once_after_the_limit_is_raised(stack):
    good = [{"id": uuid.uuid4().hex} for _ in range(10)]
    big = {"id": uuid.uuid4().hex, "x": "y" * 3000}
    produce(stack.topic, good[:5] + [big] + good[5:], partition=3)
    up = stack.uploader(MILLRACE_UPLOADER_MAX_RECORD_BYTES=1024, **FAST).start()
    stored_and_settled(stack, [g["id"] for g in good], up)
    r = replay(stack, "--from-dlq", "--reason", "too_large",
               MILLRACE_UPLOADER_MAX_RECORD_BYTES=1024)
    assert r.returncode == 3, r.stdout + r.stderr  # still too large: partial
    assert "too_large: 1" in r.stdout
    r = replay(stack, "--from-dlq", MILLRACE_UPLOADER_MAX_RECORD_BYTES="1M")
    assert r.returncode == 0, r.stdout + r.stderr
    assert_exactly(stack, [g["id"] for g in good] + [big["id"]])
    r = replay(stack, "--from-dlq", MILLRACE_UPLOADER_MAX_RECORD_BYTES="1M")
    assert r.returncode == 0
    assert_exactly(stack, [g["id"] for g in good] + [big["id"]])


def test_replay_beside_live_uploaders_under_load(stack):
    with Load(stack.topic) as load:
        ups = [stack.uploader(**FAST).start() for _ in range(2)]
        wait_until(lambda: len(load.ids) > 1500, 120, "load")
        for _ in range(2):
            r = replay(stack, "--since", "0")
            assert r.returncode == 0, r.stdout + r.stderr
    assert_exactly(stack, load.ids)
    wait_until(stack.fully_committed, 60, "offsets committed")
    for u in ups:
        assert u.stop() == 0


def test_replay_into_another_prefix_and_dry_run(stack):
    ids = [uuid.uuid4().hex for _ in range(200)]
    produce(stack.topic, [{"id": i} for i in ids])
    up = stack.uploader(**FAST).start()
    before = stored_and_settled(stack, ids, up)
    r = replay(stack, "--since", "0", "--dry-run")
    assert r.returncode == 0 and "records read:          200" in r.stdout, r.stdout
    assert stack.objects() == before
    other = stack.prefix + "-copy"
    r = replay(stack, "--since", "0", "--prefix", other)
    assert r.returncode == 0, r.stdout + r.stderr
    s3 = s3_client()
    copied = {o["Key"][len(other):]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
              for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=other + "/")["Contents"]
              if "/_millrace/" not in o["Key"]}
    assert copied == {k[len(stack.prefix):]: v for k, v in before.items()}


def test_bad_arguments_are_refused_clearly(stack):
    produce(stack.topic, [{"id": "x"}], partition=0)
    cases = [
        ([], "choose one mode"),
        (["--partition", "0"], "go together"),
        (["--partition", "0", "--from-offset", "5", "--to-offset", "2"], "is after"),
        (["--partition", "0", "--from-offset", "0", "--to-offset", "99"], "holds offsets 0..0"),
        (["--partition", "9", "--from-offset", "0", "--to-offset", "0"], "has partitions 0..3"),
        (["--since", "yesterday"], "bad time"),
        (["--since", "0", "--reason", "x"], "go with --from-dlq"),
        (["--bogus"], "usage"),
    ]
    for args, msg in cases:
        r = replay(stack, *args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert msg in r.stderr, (args, r.stderr)
