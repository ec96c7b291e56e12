#!/bin/sh
# Starts a millrace daemon in a container: "$@" is the daemon and its arguments.
# A libconfig file mounted at /etc/millrace/millrace.cfg is used when present and
# MILLRACE_CONFIG names no other; environment variables override the file.
set -eu
if [ -z "${MILLRACE_CONFIG:-}" ] && [ -f /etc/millrace/millrace.cfg ]; then
    MILLRACE_CONFIG=/etc/millrace/millrace.cfg
    export MILLRACE_CONFIG
fi
exec "$@"
