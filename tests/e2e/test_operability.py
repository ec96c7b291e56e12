"""What operators of millrace's peers expect of a daemon, on the real servers:

- the command line: a stray word is an error (exit 2), not the end of the
  options; `uploader --help` names the replay command;
- a MILLRACE_ variable that names no setting is warned about, at start and by
  --check-config, with the nearest real name;
- SIGHUP re-reads the configuration (log level and format, ingest-api's TLS
  certificate), logs what it reloaded and what needs a restart, refuses an
  invalid file whole, and never stops the daemon;
- log.format = json: every line the daemon writes is one JSON object with
  time, level, component and message;
- s3.path_style defaults to auto: path style for a custom endpoint (the test
  server's), virtual-hosted on AWS (tests/unit/test_setup.c).
"""

import json
import os
import signal
import ssl
import subprocess
import uuid

import pytest
import requests

from conftest import BIN, wait_until

JSON = {"Content-Type": "application/json"}


def run(args, env=None):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    e.update(env or {})
    return subprocess.run(args, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=30)


def log_lines(daemon):
    with open(daemon.log_path, "rb") as f:
        return f.read().decode(errors="replace").splitlines()


def wait_log(daemon, text, timeout=30, after=0):
    """Waits for a log line holding text, among the lines past the first
    `after`; returns the line."""
    def found():
        assert daemon.proc.poll() is None, \
            f"{daemon.name} exited {daemon.proc.returncode}:\n{daemon.log_text()}"
        return next((line for line in log_lines(daemon)[after:] if text in line), None)
    return wait_until(found, timeout, f"{daemon.name} log line {text!r}")


def post(daemon, base=None, **kw):
    r = requests.post((base or daemon.url) + "/v1/events", headers=JSON,
                      data=json.dumps({"id": uuid.uuid4().hex}), timeout=30, **kw)
    return r.status_code


# --- the command line ---------------------------------------------------------

@pytest.mark.parametrize("daemon", ["ingest-api", "uploader"])
@pytest.mark.parametrize("args", [["foo", "--check-config"], ["--check-config", "foo"],
                                  ["--config-doc", "x"]])
def test_a_stray_argument_is_an_error(daemon, args):
    r = run([os.path.join(BIN, daemon)] + args, {"STORE": "local"})
    bad = [a for a in args if not a.startswith("-")][0]
    assert r.returncode == 2, r
    assert f'{daemon}: unexpected argument "{bad}"' in r.stderr
    assert r.stdout == "", "nothing may run, --check-config included"


def test_uploader_help_names_replay():
    r = run([os.path.join(BIN, "uploader"), "--help"])
    assert r.returncode == 0
    assert "uploader replay MODE [OPTIONS]" in r.stdout
    assert "'uploader replay --help'" in r.stdout
    r = run([os.path.join(BIN, "uploader"), "replay", "--help"])
    assert r.returncode == 0 and "usage: uploader replay" in r.stdout


# --- misspelt variables ---------------------------------------------------------

def test_check_config_warns_about_variables_that_name_no_setting():
    env = {"STORE": "local", "MILLRACE_UPLOADER_MAX_BYTE": "1",
           "MILLRACE_UPLOADER_WORKERS": "2", "MILLRACE_NOTHING_LIKE_IT": "x"}
    r = run([os.path.join(BIN, "uploader"), "--check-config"], env)
    assert r.returncode == 0, r.stderr
    warnings = sorted(line for line in r.stderr.splitlines() if line.startswith("config warning"))
    assert warnings == [
        "config warning: environment variable MILLRACE_NOTHING_LIKE_IT names no setting; "
        "it is ignored",
        "config warning: environment variable MILLRACE_UPLOADER_MAX_BYTE names no setting "
        "(did you mean MILLRACE_UPLOADER_MAX_BYTES?); it is ignored"]
    assert "uploader.workers = 2  # env MILLRACE_UPLOADER_WORKERS" in r.stdout
    r = run([os.path.join(BIN, "ingest-api"), "--check-config"],
            {"MILLRACE_INGEST_THREADS": "8", "MILLRACE_CONFIG": "", "PORT": "8080"})
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_daemon_warns_at_start_about_a_misspelt_variable(stack):
    up = stack.uploader(MILLRACE_UPLOADER_MAX_BYTE="1").start()
    line = wait_log(up, "MILLRACE_UPLOADER_MAX_BYTE")
    assert " warn " in line and "did you mean MILLRACE_UPLOADER_MAX_BYTES?" in line
    ing = stack.ingest(MILLRACE_INGEST_THREAD="4").start()
    assert "did you mean MILLRACE_INGEST_THREADS?" in wait_log(ing, "MILLRACE_INGEST_THREAD ")
    assert up.stop() == 0 and ing.stop() == 0


# --- SIGHUP ---------------------------------------------------------------------

def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


@pytest.mark.parametrize("which", ["ingest-api", "uploader"])
def test_sighup_reloads_the_log_settings_and_keeps_serving(stack, tmp_path, which):
    cfg = str(tmp_path / "millrace.cfg")
    write(cfg, 'log: { level = "info"; };\n')
    d = (stack.ingest if which == "ingest-api" else stack.uploader)(
        MILLRACE_CONFIG=cfg).start()
    pid = d.proc.pid
    # an invalid file is refused whole: nothing changes, the daemon goes on
    write(cfg, 'log: { level = "loud"; format = "json"; };\n')
    n = len(log_lines(d))
    d.proc.send_signal(signal.SIGHUP)
    wait_log(d, "nothing reloaded, the running settings stay", after=n)
    assert not any(line.startswith("{") for line in log_lines(d)), "format changed"
    # a valid one: the level and format apply, a setting that cannot is named
    other = ("ingest: { threads = 9; };\n" if which == "ingest-api"
             else "uploader: { workers = 9; };\n")
    write(cfg, 'log: { level = "debug"; format = "json"; };\n' + other)
    n = len(log_lines(d))
    d.proc.send_signal(signal.SIGHUP)
    line = wait_log(d, "reloaded on SIGHUP", after=n)
    assert json.loads(line)["message"] == \
        "reloaded on SIGHUP: log.level debug, log.format json" + \
        ("" if which == "ingest-api" else ", AWS credentials")
    restart = json.loads(wait_log(d, "taking effect only at restart", after=n))
    assert restart["level"] == "warn"
    assert restart["message"].startswith("changed, but taking effect only at restart: "
                                         + ("ingest.threads" if which == "ingest-api"
                                            else "uploader.workers"))
    # a burst of SIGHUPs is one reload or more (signals coalesce), each one
    # whole, and the daemon stays
    for _ in range(3):
        d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: sum("reloaded on SIGHUP" in x for x in log_lines(d)) >= 2, 30,
               "another reload")
    assert d.proc.poll() is None and d.proc.pid == pid
    assert requests.get(d.url + "/healthz", timeout=5).status_code == 200
    if which == "ingest-api":
        assert post(d) == 202
    assert d.stop() == 0


def test_sighup_reads_the_shared_credentials_file_again(stack, tmp_path):
    """The uploader takes its keys from a profile file (no keys set) that
    holds a wrong secret: uploads are refused and retried (the partition
    blocks, nothing is skipped). The file is fixed and SIGHUP re-runs the
    credential chain: the retried uploads go through, every record once."""
    from test_uploader import assert_exactly, produce
    creds = str(tmp_path / "credentials")
    key = os.environ.get("AWS_ACCESS_KEY_ID", "millrace-test")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "millrace-test-secret-key")
    write(creds, f"[default]\naws_access_key_id = {key}\n"
                 f"aws_secret_access_key = wrong-{secret}\n")
    up = stack.uploader(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="",
                        AWS_SHARED_CREDENTIALS_FILE=creds,
                        AWS_CONFIG_FILE=str(tmp_path / "none"),
                        AWS_EC2_METADATA_DISABLED="true").start()
    ids = [uuid.uuid4().hex for _ in range(200)]
    produce(stack.topic, [{"id": i} for i in ids])
    wait_until(lambda: up.metrics().get("millrace_uploader_failing_uploads", 0) > 0, 60,
               "uploads refused with the wrong secret")
    assert not stack.events_in_s3()
    write(creds, f"[default]\naws_access_key_id = {key}\n"
                 f"aws_secret_access_key = {secret}\n")
    n = len(log_lines(up))
    up.proc.send_signal(signal.SIGHUP)
    assert "AWS credentials" in wait_log(up, "reloaded on SIGHUP", after=n)
    assert_exactly(stack, ids, timeout=120)
    assert up.metrics()['millrace_uploader_credentials_info{source="profile"}'] == 1
    assert up.stop() == 0


def make_pem(tmp_path, name):
    key, crt = tmp_path / f"{name}.key", tmp_path / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt.read_text(), crt.read_text() + key.read_text()


def served_certificate(port):
    return ssl.get_server_certificate(("127.0.0.1", port))


def test_sighup_reloads_the_tls_certificate_for_new_connections(stack, tmp_path):
    crt_a, pem_a = make_pem(tmp_path, "cert-a")
    crt_b, pem_b = make_pem(tmp_path, "cert-b")
    pem = str(tmp_path / "server.pem")
    write(pem, pem_a)
    a_file = str(tmp_path / "a.crt")
    write(a_file, crt_a)
    ing = stack.ingest(MILLRACE_INGEST_TLS_CERTIFICATE=pem)
    ing.env["PORT"] += "s"
    ing.start(wait=False)
    base = f"https://127.0.0.1:{ing.port}"

    def healthy():
        assert ing.proc.poll() is None, ing.log_text()
        try:
            return requests.get(base + "/healthz", verify=a_file, timeout=2).status_code == 200
        except requests.RequestException:
            return False
    wait_until(healthy, 30, "ingest-api over TLS")
    assert ssl.PEM_cert_to_DER_cert(served_certificate(ing.port)) == \
        ssl.PEM_cert_to_DER_cert(crt_a)
    assert post(ing, base, verify=a_file) == 202
    # a file that is no certificate is refused: the running one stays
    write(pem, "not a certificate\n")
    n = len(log_lines(ing))
    ing.proc.send_signal(signal.SIGHUP)
    wait_log(ing, "TLS certificate not reloaded", after=n)
    assert ssl.PEM_cert_to_DER_cert(served_certificate(ing.port)) == \
        ssl.PEM_cert_to_DER_cert(crt_a)
    # the new certificate: presented from the next handshake on
    write(pem, pem_b)
    n = len(log_lines(ing))
    ing.proc.send_signal(signal.SIGHUP)
    line = wait_log(ing, "reloaded on SIGHUP", after=n)
    assert line.endswith("reloaded on SIGHUP: log.level info, log.format text, "
                         "TLS certificate")
    assert ssl.PEM_cert_to_DER_cert(served_certificate(ing.port)) == \
        ssl.PEM_cert_to_DER_cert(crt_b)
    b_file = str(tmp_path / "b.crt")
    write(b_file, crt_b)
    assert post(ing, base, verify=b_file) == 202
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(base + "/healthz", verify=a_file, timeout=5)
    assert ing.proc.poll() is None
    assert ing.stop() == 0


# --- JSON logs ----------------------------------------------------------------------

def test_json_logs_are_one_object_per_line(stack):
    ing = stack.ingest(MILLRACE_LOG_FORMAT="json").start()
    up = stack.uploader(LOG_FORMAT="json").start()
    assert post(ing) == 202
    wait_log(up, "assigned")
    for d in (ing, up):
        assert d.stop() == 0
        lines = log_lines(d)
        assert len(lines) >= 3
        comps = set()
        for line in lines:
            o = json.loads(line)
            assert set(o) == {"time", "level", "component", "message"}, line
            assert o["level"] in ("debug", "info", "warn", "error")
            assert o["time"].endswith("Z") and len(o["time"]) == 24, o["time"]
            comps.add(o["component"])
        assert "main" in comps
    assert any(json.loads(x)["message"].startswith("ingest-api 0.1.0 listening on")
               for x in log_lines(ing))
    assert any(json.loads(x)["message"] == "stopped" for x in log_lines(up))


# --- s3.path_style ------------------------------------------------------------------

def test_path_style_is_auto_and_path_style_for_a_custom_endpoint(stack):
    r = run([os.path.join(BIN, "uploader"), "--check-config"],
            {"S3_BUCKET": "b", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
    assert 's3.path_style = "auto"  # default' in r.stdout, r.stdout + r.stderr
    up = stack.uploader().start()  # the test server's endpoint, S3_PATH_STYLE unset
    assert "(path-style)" in wait_log(up, "uploader 0.1.0:")
    assert up.stop() == 0
