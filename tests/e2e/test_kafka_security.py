"""Secured connections to the real Kafka broker: a private KRaft broker
(deploy/local/kafka.sh with KAFKA_SECURE_PORT) with SSL, mutual-TLS, SASL_SSL
(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and SASL_PLAINTEXT listeners, a CA and
certificates made here with openssl, SCRAM users stored by Kafka's own
StorageTool.

- each secured mode, set with the documented kafka.* settings (the passwords
  and the key passphrase also from files), or with raw kafka.properties:
  events POSTed to ingest-api land in S3 exactly once through the uploader,
  and `uploader replay` writes them again, exactly once;
- a wrong password and a broker certificate from an unknown CA fail with a
  clear message, /readyz answers 503 on both daemons, replay exits non-zero;
- no password or passphrase appears in any log (librdkafka's debug output
  included), in --check-config, in /metrics or in /readyz.

One broker serves the whole module; the S3 server is the shared one."""

import json
import os
import subprocess
import uuid

import pytest
import requests

import conftest
from conftest import BIN, ROOT, Stack, S3_ENDPOINT, BUCKET, ACCESS_KEY, SECRET_KEY, REGION
from conftest import wait_until
from test_pipeline import assert_exactly_once
from test_secrets import leaks

SCRIPT = os.path.join(ROOT, "deploy", "local", "kafka.sh")
TAG = uuid.uuid4().hex[:8]
# Distinctive values: any of them (or its middle) in an output is a leak.
SCRAM_PASSWORD = f"scram-{TAG}-Vb7qLw2Z"
PLAIN_PASSWORD = f"plain-{TAG}-Rt5mKx9P"
KEY_PASSWORD = f"keypass-{TAG}-Nc4hYe8S"
WRONG_PASSWORD = f"wrong-{TAG}-Qz6dFj3T"
SECRETS = [SCRAM_PASSWORD, PLAIN_PASSWORD, KEY_PASSWORD, WRONG_PASSWORD]
EVENTS = 200


def port_base():
    """The broker's plaintext port; the controller is +1, the secured
    listeners +2 (SSL), +3 (MTLS), +4 (SASL_SSL), +5 (SASL_PLAINTEXT)."""
    if os.environ.get("KAFKA_SECURE_TEST_PORT"):
        return int(os.environ["KAFKA_SECURE_TEST_PORT"])
    return int(os.environ.get("KAFKA_PORT", "19092")) + 300


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    """A CA, the broker's certificate (127.0.0.1 and localhost), a client
    certificate with an encrypted PKCS#8 key, and an unrelated CA."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key",
                "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN=millrace test {ca}", cwd=d)
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ext in (("broker", ["-extfile", "san.cnf"]), ("client", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
                "-out", f"{name}.csr", "-subj", f"/CN=millrace-{name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *ext, cwd=d)
    openssl("pkcs8", "-topk8", "-in", "client.key", "-out", "client-enc.key",
            "-passout", f"pass:{KEY_PASSWORD}", "-v2", "aes-256-cbc", cwd=d)
    for name, text in (("key-password", KEY_PASSWORD), ("scram-password", SCRAM_PASSWORD)):
        (d / name).write_text(text + "\n")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """The secured broker; yields its files and ports."""
    d = tmp_path_factory.mktemp("kafka-tls")
    make_pki(d)
    base = port_base()
    env = {**os.environ, "KAFKA_PORT": str(base), "KAFKA_CONTAINER_PORT": "0",
           "KAFKA_SECURE_PORT": str(base + 2), "KAFKA_TLS_DIR": str(d),
           "KAFKA_SASL_USERS": f"alice:{SCRAM_PASSWORD} bob:{PLAIN_PASSWORD}",
           "KAFKA_RUN_DIR": os.path.join(ROOT, ".run", "kafka-secure"), "KAFKA_RESET": "1",
           "KAFKA_HEAP_OPTS": "-Xmx384m -Xms128m"}
    r = subprocess.run(["bash", SCRIPT, "start"], env=env, text=True, timeout=180,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert r.returncode == 0, r.stdout[-3000:]
    saved = conftest.BROKERS
    conftest.BROKERS = f"127.0.0.1:{base}"  # topics are made on the plaintext port
    yield {"dir": d, "ssl": base + 2, "mtls": base + 3, "sasl_ssl": base + 4,
           "sasl_plaintext": base + 5}
    conftest.BROKERS = saved
    subprocess.run(["bash", SCRIPT, "stop"], env=env, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def mode_env(b, mode):
    """The daemons' environment for one secured mode."""
    d = b["dir"]
    ca = {"KAFKA_SSL_CA_FILE": str(d / "ca.pem")}
    return {
        "ssl": {"KAFKA_BROKERS": f"127.0.0.1:{b['ssl']}",
                "KAFKA_SECURITY_PROTOCOL": "ssl", **ca},
        "mtls": {"KAFKA_BROKERS": f"127.0.0.1:{b['mtls']}",
                 "MILLRACE_KAFKA_SECURITY_PROTOCOL": "ssl", **ca,
                 "KAFKA_SSL_CERTIFICATE_FILE": str(d / "client.pem"),
                 "KAFKA_SSL_KEY_FILE": str(d / "client-enc.key"),
                 "KAFKA_SSL_KEY_PASSWORD_FILE": str(d / "key-password")},
        "scram-sha-512": {"KAFKA_BROKERS": f"127.0.0.1:{b['sasl_ssl']}",
                          "KAFKA_SECURITY_PROTOCOL": "sasl_ssl", **ca,
                          "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                          "KAFKA_SASL_USERNAME": "alice",
                          "MILLRACE_KAFKA_SASL_PASSWORD_FILE": str(d / "scram-password")},
        "plain": {"KAFKA_BROKERS": f"127.0.0.1:{b['sasl_ssl']}",
                  "KAFKA_SECURITY_PROTOCOL": "sasl_ssl", **ca,
                  "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "bob",
                  "KAFKA_SASL_PASSWORD": PLAIN_PASSWORD},
        "scram-sha-256-plaintext": {"KAFKA_BROKERS": f"127.0.0.1:{b['sasl_plaintext']}",
                                    "KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
                                    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                                    "KAFKA_SASL_USERNAME": "alice",
                                    "KAFKA_SASL_PASSWORD": SCRAM_PASSWORD},
        # The same, passed through as raw librdkafka properties.
        "properties": {"KAFKA_BROKERS": f"127.0.0.1:{b['sasl_ssl']}",
                       "MILLRACE_KAFKA_PROPERTIES":
                           f"security.protocol=SASL_SSL,ssl.ca.location={d / 'ca.pem'},"
                           f"sasl.mechanisms=SCRAM-SHA-512,sasl.username=alice,"
                           f"sasl.password={SCRAM_PASSWORD}"},
    }[mode]


def replay(stack, env):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("MILLRACE_", "AWS_"))}
    e.update({"KAFKA_TOPIC": stack.topic, "CONSUMER_GROUP": stack.group,
              "S3_ENDPOINT": S3_ENDPOINT, "S3_BUCKET": BUCKET, "S3_PREFIX": stack.prefix,
              "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
              "AWS_REGION": REGION, "LOG_LEVEL": "debug", **env})
    return subprocess.run([os.path.join(BIN, "uploader"), "replay", "--since", "0"],
                          env=e, capture_output=True, text=True, timeout=120)


def check_config(daemon, env):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "S3_BUCKET": BUCKET, **env}
    return subprocess.run([os.path.join(BIN, daemon), "--check-config"], env=e,
                          capture_output=True, text=True, timeout=60)


def post(url, ids):
    body = "".join(json.dumps({"id": i}) + "\n" for i in ids)
    return requests.post(url + "/v1/events", data=body, timeout=30,
                         headers={"Content-Type": "application/x-ndjson"})


def assert_no_leak(what, text):
    assert not leaks(text, SECRETS), f"{what} holds {leaks(text, SECRETS)}"


def daemon_outputs(d):
    with open(d.log_path, errors="replace") as f:
        return f.read()


def delete_objects(stack):
    s3 = conftest.s3_client()
    for key in stack.objects():
        s3.delete_object(Bucket=BUCKET, Key=key)
    assert stack.objects() == {}


@pytest.mark.parametrize("mode", ["ssl", "mtls", "scram-sha-512", "plain",
                                  "scram-sha-256-plaintext", "properties"])
def test_secured_mode_round_trips_exactly_once(broker, mode):
    env = {**mode_env(broker, mode), "LOG_LEVEL": "debug"}
    stack = Stack()
    try:
        for daemon in ("ingest-api", "uploader"):
            r = check_config(daemon, env)
            assert r.returncode == 0, r.stdout + r.stderr
            assert_no_leak(f"{daemon} --check-config", r.stdout + r.stderr)
        ingest = stack.ingest(**env).start()
        up = stack.uploader(**env).start()
        wait_until(lambda: requests.get(ingest.url + "/readyz", timeout=5).status_code == 200,
                   30, "ingest-api ready")
        ids = [uuid.uuid4().hex for _ in range(EVENTS)]
        for i in range(0, EVENTS, 50):
            r = post(ingest.url, ids[i:i + 50])
            assert r.status_code == 202, r.text
        assert_exactly_once(stack, ids)
        assert requests.get(up.url + "/readyz", timeout=5).status_code == 200
        for d in (ingest, up):
            assert_no_leak(f"{d.name} /metrics", requests.get(d.url + "/metrics").text)
        wait_until(stack.fully_committed, 60, "offsets committed")
        assert up.stop() == 0 and ingest.stop() == 0
        # replay over the same connection writes every event again, once
        delete_objects(stack)
        r = replay(stack, env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"records read:          {EVENTS}" in r.stdout, r.stdout
        assert_no_leak("replay", r.stdout + r.stderr)
        assert_exactly_once(stack, ids, timeout=30)
        for d in stack.daemons:
            assert_no_leak(d.log_path, daemon_outputs(d))
    finally:
        stack.close()


def refused_env(b, case):
    d = b["dir"]
    if case == "wrong-password":
        env = mode_env(b, "scram-sha-512")
        del env["MILLRACE_KAFKA_SASL_PASSWORD_FILE"]
        # librdkafka's own debug lines of the exchange too
        return {**env, "KAFKA_SASL_PASSWORD": WRONG_PASSWORD,
                "MILLRACE_KAFKA_PROPERTIES": "debug=security"}, \
            "SASL authentication error"
    env = mode_env(b, "mtls")
    return {**env, "KAFKA_SSL_CA_FILE": str(d / "other-ca.pem")}, "certificate verify failed"


@pytest.mark.parametrize("case", ["wrong-password", "untrusted-certificate"])
def test_refused_connection_is_clear_and_not_ready(broker, case):
    env, message = refused_env(broker, case)
    env = {**env, "LOG_LEVEL": "debug"}
    stack = Stack()
    try:
        ingest = stack.ingest(**env).start()
        up = stack.uploader(MILLRACE_UPLOADER_SHUTDOWN_TIMEOUT_MS=500, **env).start()
        for d in (ingest, up):
            wait_until(lambda: requests.get(d.url + "/readyz", timeout=5).status_code == 503,
                       30, f"{d.name} /readyz 503")
            assert_no_leak(f"{d.name} /readyz", requests.get(d.url + "/readyz").text)
            assert_no_leak(f"{d.name} /metrics", requests.get(d.url + "/metrics").text)
        r = post(ingest.url, ["refused"])
        assert r.status_code == 503, r.text
        for d in (ingest, up):
            wait_until(lambda: message in daemon_outputs(d), 30, f"{d.name}: {message}")
        r = replay(stack, {**env, "MILLRACE_KAFKA_PROPERTIES": "socket.timeout.ms=5000"})
        assert r.returncode != 0, r.stdout + r.stderr
        assert message in r.stderr, r.stderr[-3000:]
        assert_no_leak("replay", r.stdout + r.stderr)
        assert ingest.stop() == 0 and up.stop() == 0
        for d in stack.daemons:
            assert_no_leak(d.log_path, daemon_outputs(d))
    finally:
        stack.close()


def test_config_errors_are_clear_and_quote_no_secret(broker):
    d = broker["dir"]
    base = {"KAFKA_BROKERS": "127.0.0.1:1", "KAFKA_SASL_PASSWORD": WRONG_PASSWORD}
    cases = [
        ({"KAFKA_SECURITY_PROTOCOL": "sasl_ssl"}, "needs kafka.sasl_mechanism"),
        ({"KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SASL_MECHANISM": "PLAIN"},
         "needs kafka.sasl_username and kafka.sasl_password"),
        ({"KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CERTIFICATE_FILE": str(d / "client.pem")},
         "go together"),
        ({"KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CA_FILE": str(d / "absent.pem")},
         "cannot read: No such file"),
        ({"KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CERTIFICATE_FILE": str(d / "client.pem"),
          "KAFKA_SSL_KEY_FILE": str(d / "client-enc.key")}, "the key is encrypted"),
        ({"KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CERTIFICATE_FILE": str(d / "client.pem"),
          "KAFKA_SSL_KEY_FILE": str(d / "client-enc.key"),
          "KAFKA_SSL_KEY_PASSWORD": WRONG_PASSWORD}, "does not decrypt the key"),
        ({"KAFKA_SECURITY_PROTOCOL": "ssl", "KAFKA_SSL_CERTIFICATE_FILE": str(d / "broker.pem"),
          "KAFKA_SSL_KEY_FILE": str(d / "client.key")}, "is not the key of"),
        ({"MILLRACE_KAFKA_PROPERTIES": f"sasl.password:{WRONG_PASSWORD}"}, None),
    ]
    for env, message in cases:
        env = {**base, **env}
        for daemon in ("ingest-api", "uploader"):
            r = check_config(daemon, env)
            out = r.stdout + r.stderr
            assert_no_leak(f"{daemon} --check-config {sorted(env)}", out)
            if message:
                assert r.returncode == 1 and message in r.stderr, (daemon, env, out)
    # a property librdkafka refuses, at start: named, its value masked
    e = {**os.environ, **mode_env(broker, "ssl"), "HEALTH_PORT": "127.0.0.1:0",
         "S3_BUCKET": BUCKET, "MILLRACE_KAFKA_PROPERTIES":
             f"my.password={WRONG_PASSWORD}"}
    r = subprocess.run([os.path.join(BIN, "uploader")], env=e, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "my.password=********" in r.stderr, r.stderr
    assert_no_leak("uploader start", r.stdout + r.stderr)


def msk_env(b, **extra):
    """AWS_MSK_IAM against the broker's SASL_SSL listener (OAUTHBEARER with
    Kafka's unsecured validator: it receives the token and refuses it)."""
    return {"KAFKA_BROKERS": f"127.0.0.1:{b['sasl_ssl']}", "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "KAFKA_SSL_CA_FILE": str(b["dir"] / "ca.pem"), "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM",
            "MILLRACE_KAFKA_AWS_REGION": "eu-west-1", "LOG_LEVEL": "debug",
            # nothing of the machine's: no profile, no instance metadata
            "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_EC2_METADATA_DISABLED": "true", **extra}


def test_msk_iam_signs_in_with_the_credential_chain(broker):
    """With keys, each client hands the broker a token (which this broker,
    not MSK, refuses); without any, a clear error and retries. Both: /readyz
    503, and the secret key nowhere."""
    secret = f"msk-secret-{TAG}-Pw8yHs3L"
    stack = Stack()
    try:
        r = check_config("ingest-api", msk_env(broker))
        assert r.returncode == 0, r.stdout + r.stderr
        with_keys = stack.ingest(**msk_env(broker, AWS_ACCESS_KEY_ID="AKIDMILLRACETEST",
                                           AWS_SECRET_ACCESS_KEY=secret)).start()
        up = stack.uploader(MILLRACE_UPLOADER_SHUTDOWN_TIMEOUT_MS=500,
                            **msk_env(broker, AWS_SECRET_ACCESS_KEY=secret,
                                      AWS_ACCESS_KEY_ID="AKIDMILLRACETEST"))
        up.start()
        without = stack.ingest(**msk_env(broker)).start()
        for d in (with_keys, up, without):
            wait_until(lambda: requests.get(d.url + "/readyz", timeout=5).status_code == 503,
                       30, f"{d.name} /readyz 503")
        for d in (with_keys, up):
            wait_until(lambda: "MSK IAM token for region eu-west-1 signed by access key "
                       "AKIDMILLRACETEST" in daemon_outputs(d), 30, f"{d.name}: a token")
            wait_until(lambda: "SASL authentication error" in daemon_outputs(d), 30,
                       f"{d.name}: the broker's refusal")
        wait_until(lambda: "no MSK IAM token: no credentials" in daemon_outputs(without), 30,
                   "the credential chain's failure")
        for d in stack.daemons:
            assert d.stop() == 0
            assert secret not in daemon_outputs(d)
    finally:
        stack.close()
