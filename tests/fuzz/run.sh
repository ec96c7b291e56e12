#!/usr/bin/env bash
# Runs each libFuzzer harness for a bounded time and reports executions.
#   tests/fuzz/run.sh SECONDS build-fuzz/fuzz_a build-fuzz/fuzz_b ...
# Each harness starts from its seed corpus tests/fuzz/corpus/<name>/ (hand-
# made inputs and the regression inputs of crashes once found: all are run
# first, so an old crash that comes back fails at once) plus the inputs it
# found before, kept in build-fuzz/corpus/<name>/. A crash, leak, timeout
# or failed property saves its input to build-fuzz/artifacts/<name>/ and
# fails the harness. Ends with "fuzz: N passed, N failed" (one per harness).
set -u
secs=${1:?usage: run.sh SECONDS HARNESS...}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
passed=0
failed=0
for bin in "$@"; do
    name=$(basename "$bin")
    seeds=tests/fuzz/corpus/$name
    work=build-fuzz/corpus/$name
    arts=build-fuzz/artifacts/$name
    log=build-fuzz/$name.log
    mkdir -p "$work" "$arts" "$seeds"
    opts=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2048
          -max_len=4096 -print_final_stats=1 -artifact_prefix="$arts/")
    case $name in
    fuzz_validate | fuzz_ndjson | fuzz_jsoncheck)
        opts+=(-dict=tests/fuzz/json.dict) ;;
    fuzz_cfg) opts+=(-dict=tests/fuzz/cfg.dict) ;;
    esac
    # stdin is /dev/null: a configuration may name /dev/stdin as a file.
    LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0 \
        "$bin" "${opts[@]}" "$work" "$seeds" </dev/null >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'ok   %-16s %10s execs in %ss  (%s)\n' "$name" "${execs:-?}" "$secs" "$cov"
    else
        failed=$((failed + 1))
        printf 'FAIL %-16s exit %s; log %s, input in %s\n' "$name" "$rc" "$log" "$arts"
        grep -E 'ERROR|property failed|runtime error|SUMMARY|Test unit written' "$log" | head -n 12
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
