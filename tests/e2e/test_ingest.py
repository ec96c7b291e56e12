"""ingest-api's HTTP contract end to end, on the real Kafka: every status
code and error name, gzip, limits decided without reading the body, slow
clients, bearer tokens, TLS, metrics, the record's key and headers, ack
modes, a broker that stops or freezes under load (on a private broker), and
SIGTERM under load. Waits are on conditions with deadlines, never fixed
sleeps; raw sockets play the clients that requests cannot (lying lengths,
endless chunked bodies, slow headers)."""

import gzip
import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
import zlib

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import BIN, ROOT, TIMEOUT_SCALE, Daemon, free_port, wait_until

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
TOKEN_A = "tok-" + "a" * 28
TOKEN_B = "tok-" + "b" * 40


# --- raw HTTP ---------------------------------------------------------------

def read_response(sock, timeout=10):
    """(status, {header: value}, body) of one response read from sock."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a full response head: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    want = int(headers.get("content-length", "0"))
    while len(rest) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:want]


def raw(port, data, timeout=10):
    """Sends bytes on a new connection and reads one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_response(s, timeout)


def closed_by_peer(sock, timeout):
    """True when the server closes sock (EOF or reset) within timeout s."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def post_head(path="/v1/events", extra=b""):
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() + extra + b"\r\n")


# --- Kafka ------------------------------------------------------------------

def create_topic(brokers, partitions=2):
    topic = f"e2e-ingest-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": brokers})
    for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(30)

    def has_leaders():
        md = admin.list_topics(topic, timeout=10).topics.get(topic)
        return md and not md.error and len(md.partitions) == partitions and all(
            p.leader >= 0 for p in md.partitions.values())
    wait_until(has_leaders, 30, "topic leaders")
    return topic


def read_topic(brokers, topic, timeout=60):
    """Every record of the topic, from the start to the high watermarks."""
    c = Consumer({"bootstrap.servers": brokers, "group.id": "e2e-ingest-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    out = []
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        parts = []
        for p in md.partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if hi > lo:
                parts.append((p, lo, hi))
        want = sum(hi - lo for _, lo, hi in parts)
        c.assign([TopicPartition(topic, p, lo) for p, lo, _ in parts])
        deadline = time.monotonic() + timeout
        while len(out) < want and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                out.append(m)
        assert len(out) == want, f"read {len(out)} of {want} records"
    finally:
        c.close()
    return out


def ids_in(msgs):
    return [json.loads(m.value())["id"] for m in msgs]


# --- daemons ----------------------------------------------------------------

class Ingest(Daemon):
    def __init__(self, brokers, topic, tls=False, **env):
        port = free_port()
        e = {"KAFKA_BROKERS": brokers, "KAFKA_TOPIC": topic,
             "PORT": f"127.0.0.1:{port}{'s' if tls else ''}"}
        e.update({k: str(v) for k, v in env.items()})
        super().__init__("ingest-api", os.path.join(BIN, "ingest-api"), e, port)

    @property
    def events(self):
        return self.url + "/v1/events"

    def wait_ready(self, timeout=30):
        wait_until(lambda: requests.get(self.url + "/readyz", timeout=5).status_code == 200,
                   timeout, "ingest-api /readyz 200")

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


@pytest.fixture
def topic():
    return create_topic(os.environ.get("MILLRACE_KAFKA_BROKERS", "127.0.0.1:19092"))


@pytest.fixture
def ingest_factory(topic):
    brokers = os.environ.get("MILLRACE_KAFKA_BROKERS", "127.0.0.1:19092")
    started = []

    def make(start=True, **env):
        d = Ingest(brokers, topic, **env)
        started.append(d)
        if start:
            d.start()
            d.wait_ready()
        return d
    make.brokers = brokers
    make.topic = topic
    yield make
    for d in started:
        try:
            d.stop()
        except AssertionError:
            pass


def error_of(r):
    assert r.headers["Content-Type"] == "application/json", r.headers
    body = r.json()
    assert body["detail"], body
    return body["error"]


# --- the contract -------------------------------------------------------------

def test_ingest_every_status_code_has_its_error_name(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_MAX_BODY_BYTES="64k",
                         MILLRACE_INGEST_MAX_EVENT_BYTES="1k",
                         MILLRACE_INGEST_MAX_EVENTS=10, MILLRACE_INGEST_MAX_DEPTH=4,
                         MILLRACE_INGEST_REQUIRED_FIELDS="id")
    url = ing.events
    cases = [
        (requests.post(url, data='{"id":1', headers=JSON), 400, "invalid_json", None),
        (requests.post(url, data='[{"id":1}, 7]', headers=JSON), 400, "not_an_object", 1),
        (requests.post(url, data="", headers=JSON), 400, "empty", None),
        (requests.post(url, data='[{"id":1},{"x":2}]', headers=JSON), 400, "missing_field", 1),
        (requests.post(url, data='{"id":1,"a":{"b":{"c":{"d":{}}}}}', headers=JSON),
         400, "too_deep", 0),
        (requests.post(url, data=b"\x1f\x8b garbage",
                       headers={**JSON, "Content-Encoding": "gzip"}), 400, "bad_gzip", None),
        (requests.post(url, data="x" * 70000, headers=JSON), 413, "body_too_large", None),
        (requests.post(url, data=json.dumps([{"id": 1}, {"id": 2, "a": "y" * 2000}]),
                       headers=JSON), 413, "event_too_large", 1),
        (requests.post(url, data=json.dumps([{"id": i} for i in range(11)]), headers=JSON),
         413, "too_many_events", None),
        (requests.post(url, data="<a/>", headers={"Content-Type": "text/xml"}),
         415, "unsupported_media_type", None),
        (requests.post(url, data='{"id":1}', headers={**JSON, "Content-Encoding": "br"}),
         415, "unsupported_encoding", None),
        (requests.post(url, data='{"id":1}', headers={**JSON, "Expect": "magic"}),
         417, "expectation_failed", None),
        (requests.get(url), 405, "method_not_allowed", None),
        (requests.delete(url), 405, "method_not_allowed", None),
        (requests.post(ing.url + "/v2/events", data="{}", headers=JSON), 404, "not_found", None),
        (requests.get(ing.url + "/"), 404, "not_found", None),
    ]
    for r, status, code, index in cases:
        assert r.status_code == status, (code, r.status_code, r.text)
        assert error_of(r) == code, (status, r.text)
        assert r.json().get("index") == index, (code, r.text)
    assert requests.get(url).headers["Allow"] == "POST"

    # What requests cannot send: no length, a bad length, a bad request line.
    st, h, body = raw(ing.port, post_head(extra=b"Content-Type: application/json\r\n"))
    assert (st, json.loads(body)["error"]) == (411, "length_required")
    st, _, body = raw(ing.port, post_head(extra=b"Content-Length: -3\r\n"))
    assert (st, json.loads(body)["error"]) == (411, "length_required")
    st, _, body = raw(ing.port, b"NONSENSE\r\n\r\n")
    assert (st, json.loads(body)["error"]) == (400, "bad_request")
    st, _, body = raw(ing.port, post_head(extra=b"Transfer-Encoding: gzip\r\n"))
    assert (st, json.loads(body)["error"]) == (400, "bad_request")
    st, _, body = raw(ing.port, post_head(extra=b"X-Big: " + b"a" * 20000 + b"\r\n"))
    assert (st, json.loads(body)["error"]) == (400, "bad_request")
    st, _, body = raw(ing.port, b"POST /v1/events HTTP/2.0\r\nHost: x\r\n"
                                b"Content-Length: 2\r\n\r\n{}")
    assert (st, json.loads(body)["error"]) == (505, "http_version_not_supported")
    # A body cut short by the client: 400 bad_body (not a timeout).
    with socket.create_connection(("127.0.0.1", ing.port)) as s:
        s.sendall(post_head(extra=b"Content-Length: 100\r\n") + b'{"id":')
        s.shutdown(socket.SHUT_WR)
        st, _, body = read_response(s)
    assert (st, json.loads(body)["error"]) == (400, "bad_body")

    # 202, with the request id echoed; the good event is the only record.
    sentinel = uuid.uuid4().hex
    r = requests.post(url, data=json.dumps({"id": sentinel}), headers=JSON)
    assert (r.status_code, r.json()) == (202, {"accepted": 1})
    assert r.headers["X-Request-Id"]
    assert ids_in(read_topic(ingest_factory.brokers, ingest_factory.topic)) == [sentinel]


def test_ingest_json_edge_cases_are_deliberate(ingest_factory):
    ing = ingest_factory()
    url = ing.events
    rejected = [
        (b'{"id":"\xff\xfe"}', "invalid UTF-8"),
        (b'{"id":"a\x00b"}', "a raw NUL byte"),
        (b'{"id":"a\\u0000b"}', "an escaped NUL"),
        (b'{"id":1,"id":2}', "a duplicate key"),
        (b'{"id":1,"x":{"k":1,"k":1}}', "a nested duplicate key"),
        (b'{"id":123456789012345678901234567890}', "an integer beyond 64 bits"),
        (b'{"id":1e400}', "a number beyond a double"),
        (b'{"id":NaN}', "NaN"),
    ]
    for body, what in rejected:
        r = requests.post(url, data=body, headers=JSON)
        assert r.status_code == 400, (what, r.status_code, r.text)
        assert error_of(r) == "invalid_json", (what, r.text)
    # NDJSON: the index names the line's event.
    r = requests.post(url, data=b'{"id":"ok"}\n{"id":1,"id":1}\n', headers=NDJSON)
    assert (r.status_code, r.json()["error"], r.json()["index"]) == (400, "invalid_json", 1)

    accepted = [
        {"id": "max-int", "n": 9223372036854775807},
        {"id": "min-int", "n": -9223372036854775808},
        {"id": "big-real", "n": 1.5e308},
        {"id": "unicode", "s": "żółw 🐢 \u2028"},
        {"id": "escaped-slash", "s": "a/b\\c\"d"},
    ]
    r = requests.post(url, data=json.dumps(accepted, ensure_ascii=False).encode(), headers=JSON)
    assert (r.status_code, r.json()) == (202, {"accepted": len(accepted)}), r.text
    got = sorted((json.loads(m.value()) for m in read_topic(ingest_factory.brokers,
                                                             ingest_factory.topic)),
                 key=lambda e: e["id"])
    assert got == sorted(accepted, key=lambda e: e["id"])


def test_ingest_gzip_bodies_members_and_bomb(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_MAX_BODY_BYTES="1M")
    url = ing.events
    events = [{"id": f"gz-{i}", "pad": "p" * 100} for i in range(200)]
    body = "".join(json.dumps(e) + "\n" for e in events).encode()
    r = requests.post(url, data=gzip.compress(body),
                      headers={**NDJSON, "Content-Encoding": "gzip"})
    assert (r.status_code, r.json()) == (202, {"accepted": 200}), r.text
    # Two gzip members back to back (`cat a.gz b.gz`) are one body.
    more = [{"id": f"gz2-{i}"} for i in range(4)]
    parts = b"".join(gzip.compress((json.dumps(e) + "\n").encode()) for e in more)
    r = requests.post(url, data=parts, headers={**NDJSON, "Content-Encoding": "gzip"})
    assert (r.status_code, r.json()) == (202, {"accepted": 4}), r.text

    # A bomb: 1 MiB of gzip that inflates to 1 GiB. 413, and the process
    # does not grow by more than a few times the 1 MiB limit.
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    bomb = b"".join(z.compress(block) for _ in range(1024)) + z.flush()
    assert len(bomb) < (1 << 20)
    before = ing.rss_kb()
    r = requests.post(url, data=bomb, headers={**JSON, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and error_of(r) == "body_too_large", r.text
    assert "decompressed" in r.json()["detail"]
    assert ing.rss_kb() - before < 16 * 1024 * TIMEOUT_SCALE, (before, ing.rss_kb())
    ids = set(ids_in(read_topic(ingest_factory.brokers, ingest_factory.topic)))
    assert ids == {e["id"] for e in events + more}


def test_ingest_declared_length_over_limit_is_413_without_reading(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_MAX_BODY_BYTES="64k",
                         MILLRACE_INGEST_MAX_EVENT_BYTES="16k")
    # Headers only: the answer comes before a single body byte is sent.
    st, h, body = raw(ing.port, post_head(extra=b"Content-Type: application/json\r\n"
                                                b"Content-Length: 10000000000\r\n"))
    assert (st, json.loads(body)["error"]) == (413, "body_too_large")
    assert h["connection"] == "close"
    # A client that sends 1 MiB after the head anyway is not read: the
    # server closes the connection, and it has read no body byte at all.
    with socket.create_connection(("127.0.0.1", ing.port)) as s:
        s.sendall(post_head(extra=b"Content-Length: 1048576\r\n"))
        st, _, _ = read_response(s)
        assert st == 413
        sent = 0
        try:
            for _ in range(64):
                s.sendall(b"x" * 16384)
                sent += 16384
        except OSError:
            pass
        assert closed_by_peer(s, 10)
    m = ing.metrics()
    assert m["millrace_ingest_request_body_bytes_total"] == 0, m
    assert m['millrace_ingest_requests_total{code="413"}'] == 2


def test_ingest_endless_chunked_body_is_413_after_the_limit(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_MAX_BODY_BYTES="64k",
                         MILLRACE_INGEST_MAX_EVENT_BYTES="16k")
    result = {}
    with socket.create_connection(("127.0.0.1", ing.port)) as s:
        s.sendall(post_head(extra=b"Transfer-Encoding: chunked\r\n"
                                  b"Content-Type: application/x-ndjson\r\n"))
        chunk = b"%x\r\n%s\r\n" % (4096, b"x" * 4096)

        def feed():  # an endless body: 64 MiB at most, until the server hangs up
            try:
                for _ in range(16384):
                    s.sendall(chunk)
            except OSError as e:
                result["stopped"] = e
        t = threading.Thread(target=feed, daemon=True)
        t.start()
        st, h, body = read_response(s, 30)
        assert (st, json.loads(body)["error"]) == (413, "body_too_large")
        assert h["connection"] == "close"
        assert closed_by_peer(s, 10)
        t.join(30)
    # Counted, not read to the end: the limit plus one read's worth.
    read = ing.metrics()["millrace_ingest_request_body_bytes_total"]
    assert 64 * 1024 < read <= 64 * 1024 + 16384, read
    # A chunked body under the limit is fine.
    st, _, body = raw(ing.port, post_head(extra=b"Transfer-Encoding: chunked\r\n")
                      + b"5\r\n{\"id\"\r\n4\r\n:42}\r\n0\r\n\r\n")
    assert (st, json.loads(body)) == (202, {"accepted": 1})


def test_ingest_slow_clients_are_cut_and_threads_freed(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_THREADS=2, MILLRACE_INGEST_REQUEST_TIMEOUT_MS=1000)
    # A body that stops arriving: 408 within twice the timeout.
    with socket.create_connection(("127.0.0.1", ing.port)) as s:
        s.sendall(post_head(extra=b"Content-Length: 100\r\n") + b'{"id":')
        t0 = time.monotonic()
        st, h, body = read_response(s, 10)
        took = time.monotonic() - t0
    assert (st, json.loads(body)["error"]) == (408, "request_timeout")
    assert 0.9 < took < 3.0 * TIMEOUT_SCALE, took

    # Slowloris: both threads held by clients that send a header byte every
    # 100 ms. The server cuts them at the timeout; then it serves again.
    socks = [socket.create_connection(("127.0.0.1", ing.port)) for _ in range(2)]
    stop = threading.Event()
    cut = []

    def dribble(s):
        msg = post_head(extra=b"X-Slow: " + b"a" * 200 + b"\r\n")
        try:
            for b in msg:
                if stop.is_set():
                    return
                s.sendall(bytes([b]))
                time.sleep(0.1)  # the client's pace, not a wait for the server
        except OSError:
            cut.append(time.monotonic())
    t0 = time.monotonic()
    threads = [threading.Thread(target=dribble, args=(s,), daemon=True) for s in socks]
    for t in threads:
        t.start()
    wait_until(lambda: len(cut) == 2, 10, "both slow clients cut")
    assert max(cut) - t0 < 4 * TIMEOUT_SCALE, max(cut) - t0
    stop.set()
    r = requests.post(ing.events, data='{"id":"after-slowloris"}', headers=JSON, timeout=10)
    assert r.status_code == 202
    for s in socks:
        s.close()


def test_ingest_cpu_turn_is_not_held_by_slow_or_unread_clients(ingest_factory):
    # One CPU turn (ingest.cpu_turns=1): a client whose body stops half way,
    # and one that sends requests but never reads an answer, must not keep
    # the turn from anyone else, and many clients at once all get served.
    ing = ingest_factory(MILLRACE_INGEST_CPU_TURNS=1, MILLRACE_INGEST_THREADS=64,
                         MILLRACE_INGEST_REQUEST_TIMEOUT_MS=20000)
    half = socket.create_connection(("127.0.0.1", ing.port))
    half.sendall(post_head(extra=b"Content-Length: 100\r\n") + b'{"id":')
    deaf = socket.create_connection(("127.0.0.1", ing.port))
    deaf.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    one = b'{"id":"deaf"}'
    pipelined = (post_head(extra=b"Content-Length: %d\r\n" % len(one)) + one) * 2000
    deaf.setblocking(False)
    try:
        deaf.sendall(pipelined)
    except (BlockingIOError, OSError):
        pass  # its send buffer is full: the server's answers back up too
    codes = []

    def client(i):
        with requests.Session() as s:
            for j in range(5):
                r = s.post(ing.events, data=json.dumps({"id": f"t-{i}-{j}"}),
                           headers=JSON, timeout=10)
                codes.append(r.status_code)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [202] * 100
    m = ing.metrics()
    assert m["millrace_ingest_events_accepted_total"] >= 100
    half.close()
    deaf.close()


def test_ingest_keepalive_serves_many_requests_on_one_connection(ingest_factory):
    ing = ingest_factory()
    with socket.create_connection(("127.0.0.1", ing.port)) as s:
        for i in range(5):
            body = json.dumps({"id": f"ka-{i}"}).encode()
            s.sendall(post_head(extra=b"Content-Length: %d\r\n" % len(body)) + body)
            st, h, resp = read_response(s)
            assert (st, json.loads(resp)) == (202, {"accepted": 1})
            assert h.get("connection") != "close"
        # An error decided after reading the body keeps the connection too.
        s.sendall(post_head(extra=b"Content-Length: 2\r\n") + b"[]")
        st, h, resp = read_response(s)
        assert (st, json.loads(resp)["error"]) == (400, "empty")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200


def test_ingest_bearer_tokens(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_TOKENS=f"{TOKEN_A},{TOKEN_B}")
    url = ing.events
    r = requests.post(url, data='{"id":"no-token"}', headers=JSON)
    assert r.status_code == 401 and error_of(r) == "missing_token"
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="millrace"'
    for bad in ("Bearer " + TOKEN_A[:-1], "Bearer " + TOKEN_A + "x", "Bearer nope"):
        r = requests.post(url, data='{"id":"bad"}', headers={**JSON, "Authorization": bad})
        assert r.status_code == 401 and error_of(r) == "invalid_token", bad
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = requests.post(url, data='{"id":"basic"}',
                      headers={**JSON, "Authorization": "Basic dTpw"})
    assert r.status_code == 401 and error_of(r) == "missing_token"
    # Auth comes before the method and the body.
    assert requests.get(url).status_code == 401
    for tok in (TOKEN_A, TOKEN_B):
        r = requests.post(url, data=json.dumps({"id": tok[:5] + "-ok"}),
                          headers={**JSON, "Authorization": f"Bearer {tok}"})
        assert r.status_code == 202, r.text
    # Probes need no token.
    assert requests.get(ing.url + "/healthz").status_code == 200
    assert requests.get(ing.url + "/readyz").status_code == 200
    assert requests.get(ing.url + "/metrics").status_code == 200
    assert ing.metrics()['millrace_ingest_requests_total{code="401"}'] == 6
    assert ing.stop() == 0
    log = open(ing.log_path, "rb").read().decode(errors="replace")
    assert TOKEN_A not in log and TOKEN_B not in log
    check = subprocess.run([os.path.join(BIN, "ingest-api"), "--check-config"],
                           env={**os.environ, **ing.env}, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert "ingest.tokens" in check.stdout
    assert TOKEN_A not in check.stdout and TOKEN_B not in check.stdout


def test_ingest_bad_tokens_and_tls_settings_refused_at_start():
    exe = os.path.join(BIN, "ingest-api")
    cases = [
        ({"MILLRACE_INGEST_TOKENS": "short"}, "ingest.tokens"),
        ({"PORT": "8443s"}, "ingest.tls_certificate is empty"),
        ({"MILLRACE_INGEST_TLS_CERTIFICATE": "/x.pem"}, "ends in 's'"),
    ]
    for env, want in cases:
        p = subprocess.run([exe, "--check-config"], env={**os.environ, **env},
                           capture_output=True, text=True)
        assert p.returncode == 1, (env, p.stdout)
        assert want in p.stderr, (env, p.stderr)
        assert "short\n" not in p.stderr


def test_ingest_tls_serves_https(ingest_factory, tmp_path):
    # Debian 12's civetweb 1.15 (OpenSSL 1.1 API) on OpenSSL 3, through the
    # libmillrace-ssl.so and libmillrace-crypto.so next to the binary
    # (ingest-api/tls_shim.c): TLS must work, not be refused.
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    pem = tmp_path / "server.pem"
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    ing = ingest_factory(start=False, tls=True, MILLRACE_INGEST_TLS_CERTIFICATE=str(pem))
    ing.start(wait=False)
    base = f"https://127.0.0.1:{ing.port}"

    def healthy():
        assert ing.proc.poll() is None, ing.log_text()
        try:
            return requests.get(base + "/healthz", verify=str(crt), timeout=2).status_code == 200
        except requests.RequestException:
            return False
    wait_until(healthy, 30, "ingest-api over TLS")
    r = requests.post(base + "/v1/events", data='{"id":"over-tls"}', headers=JSON,
                      verify=str(crt))
    assert (r.status_code, r.json()) == (202, {"accepted": 1})
    with pytest.raises(requests.RequestException):
        requests.post(f"http://127.0.0.1:{ing.port}/v1/events", data="{}", headers=JSON,
                      timeout=3)
    assert ids_in(read_topic(ingest_factory.brokers, ingest_factory.topic)) == ["over-tls"]


def test_ingest_metrics_content(ingest_factory):
    ing = ingest_factory()
    s = requests.Session()
    for i in range(7):
        assert s.post(ing.events, data=json.dumps([{"id": f"m-{i}-{j}"} for j in range(3)]),
                      headers=JSON).status_code == 202
    assert s.post(ing.events, data="nope", headers=JSON).status_code == 400
    assert s.get(ing.url + "/nowhere").status_code == 404
    text = s.get(ing.url + "/metrics").text
    assert "# TYPE millrace_ingest_request_duration_seconds histogram" in text
    m = ing.metrics()
    assert m['millrace_ingest_requests_total{code="202"}'] == 7
    assert m['millrace_ingest_requests_total{code="400"}'] == 1
    assert m['millrace_ingest_requests_total{code="404"}'] == 1
    assert m["millrace_ingest_events_accepted_total"] == 21
    assert m["millrace_ingest_delivered_total"] == 21
    assert m["millrace_ingest_delivery_errors_total"] == 0
    assert m["millrace_ingest_in_flight_requests"] == 0
    assert m["millrace_ingest_producer_queue_messages"] == 0
    assert m["millrace_ingest_kafka_up"] == 1
    # One request at a time: each found nobody waiting, so each took the
    # fast lane (ack mode kafka), and none found the queue full.
    assert m["millrace_ingest_fast_lane_requests_total"] == 7
    assert m["millrace_ingest_queue_full_waits_total"] == 0
    h = "millrace_ingest_request_duration_seconds"
    buckets = [(k, v) for k, v in m.items() if k.startswith(h + "_bucket")]
    assert len(buckets) >= 10
    values = [v for _, v in buckets]
    assert values == sorted(values), buckets
    assert m[f'{h}_bucket{{le="+Inf"}}'] == m[f"{h}_count"] == 8  # POSTs only
    assert 0 < m[f"{h}_sum"] < 8 * 10
    for reason in ("queue_full", "kafka_unreachable", "delivery_timeout", "delivery_failed",
                   "producer_fatal", "shutting_down"):
        assert m[f'millrace_ingest_unavailable_total{{reason="{reason}"}}'] == 0


def test_ingest_key_field_and_record_headers(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_KEY_FIELD="device")
    events = [{"id": "s", "device": "dev-7"}, {"id": "n", "device": 42},
              {"id": "r", "device": 2.5}, {"id": "none"}, {"id": "obj", "device": {"x": 1}}]
    t0 = int(time.time() * 1000)
    r = requests.post(ing.events, data=json.dumps(events), headers=JSON)
    assert r.status_code == 202
    rid = r.headers["X-Request-Id"]
    msgs = read_topic(ingest_factory.brokers, ingest_factory.topic)
    keys = {json.loads(m.value())["id"]: m.key() for m in msgs}
    assert keys == {"s": b"dev-7", "n": b"42", "r": b"2.5", "none": None, "obj": None}
    for m in msgs:
        h = dict(m.headers())
        assert h["request_id"].decode() == rid
        ingest_ms = int(h["ingest_ms"])
        assert t0 - 1000 <= ingest_ms <= int(time.time() * 1000)
        assert m.timestamp()[1] == ingest_ms
    # Same key, same partition: per-device order.
    more = [{"id": f"o-{i}", "device": "dev-7"} for i in range(20)]
    assert requests.post(ing.events, data=json.dumps(more), headers=JSON).status_code == 202
    msgs = read_topic(ingest_factory.brokers, ingest_factory.topic)
    dev7 = [m for m in msgs if m.key() == b"dev-7"]
    assert len({m.partition() for m in dev7}) == 1
    assert [json.loads(m.value())["id"] for m in sorted(dev7, key=lambda m: m.offset())] \
        == ["s"] + [e["id"] for e in more]


def test_ingest_queued_ack_mode_delivers(ingest_factory):
    ing = ingest_factory(ACK_MODE="queued")
    ids = [f"q-{i}" for i in range(300)]
    s = requests.Session()
    for i in range(0, 300, 30):
        r = s.post(ing.events, data=json.dumps([{"id": x} for x in ids[i:i + 30]]),
                   headers=JSON)
        assert (r.status_code, r.json()) == (202, {"accepted": 30})
    assert ing.stop() == 0  # the shutdown flush delivers what was queued
    assert sorted(ids_in(read_topic(ingest_factory.brokers, ingest_factory.topic))) \
        == sorted(ids)


def test_ingest_full_producer_queue_is_503(ingest_factory):
    ing = ingest_factory(ACK_MODE="queued", MILLRACE_INGEST_QUEUE_MAX_MESSAGES=100,
                         MILLRACE_INGEST_LINGER_MS=1000, MILLRACE_INGEST_RETRY_AFTER_S=2)
    r = requests.post(ing.events, data=json.dumps([{"id": f"f-{i}"} for i in range(150)]),
                      headers=JSON)
    assert r.status_code == 503 and error_of(r) == "queue_full", r.text
    assert r.headers["Retry-After"] == "2"
    m = ing.metrics()
    assert m['millrace_ingest_unavailable_total{reason="queue_full"}'] == 1
    assert m["millrace_ingest_queue_full_waits_total"] == 1
    assert m["millrace_ingest_events_accepted_total"] == 0


def test_ingest_full_queue_refuses_those_waiting_for_a_turn_too(ingest_factory):
    # One CPU turn and a full producer queue: the holder waits for room (up
    # to 50 ms) and is refused. Those waiting for the turn behind it are
    # refused once they have waited as long, rather than each taking the
    # turn to wait 50 ms more in line: 20 at once would wait up to 1 s.
    ing = ingest_factory(ACK_MODE="queued", MILLRACE_INGEST_CPU_TURNS=1,
                         MILLRACE_INGEST_QUEUE_MAX_MESSAGES=100,
                         MILLRACE_KAFKA_PROPERTIES="linger.ms=5000")
    r = requests.post(ing.events, data=json.dumps([{"id": f"q-{i}"} for i in range(100)]),
                      headers=JSON)
    assert r.status_code == 202, r.text  # the queue is full now, for 5 s
    go = threading.Barrier(20)
    answers = []

    def client(i):
        with requests.Session() as s:
            go.wait()
            r = s.post(ing.events, data=json.dumps({"id": f"w-{i}"}), headers=JSON,
                       timeout=10)
            answers.append((r.status_code, error_of(r)))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [(503, "queue_full")] * 20
    m = ing.metrics()
    assert m['millrace_ingest_unavailable_total{reason="queue_full"}'] == 20
    # Only requests that got the turn waited in line for room.
    assert m["millrace_ingest_queue_full_waits_total"] < 20
    assert m["millrace_ingest_events_accepted_total"] == 100


# --- load, a broker that goes away, SIGTERM -------------------------------------

class Load:
    """Client threads posting batches of unique ids; remembers every answer."""

    def __init__(self, url, threads=4, batch=10, timeout=30):
        self.url, self.batch, self.timeout = url, batch, timeout
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked, self.answers, self.errors, self.latencies = set(), [], [], []
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True)
                        for k in range(threads)]

    def run(self, k):
        s = requests.Session()
        n = 0
        while not self.stop.is_set():
            ids = [f"{k}-{n}-{j}-{uuid.uuid4().hex[:6]}" for j in range(self.batch)]
            n += 1
            t0 = time.monotonic()
            try:
                r = s.post(self.url, data=json.dumps([{"id": x} for x in ids]),
                           headers=JSON, timeout=self.timeout)
            except requests.RequestException as e:
                with self.lock:
                    self.errors.append(repr(e))
                s = requests.Session()
                continue
            with self.lock:
                self.latencies.append(time.monotonic() - t0)
                code = r.json().get("error") if r.status_code != 202 else None
                self.answers.append((r.status_code, code, r.headers.get("Retry-After")))
                if r.status_code == 202:
                    self.acked.update(ids)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def count(self, status, code=None):
        with self.lock:
            return sum(1 for s, c, _ in self.answers if s == status and (code is None or c == code))


class PrivateKafka:
    """A Kafka broker of this test module alone, which tests may stop."""

    def __init__(self):
        self.port = 29100 + (os.getpid() % 400) * 2
        while not (port_free(self.port) and port_free(self.port + 1)):
            self.port += 2
        self.run_dir = os.path.join(ROOT, ".run", f"kafka-ingest-test-{self.port}")
        self.brokers = f"127.0.0.1:{self.port}"

    def script(self, cmd):
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_RUN_DIR": self.run_dir}
        p = subprocess.run(["bash", os.path.join(ROOT, "deploy/local/kafka.sh"), cmd],
                           env=env, capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, f"kafka.sh {cmd}: {p.stdout}\n{p.stderr}"

    def start(self):
        self.script("start")

    def stop(self):
        self.script("stop")

    def pid(self):
        with open(os.path.join(self.run_dir, "kafka.pid")) as f:
            return int(f.read().strip())


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def private_kafka():
    k = PrivateKafka()
    k.start()
    yield k
    try:
        os.kill(k.pid(), signal.SIGCONT)  # in case a test left it frozen
    except (OSError, ValueError):
        pass
    k.stop()
    subprocess.run(["rm", "-rf", k.run_dir])


def test_ingest_broker_stopped_during_load_never_acks_a_lost_event(private_kafka):
    topic = create_topic(private_kafka.brokers)
    ing = Ingest(private_kafka.brokers, topic, MILLRACE_INGEST_DELIVERY_TIMEOUT_MS=3000,
                 MILLRACE_INGEST_PROBE_INTERVAL_MS=200, MILLRACE_INGEST_RETRY_AFTER_S=1)
    ing.start()
    try:
        ing.wait_ready()
        with Load(ing.events, threads=4) as load:
            wait_until(lambda: load.count(202) >= 50, 30, "202s before the outage")
            private_kafka.stop()
            wait_until(lambda: requests.get(ing.url + "/readyz", timeout=5).status_code == 503,
                       30, "/readyz 503 while Kafka is down")
            seen = load.count(503, "kafka_unreachable")
            wait_until(lambda: load.count(503, "kafka_unreachable") > seen + 20, 30,
                       "fast 503s while Kafka is down")
            m = ing.metrics()
            assert m["millrace_ingest_kafka_up"] == 0
            private_kafka.start()
            wait_until(lambda: requests.get(ing.url + "/readyz", timeout=5).status_code == 200,
                       60, "/readyz 200 when Kafka is back")
            acked_before = load.count(202)
            wait_until(lambda: load.count(202) > acked_before + 50, 60,
                       "202s again without a restart")
        assert all(ra == "1" for s, _, ra in load.answers if s == 503), load.answers[:5]
        codes = {c for s, c, _ in load.answers if s == 503}
        assert codes <= {"kafka_unreachable", "delivery_timeout", "delivery_failed"}, codes
        # No request waited much longer than the delivery bound (3 s).
        assert max(load.latencies) < (3.0 + 2.0) * TIMEOUT_SCALE, max(load.latencies)
        assert not load.errors, load.errors[:3]
        stored = set(ids_in(read_topic(private_kafka.brokers, topic)))
        lost = load.acked - stored
        assert not lost, f"{len(lost)} acknowledged events are not in Kafka: {sorted(lost)[:5]}"
    finally:
        print(ing.log_text())  # shown when the test fails
        assert ing.stop() == 0


def test_ingest_frozen_broker_answers_within_the_delivery_bound(private_kafka):
    topic = create_topic(private_kafka.brokers)
    ing = Ingest(private_kafka.brokers, topic, MILLRACE_INGEST_DELIVERY_TIMEOUT_MS=1500,
                 MILLRACE_INGEST_PROBE_INTERVAL_MS=500)
    ing.start()
    pid = private_kafka.pid()
    try:
        ing.wait_ready()
        # SIGSTOP: connections stay open, nothing is answered. Requests must
        # not hang: 503 once the 1.5 s bound passes (or at once, when the
        # probe has noticed).
        os.kill(pid, signal.SIGSTOP)
        with Load(ing.events, threads=3) as load:
            wait_until(lambda: load.count(503) >= 10, 30, "503s from a frozen broker")
        assert load.count(503, "delivery_timeout") >= 1, load.answers[:10]
        assert max(load.latencies) < (1.5 + 1.5) * TIMEOUT_SCALE, max(load.latencies)
        assert not load.errors, load.errors[:3]
        os.kill(pid, signal.SIGCONT)
        ing.wait_ready(60)
        r = requests.post(ing.events, data='{"id":"thawed"}', headers=JSON, timeout=10)
        assert r.status_code == 202, r.text
        stored = set(ids_in(read_topic(private_kafka.brokers, topic)))
        assert load.acked <= stored
        assert "thawed" in stored
    finally:
        os.kill(pid, signal.SIGCONT)
        print(ing.log_text())  # shown when the test fails
        assert ing.stop() == 0


def test_ingest_sigterm_during_load_keeps_every_acked_event(ingest_factory):
    ing = ingest_factory(MILLRACE_INGEST_SHUTDOWN_TIMEOUT_MS=15000)
    with Load(ing.events, threads=6, batch=20) as load:
        wait_until(lambda: load.count(202) >= 100, 30, "202s before SIGTERM")
        ing.proc.send_signal(signal.SIGTERM)
        assert ing.proc.wait(30) == 0, ing.log_text()
        # After exit, connections are refused.
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", ing.port), timeout=2).close()
    log = ing.log_text()
    assert "stopping" in log and "stopped" in log
    codes = {(s, c) for s, c, _ in load.answers}
    assert codes <= {(202, None), (503, "shutting_down")}, codes
    stored = ids_in(read_topic(ingest_factory.brokers, ingest_factory.topic))
    assert len(stored) == len(set(stored))
    lost = load.acked - set(stored)
    assert not lost, f"{len(lost)} acknowledged events are not in Kafka"
    # Nothing but whole requests: acknowledged batches are all there, and
    # what is there beyond them came from requests cut by the shutdown.
    assert len(load.acked) >= 100 * 20


def test_ingest_sigterm_refuses_new_connections_and_finishes_in_flight(ingest_factory):
    ing = ingest_factory()
    body = json.dumps({"id": "in-flight"}).encode()
    with socket.create_connection(("127.0.0.1", ing.port)) as s:
        # A request in flight: its handler is reading a body not yet sent.
        s.sendall(post_head(extra=b"Content-Length: %d\r\n" % len(body)) + body[:5])
        wait_until(lambda: ing.metrics()["millrace_ingest_in_flight_requests"] == 1, 10,
                   "the request in flight")
        ing.proc.send_signal(signal.SIGTERM)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", ing.port), timeout=2).close()
                return False
            except ConnectionRefusedError:
                return True
        wait_until(refused, 10, "new connections refused")
        assert ing.proc.poll() is None, "exited with a request in flight"
        s.sendall(body[5:])
        st, h, resp = read_response(s)
    assert (st, json.loads(resp)) == (202, {"accepted": 1})
    assert ing.proc.wait(30) == 0
    assert ids_in(read_topic(ingest_factory.brokers, ingest_factory.topic)) == ["in-flight"]
