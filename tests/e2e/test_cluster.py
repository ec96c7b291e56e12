"""A replicated Kafka cluster through broker failures: three KRaft nodes
(deploy/local/kafka-cluster.sh), the events topic at replication factor 3 with
min.insync.replicas=2, ack mode kafka, two uploader replicas, steady HTTP load.

- the leader of partition 0 killed with SIGKILL, later started again;
- a rolling restart of the three nodes, one at a time, each waiting for the
  in-sync replicas to catch up;
- two nodes down at once: no 202 while they are (503 instead), 202s again once
  one is back;
- the uploader group's coordinator killed.

Each ends with every event answered 202 in S3 exactly once, and prints the 503s
answered, the p99 during the disturbance and the time to recover."""

import os
import statistics
import subprocess
import time
import uuid

import pytest
import requests
from confluent_kafka.admin import AdminClient, NewTopic

import conftest
from conftest import ROOT, HttpLoad, Stack, wait_until

SCRIPT = os.path.join(ROOT, "deploy", "local", "kafka-cluster.sh")
PRIVATE_SERVERS = True  # its own Kafka cluster (the S3 server is the shared one)
PARTITIONS = 6


def cluster(*args, timeout=180):
    r = subprocess.run(["bash", SCRIPT, *args], cwd=ROOT, timeout=timeout, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert r.returncode == 0, f"kafka-cluster.sh {' '.join(args)}:\n{r.stdout[-3000:]}"
    return r.stdout.strip()


@pytest.fixture(scope="module")
def bootstrap():
    """The cluster (started here unless running), and conftest's helpers
    pointed at it for this module."""
    started = subprocess.run(["bash", SCRIPT, "status"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    if started != 0:
        cluster("start")
    servers = cluster("bootstrap").splitlines()[-1]
    saved = conftest.BROKERS
    conftest.BROKERS = servers
    yield servers
    conftest.BROKERS = saved
    if started != 0:
        cluster("stop")


class ClusterStack(Stack):
    """A Stack whose topic is replicated three times, min.insync.replicas=2."""

    def __init__(self, servers):
        tag = uuid.uuid4().hex[:10]
        self.topic = f"e2e-{tag}"
        self.group = f"uploader-{tag}"
        self.prefix = f"e2e/{tag}"
        self.daemons = []
        self.admin = AdminClient({"bootstrap.servers": servers})
        for f in self.admin.create_topics([NewTopic(self.topic, PARTITIONS, 3, config={
                "min.insync.replicas": "2"})]).values():
            f.result(30)
        wait_until(lambda: len(self.partitions()) == PARTITIONS, 30, "topic metadata")

    def metadata(self):
        return self.admin.list_topics(self.topic, timeout=10).topics[self.topic].partitions

    def in_sync(self):
        md = self.metadata()
        return len(md) == PARTITIONS and all(len(p.isrs) == 3 and p.leader >= 0
                                             for p in md.values())


def run_pipeline(stack, servers):
    ing = stack.ingest(KAFKA_BROKERS=servers, ACK_MODE="kafka").start()
    ups = [stack.uploader(KAFKA_BROKERS=servers).start() for _ in range(2)]
    wait_until(lambda: requests.get(ing.url + "/readyz", timeout=5).status_code == 200,
               60, "ingest-api ready")
    return ing, ups


def report(name, load, t0, t1):
    window = load.between(t0, t1)
    lat = sorted(e[2] for e in window) or [0]
    codes = {}
    for _, c, _ in window:
        codes[c] = codes.get(c, 0) + 1
    p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
    print(f"{name}: {len(window)} requests during the disturbance {codes}, "
          f"p99 {p99 * 1000:.0f} ms, median {statistics.median(lat) * 1000:.0f} ms")
    return codes


def last_refusal(load, since):
    """Seconds from since to the end of the last answer that was not 202."""
    bad = [e[0] + e[2] for e in load.between(since, float("inf")) if e[1] != 202]
    return max(bad) - since if bad else 0.0


def recovered_at(load, since):
    """Time of the first 202 of a request started after since."""
    def first():
        ok = [e[0] + e[2] for e in load.between(since, float("inf")) if e[1] == 202]
        return min(ok) if ok else None
    return wait_until(first, 120, "202s again")


def finish(stack, load, ups):
    """Every event answered 202 is in S3 exactly once. An event answered 503
    may be there too (at most once): a produce that timed out while a
    follower was gone is still in the leader's log, and is committed when a
    replica catches up (docs/guarantees.md, "Retries and duplicates")."""
    want = set(load.ids)

    def done():
        found = stack.events_in_s3()
        return found if {e["id"] for _, e in found} >= want else None

    found = wait_until(done, 240, f"{len(want)} events in S3", interval=1)
    ids = [e["id"] for _, e in found]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events twice"
    assert set(ids) <= set(load.sent), "events nobody sent"
    for u in ups:
        assert u.proc.poll() is None, u.log_text()
    print(f"  {len(want)} events answered 202 in S3 exactly once; "
          f"{len(set(ids) - want)} of those answered 503 stored too, once")


def test_leader_killed_and_restarted(bootstrap):
    stack = ClusterStack(bootstrap)
    try:
        ing, ups = run_pipeline(stack, bootstrap)
        with HttpLoad(ing.url, clients=4, batch=20, after_error=0.2) as load:
            wait_until(lambda: len(load.ids) >= 2000, 60, "load")
            leader = stack.metadata()[0].leader
            t0 = time.monotonic()
            cluster("kill-node", str(leader))
            wait_until(lambda: stack.metadata()[0].leader not in (-1, leader), 60,
                       "a new leader for partition 0")
            n = len(load.ids)
            wait_until(lambda: len(load.ids) >= n + 1000, 60, "load on the new leaders")
            cluster("start-node", str(leader))
            wait_until(stack.in_sync, 120, "the restarted node back in sync")
            t1 = time.monotonic()
            report(f"leader {leader} killed", load, t0, t1)
            print(f"  the last refusal ended {last_refusal(load, t0):.1f} s after the kill")
        finish(stack, load, ups)
    finally:
        stack.close()


def test_rolling_restart(bootstrap):
    stack = ClusterStack(bootstrap)
    try:
        ing, ups = run_pipeline(stack, bootstrap)
        with HttpLoad(ing.url, clients=4, batch=20, after_error=0.2) as load:
            wait_until(lambda: len(load.ids) >= 2000, 60, "load")
            t0 = time.monotonic()
            for node in (1, 2, 3):
                cluster("stop-node", str(node))
                n = len(load.ids)
                wait_until(lambda: len(load.ids) >= n + 500, 60,
                           f"202s with node {node} down")
                cluster("start-node", str(node))
                wait_until(stack.in_sync, 120, f"node {node} back in sync")
            codes = report("rolling restart", load, t0, time.monotonic())
            print(f"  the last refusal ended {last_refusal(load, t0):.1f} s after the "
                  f"first stop")
        finish(stack, load, ups)
        assert codes.get(202, 0) > 0
    finally:
        stack.close()


def test_two_nodes_down_refuse_then_recover(bootstrap):
    stack = ClusterStack(bootstrap)
    try:
        ing, ups = run_pipeline(stack, bootstrap)
        with HttpLoad(ing.url, clients=4, batch=20, after_error=0.2) as load:
            wait_until(lambda: len(load.ids) >= 1000, 60, "load")
            survivor = stack.metadata()[0].leader
            down = [n for n in (1, 2, 3) if n != survivor]
            t0 = time.monotonic()
            for n in down:
                cluster("kill-node", str(n))
            # requests in flight at the kill may still be acknowledged; after
            # the delivery timeout (10 s) every answer must be a refusal
            settle = t0 + 12
            wait_until(lambda: len(load.between(settle, float("inf"))) >= 8, 90,
                       "answers with two nodes down")
            t_up = time.monotonic()
            refused = load.between(settle, t_up)
            assert refused and all(c == 503 for _, c, _ in refused), \
                {c for _, c, _ in refused}
            cluster("start-node", str(down[0]))
            back = recovered_at(load, t_up)
            report("two nodes down", load, t0, back)
            print(f"  {len(refused)} requests refused 503 while two nodes were down; "
                  f"202s again {back - t_up:.1f} s after one came back")
            cluster("start-node", str(down[1]))
            wait_until(stack.in_sync, 120, "all replicas in sync")
            n = len(load.ids)
            wait_until(lambda: len(load.ids) >= n + 500, 60, "load after recovery")
        finish(stack, load, ups)
    finally:
        stack.close()


def test_group_coordinator_killed(bootstrap):
    stack = ClusterStack(bootstrap)
    try:
        ing, ups = run_pipeline(stack, bootstrap)
        with HttpLoad(ing.url, clients=4, batch=20, after_error=0.2) as load:
            wait_until(lambda: len(load.ids) >= 2000, 60, "load")
            wait_until(lambda: all(v >= 0 for v in stack.committed().values()
                                   if v is not None), 60, "commits")
            desc = stack.admin.describe_consumer_groups([stack.group])[stack.group].result(30)
            coord = desc.coordinator.id
            t0 = time.monotonic()
            cluster("kill-node", str(coord))
            n = len(load.ids)
            wait_until(lambda: len(load.ids) >= n + 2000, 120, "load after the kill")
            cluster("start-node", str(coord))
            wait_until(stack.in_sync, 120, "the coordinator's node back in sync")
            report(f"coordinator {coord} killed", load, t0, time.monotonic())
            print(f"  the last refusal ended {last_refusal(load, t0):.1f} s after the kill")
        finish(stack, load, ups)
        wait_until(stack.fully_committed, 120, "the group committed to the end")
    finally:
        stack.close()
