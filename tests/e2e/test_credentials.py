"""The uploader given a role, no keys: each source of the AWS credential chain
against a real implementation, uploads signed with what it yields, and renewal
before expiry while uploads go on.

- IMDSv2: AWS's own simulator, amazon-ec2-metadata-mock (`-I`: IMDSv2 only),
  serving the versitygw test account's keys; versitygw checks every upload's
  signature. `uploader replay` too.
- Container credentials (EKS Pod Identity's FULL_URI and token file): a small
  endpoint here that mints a new versitygw account for every request, with a
  30 s lifetime, and deletes each account once it has expired: uploads keep
  landing, so each was signed with keys still valid. The endpoint answers 503
  at first: the uploader starts not ready (/readyz, metrics, log) and recovers.
- Web identity (IRSA): moto's STS AssumeRoleWithWebIdentity, with moto's IAM
  auth on. moto then wants every call signed, while real STS takes this one
  unsigned: a proxy here records what the uploader sent (unsigned, the token
  file's contents), signs it with an admin key, and sets the answer's
  Expiration 30 s ahead, so that renewals, with the token file rewritten,
  happen during the test.
- A shared profile with role_arn + source_profile: the uploader signs STS
  AssumeRole itself with the source profile's keys, and moto checks that
  signature (a wrong secret is refused).

STS issues random keys with a session token, which no versitygw account can
match (versitygw takes session tokens only from its standalone IAM service):
those uploads go to a recording endpoint here, and botocore's SigV4 checks
each one's signature and token against the keys STS issued, and that it was
signed before they expired. versitygw refuses a session token with its own
accounts too, so the IMDS and container answers here carry an empty Token.
"""

import datetime
import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from confluent_kafka import Producer

from conftest import (ACCESS_KEY, BROKERS, BUCKET, ROOT, SECRET_KEY, free_port,
                      s3_client, wait_until)

CACHE = os.environ.get("MILLRACE_CACHE_DIR", os.path.join(ROOT, ".cache"))
VERSITYGW = os.path.join(CACHE, "bin", "versitygw")
LIFETIME = 30  # seconds: temporary credentials renewed during a test
MOTO_ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/millrace-uploader"


# --- helpers ----------------------------------------------------------------------

def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def produce(topic, n, tag):
    """n events with unique ids, acknowledged; returns the ids."""
    p = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True,
                  "linger.ms": 5})
    ids = [f"{tag}-{uuid.uuid4().hex}" for _ in range(n)]
    errors = []
    for i in ids:
        p.produce(topic, json.dumps({"id": i}).encode(),
                  on_delivery=lambda err, _m: err and errors.append(err))
    assert p.flush(60) == 0 and not errors, errors[:3]
    return ids


def keyless(stack, tmp_path, **env):
    """An uploader with no keys and no shared files: only what env names."""
    base = {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
            "LOG_LEVEL": "info"}
    base.update(env)
    up = stack.uploader(**base)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        del up.env[k]
    return up


def metric(up, name):
    return up.metrics().get("millrace_uploader_" + name)


def ids_in(stack):
    return sorted(e["id"] for _, e in stack.events_in_s3())


def check_config(env):
    """`uploader --check-config` with exactly env; returns its stdout."""
    r = subprocess.run([os.path.join(ROOT, os.environ.get("MILLRACE_BIN", "build"), "uploader"),
                        "--check-config"], env=dict(env, PATH=os.environ["PATH"]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


class Server:
    """A ThreadingHTTPServer on a free loopback port, in a thread."""

    def __init__(self, handler):
        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def quiet(handler_cls):
    handler_cls.log_message = lambda *a: None
    return handler_cls


@pytest.fixture(scope="module")
def mocks():
    r = subprocess.run(["bash", os.path.join(ROOT, "tests", "deploy", "aws-mocks.sh")],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return dict(line.split("=", 1) for line in r.stdout.split())


# --- IMDSv2 -------------------------------------------------------------------------

@pytest.fixture
def imds(mocks, tmp_path):
    """amazon-ec2-metadata-mock, IMDSv2 only, naming the versitygw test keys."""
    cfg = tmp_path / "aemm.json"
    cfg.write_text(json.dumps({"metadata": {
        "paths": {"iam-security-credentials":
                  "/latest/meta-data/iam/security-credentials/millrace-uploader"},
        "values": {"iam-security-credentials-role": "millrace-uploader",
                   "iam-security-credentials": {
                       "Code": "Success", "LastUpdated": iso(time.time()),
                       "Type": "AWS-HMAC", "AccessKeyId": ACCESS_KEY,
                       "SecretAccessKey": SECRET_KEY, "Token": "",
                       "Expiration": iso(time.time() + 6 * 3600)}}}}))
    port = free_port()
    log = open(tmp_path / "aemm.log", "wb")
    proc = subprocess.Popen([mocks["EC2_METADATA_MOCK"], "-n", "127.0.0.1", "-p", str(port),
                             "-I", "-c", str(cfg)], stdout=log, stderr=log, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"

    def up():
        assert proc.poll() is None, (tmp_path / "aemm.log").read_text()
        try:
            return requests.put(url + "/latest/api/token", timeout=1,
                                headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
                                ).status_code == 200
        except requests.RequestException:
            return False
    wait_until(up, 30, "ec2-metadata-mock")
    yield url
    proc.terminate()
    proc.wait(10)
    log.close()


def test_imds_v2_credentials_sign_the_uploads(stack, tmp_path, imds):
    # The simulator is IMDSv2 only: a request without a session token is refused.
    r = requests.get(imds + "/latest/meta-data/iam/security-credentials/", timeout=5)
    assert r.status_code == 401, r.status_code
    up = keyless(stack, tmp_path, AWS_EC2_METADATA_DISABLED="false",
                 AWS_EC2_METADATA_SERVICE_ENDPOINT=imds)
    out = check_config(up.env)
    assert f"# credentials: source imds (instance role millrace-uploader at {imds}), " \
        f"access key {ACCESS_KEY}, temporary, expire " in out, out
    up.start()
    wait_until(lambda: metric(up, "credentials_ok") == 1, 30, "credentials")
    assert metric(up, 'credentials_info{source="imds"}') == 1
    ids = produce(stack.topic, 200, "imds")
    wait_until(lambda: ids_in(stack) == sorted(ids), 60, "events in S3")
    assert metric(up, "permanent_errors_total") == 0
    assert f"credentials from imds (instance role millrace-uploader at {imds}): " \
        f"access key {ACCESS_KEY}" in up.log_text()
    assert SECRET_KEY not in up.log_text()


def test_replay_signs_with_the_chain_too(stack, tmp_path, imds):
    """`uploader replay` finds its credentials the same way; with none it
    stops at once, saying why, instead of waiting."""
    ids = produce(stack.topic, 100, "replay")
    env = dict(keyless(stack, tmp_path, AWS_EC2_METADATA_DISABLED="false",
                       AWS_EC2_METADATA_SERVICE_ENDPOINT=imds).env, PATH=os.environ["PATH"])
    binary = os.path.join(ROOT, os.environ.get("MILLRACE_BIN", "build"), "uploader")
    r = subprocess.run([binary, "replay", "--since", "0"], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"credentials from imds (instance role millrace-uploader at {imds})" in r.stderr
    assert ids_in(stack) == sorted(ids)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    r = subprocess.run([binary, "replay", "--since", "0"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0
    assert "replay: no AWS credentials: no source is configured" in r.stderr, r.stderr


def test_imds_absent_fails_fast(stack, tmp_path):
    """Nothing listens where IMDS should be: the chain gives up within the
    SDKs' 1 s timeouts, and says why."""
    port = free_port()
    env = dict(keyless(stack, tmp_path, AWS_EC2_METADATA_DISABLED="false",
                       AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{port}").env)
    t0 = time.monotonic()
    out = check_config(env)
    assert time.monotonic() - t0 < 5
    assert f"# credentials: none available now: imds: PUT http://127.0.0.1:{port}" \
        "/latest/api/token: " in out, out


# --- container credentials, on an IAM-enabled versitygw ------------------------------

@pytest.fixture
def iam_s3(tmp_path):
    """A private versitygw with accounts besides root, and a way to make and
    delete them."""
    port = free_port()
    env = dict(os.environ, S3_PORT=str(port), S3_RUN_DIR=str(tmp_path / "s3"), S3_IAM="1",
               S3_BUCKET=BUCKET)
    s3sh = os.path.join(ROOT, "deploy", "local", "s3.sh")
    subprocess.run(["bash", s3sh, "start"], env=env, check=True, capture_output=True,
                   timeout=120)
    endpoint = f"http://127.0.0.1:{port}"

    def admin(*args):
        r = subprocess.run([VERSITYGW, "admin", "-er", endpoint, *args],
                           env=dict(os.environ, ADMIN_ACCESS_KEY_ID=ACCESS_KEY,
                                    ADMIN_SECRET_ACCESS_KEY=SECRET_KEY),
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    yield endpoint, admin
    subprocess.run(["bash", s3sh, "stop"], env=env, capture_output=True, timeout=60)


class Minter:
    """The container endpoint: each GET with the right Authorization mints a
    versitygw account that expires LIFETIME s later; a janitor deletes each
    account once expired. 503 until opened."""

    def __init__(self, admin, token_file):
        self.admin = admin
        self.token_file = token_file
        self.open = False
        self.issued = []  # (access key, expiration)
        self.deleted = set()
        self.auth_seen = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.janitor = threading.Thread(target=self.sweep, daemon=True)
        self.janitor.start()

    def mint(self, auth):
        with self.lock:
            self.auth_seen.append(auth)
            if not self.open:
                return 503, b'{"message":"agent not ready"}'
            if auth != open(self.token_file).read().strip():
                return 401, b'{"message":"bad token"}'
            access = f"rot{len(self.issued)}-{uuid.uuid4().hex[:8]}"
            secret = uuid.uuid4().hex
            self.admin("create-user", "--access", access, "--secret", secret, "--role", "admin")
            exp = int(time.time()) + LIFETIME
            self.issued.append((access, exp))
        return 200, json.dumps({"AccessKeyId": access, "SecretAccessKey": secret,
                                "Token": "", "Expiration": iso(exp),
                                "RoleArn": ROLE}).encode()

    def sweep(self):
        while not self.stop.wait(0.2):  # the janitor's tick
            with self.lock:
                due = [a for a, exp in self.issued if exp <= time.time() and a not in self.deleted]
            for a in due:
                self.admin("delete-user", "--access", a)
                self.deleted.add(a)


def test_container_credentials_renewed_before_expiry_under_load(stack, tmp_path, iam_s3):
    endpoint, admin = iam_s3
    stack.s3_endpoint = endpoint
    token_file = tmp_path / "eks-pod-identity-token"
    token_file.write_text("token-1\n")
    minter = Minter(admin, token_file)

    @quiet
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = minter.mint(self.headers.get("Authorization", ""))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    agent = Server(Handler)
    try:
        up = keyless(stack, tmp_path, S3_ENDPOINT=endpoint,
                     AWS_CONTAINER_CREDENTIALS_FULL_URI=agent.url + "/v1/credentials",
                     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file))
        up.start()
        # No credentials yet: running, not ready, and saying why.
        wait_until(lambda: requests.get(up.url + "/readyz", timeout=5).status_code == 503
                   and len(minter.auth_seen) >= 2, 30, "readyz 503 while the agent is down")
        assert requests.get(up.url + "/readyz", timeout=5).json()["status"] == "no_credentials"
        assert metric(up, "credentials_ok") == 0
        assert metric(up, 'credentials_info{source="none"}') == 1
        assert "no usable credentials (source chain): container: " \
            f"{agent.url}/v1/credentials answered HTTP 503" in up.log_text()
        minter.open = True
        wait_until(lambda: requests.get(up.url + "/readyz", timeout=5).status_code == 200,
                   30, "ready once the agent answers")
        ids = []
        deadline = time.monotonic() + 2.5 * LIFETIME
        while time.monotonic() < deadline:
            ids += produce(stack.topic, 20, "c")
            if len(minter.issued) == 2:
                token_file.write_text("token-2\n")  # the agent rotates its token
            time.sleep(0.5)  # pacing of the load, not a readiness wait
        wait_until(lambda: ids_in(stack) == sorted(ids), 60, "every event in S3")
        issued = list(minter.issued)
        # Renewed at half of the 30 s lifetime, each time with the token file
        # as it was then; every expired account was deleted while the uploads
        # went on, and none of them was refused.
        assert len(issued) >= 4, issued
        assert all(b[1] - a[1] >= LIFETIME // 2 - 2 for a, b in zip(issued, issued[1:])), issued
        assert len(minter.deleted) >= 3
        assert "token-2" in minter.auth_seen
        assert metric(up, "permanent_errors_total") == 0
        assert metric(up, "credentials_refreshes_total") >= 3
        assert metric(up, "credentials_ok") == 1
        log = up.log_text()
        assert f"credentials from container ({agent.url}/v1/credentials with the token of " \
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): access key rot0-" in log
        assert "credentials refreshed from container" in log
    finally:
        minter.stop.set()
        agent.close()


# --- STS: moto ------------------------------------------------------------------------

@pytest.fixture
def moto(mocks, tmp_path):
    """moto's server with the uploader's role and an admin user, then IAM auth
    on: every later call must be signed by a key moto issued."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "moto.log", "wb")
    proc = subprocess.Popen(["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=log)

    def up():
        assert proc.poll() is None, (tmp_path / "moto.log").read_text()
        try:
            return requests.get(url + "/moto-api/data.json", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    wait_until(up, 60, "moto server")
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="boot", aws_secret_access_key="boot")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*", "Federated": "*"},
         "Action": ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"]}]}
    iam.create_role(RoleName="millrace-uploader", AssumeRolePolicyDocument=json.dumps(trust))
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    assert requests.post(url + "/moto-api/reset-auth", data=b"0", timeout=5).ok
    yield url, (key["AccessKeyId"], key["SecretAccessKey"])
    proc.terminate()
    proc.wait(10)
    log.close()


class StsProxy:
    """Between the uploader and moto's STS: records each exchange and sets the
    answer's Expiration LIFETIME s ahead. With admin, it signs the call it
    forwards (moto's auth wants every call signed; real STS takes
    AssumeRoleWithWebIdentity unsigned); without, it forwards the uploader's
    own signature untouched, for moto to check."""

    def __init__(self, moto_url, admin=None):
        self.exchanges = []
        proxy = self

        @quiet
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("content-length", "connection", "expect")}
                if admin:
                    req = AWSRequest("POST", moto_url + "/", data=body, headers={
                        "Content-Type": self.headers["Content-Type"]})
                    SigV4Auth(Credentials(*admin), "sts", "us-east-1").add_auth(req)
                    headers = dict(req.headers)
                r = requests.post(moto_url + "/", data=body, headers=headers, timeout=10)
                text = re.sub(r"<Expiration>[^<]*</Expiration>",
                              f"<Expiration>{iso(time.time() + LIFETIME)}</Expiration>",
                              r.text)
                proxy.exchanges.append({"headers": dict(self.headers), "body": body.decode(),
                                        "status": r.status_code, "answer": text})
                out = text.encode()
                self.send_response(r.status_code)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
        self.server = Server(Handler)

    def expiration(self, i):
        """The Expiration of the i-th answer, in seconds since the epoch."""
        t = re.search(r"<Expiration>([^<]+)</Expiration>", self.exchanges[i]["answer"]).group(1)
        return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ") \
            .replace(tzinfo=datetime.timezone.utc).timestamp()

    def issued(self, i):
        """(access key, secret, token) of the i-th answer."""
        a = self.exchanges[i]["answer"]
        return tuple(re.search(f"<{t}>([^<]+)</{t}>", a).group(1).replace("&amp;", "&")
                     for t in ("AccessKeyId", "SecretAccessKey", "SessionToken"))


class S3Recorder:
    """An S3 endpoint that stores what it is sent (200 and an ETag to every
    PUT), so that each request's SigV4 signature can be checked afterwards
    by botocore with the keys STS issued."""

    def __init__(self):
        self.requests = []
        rec = self

        @quiet
        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                rec.requests.append(("PUT", self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("ETag", '"%s"' % uuid.uuid4().hex)
                self.send_header("Content-Length", "0")
                self.end_headers()
        self.server = Server(Handler)

    def ids(self):
        import gzip
        out = []
        for _, path, _, body in self.requests:
            if "/_millrace/" not in path:
                out += [json.loads(x)["id"] for x in gzip.decompress(body).decode().splitlines()]
        return sorted(set(out)), len(out)


def signed_by(request, keys):
    """Which of keys (access key, secret, token) signed request: botocore
    recomputes the signature; AssertionError when none did."""
    from botocore.auth import S3SigV4Auth
    method, path, headers, body = request
    auth = headers["Authorization"]
    ak = re.search(r"Credential=([^/]+)/", auth).group(1)
    signed = re.search(r"SignedHeaders=([^,]+)", auth).group(1).split(";")
    sig = re.search(r"Signature=([0-9a-f]{64})", auth).group(1)
    for k in keys:
        if k[0] != ak:
            continue
        assert headers.get("X-Amz-Security-Token") == k[2], "session token"
        req = AWSRequest(method, "http://" + headers["Host"] + path, data=body,
                         headers={h: v for h, v in headers.items() if h.lower() in signed})
        req.context["timestamp"] = headers["X-Amz-Date"]
        a = S3SigV4Auth(Credentials(*k), "s3", "us-east-1")
        assert a.signature(a.string_to_sign(req, a.canonical_request(req)), req) == sig, \
            f"{method} {path}: signature"
        return k
    raise AssertionError(f"{method} {path} signed by {ak}, not by any of {[k[0] for k in keys]}")


def form(body):
    return dict(kv.split("=", 1) for kv in body.split("&"))


def test_web_identity_sts_with_moto_signs_uploads_and_renews(stack, tmp_path, moto):
    moto_url, admin = moto
    token_file = tmp_path / "irsa-token"
    token_file.write_text("eyJraWQiOiJ0ZXN0In0.first.sig\n")
    sts = StsProxy(moto_url, admin)
    s3 = S3Recorder()
    try:
        up = keyless(stack, tmp_path, S3_ENDPOINT=s3.server.url, AWS_ROLE_ARN=ROLE,
                     AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
                     AWS_ROLE_SESSION_NAME="millrace-e2e",
                     AWS_ENDPOINT_URL_STS=sts.server.url)
        up.start()
        wait_until(lambda: metric(up, "credentials_ok") == 1, 30, "credentials")
        assert metric(up, 'credentials_info{source="web-identity"}') == 1
        first = sts.exchanges[0]
        # What the uploader sent: unsigned, the token file's contents.
        assert "Authorization" not in first["headers"]
        assert form(first["body"]) == {
            "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
            "RoleArn": "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fmillrace-uploader",
            "RoleSessionName": "millrace-e2e",
            "WebIdentityToken": "eyJraWQiOiJ0ZXN0In0.first.sig"}
        key1 = sts.issued(0)
        assert first["status"] == 200 and key1[0].startswith("ASIA")
        assert f"access key {key1[0]}, with session token" in up.log_text()
        token_file.write_text("eyJraWQiOiJ0ZXN0In0.second.sig\n")  # the kubelet rotates it
        ids = []
        deadline = time.monotonic() + LIFETIME
        while time.monotonic() < deadline or len(sts.exchanges) < 2:
            assert time.monotonic() < deadline + 30, "no renewal"
            ids += produce(stack.topic, 20, "wi")
            time.sleep(0.5)  # pacing of the load, not a readiness wait
        ids += produce(stack.topic, 20, "wi")
        second = sts.exchanges[1]
        assert form(second["body"])["WebIdentityToken"] == "eyJraWQiOiJ0ZXN0In0.second.sig"
        key2 = sts.issued(1)
        assert key2[0] != key1[0] and f"credentials refreshed from web-identity (role {ROLE}, " \
            f"session millrace-e2e, token file {token_file}): access key {key2[0]}" \
            in up.log_text()
        wait_until(stack.fully_committed, 60, "every record committed")
        assert s3.ids() == (sorted(ids), len(ids))
        # Every upload signed, with its session token, by keys STS issued
        # (renewed every LIFETIME / 2 s), and while they were valid.
        keys = [sts.issued(i) for i in range(len(sts.exchanges))]
        expires = {k[0]: sts.expiration(i) for i, k in enumerate(keys)}
        users = set()
        for r in s3.requests:
            ak = signed_by(r, keys)[0]
            signed_at = datetime.datetime.strptime(r[2]["X-Amz-Date"], "%Y%m%dT%H%M%SZ") \
                .replace(tzinfo=datetime.timezone.utc).timestamp()
            assert signed_at < expires[ak], (r[1], ak, "signed after its expiry")
            users.add(ak)
        assert {key1[0], key2[0]} <= users
        assert metric(up, "permanent_errors_total") == 0
    finally:
        sts.server.close()
        s3.server.close()


def test_profile_role_arn_with_source_profile_assumes_the_role(stack, tmp_path, moto):
    """The uploader signs STS AssumeRole itself, with the source profile's
    keys: moto checks that signature, then issues the role's keys."""
    moto_url, admin = moto
    sts = StsProxy(moto_url)
    s3 = S3Recorder()
    (tmp_path / "credentials").write_text(
        f"[base]\naws_access_key_id = {admin[0]}\naws_secret_access_key = {admin[1]}\n")
    (tmp_path / "config").write_text(
        f"[profile app]\nrole_arn = {ROLE}\nsource_profile = base\n"
        "role_session_name = from-profile\nregion = us-east-1\n")
    try:
        up = keyless(stack, tmp_path, S3_ENDPOINT=s3.server.url, AWS_PROFILE="app",
                     AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
                     AWS_CONFIG_FILE=str(tmp_path / "config"),
                     AWS_ENDPOINT_URL_STS=sts.server.url)
        del up.env["AWS_REGION"]  # from the profile
        out = check_config(up.env)
        assert "# region: us-east-1 (the shared profile)" in out
        assert f"# credentials: source profile (profile app: role {ROLE}, session " \
            "from-profile (AssumeRole)" in out, out
        # A wrong secret in the source profile: moto refuses the signature.
        (tmp_path / "credentials").write_text(
            f"[base]\naws_access_key_id = {admin[0]}\naws_secret_access_key = wrong\n")
        out = check_config(up.env)
        assert "# credentials: none available now: profile: AssumeRole " \
            f"{ROLE}: STS answered HTTP 403 SignatureDoesNotMatch" in out, out
        (tmp_path / "credentials").write_text(
            f"[base]\naws_access_key_id = {admin[0]}\naws_secret_access_key = {admin[1]}\n")
        up.start()
        wait_until(lambda: metric(up, "credentials_ok") == 1, 30, "credentials")
        assert f"Credential={admin[0]}/" in sts.exchanges[-1]["headers"]["Authorization"]
        assert sts.exchanges[-1]["status"] == 200
        ids = produce(stack.topic, 100, "profile")
        wait_until(stack.fully_committed, 60, "every record committed")
        assert s3.ids() == (sorted(ids), len(ids))
        key = sts.issued(len(sts.exchanges) - 1)
        assert {signed_by(r, [key])[0] for r in s3.requests} == {key[0]}
        assert metric(up, "permanent_errors_total") == 0
        assert metric(up, 'credentials_info{source="profile"}') == 1
        assert admin[1] not in up.log_text()
    finally:
        sts.server.close()
        s3.server.close()
