"""An event the topic cannot take is refused alone, before it is produced.

The topic's max.message.bytes is set to 200,000 (below the broker's default and
below ingest.max_event_bytes): a request holding one 300 KB event gets 413
event_too_large with the event's index, while eight other clients sending
batches of small events at the same time get 202 every time (before, their
records shared producer batches with the large one, and some got 503). The
ingest-api also keeps its producer batches under the topic's limit."""

import threading
import uuid

import requests
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import BROKERS, wait_until

LIMIT = 200000


def test_an_event_over_the_topics_limit_is_413_and_harms_no_other_request(stack):
    topic = "e2e-limit-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": BROKERS})
    for f in admin.create_topics([NewTopic(topic, 4, 1, config={
            "max.message.bytes": str(LIMIT)})]).values():
        f.result(30)
    stack.topic = topic
    ing = stack.ingest(KAFKA_TOPIC=topic).start()
    wait_until(lambda: requests.get(ing.url + "/readyz", timeout=5).status_code == 200,
               60, "ingest-api /readyz")
    stop = threading.Event()
    statuses, ids, lock = {}, [], threading.Lock()

    def client():
        s = requests.Session()
        while not stop.is_set():
            batch = [{"id": uuid.uuid4().hex, "pad": "p" * 900} for _ in range(40)]
            r = s.post(ing.url + "/v1/events", json=batch, timeout=30)
            with lock:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 202:
                    ids.extend(e["id"] for e in batch)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for t in clients:
        t.start()
    big = []
    try:
        wait_until(lambda: sum(statuses.values()) >= 50, 60, "load from 8 clients")
        for _ in range(20):
            r = requests.post(ing.url + "/v1/events", timeout=30, json=[
                {"id": "small-" + uuid.uuid4().hex}, {"id": "big", "pad": "x" * 300000}])
            big.append((r.status_code, r.json()))
        wait_until(lambda: sum(statuses.values()) >= 300, 120, "more load")
    finally:
        stop.set()
        for t in clients:
            t.join(60)
    print(f"record limit: 8 clients {statuses}; the 300 KB event: {big[0]}")
    assert all(code == 413 and body["error"] == "event_too_large" and body["index"] == 1
               for code, body in big), big[:3]
    assert "200000" in big[0][1]["detail"], big[0]
    assert set(statuses) == {202}, statuses
    got = [m.value() for m in stack.topic_messages()]
    assert len(got) == len(ids), (len(got), len(ids))  # nothing of the refused requests
    assert ing.stop() == 0
