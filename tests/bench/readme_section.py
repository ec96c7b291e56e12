"""Puts a benchmark's results table into docs/benchmarks.md, between its markers.

    python3 tests/bench/readme_section.py NAME FILE [DOC]

replaces what stands between <!-- bench:NAME --> and <!-- /bench:NAME --> in
DOC (default docs/benchmarks.md, relative to the current directory) with
FILE's text. Unless each of the two markers occurs exactly once, the start
before the end, DOC is left as it is and this exits 1 saying which marker is
wrong: a results table never goes missing or lands twice without a word.
"""
import sys


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    name, path = argv[:2]
    doc = argv[2] if len(argv) == 3 else "docs/benchmarks.md"
    md = open(path).read()
    text = open(doc).read()
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    bad = [f"{m} occurs {text.count(m)} times (must be exactly once)"
           for m in (start, end) if text.count(m) != 1]
    if not bad and text.index(start) > text.index(end):
        bad.append(f"{end} comes before {start}")
    if bad:
        for b in bad:
            print(f"bench-{name}: {doc}: {b}; the table was not written there "
                  f"(it is in {path})", file=sys.stderr)
        return 1
    i = text.index(start) + len(start)
    j = text.index(end)
    if not md.endswith("\n"):
        md += "\n"
    open(doc, "w").write(text[:i] + "\n" + md + text[j:])
    print(f"bench-{name}: {doc} table updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
