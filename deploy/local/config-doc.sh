#!/usr/bin/env bash
# Rewrites the configuration tables in README.md from the binaries'
# --config-doc, so the reference is generated from the tables in the code.
#   deploy/local/config-doc.sh          update README.md
#   deploy/local/config-doc.sh --check  exit 1 if README.md is out of date
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=${BIN:-build}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
python3 - "$bin" README.md "$out" <<'PY'
import re, subprocess, sys
bin, readme, out = sys.argv[1:]
text = open(readme).read()
for name in ("ingest-api", "uploader"):
    doc = subprocess.run([f"{bin}/{name}", "--config-doc"], check=True,
                         capture_output=True, text=True).stdout
    block = f"<!-- config-doc:{name} -->\n### {name} settings\n\n{doc}<!-- /config-doc:{name} -->"
    text, n = re.subn(rf"<!-- config-doc:{name} -->.*?<!-- /config-doc:{name} -->",
                      lambda m: block, text, flags=re.S)
    assert n == 1, f"README.md lacks the markers for {name}"
open(out, "w").write(text)
PY
if [ "${1:-}" = "--check" ]; then
    if ! cmp -s "$out" README.md; then
        echo "README.md configuration tables are out of date: run deploy/local/config-doc.sh" >&2
        exit 1
    fi
    exit 0
fi
cp "$out" README.md
