"""Hostile input: a corpus of bad requests sent over raw sockets to a running
ingest-api, each with its expected outcome (a status, or the connection
closed without an answer) within a stated time bound, while a slowloris
crowd holds connections open and a client keeps sending good requests. The
good requests all get 202, the server's memory stays under a stated bound,
and the topic ends up holding exactly the good events.

The corpus is CASES below: one row per attack. test_ingest.py covers the
HTTP contract itself (every status and error name); this is about surviving
what no honest client sends."""

import gzip
import json
import os
import socket
import threading
import time
import uuid

import requests

from conftest import TIMEOUT_SCALE, wait_until

REQUEST_TIMEOUT_S = 2
SETTINGS = {"MILLRACE_INGEST_REQUEST_TIMEOUT_MS": REQUEST_TIMEOUT_S * 1000,
            "MILLRACE_INGEST_DELIVERY_TIMEOUT_MS": 30000,  # the shared Kafka may be busy
            "MILLRACE_INGEST_KEEPALIVE_TIMEOUT_MS": 2000,
            "MILLRACE_INGEST_THREADS": 32,
            "MILLRACE_INGEST_MAX_BODY_BYTES": "2M"}  # headers: 16k, events: 512k, depth 32
# Every case is answered (or its connection closed) within this many seconds
# of its last byte: the head and the body each get the request timeout, one
# read may add as much again (docs/http-api.md, Backpressure); the rest is margin for a
# loaded 2-core machine (and for sanitizer and valgrind runs,
# MILLRACE_TIMEOUT_SCALE).
BOUND_S = (2 * REQUEST_TIMEOUT_S + 6) * TIMEOUT_SCALE
SLOWLORIS = 48          # more than the 32 threads: some wait for a thread first
SLOWLORIS_BOUND_S = (3 * REQUEST_TIMEOUT_S + 6) * TIMEOUT_SCALE
RSS_BOUND_MB = 200 * TIMEOUT_SCALE  # valgrind's own memory counts too
CLOSED = "closed"       # no answer: the server closed the connection

GOOD_IDS = []           # ids of good events sent by the corpus itself


def good(event_id):
    GOOD_IDS.append(event_id)
    return json.dumps({"id": event_id}).encode()


def head(extra=b"", method=b"POST", path=b"/v1/events", version=b"HTTP/1.1"):
    return method + b" " + path + b" " + version + b"\r\nHost: x\r\n" + extra + b"\r\n"


def post(body, ctype=b"application/json", extra=b""):
    return head(b"Content-Type: " + ctype + b"\r\nContent-Length: %d\r\n" % len(body)
                + extra) + body


def nested(n, opener=b'{"a":', closer=b"}"):
    return opener * n + b"1" + closer * n


def gzip_bomb():
    """1 GiB of zeros in ~1 MB of gzip: one member of 1 MiB of zeros,
    repeated (concatenated members are one body), so building it costs
    1 MiB, not 1 GiB."""
    member = gzip.compress(bytes(1 << 20), 9)
    return member * 1024


class Stall:
    """In a payload: stop sending, keep the connection open."""


class HalfClose:
    """In a payload: shut down the sending side (EOF), keep reading."""


def endless_chunks():
    chunk = b"1000\r\n" + b"x" * 4096 + b"\r\n"
    for _ in range(4096):  # 16 MiB at most: far past the 2 MiB limit
        yield chunk


# name, payload (bytes, or a list of parts: bytes, Stall, HalfClose, or an
# iterable of bytes), expected outcome (a status, CLOSED, or a tuple of
# acceptable ones), and whether the server must close the connection after
# answering.
CASES = [
    ("malformed JSON", post(b'{"id":"m1",}'), 400, False),
    ("truncated JSON", post(b'[{"id":"t1"},{"id":"t2"'), 400, False),
    ("truncated NDJSON line", post(b'{"id":"t3"}\n{"id":', b"application/x-ndjson"), 400, False),
    ("invalid UTF-8: a lone 0xff", post(b'{"id":"\xff"}'), 400, False),
    ("invalid UTF-8: overlong '/'", post(b'{"id":"\xc0\xaf"}'), 400, False),
    ("invalid UTF-8: a surrogate", post(b'{"id":"\xed\xa0\x80"}'), 400, False),
    ("NUL byte in a string", post(b'{"id":"a\x00b"}'), 400, False),
    ("NUL byte after a number", post(b'{"id":1\x00}'), 400, False),
    ("escaped NUL", post(b'{"id":"a\\u0000b"}'), 400, False),
    ("nesting 100,000 deep: objects", post(nested(100000)), 400, False),
    ("nesting 100,000 deep: arrays", post(nested(100000, b"[", b"]")), 400, False),
    ("nesting 100,000 deep in an array", post(b"[" + nested(100000) + b"]"), 400, False),
    ("nesting 100,000 deep in NDJSON", post(nested(100000) + b"\n", b"application/x-ndjson"),
     400, False),
    ("a 1 MB integer", post(b'{"id":"n1","n":' + b"7" * 1000000 + b"}"), 400, False),
    ("a 1 MB exponent", post(b'{"id":"n2","n":1e' + b"9" * 1000000 + b"}"), 400, False),
    ("duplicate keys", post(b'{"id":"d1","id":"d2"}'), 400, False),
    ("gzip bomb: 1 GiB of zeros", post(gzip_bomb(), extra=b"Content-Encoding: gzip\r\n"),
     413, False),
    ("truncated gzip", post(gzip.compress(b'{"id":"z1"}')[:-6],
                            extra=b"Content-Encoding: gzip\r\n"), 400, False),
    # Content-Length shorter than the body: the declared bytes are the body
    # (invalid JSON), the rest is read as the next request (not HTTP: 400,
    # closed).
    ("Content-Length shorter than the body",
     head(b"Content-Length: 5\r\n") + b'{"id":"abcdef"}', 400, True),
    ("Content-Length longer, then the client stops",
     [head(b"Content-Length: 100\r\n") + b'{"id":', Stall], 408, True),
    ("Content-Length longer, then the client closes",
     [head(b"Content-Length: 100\r\n") + b'{"id":', HalfClose], 400, True),
    ("Content-Length of 10 GB", head(b"Content-Length: 10000000000\r\n"), 413, True),
    ("chunked body that never ends",
     [head(b"Transfer-Encoding: chunked\r\n"), endless_chunks()], 413, True),
    ("chunked body that stops mid-chunk",
     [head(b"Transfer-Encoding: chunked\r\n") + b"100\r\n{\"id\":", Stall], 408, True),
    ("chunk size of 2^72", head(b"Transfer-Encoding: chunked\r\n") + b"FFFFFFFFFFFFFFFFFF\r\nx",
     400, True),
    ("chunk size not hex", head(b"Transfer-Encoding: chunked\r\n") + b"zz\r\nx\r\n0\r\n\r\n",
     400, True),
    ("Content-Length and Transfer-Encoding",
     head(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n") + b"0\r\n\r\n", 400, True),
    ("Content-Length twice, different",
     head(b"Content-Length: 2\r\nContent-Length: 12\r\n") + b'{}{"id":"x"}', 400, True),
    # civetweb keeps 64 headers and drops the rest silently.
    ("70 headers (under the size limit)",
     head(b"".join(b"h%d: v\r\n" % i for i in range(70)) + b"Content-Length: 2\r\n") + b"{}",
     400, True),
    # A head over ingest.max_header_bytes: civetweb 1.15 answers it as
    # malformed (400), not 413; a client still sending may see a reset.
    ("10,000 headers", head(b"".join(b"X-H-%d: v\r\n" % i for i in range(10000))),
     (400, CLOSED), True),
    ("a 1 MB header line", head(b"X-Big: " + b"a" * (1 << 20) + b"\r\n"), (400, CLOSED), True),
    ("a 1 MB request line", head(path=b"/v1/events?" + b"a" * (1 << 20)), (400, CLOSED), True),
    ("unknown method", head(method=b"BREW"), 400, True),
    ("unknown method with a body", head(b"Content-Length: 2\r\n", method=b"FOO") + b"{}",
     400, True),
    ("a method that is not POST (PROPFIND)", head(method=b"PROPFIND"), 405, False),
    ("HTTP/2 preface on HTTP/1", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, True),
    ("HTTP/0.9 request line", [b"GET /\r\n", HalfClose], (400, CLOSED), True),
    ("HTTP/3.0", head(version=b"HTTP/3.0"), (400, 505), True),
    ("a TLS ClientHello", bytes.fromhex("16030100a5010000a10303") + bytes(160), 400, True),
    ("binary garbage", bytes(range(256)) * 16, 400, True),
    ("NUL byte in a header", head(b"X-A: a\x00b\r\nContent-Length: 2\r\n") + b"{}", 400, True),
    ("connect, send nothing, close", [HalfClose], CLOSED, True),
    ("connect, send nothing, wait", [Stall], CLOSED, True),
    ("HTTP/1.0 without keep-alive", post(good("h10-" + uuid.uuid4().hex)).replace(
        b"HTTP/1.1", b"HTTP/1.0"), 202, True),
    # Framing a proxy in front could read otherwise (request smuggling):
    # 400 and the connection closed, the body never read as a request.
    ("bare LF line ends", post(b'{"id":"lf1"}').replace(b"\r\n", b"\n"), 400, True),
    ("one bare LF among CRLFs", head(b"X-A: a\nContent-Length: 2\r\n") + b"{}", 400, True),
    ("obs-fold line", head(b"Content-Length: 2\r\nX-A: a\r\n b\r\n") + b"{}", 400, True),
    ("obs-fold hiding Content-Length",
     head(b"X-A: a\r\n b\r\nContent-Length: 12\r\n") + b'{"id":"of1"}', 400, True),
    ("space before the colon (CL)", head(b"Content-Length : 2\r\n") + b"{}", 400, True),
    ("CL.TE: space before the colon of Transfer-Encoding",
     head(b"Content-Length: 5\r\nTransfer-Encoding : chunked\r\n") + b"0\r\n\r\n", 400, True),
    ("TE.CL", head(b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n") + b"1\r\nx\r\n0\r\n\r\n",
     400, True),
    ("TE.TE: chunked, identity",
     head(b"Transfer-Encoding: chunked, identity\r\n") + b"0\r\n\r\n", 400, True),
    ("TE.TE: chunked twice",
     head(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") + b"0\r\n\r\n",
     400, True),
    ("TE: xchunked", head(b"Transfer-Encoding: xchunked\r\n") + b"0\r\n\r\n", 400, True),
    ("TE: identity", head(b"Transfer-Encoding: identity\r\nContent-Length: 2\r\n") + b"{}",
     400, True),
] + [(f"Content-Length: {v.decode()}", head(b"Content-Length: " + v + b"\r\n") + b'{"id":"cl1"}',
       400 if v != b"-1" else (400, 411), True)  # civetweb itself answers -1 with 411
      for v in (b"7abc", b"7, 100", b"7 7", b"7.0", b"+7", b"007", b"0x7", b"-1",
                b"99999999999999999999")]


# --- raw sockets --------------------------------------------------------------

def send_parts(sock, payload, done):
    """Sends payload; on Stall, stops. Send errors end it quietly (the
    server may close while the client is still sending)."""
    parts = [payload] if isinstance(payload, bytes) else payload
    try:
        for part in parts:
            if part is Stall:
                break
            if part is HalfClose:
                sock.shutdown(socket.SHUT_WR)
                continue
            if isinstance(part, bytes):
                sock.sendall(part)
            else:
                for chunk in part:
                    sock.sendall(chunk)
    except OSError:
        pass
    done.at = time.monotonic()
    done.set()


def read_answer(sock, buf, deadline):
    """(status or CLOSED, rest of the buffer) of the next answer on sock,
    or ("timeout", buf) when nothing came by deadline."""
    try:
        while b"\r\n\r\n" not in buf:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                return CLOSED, buf
            buf += chunk
        head_, rest = buf.split(b"\r\n\r\n", 1)
        lines = head_.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        while len(rest) < length:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, rest[length:]
    except socket.timeout:
        return "timeout", buf
    except (ConnectionResetError, BrokenPipeError):
        return CLOSED, buf


def closes(sock, buf, deadline):
    """True when the server closes sock (EOF or reset) by deadline, having
    sent nothing more than one further error answer."""
    status, buf = read_answer(sock, buf, deadline)
    if status not in (CLOSED, "timeout"):
        status, _ = read_answer(sock, buf, deadline)
    return status == CLOSED


def attack(port, name, payload, expect, must_close):
    """Runs one case; returns (what happened, a failure message or None)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        sent = threading.Event()
        t = threading.Thread(target=send_parts, args=(s, payload, sent), daemon=True)
        t.start()
        status, rest = read_answer(s, b"", time.monotonic() + 60 * TIMEOUT_SCALE)
        answered = time.monotonic()
        # The bound counts from the client's last byte: sending a large
        # body takes its own time on a busy machine.
        sent.wait(60)
        took = answered - min(answered, getattr(sent, "at", answered))
        seen = f"{status} after {took:.2f} s"
        if status not in (expect if isinstance(expect, tuple) else (expect,)):
            return seen, f"{name}: got {status}, want {expect}"
        if took > BOUND_S:
            return seen, f"{name}: answered {took:.1f} s after the last byte, bound {BOUND_S} s"
        if status != CLOSED:
            closed = closes(s, rest, time.monotonic() + (BOUND_S if must_close else 0.2))
            seen += ", closed" if closed else ""
            if must_close and not closed:
                return seen, f"{name}: {status}, but the connection stayed open"
        t.join(10)
    return seen, None


def pipelined(port, ids):
    """Several requests in one write: each answered, in order."""
    reqs = [post(good(ids[0])),
            post(b'{"id":'),
            head(method=b"GET", path=b"/healthz"),
            post(good(ids[1]) + b"\n" + good(ids[2]) + b"\n", b"application/x-ndjson"),
            head(method=b"DELETE"),
            post(b"[]"),
            post(good(ids[3]), extra=b"Connection: close\r\n")]
    want = [202, 400, 200, 202, 405, 400, 202]
    got = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"".join(reqs))
        buf = b""
        deadline = time.monotonic() + BOUND_S
        for _ in want:
            status, buf = read_answer(s, buf, deadline)
            got.append(status)
        closed = closes(s, buf, time.monotonic() + BOUND_S)
    assert got == want and closed, (got, closed)


class Slowloris:
    """Connections that send a request head one byte a second."""

    def __init__(self, port, n):
        self.port = port
        self.cut = []  # seconds from connect to the server's close
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(n)]

    def run(self):
        msg = head(b"X-Slow: " + b"s" * 100 + b"\r\nContent-Length: 2\r\n") + b"{}"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            t0 = time.monotonic()
            try:
                for b in msg:
                    s.sendall(bytes([b]))
                    if self.stop.wait(1.0):  # the attacker's pace: a byte a second
                        return
                    if closes(s, b"", time.monotonic() + 0.01):
                        break
            except OSError:
                pass
            self.cut.append(time.monotonic() - t0)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(10)


class GoodTraffic:
    """A client sending good requests the whole time; every one must get 202."""

    def __init__(self, url):
        self.url = url
        self.ids, self.answers, self.latencies = [], [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        s = requests.Session()
        while not self.stop.is_set():
            ids = [f"good-{uuid.uuid4().hex}" for _ in range(3)]
            t0 = time.monotonic()
            try:
                r = s.post(self.url, data=json.dumps([{"id": i} for i in ids]),
                           headers={"Content-Type": "application/json"}, timeout=30)
                self.answers.append(r.status_code)
                if r.status_code == 202:
                    self.ids += ids
            except requests.RequestException as e:
                self.answers.append(type(e).__name__)
                s = requests.Session()
            self.latencies.append(time.monotonic() - t0)
            self.stop.wait(0.05)  # the good client's pace

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)


class RssWatch:
    """Samples the server's VmRSS; keeps the peak."""

    def __init__(self, pid):
        self.pid, self.peak_kb, self.first_kb = pid, 0, None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def sample(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def run(self):
        while not self.stop.is_set():
            try:
                kb = self.sample()
            except OSError:
                return
            self.first_kb = self.first_kb or kb
            self.peak_kb = max(self.peak_kb, kb)
            self.stop.wait(0.05)  # sampling interval

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def test_hostile_corpus_is_refused_while_good_requests_flow(stack):
    ing = stack.ingest(**SETTINGS).start()
    wait_until(lambda: requests.get(ing.url + "/readyz", timeout=5).status_code == 200,
               60, "ingest-api /readyz")
    failures = []
    pipe_ids = [f"pipe-{i}-{uuid.uuid4().hex}" for i in range(4)]
    with RssWatch(ing.proc.pid) as rss, GoodTraffic(ing.url + "/v1/events") as goodc:
        wait_until(lambda: len(goodc.ids) > 0, 30, "good requests answered")
        with Slowloris(ing.port, SLOWLORIS) as slow:
            for name, payload, expect, must_close in CASES:
                seen, failure = attack(ing.port, name, payload, expect, must_close)
                print(f"  {name:45} {seen}")
                failures.append(failure)
                assert ing.proc.poll() is None, f"ingest-api died at {name!r}:\n" + \
                    ing.log_text()
            pipelined(ing.port, pipe_ids)
            wait_until(lambda: len(slow.cut) == SLOWLORIS, SLOWLORIS_BOUND_S + 30,
                       "every slowloris connection cut")
        after = len(goodc.answers)
        wait_until(lambda: len(goodc.answers) >= after + 10, 30,
                   "good requests after the attack")
    failures = [f for f in failures if f]
    print(f"hostile: {len(CASES)} cases, RSS {rss.first_kb // 1024} MB at start, peak "
          f"{rss.peak_kb // 1024} MB; {len(goodc.answers)} good requests, slowest "
          f"{max(goodc.latencies):.2f} s; slowloris cut after {min(slow.cut):.1f}-"
          f"{max(slow.cut):.1f} s")
    assert not failures, "\n".join(failures)
    assert ing.proc.poll() is None, ing.log_text()
    assert max(slow.cut) < SLOWLORIS_BOUND_S, sorted(slow.cut)
    assert set(goodc.answers) == {202}, [a for a in goodc.answers if a != 202][:5]
    assert rss.peak_kb < RSS_BOUND_MB * 1024, rss.peak_kb
    # Nothing invalid reached Kafka: the topic holds exactly the good events.
    want = sorted(goodc.ids + GOOD_IDS)
    got = sorted(json.loads(m.value())["id"] for m in stack.topic_messages())
    assert got == want, (len(got), len(want), sorted(set(got) ^ set(want))[:5])
    assert ing.stop() == 0
