"""The container images, built and run for real with podman (no Docker engine is
needed), against the test Kafka and S3 servers.

- `make images` (deploy/docker/images.sh) builds both images from
  deploy/docker/Dockerfile; the fixture builds them when they are missing.
- Each container gets exactly the environment docker-compose.yml gives its
  service, as podman-compose renders the file, plus only what must differ here:
  the servers' addresses (10.0.2.2, the host's loopback seen from a container's
  own network) and, so that tests never see each other's data, the topic, the
  consumer group and the S3 prefix. The S3 credentials are the test server's,
  passed through compose's own S3_ACCESS_KEY / S3_SECRET_KEY variables.
- docker-compose.yml itself runs under podman-compose with
  tests/deploy/compose.podman.yml (the kafka and s3 services' images cannot be
  pulled here; the override points the millrace services at the test servers).
"""

import json
import os
import subprocess
import time
import urllib.parse
import uuid

import pytest
import requests
import yaml

from conftest import BROKERS, ROOT, S3_ENDPOINT, HttpLoad, Stack, free_port, wait_until
from test_uploader import assert_exactly

CONF = os.path.join(ROOT, "deploy", "docker", "containers.conf")
ENV = {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", CONF)}
COMPOSE_FILE = os.path.join(ROOT, "docker-compose.yml")
OVERRIDE = os.path.join(ROOT, "tests", "deploy", "compose.podman.yml")
IMAGES = {"ingest-api": "millrace/ingest-api:dev", "uploader": "millrace/uploader:dev"}
UID = "10001"
# A network of the container's own in which 10.0.2.2 is the host's loopback.
NET = "slirp4netns:allow_host_loopback=true"
HOST = "10.0.2.2"
KAFKA = f"{HOST}:{int(BROKERS.rsplit(':', 1)[1]) + 2}"  # kafka.sh: CONTAINERS listener
S3 = f"http://{HOST}:{urllib.parse.urlsplit(S3_ENDPOINT).port}"
TEST_S3_KEYS = {"S3_ACCESS_KEY": os.environ.get("AWS_ACCESS_KEY_ID", "millrace-test"),
                "S3_SECRET_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY",
                                                "millrace-test-secret-key")}


def run(cmd, timeout=180, check=True, env=None):
    r = subprocess.run(cmd, env=env or ENV, cwd=ROOT, timeout=timeout, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n"
                             f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def podman(*args, **kw):
    return run(["podman", "--log-level=fatal", *args], **kw)


def compose_cmd(*args):
    return ["python3", "-m", "podman_compose", *args]


@pytest.fixture(scope="module")
def images():
    missing = [i for i in IMAGES.values()
               if podman("image", "exists", i, check=False).returncode != 0]
    if missing:
        run(["bash", os.path.join(ROOT, "deploy", "docker", "images.sh"), "build"],
            timeout=1800)
    sizes = {d: int(podman("image", "inspect", "--format", "{{.Size}}", i).stdout)
             for d, i in IMAGES.items()}
    print("image sizes:", ", ".join(f"{IMAGES[d]} {s / 1e6:.1f} MB"
                                    for d, s in sizes.items()))
    return sizes


@pytest.fixture(scope="module")
def compose_env():
    """{service: {name: value}}: the environment docker-compose.yml gives each
    millrace service, rendered by podman-compose with the test S3 account's keys."""
    r = run(compose_cmd("-f", COMPOSE_FILE, "config"), env={**ENV, **TEST_S3_KEYS})
    services = yaml.safe_load(r.stdout)["services"]
    out = {}
    for name in IMAGES:
        env = services[name]["environment"]
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        out[name] = {k: str(v) for k, v in env.items()}
    return out


def container_env(compose_env, service, stack):
    env = dict(compose_env[service])
    env.update(KAFKA_BROKERS=KAFKA, KAFKA_TOPIC=stack.topic)
    if service == "uploader":
        env.update(S3_ENDPOINT=S3, CONSUMER_GROUP=stack.group, S3_PREFIX=stack.prefix,
                   MAX_AGE_MS="1000")
    return env


class Container:
    """One detached container of a millrace image on a network of its own."""

    def __init__(self, service, env, publish=None):
        self.service = service
        self.name = f"millrace-e2e-{service}-{uuid.uuid4().hex[:6]}"
        args = ["run", "-d", "--name", self.name, "--network", NET]
        for k, v in sorted(env.items()):
            args += ["-e", f"{k}={v}"]
        if publish:
            args += ["-p", publish]
        podman(*args, IMAGES[service])

    def state(self, field):
        return podman("inspect", "--format", "{{.State." + field + "}}",
                      self.name).stdout.strip()

    def healthy(self):
        """The image's own HEALTHCHECK command, run inside the container."""
        if self.state("Running") != "true":
            raise AssertionError(f"{self.name} exited {self.state('ExitCode')}:\n"
                                 + self.logs())
        return podman("healthcheck", "run", self.name, check=False).returncode == 0

    def wait_healthy(self, timeout=60):
        wait_until(self.healthy, timeout, f"{self.name} HEALTHCHECK", interval=0.5)

    def http(self, path):
        """GET of the daemon's own port from inside the container."""
        port = 8080 if self.service == "ingest-api" else 8081
        return podman("exec", self.name, "curl", "-fsS",
                      f"http://127.0.0.1:{port}{path}").stdout

    def metric(self, name):
        for line in self.http("/metrics").splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def logs(self):
        r = podman("logs", self.name, check=False)
        return (r.stdout + r.stderr)[-4000:]

    def remove(self):
        podman("rm", "-f", "-t", "0", self.name, check=False)


@pytest.fixture
def containers():
    made = []
    yield made
    for c in made:
        c.remove()


def test_each_image_runs_as_uid_10001_passes_check_config_and_its_healthcheck(
        images, compose_env, containers):
    stack = Stack(partitions=2)
    try:
        for service, image in IMAGES.items():
            env = container_env(compose_env, service, stack)
            args = ["run", "--rm", "--network", NET]
            for k, v in sorted(env.items()):
                args += ["-e", f"{k}={v}"]
            r = podman(*args, image, "--check-config", check=False)
            assert r.returncode == 0, (f"{service} --check-config rejects the compose "
                                       f"environment:\n{r.stdout}\n{r.stderr}")
            assert podman("image", "inspect", "--format", "{{.Config.User}}",
                          image).stdout.strip() == f"{UID}:{UID}"
            c = Container(service, env)
            containers.append(c)
            c.wait_healthy()
            assert podman("exec", c.name, "id", "-u").stdout.strip() == UID
            assert podman("exec", c.name, "id", "-g").stdout.strip() == UID
            # the daemon itself (pid 1 after the entrypoint's exec) runs as 10001
            status = podman("exec", c.name, "cat", "/proc/1/status").stdout
            uids = [line.split()[1:] for line in status.splitlines()
                    if line.startswith("Uid:")][0]
            assert set(uids) == {UID}, uids
            assert json.loads(c.http("/readyz") or "{}") is not None
    finally:
        stack.close()


def test_three_uploader_containers_stop_and_kill_under_load_exactly_once(
        images, compose_env, containers):
    """The compose `--scale uploader=3` case: one ingest-api container, three
    uploader containers in one group. Under HTTP load one uploader is stopped
    (podman stop: SIGTERM, it drains and exits 0) and another killed (SIGKILL);
    every event answered 202 is in S3 exactly once."""
    stack = Stack(partitions=6)
    try:
        port = free_port()
        ingest = Container("ingest-api", container_env(compose_env, "ingest-api", stack),
                           publish=f"127.0.0.1:{port}:8080")
        containers.append(ingest)
        uploaders = []
        for _ in range(3):
            c = Container("uploader", container_env(compose_env, "uploader", stack))
            containers.append(c)
            uploaders.append(c)
        for c in [ingest] + uploaders:
            c.wait_healthy()
        wait_until(lambda: all((u.metric("millrace_uploader_assigned_partitions") or 0) > 0
                               for u in uploaders),
                   90, "every uploader replica owns partitions", interval=1)
        url = f"http://127.0.0.1:{port}"
        with HttpLoad(url, pad=200, pause=0.02) as load:
            wait_until(lambda: len(load.ids) >= 2000, 60, "2,000 events accepted")
            t0 = time.monotonic()
            podman("stop", "-t", "60", uploaders[0].name, timeout=90)
            stop_s = time.monotonic() - t0
            assert uploaders[0].state("ExitCode") == "0", uploaders[0].logs()
            before = len(load.ids)
            wait_until(lambda: len(load.ids) >= before + 1000, 60, "more events")
            podman("kill", "-s", "KILL", uploaders[1].name)
            before = len(load.ids)
            wait_until(lambda: len(load.ids) >= before + 1000, 60, "more events")
        print(f"HTTP statuses: {load.statuses}; podman stop took {stop_s:.1f} s")
        assert set(load.statuses) == {202}, load.statuses
        found = assert_exactly(stack, load.ids, timeout=240)
        print(f"{len(found)} events in S3 exactly once, from "
              f"{len({k for k, _ in found})} objects")
    finally:
        stack.close()


def compose_project_env(stack):
    # MAX_AGE_MS is compose's own variable (60 s by default): objects in 1 s
    return {**ENV, **TEST_S3_KEYS, "MAX_AGE_MS": "1000", "HOST_KAFKA": KAFKA,
            "HOST_S3": S3, "HOST_TOPIC": stack.topic, "HOST_GROUP": stack.group,
            "HOST_PREFIX": stack.prefix}


def test_docker_compose_file_up_scale_down_under_podman_compose(images, tmp_path):
    """docker-compose.yml's ingest-api and uploader services, as the file defines
    them, under podman-compose: `up`, `up --scale uploader=3`, `down`."""
    stack = Stack(partitions=6)
    port = free_port()
    project = "millrace-e2e-" + uuid.uuid4().hex[:6]
    env = compose_project_env(stack)
    ports = tmp_path / "ports.yml"
    ports.write_text("services:\n  ingest-api:\n    ports: !override\n"
                     f"      - \"127.0.0.1:{port}:8080\"\n")
    base = compose_cmd("-p", project, "-f", COMPOSE_FILE, "-f", OVERRIDE, "-f", str(ports))

    def ps():
        r = podman("ps", "-a", "--filter", f"label=io.podman.compose.project={project}",
                   "--format", "json")
        return {c["Names"][0]: c["State"] for c in json.loads(r.stdout or "[]")}

    def running(service):
        return sorted(n for n, s in ps().items() if f"_{service}_" in n and s == "running")

    def healthy(name):
        return podman("healthcheck", "run", name, check=False).returncode == 0

    try:
        run(base + ["up", "-d", "ingest-api", "uploader"], env=env, timeout=300)
        assert len(running("ingest-api")) == 1 and len(running("uploader")) == 1, ps()
        run(base + ["up", "-d", "--scale", "uploader=3", "ingest-api", "uploader"],
            env=env, timeout=300)
        names = running("uploader")
        assert len(names) == 3, ps()
        for n in running("ingest-api") + names:
            wait_until(lambda n=n: healthy(n), 60, f"{n} HEALTHCHECK", interval=0.5)
        ids = []
        s = requests.Session()
        for _ in range(20):
            batch = [uuid.uuid4().hex for _ in range(50)]
            r = s.post(f"http://127.0.0.1:{port}/v1/events",
                       json=[{"id": i} for i in batch], timeout=30)
            assert r.status_code == 202, r.text
            ids.extend(batch)
        assert_exactly(stack, ids, timeout=180)
    finally:
        # podman-compose's down knows only the file's replica of each service:
        # --remove-orphans takes the scaled ones too (docker compose needs no flag)
        r = run(base + ["down", "-t", "60", "--remove-orphans"], env=env, timeout=300,
                check=False)
        stack.close()
    assert r.returncode == 0, r.stderr[-3000:]
    assert ps() == {}, f"containers left after down: {ps()}"
