#!/usr/bin/env bash
# `make test`: installs what the tests need, builds, runs the C unit tests
# (plain and under ASan+UBSan) and a 10 s smoke of each fuzz harness, proves the
# install script complete in a fresh container, builds the images, starts
# the real Kafka and S3 servers, runs the end-to-end tests against them (and
# a few again with the daemons built with ASan+UBSan, and under valgrind),
# stops the servers, and ends with one summary line: "millrace: N passed,
# N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p .run
passed=0
failed=0

add_counts() { # "<n> passed, <m> failed" somewhere in $1
    local p f
    p=$(printf '%s\n' "$1" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) passed.*/\1/p' | tail -n 1)
    f=$(printf '%s\n' "$1" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) failed.*/\1/p' | tail -n 1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
}
step_failed() {
    echo "FAILED: $1"
    failed=$((failed + 1))
}
san_logs_clean() { # no daemon log written since $1 holds a sanitizer report
    local hits
    hits=$(find .run/e2e-logs -type f -newer "$1" -exec grep -l -E 'Sanitizer|runtime error:' {} +)
    [ -z "$hits" ] || { echo "sanitizer reports in: $hits"; return 1; }
}
valgrind_clean() { # every log in $1: no error, nothing definitely lost
    local f n=0 bad=0
    for f in "$1"/*.log; do
        [ -e "$f" ] || continue
        n=$((n + 1))
        if ! grep -q 'ERROR SUMMARY: 0 errors' "$f" ||
            grep -q 'definitely lost: [1-9]' "$f"; then
            echo "valgrind: $f"
            grep -E 'ERROR SUMMARY|definitely lost|^==[0-9]+== (Invalid|Conditional|Use of|Syscall)' "$f" | head -n 20
            bad=1
        fi
    done
    echo "valgrind: $n process logs, $([ "$bad" = 0 ] && echo clean || echo ERRORS)"
    [ "$n" -gt 0 ] && [ "$bad" = 0 ]
}

bash deploy/local/install-deps.sh --test || { echo "millrace: 0 passed, 1 failed"; exit 1; }
make -j2 all || { echo "millrace: 0 passed, 1 failed"; exit 1; }

echo "== clang-format applied"
if make -s format-check >/dev/null 2>&1; then
    passed=$((passed + 1))
else
    step_failed "clang-format (run make format)"
fi

echo "== docs/configuration.md reference matches the code"
if bash deploy/local/config-doc.sh --check; then
    passed=$((passed + 1))
else
    step_failed "docs/configuration.md configuration tables"
fi

echo "== docs: markers once each, no heading twice, links resolve (tests/docs_check.py)"
if python3 tests/docs_check.py; then
    passed=$((passed + 1))
else
    step_failed "docs check: README.md and docs/*.md (tests/docs_check.py)"
fi

echo "== code shape: no C file over 800 lines, no function over 100 (tests/code_shape.py)"
if python3 tests/code_shape.py; then
    passed=$((passed + 1))
else
    step_failed "code shape (tests/code_shape.py)"
fi

echo "== unit tests"
out=$(make -s unit 2>&1) || step_failed "unit tests"
printf '%s\n' "$out"
add_counts "$(printf '%s\n' "$out" | grep '^unit:' | tail -n 1)"

echo "== unit tests under ASan+UBSan"
out=$(make -s SAN=1 unit 2>&1) || step_failed "unit tests under sanitizers"
printf '%s\n' "$out" | grep -vE '^ok ' | tail -n 40
add_counts "$(printf '%s\n' "$out" | grep '^unit:' | tail -n 1)"

echo "== fuzzing smoke: each libFuzzer harness for 10 s"
t0=$SECONDS
out=$(make -s fuzz-smoke 2>&1) || step_failed "fuzz harnesses"
printf '%s\n' "$out" | grep -vE '^(clang|ar) ' | tail -n 30
add_counts "$(printf '%s\n' "$out" | grep '^fuzz:' | tail -n 1)"
echo "   ($((SECONDS - t0)) s)"

echo "== fresh-container install check (tests/deploy/fresh-install.sh)"
t0=$SECONDS
if bash tests/deploy/fresh-install.sh; then
    passed=$((passed + 1))
else
    step_failed "fresh-container install check: install-deps.sh misses a package"
fi
echo "   ($((SECONDS - t0)) s)"

echo "== container images (make images; run by tests/e2e/test_images.py)"
t0=$SECONDS
if make -s images; then
    passed=$((passed + 1))
else
    step_failed "make images"
fi
echo "   ($((SECONDS - t0)) s)"

echo "== starting the test servers"
# Servers that were already running (a developer's) are left running.
already=0
bash deploy/local/servers.sh status >/dev/null 2>&1 && already=1
if bash deploy/local/servers.sh start; then
    [ "$already" = 1 ] || trap 'bash deploy/local/servers.sh stop' EXIT
    # shellcheck source=../deploy/local/env.sh
    . deploy/local/env.sh
    echo "== end-to-end tests"
    python3 -m pytest -p no:cacheprovider -v -rfE tests/e2e \
        --junitxml=.run/e2e-junit.xml 2>&1 | tee .run/e2e.out
    rc=${PIPESTATUS[0]}
    summary=$(python3 - <<'PY'
import xml.etree.ElementTree as ET
try:
    r = ET.parse(".run/e2e-junit.xml").getroot()
    s = r if r.tag == "testsuite" else r.find("testsuite")
    t, f, e, k = (int(s.get(x, 0)) for x in ("tests", "failures", "errors", "skipped"))
    print(f"{t - f - e - k} passed, {f + e} failed")
except Exception:
    print("0 passed, 1 failed")
PY
)
    add_counts "$summary"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
        step_failed "pytest exited $rc"
    fi

    echo "== end-to-end under ASan+UBSan (build-san: test_pipeline, test_secrets, test_hours)"
    t0=$SECONDS
    touch .run/san-e2e.start
    if make -s -j2 san >.run/san-build.out 2>&1 &&
        MILLRACE_BIN=build-san python3 -m pytest -p no:cacheprovider -q -rfE \
            tests/e2e/test_pipeline.py tests/e2e/test_secrets.py tests/e2e/test_hours.py \
            >.run/e2e-san.out 2>&1 &&
        san_logs_clean .run/san-e2e.start; then
        passed=$((passed + 1))
    else
        tail -n 40 .run/san-build.out .run/e2e-san.out
        step_failed "end-to-end under ASan+UBSan"
    fi
    echo "   ($((SECONDS - t0)) s)"

    echo "== end-to-end under valgrind memcheck (test_bad_requests, test_secrets)"
    t0=$SECONDS
    vg=$root/.run/valgrind
    rm -rf "$vg" && mkdir -p "$vg"
    # --max-threads: ingest-api starts 2048 HTTP threads by default (valgrind's
    # default limit is 500)
    if MILLRACE_WRAP="valgrind --max-threads=2200 --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file=$vg/%p.log" \
        MILLRACE_TIMEOUT_SCALE=20 python3 -m pytest -p no:cacheprovider -q -rfE \
            tests/e2e/test_pipeline.py::test_bad_requests_are_rejected_and_nothing_reaches_kafka \
            tests/e2e/test_secrets.py >.run/e2e-valgrind.out 2>&1 &&
        valgrind_clean "$vg"; then
        passed=$((passed + 1))
    else
        tail -n 40 .run/e2e-valgrind.out
        step_failed "end-to-end under valgrind"
    fi
    echo "   ($((SECONDS - t0)) s)"
else
    step_failed "the test servers did not start"
fi

echo "millrace: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
