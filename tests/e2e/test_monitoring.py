"""Monitoring, checked with Prometheus' own promtool (tests/deploy/tools.sh
builds it with `go install`):

- both daemons' /metrics pass `promtool check metrics`, on running daemons
  that have served traffic; both export a *_build_info gauge with the version
  and the standard process_* metrics with plausible values;
- deploy/monitoring/alerts.yml passes `promtool check rules`, and its unit
  tests (tests/monitoring/alerts_test.yml) pass `promtool test rules`;
- the Prometheus Operator's PrometheusRule (deploy/k8s/monitoring) holds the
  same groups (its schema: tests/e2e/test_deploy.py);
- every metric and label an alert names is one the daemons expose.
"""

import os
import re
import subprocess
import time
import uuid

import pytest
import requests
import yaml
from confluent_kafka.admin import AdminClient

from conftest import BIN, BROKERS, ROOT, Stack, wait_until

ALERTS = os.path.join(ROOT, "deploy", "monitoring", "alerts.yml")
ALERTS_TEST = os.path.join(ROOT, "tests", "monitoring", "alerts_test.yml")
PROMETHEUS_RULE = os.path.join(ROOT, "deploy", "k8s", "monitoring", "prometheusrule.yaml")
PROCESS = ("process_cpu_seconds_total", "process_resident_memory_bytes",
           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
           "process_start_time_seconds")


def run(cmd, stdin=None, timeout=120):
    return subprocess.run(cmd, input=stdin, cwd=ROOT, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def promtool():
    r = run(["bash", os.path.join(ROOT, "tests", "deploy", "tools.sh")], timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    tools = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    return tools["PROMTOOL"]


@pytest.fixture(scope="module")
def live():
    """Both daemons on a 2-partition topic; ingest-api has answered 202 and
    400, the uploader has stored the events and measures lag."""
    stack = Stack(partitions=2)
    try:
        ing = stack.ingest().start()
        up = stack.uploader(MILLRACE_UPLOADER_LAG_INTERVAL_MS=500).start()
        started = time.time()
        wait_until(lambda: requests.get(ing.url + "/readyz", timeout=5).status_code == 200,
                   30, "ingest-api ready")
        for _ in range(20):
            r = requests.post(ing.url + "/v1/events", json={"id": uuid.uuid4().hex},
                              timeout=30)
            assert r.status_code == 202, r.text
        assert requests.post(ing.url + "/v1/events", data="{", timeout=30).status_code in \
            (400, 415)
        wait_until(lambda: up.metrics().get("millrace_uploader_records_written_total") == 20,
                   60, "20 records stored")
        wait_until(lambda: sum(1 for k in up.metrics()
                               if k.startswith("millrace_uploader_consumer_lag{")) == 2,
                   30, "lag of both partitions")
        yield {"ingest-api": ing, "uploader": up, "started": started}
    finally:
        stack.close()
        AdminClient({"bootstrap.servers": BROKERS}).delete_topics([stack.topic])


def metrics_text(d):
    r = requests.get(d.url + "/metrics", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.text


@pytest.mark.parametrize("daemon", ["ingest-api", "uploader"])
def test_metrics_pass_promtool_check_metrics(promtool, live, daemon):
    text = metrics_text(live[daemon])
    r = run([promtool, "check", "metrics"], stdin=text)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", \
        f"promtool check metrics on {daemon}:\n{r.stdout}{r.stderr}"


@pytest.mark.parametrize("daemon", ["ingest-api", "uploader"])
def test_build_info_and_process_metrics(live, daemon):
    d = live[daemon]
    version = subprocess.run([os.path.join(BIN, daemon), "--version"], text=True,
                             stdout=subprocess.PIPE, check=True).stdout.split()[-1]
    prefix = "millrace_ingest" if daemon == "ingest-api" else "millrace_uploader"
    m = d.metrics()
    assert m[f'{prefix}_build_info{{version="{version}"}}'] == 1
    for name in PROCESS:
        assert name in m, f"{daemon} lacks {name}"
    assert live["started"] - 60 <= m["process_start_time_seconds"] <= time.time()
    assert 0 < m["process_open_fds"] <= m["process_max_fds"]
    # the daemon's own descriptors, as /proc shows them now (a scrape's
    # socket and a librdkafka wake-up pipe may come and go in between)
    assert abs(m["process_open_fds"] - len(os.listdir(f"/proc/{d.proc.pid}/fd"))) <= 4
    assert m["process_resident_memory_bytes"] > 1 << 20
    assert m["process_virtual_memory_bytes"] >= m["process_resident_memory_bytes"]
    assert m["process_cpu_seconds_total"] >= 0


def test_alert_rules_pass_promtool_check_rules(promtool):
    r = run([promtool, "check", "rules", ALERTS])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 8 rules found" in r.stdout, r.stdout


def test_alert_rules_unit_tests(promtool):
    r = run([promtool, "test", "rules", ALERTS_TEST])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def test_alert_rules_unit_tests_bite(promtool, tmp_path):
    """A rule that would never fire fails its unit test."""
    rules = yaml.safe_load(open(ALERTS))
    for rule in rules["groups"][0]["rules"]:
        if rule["alert"] == "MillraceKafkaUnreachable":
            rule["expr"] = rule["expr"].replace("== 0", "== 2")
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    test = yaml.safe_load(open(ALERTS_TEST))
    test["rule_files"] = [str(tmp_path / "alerts.yml")]
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(test))
    r = run([promtool, "test", "rules", str(tmp_path / "alerts_test.yml")])
    assert r.returncode != 0 and "MillraceKafkaUnreachable" in r.stdout + r.stderr


def test_prometheus_rule_holds_the_same_groups():
    alerts = yaml.safe_load(open(ALERTS))
    rule = yaml.safe_load(open(PROMETHEUS_RULE))
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == alerts["groups"], \
        "deploy/k8s/monitoring/prometheusrule.yaml differs from deploy/monitoring/alerts.yml"


def test_alerts_name_only_metrics_and_labels_the_daemons_expose(live):
    exposed = {}
    for daemon in ("ingest-api", "uploader"):
        for line in metrics_text(live[daemon]).splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
            if m:
                exposed.setdefault(m.group(1), set()).update(
                    re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
    rules = yaml.safe_load(open(ALERTS))["groups"][0]["rules"]
    assert len(rules) == 8
    # labels Prometheus adds to every scraped series
    scrape = {"job", "instance"}
    for rule in rules:
        names = set(re.findall(r"\b(millrace_[a-zA-Z0-9_]+)", rule["expr"]))
        assert names, rule["alert"]
        for name in names:
            assert name in exposed, f"{rule['alert']}: {name} is not exposed"
        for group in re.findall(r"(?:by|ignoring) \(([^)]*)\)", rule["expr"]):
            for label in (x.strip() for x in group.split(",")):
                assert label in scrape or any(label in exposed[n] for n in names), \
                    f"{rule['alert']}: no metric of {sorted(names)} has the label {label}"
        for label in re.findall(r"\{(\w+)!?=", rule["expr"]):
            assert any(label in exposed[n] for n in names), (rule["alert"], label)
