#!/usr/bin/env bash
# Installs the real AWS endpoints the credential tests (tests/e2e/test_credentials.py)
# run against, into .cache/, and nothing when they are there:
#   ec2-metadata-mock  AWS's IMDS simulator, amazon-ec2-metadata-mock (go install)
#                                           .cache/bin/ec2-metadata-mock
#   moto server        STS and IAM, checking signatures (pip, moto[server];
#                      listed in deploy/local/install-deps.sh --test)
# Prints KEY=VALUE lines for the test to read.
set -euo pipefail

AEMM_VERSION=v1.13.0
AEMM_MODULE=github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE="${MILLRACE_CACHE_DIR:-$ROOT/.cache}"
BIN="$CACHE/bin"
LOG="$CACHE/go/aws-mocks.log"
mkdir -p "$BIN" "$CACHE/go"
die() {
    echo "aws-mocks: ERROR: $*" >&2
    exit 1
}

stamp="$BIN/ec2-metadata-mock.version"
if ! [ -x "$BIN/ec2-metadata-mock" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$AEMM_VERSION" ]; then
    command -v go >/dev/null || die "go is not installed (needed for ec2-metadata-mock)"
    echo "aws-mocks: go install $AEMM_MODULE@$AEMM_VERSION" >&2
    rm -f "$stamp"
    env GOBIN="$BIN" GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" \
        GOFLAGS=-mod=mod CGO_ENABLED=0 \
        go install -trimpath -ldflags "-s -w" "$AEMM_MODULE@$AEMM_VERSION" >>"$LOG" 2>&1 ||
        die "go install of ec2-metadata-mock $AEMM_VERSION failed (log: $LOG)"
    echo "$AEMM_VERSION" >"$stamp"
fi

PY=${PYTHON:-python3}
"$PY" -c 'import moto.server, flask' 2>/dev/null ||
    bash "$ROOT/deploy/local/install-deps.sh" --test >&2
"$PY" -c 'import moto.server, flask' || die "moto[server] is not installed"

echo "EC2_METADATA_MOCK=$BIN/ec2-metadata-mock"
echo "AEMM_VERSION=$AEMM_VERSION"
echo "MOTO_VERSION=$("$PY" -c 'import importlib.metadata as m; print(m.version("moto"))')"
