#!/usr/bin/env bash
# Installs what millrace's build and tests need, and nothing when it is all there.
#   deploy/local/install-deps.sh          Debian packages (build, unit tests, tools)
#   deploy/local/install-deps.sh --test   the same, plus the Python packages of the
#                                         end-to-end test harness
# Idempotent and fast when everything is present: packages are checked with
# dpkg-query, and `apt-get update` runs only when something must be installed.
# Kafka's jars and the S3 server are installed by kafka.sh / s3.sh (into .cache/).
set -euo pipefail

WANT_TEST=0
for arg in "$@"; do
    case "$arg" in
    --test) WANT_TEST=1 ;;
    -h | --help)
        sed -n '2,8p' "$0"
        exit 0
        ;;
    *)
        echo "install-deps: unknown argument: $arg" >&2
        exit 2
        ;;
    esac
done

DEB_PKGS=(
    build-essential pkg-config
    libcivetweb-dev librdkafka-dev libjansson-dev libconfig-dev
    libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev
    clang clang-format valgrind
    wrk kcat curl python3-pip
    # the local Kafka broker (deploy/local/kafka.sh): a JRE and Maven for its jars
    openjdk-17-jre-headless maven
)

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

if [ "$WANT_TEST" = 1 ]; then
    PY=${PYTHON:-python3}
    if "$PY" -c 'import pytest, boto3, confluent_kafka, requests' 2>/dev/null; then
        echo "install-deps: Python test packages: present"
    else
        echo "install-deps: installing Python test packages (pytest boto3 confluent-kafka requests)"
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
        PIP_ROOT_USER_ACTION=ignore "$PY" -m pip "${pip_args[@]}" pytest boto3 confluent-kafka requests
        "$PY" -c 'import pytest, boto3, confluent_kafka, requests'
        echo "install-deps: Python test packages installed"
    fi
fi
