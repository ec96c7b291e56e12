#!/usr/bin/env bash
# Local S3-compatible server for tests and development: versitygw (Versity S3
# Gateway) with its posix backend, on loopback only, checking SigV4 signatures.
#
#   deploy/local/s3.sh install   build versitygw with `go install` (cached in .cache/)
#   deploy/local/s3.sh start     install if needed, start, wait until a signed request
#                                succeeds, create the bucket, and prove that a request
#                                signed with a wrong secret is rejected
#   deploy/local/s3.sh stop      SIGTERM, wait for exit (SIGKILL after a deadline)
#   deploy/local/s3.sh status    exit 0 if running and answering signed requests
#   deploy/local/s3.sh reset     stop and wipe every bucket and object
#   deploy/local/s3.sh check     put/get an object, and show that wrong signatures,
#                                anonymous requests and a wrong payload hash fail
#
# Environment: S3_PORT (default 17070), S3_BUCKET (default millrace), S3_RESET=1
# (start wipes the data first), S3_START_TIMEOUT (seconds, default 30),
# S3_ACCESS_LOG=1 (log every request to .run/s3/access.log). S3_IAM=1: accounts
# besides root, kept in $S3_RUN_DIR/iam (created with `versitygw admin ...
# create-user`, as tests/e2e/test_credentials.py does).
# S3_RUN_DIR: state directory (pid, logs, data; default .run/s3): with another port,
# a second, private instance, e.g. for tests that stop and restart the server.
# MILLRACE_CACHE_DIR: where downloads are cached (default .cache/ in the repo; point
# it at a folder kept across clones to skip the downloads in a fresh clone).
#
# Test credentials (root account of this local server; nothing else accepts them):
#   access key millrace-test, secret key millrace-test-secret-key, region us-east-1.
# deploy/local/env.sh exports them as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
#
# Version pinned: versitygw v1.8.0, the newest (and only) version the Go module proxy
# serves here; it needs Go >= 1.25 and builds with Go 1.26.
#
# ESSENTIAL PROPERTY: versitygw verifies SigV4. A request signed with a wrong secret key
# gets 403 SignatureDoesNotMatch, an unsigned request 403 AccessDenied, and a body
# whose SHA-256 differs from x-amz-content-sha256 400 XAmzContentSHA256Mismatch. The
# end-to-end tests rely on that to prove that the uploader's signing is right; `start`
# re-checks the first of these every time and fails if the server accepts a bad
# signature.
set -euo pipefail

VERSITYGW_VERSION=v1.8.0
VERSITYGW_MODULE=github.com/versity/versitygw

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/deploy/local"
CACHE="${MILLRACE_CACHE_DIR:-$ROOT/.cache}"
BIN="$CACHE/bin/versitygw"
STAMP="$CACHE/bin/versitygw.version"
RUN="${S3_RUN_DIR:-$ROOT/.run/s3}"
DATA="$RUN/data"
PIDFILE="$RUN/versitygw.pid"
OUT="$RUN/versitygw.out"

S3_PORT=${S3_PORT:-17070}
S3_BUCKET=${S3_BUCKET:-millrace}
S3_START_TIMEOUT=${S3_START_TIMEOUT:-30}
S3_STOP_TIMEOUT=${S3_STOP_TIMEOUT:-20}
S3_ACCESS_KEY=millrace-test
S3_SECRET_KEY=millrace-test-secret-key
S3_REGION=us-east-1
ENDPOINT="http://127.0.0.1:$S3_PORT"
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

NAME=s3
PROC_PATTERN='versitygw'
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# curl with a SigV4 signature (curl's --aws-sigv4; the payload hash header is ours,
# curl then signs it). Usage: s3curl SECRET PAYLOAD_SHA256 curl-args... ; prints the
# HTTP status, the body goes to $RESP.
RESP=$(mktemp)
trap 'rm -f "$RESP"' EXIT
s3curl() {
    local secret=$1 sha=$2
    shift 2
    curl -sS -o "$RESP" -w '%{http_code}' --max-time 10 \
        --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$secret" \
        -H "x-amz-content-sha256: $sha" "$@" 2>/dev/null || echo 000
}

do_install() {
    if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSITYGW_VERSION" ]; then
        say "versitygw $VERSITYGW_VERSION cached in ${BIN#"$ROOT"/}"
        return 0
    fi
    command -v go >/dev/null || die "go is not installed (versitygw $VERSITYGW_VERSION needs Go >= 1.25)"
    say "building versitygw $VERSITYGW_VERSION with $(go env GOVERSION) (go install; a few minutes when nothing is cached)"
    mkdir -p "$CACHE/bin" "$CACHE/go"
    rm -f "$STAMP"
    # Module and build caches under .cache/ so that a second install is fast and
    # works from the cache alone.
    if ! env GOBIN="$CACHE/bin" GOPATH="$CACHE/go" GOMODCACHE="$CACHE/go/mod" \
        GOCACHE="$CACHE/go/build" GOFLAGS=-mod=mod CGO_ENABLED=0 \
        go install -trimpath -ldflags "-s -w -X=main.Version=$VERSITYGW_VERSION" \
        "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION" >"$CACHE/go/install.log" 2>&1; then
        tail -n 30 "$CACHE/go/install.log" >&2
        die "go install of versitygw $VERSITYGW_VERSION failed (log: ${CACHE#"$ROOT"/}/go/install.log)"
    fi
    echo "$VERSITYGW_VERSION" >"$STAMP"
    say "installed versitygw $VERSITYGW_VERSION in $(elapsed) s"
}

# a correctly signed ListBuckets succeeds
probe() { [ "$(s3curl "$S3_SECRET_KEY" "$EMPTY_SHA256" "$ENDPOINT/")" = 200 ]; }

wait_ready() {
    local pid=$1 deadline=$(($(date +%s) + S3_START_TIMEOUT))
    while ! probe; do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "versitygw (pid $pid) exited during startup; its output:" >&2
            tail -n 30 "$OUT" >&2 || true
            rm -f "$PIDFILE"
            return 1
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            say "not ready after ${S3_START_TIMEOUT} s; its output:" >&2
            tail -n 30 "$OUT" >&2 || true
            return 1
        fi
        sleep 0.1
    done
}

ensure_bucket() {
    local code
    code=$(s3curl "$S3_SECRET_KEY" "$EMPTY_SHA256" -X PUT "$ENDPOINT/$S3_BUCKET")
    case "$code" in
    200) say "created bucket $S3_BUCKET" ;;
    409)
        grep -q BucketAlreadyOwnedByYou "$RESP" ||
            die "bucket $S3_BUCKET: $(cat "$RESP")"
        say "bucket $S3_BUCKET exists"
        ;;
    *) die "creating bucket $S3_BUCKET: HTTP $code $(cat "$RESP")" ;;
    esac
}

# The property the tests stand on: a bad signature must not pass.
check_rejects_bad_signature() {
    local code
    code=$(s3curl "$S3_SECRET_KEY-wrong" "$EMPTY_SHA256" "$ENDPOINT/$S3_BUCKET?list-type=2")
    if [ "$code" != 403 ] || ! grep -q SignatureDoesNotMatch "$RESP"; then
        die "a request signed with a wrong secret got HTTP $code, not 403 SignatureDoesNotMatch"
    fi
    say "verified: a wrong secret key gets 403 SignatureDoesNotMatch"
}

do_start() {
    local pid
    if [ "${S3_RESET:-0}" = 1 ]; then
        do_reset
    fi
    if pid=$(running_pid); then
        say "already running (pid $pid), checking readiness on $ENDPOINT"
        wait_ready "$pid" || die "running but not ready"
    else
        do_install
        command -v curl >/dev/null || bash "$HERE/install-deps.sh"
        port_busy "$S3_PORT" && die "port $S3_PORT on 127.0.0.1 is used by another process"
        mkdir -p "$DATA"
        local backend_opts=()
        # The posix backend keeps metadata in extended attributes; where the file
        # system has none, keep it in a sidecar folder instead.
        if ! python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.millrace.probe", b"1"); os.removexattr(sys.argv[1], "user.millrace.probe")' "$DATA" 2>/dev/null; then
            mkdir -p "$RUN/meta"
            backend_opts+=(--sidecar "$RUN/meta")
            say "no user xattrs on this file system: metadata in ${RUN#"$ROOT"/}/meta"
        fi
        local gw_opts=(--port "127.0.0.1:$S3_PORT" --region "$S3_REGION" --keep-alive --quiet)
        if [ "${S3_ACCESS_LOG:-0}" = 1 ]; then
            gw_opts+=(--access-log "$RUN/access.log")
        fi
        if [ "${S3_IAM:-0}" = 1 ]; then
            mkdir -p "$RUN/iam"
            # no cache: a deleted account is refused at once
            gw_opts+=(--iam-dir "$RUN/iam" --iam-cache-disable)
        fi
        say "starting versitygw on $ENDPOINT (posix backend in ${DATA#"$ROOT"/})"
        echo "---- start $(date -Is)" >>"$OUT"
        # Credentials through the environment, not argv (ps shows argv).
        ROOT_ACCESS_KEY_ID="$S3_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
            setsid nohup "$BIN" "${gw_opts[@]}" posix "${backend_opts[@]}" "$DATA" \
            </dev/null >>"$OUT" 2>&1 &
        pid=$!
        echo "$pid" >"$PIDFILE"
        say "waiting for a signed request to succeed (pid $pid, deadline ${S3_START_TIMEOUT} s)"
        if ! wait_ready "$pid"; then
            do_stop >&2 || true
            die "versitygw did not become ready"
        fi
    fi
    ensure_bucket
    check_rejects_bad_signature
    say "ready on $ENDPOINT, bucket $S3_BUCKET, region $S3_REGION, access key $S3_ACCESS_KEY, secret key $S3_SECRET_KEY"
    say "started in $(elapsed) s"
}

do_stop() {
    stop_server "$S3_STOP_TIMEOUT"
}

do_status() {
    local pid
    if ! pid=$(running_pid); then
        say "not running"
        return 3
    fi
    if probe; then
        say "running (pid $pid), ready on $ENDPOINT"
        return 0
    fi
    say "running (pid $pid) but not answering signed requests on $ENDPOINT"
    return 1
}

do_reset() {
    do_stop
    say "wiping ${RUN#"$ROOT"/}/data (all buckets and objects)"
    rm -rf "$DATA" "$RUN/meta"
}

do_check() {
    do_status >/dev/null || die "not running/ready; start it first"
    local key="_check/object-$$.txt" body sha code
    body=$(mktemp)
    printf 'millrace s3 check %s\n' "$$" >"$body"
    sha=$(sha256sum "$body" | cut -d' ' -f1)
    code=$(s3curl "$S3_SECRET_KEY" "$sha" -X PUT --data-binary "@$body" "$ENDPOINT/$S3_BUCKET/$key")
    [ "$code" = 200 ] || die "signed PUT: HTTP $code $(cat "$RESP")"
    code=$(s3curl "$S3_SECRET_KEY" "$EMPTY_SHA256" "$ENDPOINT/$S3_BUCKET/$key")
    [ "$code" = 200 ] && cmp -s "$RESP" "$body" || die "signed GET: HTTP $code or other content"
    say "signed PUT + GET: ok"
    code=$(s3curl "$S3_SECRET_KEY-wrong" "$EMPTY_SHA256" "$ENDPOINT/$S3_BUCKET/$key")
    [ "$code" = 403 ] && grep -q SignatureDoesNotMatch "$RESP" || die "wrong secret: HTTP $code"
    say "wrong secret key: 403 SignatureDoesNotMatch"
    code=$(curl -sS -o "$RESP" -w '%{http_code}' "$ENDPOINT/$S3_BUCKET/$key" || true)
    [ "$code" = 403 ] || die "anonymous GET: HTTP $code"
    say "anonymous request: 403 $(grep -o '<Code>[^<]*' "$RESP" | cut -c7-)"
    code=$(s3curl "$S3_SECRET_KEY" "$EMPTY_SHA256" -X PUT --data-binary "@$body" "$ENDPOINT/$S3_BUCKET/$key.bad")
    [ "${code:0:1}" = 4 ] || die "PUT with a wrong payload hash: HTTP $code"
    say "body not matching x-amz-content-sha256: $code $(grep -o '<Code>[^<]*' "$RESP" | cut -c7-)"
    s3curl "$S3_SECRET_KEY" "$EMPTY_SHA256" -X DELETE "$ENDPOINT/$S3_BUCKET/$key" >/dev/null
    rm -f "$body"
    say "check passed ($(elapsed) s)"
}

dispatch "$@"
