#!/usr/bin/env bash
# Rewrites the configuration tables in docs/configuration.md from the binaries'
# --config-doc, so the reference is generated from the tables in the code.
#   deploy/local/config-doc.sh          update docs/configuration.md
#   deploy/local/config-doc.sh --check  exit 1 if docs/configuration.md is out of date
# Each table stands between <!-- config-doc:NAME --> and <!-- /config-doc:NAME -->.
# Unless each of those markers occurs exactly once (start before end), both modes
# exit 1 naming the marker and leave the file as it is.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=${BIN:-build}
doc=${CONFIG_DOC:-docs/configuration.md}   # another file: for testing this script
out=$(mktemp)
trap 'rm -f "$out"' EXIT
python3 - "$bin" "$doc" "$out" <<'PY'
import subprocess, sys
bin, doc, out = sys.argv[1:]
text = open(doc).read()
names = ("ingest-api", "uploader")
bad = []
for name in names:
    start, end = f"<!-- config-doc:{name} -->", f"<!-- /config-doc:{name} -->"
    for marker in (start, end):
        n = text.count(marker)
        if n != 1:
            bad.append(f"{marker} occurs {n} times (must be exactly once)")
    if text.count(start) == 1 and text.count(end) == 1 and text.index(start) > text.index(end):
        bad.append(f"{end} comes before {start}")
if bad:
    for b in bad:
        print(f"config-doc: {doc}: {b}", file=sys.stderr)
    sys.exit(1)
for name in names:
    doc_text = subprocess.run([f"{bin}/{name}", "--config-doc"], check=True,
                              capture_output=True, text=True).stdout
    start, end = f"<!-- config-doc:{name} -->", f"<!-- /config-doc:{name} -->"
    i, j = text.index(start), text.index(end)
    text = text[:i] + f"{start}\n## {name} settings\n\n{doc_text}" + text[j:]
open(out, "w").write(text)
PY
if [ "${1:-}" = "--check" ]; then
    if ! cmp -s "$out" "$doc"; then
        echo "$doc: the configuration tables are out of date: run deploy/local/config-doc.sh" >&2
        diff -u "$doc" "$out" | head -n 40 >&2 || true
        exit 1
    fi
    exit 0
fi
cp "$out" "$doc"
