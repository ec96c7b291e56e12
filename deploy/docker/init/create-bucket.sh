#!/bin/sh
# One-shot job of docker-compose.yml (service s3-init, run from the uploader image,
# which has curl): creates the bucket on the S3 server and exits 0 once it exists.
# Idempotent: an existing bucket (HEAD 200, or 409 BucketAlreadyOwnedByYou) is fine.
# Requests are SigV4-signed by curl (--aws-sigv4), as deploy/local/s3.sh does.
#
# Environment: S3_ENDPOINT (default http://s3:7070), S3_BUCKET (default millrace),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1),
# TRIES (default 30, one a second while the server does not answer).
set -eu
S3_ENDPOINT=${S3_ENDPOINT:-http://s3:7070}
S3_BUCKET=${S3_BUCKET:-millrace}
AWS_REGION=${AWS_REGION:-us-east-1}
TRIES=${TRIES:-30}
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID is not set}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY is not set}"
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
URL="${S3_ENDPOINT%/}/$S3_BUCKET"

s3() { # HEAD|PUT; prints the HTTP status (000: no answer)
    if [ "$1" = HEAD ]; then set -- --head; else set -- -X "$1"; fi
    curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@" \
        --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H "x-amz-content-sha256: $EMPTY_SHA256" "$URL" 2>/dev/null || true
}

i=0
while :; do
    head=$(s3 HEAD)
    case "$head" in
    200)
        echo "create-bucket: $S3_BUCKET exists on $S3_ENDPOINT"
        exit 0
        ;;
    404)
        put=$(s3 PUT)
        case "$put" in
        200 | 409)
            echo "create-bucket: created $S3_BUCKET on $S3_ENDPOINT"
            exit 0
            ;;
        esac
        echo "create-bucket: PUT $URL answered $put" >&2
        ;;
    403)
        echo "create-bucket: HEAD $URL answered 403: wrong credentials?" >&2
        exit 1
        ;;
    *) echo "create-bucket: HEAD $URL answered ${head:-000}, retrying" >&2 ;;
    esac
    i=$((i + 1))
    if [ "$i" -ge "$TRIES" ]; then
        echo "create-bucket: giving up after $TRIES tries" >&2
        exit 1
    fi
    sleep 1
done
