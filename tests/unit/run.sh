#!/usr/bin/env bash
# Runs each unit test binary given as an argument and adds up their counts.
set -u
passed=0
failed=0
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -v '^ok  '
    line=$(printf '%s\n' "$out" | tail -n 1)
    p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
    if [ -z "$p" ]; then
        echo "unit: $t crashed or printed no summary (exit $rc)"
        failed=$((failed + 1))
        continue
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && failed=$((failed + 1))
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
