"""The chaos run: a real HTTP client keeps posting events with unique ids to
ingest-api while, in order, ingest-api is killed (-9) and restarted, an
uploader is killed (-9) three times, the Kafka broker restarts, the S3 server
is down for 30 s, and the uploaders scale 1 -> 3 -> 1. Afterwards every event
that got a 202 is in S3 exactly once, and nothing is in S3 twice.

CHAOS_SECONDS sets how long the load lasts (at least: the faults take what
they take); `make chaos` runs it for 600 s. The Kafka broker and the S3 server
are private instances started for this run, so the shared ones are never
disturbed. The client never retries: a retry of a 503 could legitimately
store an event twice (docs/guarantees.md, "Retries and duplicates"), and every attempt
carries fresh ids."""

import collections
import concurrent.futures
import gzip
import json
import os
import random
import socket
import subprocess
import threading
import time
import uuid

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from requests.adapters import HTTPAdapter

from conftest import BIN, BUCKET, ROOT, Daemon, free_port, s3_client, wait_until

PRIVATE_SERVERS = True  # conftest: this module needs no shared servers

CHAOS_SECONDS = float(os.environ.get("CHAOS_SECONDS", "90"))
CLIENTS = int(os.environ.get("CHAOS_CLIENTS", "4"))
RATE = float(os.environ.get("CHAOS_RATE", "12"))  # requests/s per client
S3_OUTAGE_SECONDS = 30
PARTITIONS = 4

UPLOADER_ENV = {"MAX_AGE_MS": 400, "MILLRACE_UPLOADER_MAX_RECORDS": 500,
                "MILLRACE_UPLOADER_RETRY_MAX_MS": 2000,
                "MILLRACE_UPLOADER_SHUTDOWN_TIMEOUT_MS": 5000,
                "MILLRACE_UPLOADER_REVOKE_TIMEOUT_MS": 10000,
                "MILLRACE_UPLOADER_LAG_INTERVAL_MS": 1000}
INGEST_ENV = {"MILLRACE_INGEST_DELIVERY_TIMEOUT_MS": 5000,
              "MILLRACE_INGEST_PROBE_INTERVAL_MS": 500,
              "MILLRACE_INGEST_THREADS": 16}
T0 = time.monotonic()


def say(msg):
    print(f"chaos {time.monotonic() - T0:7.1f}s  {msg}", flush=True)


def port_pair_free(port):
    for p in (port, port + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


class Server:
    """A private Kafka or S3 server run by its deploy/local script."""

    def __init__(self, kind, base):
        # Ports below the ephemeral range, so that no client connection takes
        # one while the server is stopped.
        self.port = base + (os.getpid() % 150) * 2
        while not port_pair_free(self.port):
            self.port += 2
        self.kind = kind
        self.run_dir = os.path.join(ROOT, ".run", f"{kind}-chaos-{self.port}")
        up = kind.upper()
        self.env = {**os.environ, f"{up}_PORT": str(self.port),
                    f"{up}_RUN_DIR": self.run_dir, f"{up}_START_TIMEOUT": "180"}

    def script(self, cmd, **extra):
        p = subprocess.run(["bash", os.path.join(ROOT, "deploy", "local", f"{self.kind}.sh"),
                            cmd], env={**self.env, **extra}, capture_output=True,
                           text=True, timeout=400)
        assert p.returncode == 0, f"{self.kind}.sh {cmd}: {p.stdout}\n{p.stderr}"

    def start(self, **extra):
        self.script("start", **extra)

    def stop(self):
        self.script("stop")

    @property
    def address(self):
        return (f"127.0.0.1:{self.port}" if self.kind == "kafka"
                else f"http://127.0.0.1:{self.port}")


class HttpLoad:
    """CLIENTS keep-alive connections, each posting paced requests of one of
    three shapes (one object, an array, NDJSON), every event with a fresh id.
    Each attempt is recorded: its ids and its status, or None (no answer)."""

    def __init__(self, url):
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.log = []  # (ids, status or None, error code or exception)
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True)
                        for k in range(CLIENTS)]

    def session(self):
        s = requests.Session()
        # max_retries=0: urllib3 never re-sends a request that was sent.
        s.mount("http://", HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=1))
        return s

    def body(self, rnd, k, n):
        shape = rnd.choice(("single", "array", "ndjson"))
        count = 1 if shape == "single" else rnd.randint(2, 20)
        events = [{"id": uuid.uuid4().hex, "client": k, "n": n, "j": j,
                   "pad": "x" * rnd.randint(10, 300)} for j in range(count)]
        ids = [e["id"] for e in events]
        if shape == "single":
            return ids, json.dumps(events[0]), {"Content-Type": "application/json"}
        if shape == "array":
            return ids, json.dumps(events), {"Content-Type": "application/json"}
        return ids, "".join(json.dumps(e) + "\n" for e in events), \
            {"Content-Type": "application/x-ndjson"}

    def run(self, k):
        rnd = random.Random(k)
        s = self.session()
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            ids, data, headers = self.body(rnd, k, n)
            n += 1
            try:
                r = s.post(self.url, data=data, headers=headers, timeout=30)
                status = r.status_code
                try:
                    why = r.json().get("error") if status != 202 else None
                except ValueError:
                    why = "not json"
            except requests.RequestException as e:
                status, why = None, type(e).__name__
                s.close()
                s = self.session()
            with self.lock:
                self.log.append((ids, status, why))
            next_at = max(next_at + 1.0 / RATE, time.monotonic() - 1.0)
            self.stop.wait(max(0.0, next_at - time.monotonic()))  # pacing of the load

    def count(self, status):
        with self.lock:
            return sum(1 for _, st, _ in self.log if st == status)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)


class Chaos:
    """The private servers, the topic, and the daemons of one run."""

    def __init__(self, kafka, s3):
        self.kafka, self.s3 = kafka, s3
        tag = uuid.uuid4().hex[:10]
        self.topic, self.group, self.prefix = f"chaos-{tag}", f"uploader-{tag}", f"chaos/{tag}"
        self.uploaders = []
        self.retired = []
        self.ingest = None

    def create_topic(self):
        admin = AdminClient({"bootstrap.servers": self.kafka.address})
        for f in admin.create_topics([NewTopic(self.topic, PARTITIONS, 1)]).values():
            f.result(60)

        def has_leaders():
            md = admin.list_topics(self.topic, timeout=10).topics.get(self.topic)
            return md and not md.error and len(md.partitions) == PARTITIONS and all(
                p.leader >= 0 for p in md.partitions.values())
        wait_until(has_leaders, 60, "topic leaders")

    def new_ingest(self):
        port = free_port()
        env = {"KAFKA_BROKERS": self.kafka.address, "KAFKA_TOPIC": self.topic,
               "PORT": f"127.0.0.1:{port}", **{k: str(v) for k, v in INGEST_ENV.items()}}
        self.ingest = Daemon("chaos-ingest-api", os.path.join(BIN, "ingest-api"), env, port)
        return self.ingest

    def new_uploader(self):
        port = free_port()
        env = {"KAFKA_BROKERS": self.kafka.address, "KAFKA_TOPIC": self.topic,
               "CONSUMER_GROUP": self.group, "HEALTH_PORT": f"127.0.0.1:{port}",
               "S3_ENDPOINT": self.s3.address, "S3_BUCKET": BUCKET,
               "S3_PREFIX": self.prefix, "AWS_ACCESS_KEY_ID": "millrace-test",
               "AWS_SECRET_ACCESS_KEY": "millrace-test-secret-key",
               "AWS_REGION": "us-east-1", **{k: str(v) for k, v in UPLOADER_ENV.items()}}
        d = Daemon("chaos-uploader", os.path.join(BIN, "uploader"), env, port)
        self.uploaders.append(d)
        return d.start(wait=True)

    def ready(self):
        try:
            return requests.get(self.ingest.url + "/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def alive(self):
        for d in [self.ingest] + self.uploaders:
            if d.proc.poll() is not None:
                raise AssertionError(f"{d.name} exited {d.proc.returncode}:\n{d.log_text()}")

    # --- Kafka's view -------------------------------------------------------
    def consumer(self, group):
        return Consumer({"bootstrap.servers": self.kafka.address, "group.id": group,
                         "enable.auto.commit": False})

    def high_watermarks(self):
        c = self.consumer("chaos-wm")
        try:
            return {p: c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                    for p in range(PARTITIONS)}
        finally:
            c.close()

    def fully_committed(self):
        hw = self.high_watermarks()
        c = self.consumer(self.group)
        try:
            tps = c.committed([TopicPartition(self.topic, p) for p in range(PARTITIONS)],
                              timeout=10)
        finally:
            c.close()
        return all(tp.offset == hw[tp.partition] if hw[tp.partition] > 0 else tp.offset < 0
                   for tp in tps)

    # --- S3's view ----------------------------------------------------------
    def ids_in_s3(self):
        """Counter of event ids over every line of every data object."""
        s3 = s3_client(endpoint=self.s3.address)
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=self.prefix + "/"):
            keys += [o["Key"] for o in page.get("Contents", [])
                     if "/_millrace/" not in o["Key"]]

        def read(key):
            body = s3_client(endpoint=self.s3.address).get_object(
                Bucket=BUCKET, Key=key)["Body"].read()
            text = gzip.decompress(body).decode() if key.endswith(".gz") else body.decode()
            assert text.endswith("\n"), f"{key}: last line unterminated"
            return [json.loads(line)["id"] for line in text.splitlines()]
        found = collections.Counter()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for ids in pool.map(read, keys):
                found.update(ids)
        return found, len(keys)


def objects_written(d):
    try:
        return d.metrics().get("millrace_uploader_objects_written_total", 0)
    except (requests.RequestException, ValueError):
        return 0


def hold(load, seconds):
    """Lets the load run for a while between faults."""
    load.stop.wait(max(0.0, seconds))  # pacing: load time between faults, not a readiness wait


class Schedule:
    """Spreads the faults over CHAOS_SECONDS of load: fault i of n starts at
    i/(n+1) of it, or, when earlier faults ran late, after MIN_GAP s of
    undisturbed load."""
    MIN_GAP = 5

    def __init__(self, load, faults):
        self.load = load
        self.t0 = time.monotonic()
        self.step = CHAOS_SECONDS / (faults + 1)
        self.i = 0

    def next(self):
        self.i += 1
        hold(self.load, max(self.MIN_GAP, self.t0 + self.i * self.step - time.monotonic()))

    def finish(self):
        hold(self.load, self.t0 + CHAOS_SECONDS - time.monotonic())


def wait_new_202s(load, n=20, timeout=180):
    base = load.count(202)
    wait_until(lambda: load.count(202) >= base + n, timeout, f"{n} new 202s", interval=0.2)


def wait_uploading(d, timeout=180):
    base = objects_written(d)
    wait_until(lambda: objects_written(d) > base, timeout, f"{d.name} writing objects",
               interval=0.2)


@pytest.fixture
def chaos():
    kafka, s3 = Server("kafka", 28400), Server("s3", 28800)
    kafka.start(KAFKA_RESET="1")
    s3.start(S3_RESET="1")
    c = Chaos(kafka, s3)
    try:
        yield c
    finally:
        for d in c.uploaders + [c.ingest]:
            if d is not None:
                d.kill()
        kafka.stop()
        s3.stop()
        # The servers' logs stay in their run directories; the data goes.
        subprocess.run(["rm", "-rf", os.path.join(kafka.run_dir, "data"),
                        os.path.join(s3.run_dir, "data")])


def run_faults(c, load, when):
    rnd = random.Random(11)
    ing = c.ingest

    when.next()
    say("fault 1: kill -9 ingest-api, restart it on the same port")
    ing.kill()
    ing.start()
    wait_until(c.ready, 120, "ingest-api /readyz after the restart", interval=0.2)
    wait_new_202s(load)
    say("ingest-api back: 202s again")

    for i in range(3):
        when.next()
        up = c.uploaders[-1]
        wait_until(lambda: objects_written(up) > 0, 180, "the uploader writing", interval=0.2)
        hold(load, rnd.uniform(0.2, 2.0))  # a random point in the upload cycle
        say(f"fault 2.{i + 1}: kill -9 the uploader (pid {up.proc.pid})")
        up.kill()
        c.uploaders.remove(up)
        c.retired.append(up)
        wait_uploading(c.new_uploader())
        say("a new uploader is writing")
    c.alive()

    when.next()
    say("fault 3: restart the Kafka broker")
    c.kafka.stop()
    say("broker stopped")
    c.kafka.start()
    say("broker started")
    wait_until(c.ready, 180, "ingest-api /readyz after the broker restart", interval=0.2)
    wait_new_202s(load)
    wait_uploading(c.uploaders[0])
    say("202s and uploads again")
    c.alive()

    when.next()
    say(f"fault 4: S3 down for {S3_OUTAGE_SECONDS} s")
    c.s3.stop()
    hold(load, S3_OUTAGE_SECONDS)  # the outage lasts its stated time
    c.s3.start()
    wait_uploading(c.uploaders[0])
    say("S3 back: uploads again")
    c.alive()

    when.next()
    say("fault 5: scale the uploaders 1 -> 3")
    first = c.uploaders[0]
    for _ in range(2):
        c.new_uploader()

    def spread():
        return all(u.metrics().get("millrace_uploader_assigned_partitions", 0) >= 1
                   for u in c.uploaders)
    wait_until(spread, 180, "partitions spread over 3 uploaders", interval=0.5)
    for u in c.uploaders:
        wait_uploading(u)
    say("3 uploaders writing")
    when.next()
    say("fault 5, scale 3 -> 1 (SIGTERM)")
    for u in c.uploaders[1:]:
        assert u.stop() == 0, u.log_text()
        c.retired.append(u)
    c.uploaders = [first]
    wait_until(lambda: first.metrics().get("millrace_uploader_assigned_partitions", 0)
               == PARTITIONS, 180, "every partition back on one uploader", interval=0.5)
    say("1 uploader holds every partition")
    c.alive()


def test_chaos_run_keeps_every_acknowledged_event_exactly_once(chaos, pytestconfig):
    global T0
    T0 = time.monotonic()
    c = chaos
    say(f"Kafka {c.kafka.address}, S3 {c.s3.address}, topic {c.topic}, "
        f"{CHAOS_SECONDS:.0f} s of load, {CLIENTS} clients x {RATE:g} requests/s")
    c.create_topic()
    c.new_ingest().start()
    wait_until(c.ready, 120, "ingest-api /readyz", interval=0.2)
    c.new_uploader()
    started = time.monotonic()
    with HttpLoad(c.ingest.url + "/v1/events") as load:
        wait_new_202s(load)
        when = Schedule(load, 8)  # 1 + 3 + 1 + 1 + 2 (up, down) fault steps
        run_faults(c, load, when)
        when.finish()
    load_seconds = time.monotonic() - started
    say(f"load stopped after {load_seconds:.0f} s; draining")
    try:
        wait_until(c.fully_committed, 600, "the uploader's commits reaching the end",
                   interval=1)
        drained = None
    except AssertionError as e:  # counted below all the same
        drained = f"{e}\n{c.uploaders[0].log_text()}"
    c.alive()
    assert c.uploaders[0].stop() == 0, c.uploaders[0].log_text()
    assert c.ingest.stop() == 0, c.ingest.log_text()

    found, objects = c.ids_in_s3()
    hw = c.high_watermarks()
    acked, failed, unanswered, rejected = set(), set(), set(), set()
    statuses = collections.Counter()
    reasons = collections.Counter()
    for ids, st, why in load.log:
        statuses[st] += 1
        if st == 202:
            acked.update(ids)
            continue
        if st is None:
            unanswered.update(ids)
            reasons[f"no answer ({why})"] += 1
            continue
        (failed if st >= 500 else rejected).update(ids)
        reasons[f"{st} {why}"] += 1
    sent = sum(len(ids) for ids, _, _ in load.log)
    dups = {i: n for i, n in found.items() if n > 1}
    missing = acked - set(found)
    unknown = set(found) - acked - failed - unanswered - rejected
    counts = {
        "requests": len(load.log),
        "requests 202": statuses[202],
        "requests 503": statuses[503],
        "requests other": sum(n for s, n in statuses.items() if s not in (202, 503, None)),
        "requests no answer": statuses[None],
        "events sent": sent,
        "events 202": len(acked),
        "events 503": len(failed),
        "events other status": len(rejected),
        "events no answer": len(unanswered),
        "events found in S3": len(found),
        "  of them after a 503": len(set(found) & failed),
        "  of them after no answer": len(set(found) & unanswered),
        "duplicates": len(dups),
        "missing (acknowledged, not in S3)": len(missing),
        "objects": objects,
        "records in Kafka": sum(hw.values()),
        "lines in S3": sum(found.values()),
    }
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n== chaos run counts ({CHAOS_SECONDS:.0f} s of load asked, "
              f"{load_seconds:.0f} s run)")
        for k, v in counts.items():
            print(f"  {k:36} {v}")
        print("  answers other than 202: " + ", ".join(
            f"{k}: {v}" for k, v in sorted(reasons.items())))
    assert drained is None, drained
    assert len(set().union(*(ids for ids, _, _ in load.log))) == sent, "ids not unique"
    assert not missing, f"{len(missing)} acknowledged events missing, e.g. {sorted(missing)[:3]}"
    assert not dups, f"{len(dups)} events stored twice, e.g. {list(dups.items())[:3]}"
    assert not unknown, f"{len(unknown)} events in S3 that were never sent"
    assert not (rejected & set(found)), "an event of a 4xx request reached S3"
    # Every record of the topic is in exactly one object.
    assert sum(found.values()) == sum(hw.values())
    assert statuses[202] > 0 and len(acked) > 1000
