# shellcheck shell=bash
# Connection settings of the local test stack (deploy/local/servers.sh start):
#   . deploy/local/env.sh
# Test-only credentials of the local versitygw; they open nothing else. AWS session
# and profile variables are cleared so that AWS SDKs and the uploader sign with these
# keys and nothing they might find in the environment or in ~/.aws.
# KAFKA_PORT / S3_PORT / S3_BUCKET, when set, follow the scripts' overrides.
export MILLRACE_KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT:-19092}"
export MILLRACE_S3_ENDPOINT="http://127.0.0.1:${S3_PORT:-17070}"
export MILLRACE_S3_BUCKET="${S3_BUCKET:-millrace}"
export AWS_ACCESS_KEY_ID=millrace-test
export AWS_SECRET_ACCESS_KEY=millrace-test-secret-key
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL_S3="$MILLRACE_S3_ENDPOINT"
unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE
