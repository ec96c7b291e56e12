#!/usr/bin/env bash
# Proves deploy/local/install-deps.sh complete where a warm machine cannot: in a
# fresh debian:bookworm-slim container (deploy/docker/images.sh base), from a clean
# copy of the tree (the files git tracks or would track: no build/, no .cache/),
#   1. install-deps.sh --test   every Debian and Python package of every documented
#                               make target (docs/development.md), and the commands it
#                               checks for afterwards
#   2. make build-everything    every binary, unit test, benchmark tool and fuzz
#                               harness, plain and with ASan+UBSan
# A package missing from the script fails here with the missing file or command in
# the output, and the step it failed at named. Ends with "fresh-install: passed".
#
# Downloaded .deb and pip files are cached in .cache/fresh-install/ (mounted into
# the container), so a second run installs from the cache: every package is still
# installed into the fresh container each time. A run that passed is remembered by
# a digest of what decides the outcome (this script, install-deps.sh, the Makefile,
# every #include <...> line of the C sources); FRESH_INSTALL=always runs it anyway.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
CACHE="${MILLRACE_CACHE_DIR:-$ROOT/.cache}/fresh-install"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/deploy/docker/containers.conf}"
T0=$(date +%s)
say() { echo "fresh-install: $*"; }

files() { git ls-files -z -co --exclude-standard --deduplicate; }

digest=$({
    cat tests/deploy/fresh-install.sh deploy/local/install-deps.sh Makefile
    files | xargs -0 -r grep -h '^#include <' -- 2>/dev/null | sort -u
} | sha256sum | cut -c1-16)
mkdir -p "$CACHE/apt" "$CACHE/pip"
if [ "${FRESH_INSTALL:-}" != always ] && [ -f "$CACHE/passed-$digest" ]; then
    say "passed before for these inputs (digest $digest, $(cat "$CACHE/passed-$digest")); FRESH_INSTALL=always runs it again"
    say "passed"
    exit 0
fi

bash deploy/docker/images.sh base

# The machine's trust store and proxy settings go in with the container (a network
# that inspects TLS has its own CA, which pip and curl must trust there too).
trust=()
bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
if [ -f "$bundle" ]; then
    trust+=(-v "$bundle:/etc/millrace-host-ca.crt:ro")
    for v in SSL_CERT_FILE PIP_CERT REQUESTS_CA_BUNDLE CURL_CA_BUNDLE; do
        trust+=(-e "$v=/etc/millrace-host-ca.crt")
    done
fi
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL; do
    [ -n "${!v:-}" ] && trust+=(-e "$v=${!v}")
done

log="$CACHE/run.log"
say "installing and building in a fresh debian:bookworm-slim container (log: ${log#"$ROOT"/})"
# Only existing files (a file deleted but not yet staged is skipped).
files | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - |
    podman --log-level=fatal run --rm -i --network host \
        -v "$CACHE/apt:/var/cache/apt/archives" -v "$CACHE/pip:/root/.cache/pip" \
        "${trust[@]}" \
        docker.io/library/debian:bookworm-slim bash -euo pipefail -c '
        step() { echo "== step: $*"; }
        step "copy of the tree"
        mkdir /src && cd /src && tar -xf -
        step "deploy/local/install-deps.sh --test"
        bash deploy/local/install-deps.sh --test
        step "make build-everything"
        make -j"$(nproc)" build-everything
        echo "== done"
    ' >"$log" 2>&1 || true

if ! grep -q '^== done' "$log"; then
    failed_at=$(grep '^== step: ' "$log" | tail -n 1 | sed 's/^== step: //')
    tail -n 15 "$log"
    say "the first errors:"
    grep -E -m 10 'cannot find|No such file|: not found| error: |ERROR:|\*\*\*' "$log" || true
    say "FAILED at: ${failed_at:-starting the container}"
    exit 1
fi
echo "$(date -u +%FT%TZ) in $(($(date +%s) - T0)) s" >"$CACHE/passed-$digest"
say "install and build of everything passed in $(($(date +%s) - T0)) s"
say "passed"
