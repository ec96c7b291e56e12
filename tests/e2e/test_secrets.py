"""Secrets stay secret: bearer tokens and S3 credentials, set to distinctive
values, appear in no daemon log of a full pipeline run (log level debug,
including a replica whose secret and session token the server refuses) and
not in --check-config's output, valid or not; and credentials read from
files (the *_FILE variables, the *_file settings) work end to end."""

import json
import os
import subprocess
import uuid

import requests

from conftest import BIN, BUCKET, S3_ENDPOINT, SECRET_KEY, wait_until
from test_pipeline import assert_exactly_once

TAG = uuid.uuid4().hex[:8]
# Distinctive values: any of them (or a long piece of one) in a log is a leak.
TOKENS = [f"tok-{TAG}-Kq7vX2mZ", f"tok-{TAG}-Wp4nR8cY"]
WRONG_TOKEN = f"tok-{TAG}-notOneOfOurs"
WRONG_SECRET = f"wrong-secret-{TAG}-Hs9dLq"
SESSION_TOKEN = f"session-{TAG}-FwQ2uT6e/+="
SHORT_TOKEN = f"s{TAG}x"  # too short: a config error that must not quote it
SASL_PASSWORD = f"sasl-{TAG}-Jm3vB8pd"  # a librdkafka property passed through


def leaks(text, secrets):
    """The secrets (or the middle 12 characters of a long one) in text."""
    found = []
    for s in secrets:
        mid = s[len(s) // 2 - 6:len(s) // 2 + 6] if len(s) >= 16 else s
        if s in text or mid in text:
            found.append(s)
    return found


def wrap():
    return os.environ.get("MILLRACE_WRAP", "").split()


def check_config(daemon, env, *args):
    """Runs `daemon --check-config` with exactly env (plus PATH)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
    return subprocess.run(wrap() + [os.path.join(BIN, daemon), "--check-config", *args],
                          env=env, capture_output=True, text=True, timeout=300)


def secret_file(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_pipeline_logs_hold_no_secret(stack, tmp_path):
    tokens_file = secret_file(tmp_path, "tokens", "\n".join(TOKENS) + "\n")
    key_file = secret_file(tmp_path, "s3-secret", SECRET_KEY + "\n")
    ingest = stack.ingest(MILLRACE_INGEST_TOKENS_FILE=tokens_file, LOG_LEVEL="debug").start()
    uploader = stack.uploader(LOG_LEVEL="debug", AWS_SECRET_ACCESS_KEY_FILE=key_file)
    del uploader.env["AWS_SECRET_ACCESS_KEY"]
    uploader.start()
    # Replicas the server refuses (a wrong secret; a session token it does
    # not know): their errors are where a careless log line would print the
    # credentials they signed with.
    refused = [stack.uploader(LOG_LEVEL="debug", CONSUMER_GROUP=f"{stack.group}-refused{i}",
                              MILLRACE_UPLOADER_SHUTDOWN_TIMEOUT_MS=500, **creds).start()
               for i, creds in enumerate(({"AWS_SECRET_ACCESS_KEY": WRONG_SECRET},
                                          {"AWS_SESSION_TOKEN": SESSION_TOKEN}))]

    url = ingest.url + "/v1/events"
    s = requests.Session()
    ids = [uuid.uuid4().hex for _ in range(500)]
    for i in range(0, len(ids), 50):
        tok = TOKENS[(i // 50) % 2]
        body = "".join(json.dumps({"id": x}) + "\n" for x in ids[i:i + 50])
        r = s.post(url, data=body, headers={"Authorization": f"Bearer {tok}",
                                            "Content-Type": "application/x-ndjson"})
        assert r.status_code == 202, r.text
    for headers in ({"Authorization": f"Bearer {WRONG_TOKEN}"},
                    {"Authorization": f"Basic {WRONG_TOKEN}"}, {}):
        r = s.post(url, data='{"id":"refused"}', headers=headers)
        assert r.status_code == 401, r.text
        assert not leaks(r.text + str(r.headers), TOKENS + [WRONG_TOKEN])

    assert_exactly_once(stack, ids)
    for d in refused:
        wait_until(lambda: d.metrics().get("millrace_uploader_permanent_errors_total", 0) > 0,
                   60, "a refused replica's permanent error")
    for d in refused + [uploader, ingest]:
        assert d.stop() == 0
    secrets = TOKENS + [WRONG_TOKEN, SECRET_KEY, WRONG_SECRET, SESSION_TOKEN]
    for d in stack.daemons:
        with open(d.log_path, errors="replace") as f:
            text = f.read()
        assert text, f"{d.name} wrote no log"
        assert not leaks(text, secrets), f"{d.log_path} holds {leaks(text, secrets)}"
    assert "SignatureDoesNotMatch" in open(refused[0].log_path).read()
    assert "InvalidToken" in open(refused[1].log_path).read()


def test_check_config_masks_secrets(tmp_path):
    tokens_file = secret_file(tmp_path, "tokens", TOKENS[1] + "\n")
    key_file = secret_file(tmp_path, "key", WRONG_SECRET + "\r\n")
    cfg = tmp_path / "millrace.cfg"
    cfg.write_text(f's3: {{ bucket = "{BUCKET}"; access_key = "ak"; '
                   f'session_token = "{SESSION_TOKEN}"; }};\n'
                   f'ingest: {{ tokens = [ "{TOKENS[0]}" ]; }};\n')
    secrets = TOKENS + [WRONG_SECRET, SESSION_TOKEN, SHORT_TOKEN, SASL_PASSWORD]
    runs = [
        ("uploader", {"AWS_SECRET_ACCESS_KEY": WRONG_SECRET, "AWS_SESSION_TOKEN": SESSION_TOKEN,
                      "AWS_ACCESS_KEY_ID": "ak", "S3_BUCKET": BUCKET,
                      "MILLRACE_KAFKA_PROPERTIES": f"sasl.mechanism=PLAIN,"
                                                   f"sasl.password={SASL_PASSWORD}"}, [], 0),
        ("uploader", {"AWS_SECRET_ACCESS_KEY_FILE": key_file, "AWS_ACCESS_KEY_ID": "ak",
                      "S3_BUCKET": BUCKET, "S3_ENDPOINT": S3_ENDPOINT}, [], 0),
        ("uploader", {"MILLRACE_S3_SECRET_KEY": WRONG_SECRET},
         ["--config", str(cfg.with_name("uploader.cfg"))], 0),
        ("ingest-api", {"MILLRACE_INGEST_TOKENS": ",".join(TOKENS)}, [], 0),
        ("ingest-api", {"MILLRACE_INGEST_TOKENS_FILE": tokens_file}, [], 0),
        # Errors: a token too short, both forms at once, a missing file.
        ("ingest-api", {"MILLRACE_INGEST_TOKENS": f"{TOKENS[0]},{SHORT_TOKEN}"}, [], 1),
        ("uploader", {"AWS_SECRET_ACCESS_KEY": WRONG_SECRET,
                      "AWS_SECRET_ACCESS_KEY_FILE": key_file}, [], 1),
        ("uploader", {"AWS_SECRET_ACCESS_KEY_FILE": str(tmp_path / "absent"),
                      "AWS_SESSION_TOKEN": SESSION_TOKEN}, [], 1),
    ]
    (tmp_path / "uploader.cfg").write_text(cfg.read_text().split("ingest:")[0])
    for daemon, env, args, want in runs:
        r = check_config(daemon, env, *args)
        out = r.stdout + r.stderr
        assert r.returncode == want, (daemon, sorted(env), out)
        assert not leaks(out, secrets), (daemon, sorted(env), leaks(out, secrets), out)
        if want == 0:
            for row in (("s3.secret_key", "s3.session_token") if daemon == "uploader"
                        else ("ingest.tokens",)):
                line = next(ln for ln in r.stdout.splitlines() if ln.startswith(row + " = "))
                assert line.split(" = ", 1)[1].startswith(('"********"', '""')), line
    r = check_config("uploader", {"AWS_SECRET_ACCESS_KEY_FILE": key_file,
                                  "AWS_ACCESS_KEY_ID": "ak", "S3_BUCKET": BUCKET})
    assert "s3.secret_key = \"********\"  # env AWS_SECRET_ACCESS_KEY_FILE" in r.stdout


