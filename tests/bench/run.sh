#!/usr/bin/env bash
# `make bench`: every benchmark in tests/bench (each *.sh but this one), in
# turn. Benchmarks measure; they assert nothing.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rc=0
for b in tests/bench/*.sh; do
    [ "$(basename "$b")" = run.sh ] && continue
    echo "== $b"
    bash "$b" || rc=1
done
exit $rc
