"""Puts a benchmark's results table into README.md, between its markers.

    python3 tests/bench/readme_section.py NAME FILE

replaces what stands between <!-- bench:NAME --> and <!-- /bench:NAME -->
with FILE's text. README.md is left as it is when the markers are missing.
"""
import re
import sys

name, path = sys.argv[1:]
md = open(path).read()
text = open("README.md").read()
new, n = re.subn(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)",
                 lambda m: m.group(1) + md + m.group(2), text, flags=re.S)
if n == 1:
    open("README.md", "w").write(new)
    print(f"bench-{name}: README.md table updated")
