"""End-to-end fixtures: the real daemons against the real Kafka and S3 server
started by deploy/local/servers.sh (tests/run-all.sh starts them).

Every test gets its own topic, consumer group and S3 prefix, so tests never
see each other's data. Waits are on readiness signals with deadlines."""

import gzip
import io
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, os.environ.get("MILLRACE_BIN", "build"))
BROKERS = os.environ.get("MILLRACE_KAFKA_BROKERS", "127.0.0.1:19092")
S3_ENDPOINT = os.environ.get("MILLRACE_S3_ENDPOINT", "http://127.0.0.1:17070")
BUCKET = os.environ.get("MILLRACE_S3_BUCKET", "millrace")
ACCESS_KEY = os.environ.get("AWS_ACCESS_KEY_ID", "millrace-test")
SECRET_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "millrace-test-secret-key")
REGION = os.environ.get("AWS_REGION", "us-east-1")
LOG_DIR = os.path.join(ROOT, ".run", "e2e-logs")
# Under valgrind (MILLRACE_WRAP) the daemons run 20-50 times slower: every
# wait's deadline is multiplied by MILLRACE_TIMEOUT_SCALE.
TIMEOUT_SCALE = float(os.environ.get("MILLRACE_TIMEOUT_SCALE", "1"))


def wait_until(fn, timeout, what, interval=0.1):
    """Polls fn until it returns a truthy value; fails after timeout s
    (times MILLRACE_TIMEOUT_SCALE)."""
    timeout *= TIMEOUT_SCALE
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)  # poll interval
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One ingest-api or uploader process with its own log file."""

    def __init__(self, name, binary, env, port):
        self.name = name
        self.binary = binary
        self.env = env
        self.port = port
        self.proc = None
        os.makedirs(LOG_DIR, exist_ok=True)
        self.log_path = os.path.join(LOG_DIR, f"{name}-{uuid.uuid4().hex[:6]}.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait=True):
        # The harness's own MILLRACE_* and AWS_* variables (from env.sh)
        # would also configure the daemon: only what the test sets counts.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MILLRACE_", "AWS_")) or k == "MILLRACE_WRAP"}
        env.update(self.env)
        self.log = open(self.log_path, "ab")
        prefix = os.environ.get("MILLRACE_WRAP", "").split()
        self.proc = subprocess.Popen(prefix + [self.binary], env=env,
                                     stdout=self.log, stderr=self.log)
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout=30):
        def ok():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n"
                                     + self.log_text())
            try:
                return requests.get(self.url + "/healthz",
                                    timeout=TIMEOUT_SCALE).status_code == 200
            except requests.RequestException:
                return False
        wait_until(ok, timeout, f"{self.name} /healthz")

    def metrics(self):
        out = {}
        text = requests.get(self.url + "/metrics", timeout=5 * TIMEOUT_SCALE).text
        for line in text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * TIMEOUT_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not stop on SIGTERM")
        rc = self.proc.returncode if self.proc else 0
        if getattr(self, "log", None):
            self.log.close()
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]


class Stack:
    """A topic, a group and a prefix of one test, and the daemons on them."""

    def __init__(self, partitions=4):
        tag = uuid.uuid4().hex[:10]
        self.topic = f"e2e-{tag}"
        self.group = f"uploader-{tag}"
        self.prefix = f"e2e/{tag}"
        self.daemons = []
        admin = AdminClient({"bootstrap.servers": BROKERS})
        fs = admin.create_topics([NewTopic(self.topic, partitions, 1)])
        for f in fs.values():
            f.result(30)
        wait_until(lambda: len(self.partitions()) == partitions, 30,
                   "topic metadata")

    def partitions(self):
        admin = AdminClient({"bootstrap.servers": BROKERS})
        md = admin.list_topics(self.topic, timeout=10)
        t = md.topics.get(self.topic)
        return sorted(t.partitions) if t and not t.error else []

    def ingest(self, **env):
        port = free_port()
        e = {"KAFKA_BROKERS": BROKERS, "KAFKA_TOPIC": self.topic,
             "PORT": f"127.0.0.1:{port}"}
        e.update({k: str(v) for k, v in env.items()})
        d = Daemon("ingest-api", os.path.join(BIN, "ingest-api"), e, port)
        self.daemons.append(d)
        return d

    def uploader(self, **env):
        port = free_port()
        e = {"KAFKA_BROKERS": BROKERS, "KAFKA_TOPIC": self.topic,
             "CONSUMER_GROUP": self.group, "HEALTH_PORT": f"127.0.0.1:{port}",
             "S3_ENDPOINT": S3_ENDPOINT, "S3_BUCKET": BUCKET,
             "S3_PREFIX": self.prefix, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
             "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION,
             "MAX_AGE_MS": "1000"}
        e.update({k: str(v) for k, v in env.items()})
        d = Daemon("uploader", os.path.join(BIN, "uploader"), e, port)
        self.daemons.append(d)
        return d

    # --- reading back -------------------------------------------------
    def objects(self, index=False):
        """{key: bytes} of every data object under this test's prefix (with
        index=True: of the batch index entries under _millrace/ instead);
        hour markers (_SUCCESS) are not data."""
        s3 = s3_client(endpoint=getattr(self, "s3_endpoint", None))
        out = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=BUCKET, Prefix=self.prefix + "/"):
            for o in page.get("Contents", []):
                if ("/_millrace/" in o["Key"]) != index or \
                        o["Key"].endswith("/_SUCCESS"):
                    continue
                out[o["Key"]] = s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
        return out

    def events_in_s3(self):
        """[(key, event dict)] over every object, every line."""
        found = []
        for key, body in self.objects().items():
            text = gzip.decompress(body).decode() if key.endswith(".gz") else body.decode()
            assert text == "" or text.endswith("\n"), f"{key}: last line unterminated"
            for line in text.splitlines():
                found.append((key, json.loads(line)))
        return found

    def topic_messages(self):
        """Every record of the topic, read from the start to the high mark."""
        c = Consumer({"bootstrap.servers": BROKERS, "group.id": "e2e-reader-" + uuid.uuid4().hex,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        out = []
        try:
            parts = []
            for p in self.partitions():
                lo, hi = c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)
                if hi > lo:
                    parts.append((p, lo, hi))
            want = sum(hi - lo for _, lo, hi in parts)
            c.assign([TopicPartition(self.topic, p, lo) for p, lo, _ in parts])
            deadline = time.monotonic() + 30
            while len(out) < want and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None or m.error():
                    continue
                out.append(m)
        finally:
            c.close()
        return out

    def committed(self):
        """{partition: committed offset} of the uploader group (-1001: none)."""
        c = Consumer({"bootstrap.servers": BROKERS, "group.id": self.group,
                      "enable.auto.commit": False})
        try:
            tps = c.committed([TopicPartition(self.topic, p) for p in self.partitions()],
                              timeout=10)
            return {tp.partition: tp.offset for tp in tps}
        finally:
            c.close()

    def fully_committed(self):
        """True when the group's offsets reach the end of every partition
        that holds records (an empty partition has nothing to commit)."""
        hw = self.high_watermarks()
        committed = self.committed()
        return all(committed[p] == h if h > 0 else committed[p] < 0
                   for p, h in hw.items())

    def high_watermarks(self):
        c = Consumer({"bootstrap.servers": BROKERS, "group.id": "e2e-wm"})
        try:
            return {p: c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
                    for p in self.partitions()}
        finally:
            c.close()

    def close(self):
        for d in reversed(self.daemons):
            try:
                d.stop()
            except AssertionError:
                pass


def s3_client(secret=None, endpoint=None):
    return boto3.client("s3", endpoint_url=endpoint or S3_ENDPOINT, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=secret or SECRET_KEY,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 2}))


@pytest.fixture(scope="session", autouse=True)
def servers_ready(request):
    """The servers are started by tests/run-all.sh; fail fast if they are not.
    A run of only modules that set PRIVATE_SERVERS = True (they start servers
    of their own, as the chaos run does) needs none."""
    if request.session.items and all(getattr(getattr(i, "module", None),
                                             "PRIVATE_SERVERS", False)
                                     for i in request.session.items):
        return
    try:
        AdminClient({"bootstrap.servers": BROKERS}).list_topics(timeout=10)
    except Exception as e:  # noqa: BLE001
        pytest.exit(f"Kafka at {BROKERS} is not reachable ({e}); run "
                    "deploy/local/servers.sh start", 2)
    s3_client().head_bucket(Bucket=BUCKET)


@pytest.fixture
def stack():
    s = Stack()
    yield s
    s.close()


class HttpLoad:
    """Batches of events POSTed to an ingest-api by `clients` threads until
    stopped. Remembers the ids sent, the ids of batches answered 202 (and only
    those), and every answer's start time, status and latency. `pause`: the
    wait after each request (after_error: after a failed one)."""

    def __init__(self, url, clients=1, batch=50, pad=0, pause=0.0, after_error=0.0):
        self.url = url + "/v1/events"
        self.batch, self.pad = batch, pad
        self.pause, self.after_error = pause, after_error
        self.ids = []   # answered 202
        self.sent = []  # every id sent, whatever the answer
        self.log = []   # (start time, status, latency)
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self):
        s = requests.Session()
        while not self.stop_flag.is_set():
            ids = [uuid.uuid4().hex for _ in range(self.batch)]
            events = [{"id": i, "pad": "p" * self.pad} if self.pad else {"id": i}
                      for i in ids]
            t0 = time.monotonic()
            try:
                code = s.post(self.url, json=events, timeout=60).status_code
            except requests.RequestException:
                code = "error"
            with self.lock:
                self.sent.extend(ids)
                self.log.append((t0, code, time.monotonic() - t0))
                if code == 202:
                    self.ids.extend(ids)
            wait = self.pause if code == 202 else max(self.pause, self.after_error)
            if wait:
                self.stop_flag.wait(wait)  # the load's pace, not a readiness wait

    @property
    def statuses(self):
        """{status: answers}"""
        out = {}
        with self.lock:
            for _, code, _ in self.log:
                out[code] = out.get(code, 0) + 1
        return out

    def between(self, t0, t1):
        with self.lock:
            return [e for e in self.log if t0 <= e[0] < t1]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(90)
