"""The whole pipeline on the real servers: HTTP -> ingest-api -> Kafka ->
uploader -> S3, read back with boto3."""

import gzip
import json
import re
import threading
import uuid

import requests

from conftest import wait_until

KEY_RE = re.compile(
    r"^e2e/[0-9a-f]{10}/(?P<topic>e2e-[0-9a-f]{10})/dt=\d{4}-\d{2}-\d{2}/hour=\d{2}/"
    r"(?P=topic)-(?P<part>\d+)-(?P<off>\d{20})\.ndjson\.gz$")


def send_mixed(url, ids, connections=8):
    """Sends the events of ids in single, array and NDJSON requests over
    several keep-alive connections; returns the list of (status, body)."""
    chunks = []
    i = 0
    shape = 0
    while i < len(ids):
        n = (1, 25, 40)[shape % 3]
        chunks.append(((shape % 3), ids[i:i + n]))
        i += n
        shape += 1
    results = []
    lock = threading.Lock()

    def worker(k):
        s = requests.Session()
        for j in range(k, len(chunks), connections):
            kind, part = chunks[j]
            events = [{"id": x, "n": j, "payload": "x" * 64} for x in part]
            if kind == 0 and len(part) == 1:
                r = s.post(url, data=json.dumps(events[0]),
                           headers={"Content-Type": "application/json"})
            elif kind == 1:
                r = s.post(url, data=json.dumps(events),
                           headers={"Content-Type": "application/json"})
            else:
                body = "".join(json.dumps(e) + "\n" for e in events)
                r = s.post(url, data=body,
                           headers={"Content-Type": "application/x-ndjson"})
            with lock:
                results.append((r.status_code, r.text, len(part)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def assert_exactly_once(stack, ids, timeout=120):
    want = set(ids)

    def all_there():
        found = stack.events_in_s3()
        return found if {e["id"] for _, e in found} >= want else None

    found = wait_until(all_there, timeout, f"{len(want)} events in S3", interval=1)
    seen = {}
    for key, e in found:
        assert e["id"] not in seen, f"{e['id']} in {seen[e['id']]} and {key}"
        seen[e["id"]] = key
    assert set(seen) == want
    return found


def test_10k_events_mixed_shapes_land_exactly_once(stack):
    ingest = stack.ingest().start()
    uploader = stack.uploader(MILLRACE_UPLOADER_MAX_RECORDS=700).start()
    ids = [uuid.uuid4().hex for _ in range(10_000)]

    results = send_mixed(ingest.url + "/v1/events", ids)

    assert {s for s, _, _ in results} == {202}, [r for r in results if r[0] != 202][:3]
    assert sum(json.loads(b)["accepted"] for _, b, _ in results) == 10_000
    found = assert_exactly_once(stack, ids)
    objects = stack.objects()
    for key, body in objects.items():
        m = KEY_RE.match(key)
        assert m, f"key {key} does not follow the layout"
        assert m["topic"] == stack.topic
        lines = gzip.decompress(body).decode().splitlines()
        assert lines, f"{key} is empty"
        for line in lines:
            assert isinstance(json.loads(line), dict)
    # Keys name distinct (partition, first offset) pairs, and batches were
    # cut by max_records (700) so there are several per partition.
    pairs = {(KEY_RE.match(k)["part"], KEY_RE.match(k)["off"]) for k in objects}
    assert len(pairs) == len(objects)
    assert len(objects) >= 10_000 // 700
    assert len(found) == 10_000
    # Everything stored is committed: the group's offsets reach the end.
    wait_until(stack.fully_committed, 30, "offsets committed to the end")
    assert uploader.stop() == 0
    assert ingest.stop() == 0


def test_bad_requests_are_rejected_and_nothing_reaches_kafka(stack):
    ingest = stack.ingest(MILLRACE_INGEST_MAX_BODY_BYTES="64k",
                          MILLRACE_INGEST_MAX_EVENT_BYTES="1k",
                          MILLRACE_INGEST_MAX_EVENTS=10).start()
    url = ingest.url + "/v1/events"
    json_ct = {"Content-Type": "application/json"}
    cases = [
        (requests.post(url, data='{"a":', headers=json_ct), 400, "invalid_json"),
        (requests.post(url, data='[{"a":1}, 7]', headers=json_ct), 400, "not_an_object"),
        (requests.post(url, data="", headers=json_ct), 400, "empty"),
        (requests.post(url, data="[]", headers=json_ct), 400, "empty"),
        (requests.post(url, data='{"a":1}\n{"b":2}', headers=json_ct), 400, "invalid_json"),
        (requests.post(url, data='{"a":1}\nnope\n',
                       headers={"Content-Type": "application/x-ndjson"}), 400, "invalid_json"),
        (requests.post(url, data="x" * 70000, headers=json_ct), 413, "body_too_large"),
        (requests.post(url, data=json.dumps({"a": "y" * 2000}), headers=json_ct),
         413, "event_too_large"),
        (requests.post(url, data=json.dumps([{"i": i} for i in range(11)]), headers=json_ct),
         413, "too_many_events"),
        (requests.post(url, data="<a/>", headers={"Content-Type": "application/xml"}),
         415, "unsupported_media_type"),
        (requests.post(url, data='{"a":1}', headers={**json_ct, "Content-Encoding": "br"}),
         415, "unsupported_encoding"),
        (requests.post(url, data=b"not gzip",
                       headers={**json_ct, "Content-Encoding": "gzip"}), 400, "bad_gzip"),
        (requests.get(url), 405, "method_not_allowed"),
        (requests.put(url, data="{}", headers=json_ct), 405, "method_not_allowed"),
        (requests.post(ingest.url + "/v1/nope", data="{}", headers=json_ct), 404, "not_found"),
    ]
    for r, status, code in cases:
        assert r.status_code == status, (code, r.status_code, r.text)
        body = r.json()
        assert body["error"] == code, (status, body)
        assert body["detail"]
        assert r.headers["Content-Type"] == "application/json"
    assert requests.post(url, data='[{"a":1}, 7]', headers=json_ct).json()["index"] == 1

    # A good request afterwards is the only thing in the topic.
    sentinel = uuid.uuid4().hex
    r = requests.post(url, data=json.dumps({"id": sentinel}), headers=json_ct)
    assert r.status_code == 202 and r.json() == {"accepted": 1}
    msgs = stack.topic_messages()
    assert [json.loads(m.value()) for m in msgs] == [{"id": sentinel}]
    headers = dict(msgs[0].headers())
    assert set(headers) >= {"ingest_ms", "request_id"}
    assert ingest.stop() == 0


def test_wrong_secret_is_rejected_commits_nothing_then_recovers(stack):
    ingest = stack.ingest().start()
    bad = stack.uploader(AWS_SECRET_ACCESS_KEY="not-the-secret").start()
    ids = [uuid.uuid4().hex for _ in range(300)]
    results = send_mixed(ingest.url + "/v1/events", ids, connections=3)
    assert {s for s, _, _ in results} == {202}

    # The server refuses the signature: the uploader reports permanent
    # errors, stores nothing and commits nothing.
    wait_until(lambda: bad.metrics().get("millrace_uploader_permanent_errors_total", 0) > 0,
               60, "a rejected PUT")
    assert requests.get(bad.url + "/readyz").status_code == 503
    assert "SignatureDoesNotMatch" in bad.log_text()
    # Nothing is stored, so no offset moves past the first record (a
    # planned batch commits its first offset, 0, with its plan).
    assert stack.objects() == {}
    assert all(o <= 0 for o in stack.committed().values()), stack.committed()
    assert bad.stop() == 0
    assert all(o <= 0 for o in stack.committed().values()), stack.committed()

    good = stack.uploader().start()
    assert_exactly_once(stack, ids)
    wait_until(stack.fully_committed, 30, "offsets committed to the end")
    assert good.stop() == 0
    assert ingest.stop() == 0
