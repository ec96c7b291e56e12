#!/usr/bin/env python3
"""The shape of the C code outside tests: no file over MAX_FILE lines and
no function over MAX_FUNCTION lines (issue 15: a file one concern, a
function short enough to read at once). clang-format puts a function's
braces alone at column 0, so a function runs from the line after its
opening "{" to its closing "}". Prints the largest of each and exits 1 when
either limit is passed.

    python3 tests/code_shape.py [--top N]
"""

import os
import subprocess
import sys

MAX_FILE = 800
MAX_FUNCTION = 100
DIRS = ("common", "ingest-api", "uploader", "devbroker")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def sources():
    out = subprocess.run(["git", "ls-files", "--cached", "--others",
                          "--exclude-standard", "--", *DIRS],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted(p for p in out.stdout.split()
                  if p.endswith((".c", ".h")) and
                  os.path.exists(os.path.join(ROOT, p)))


def functions(path, lines):
    """(name, first line, length) of each function body."""
    found = []
    start = None
    for i, line in enumerate(lines):
        if line.rstrip("\n") == "{" and i > 0:
            start = i
            sig = lines[i - 1]
            j = i - 1
            while j > 0 and "(" not in sig:
                j -= 1
                sig = lines[j] + sig
            name = sig.split("(")[0].split()[-1].lstrip("*") if "(" in sig \
                else "?"
        elif line.rstrip("\n") == "}" and start is not None:
            found.append((name, start + 1, i - start - 1))
            start = None
    return found


def main():
    top = 5
    if len(sys.argv) == 3 and sys.argv[1] == "--top":
        top = int(sys.argv[2])
    files, funcs = [], []
    for p in sources():
        with open(os.path.join(ROOT, p), encoding="utf-8") as f:
            lines = f.readlines()
        files.append((len(lines), p))
        for name, line, n in functions(p, lines):
            funcs.append((n, f"{p}:{line} {name}()"))
    files.sort(reverse=True)
    funcs.sort(reverse=True)
    print(f"code shape: {len(files)} files, {len(funcs)} functions")
    print("  largest files:     " +
          ", ".join(f"{p} {n}" for n, p in files[:top]))
    print("  largest functions: " +
          ", ".join(f"{w} {n}" for n, w in funcs[:top]))
    bad = [f"{p}: {n} lines (limit {MAX_FILE})"
           for n, p in files if n > MAX_FILE]
    bad += [f"{w}: {n} lines (limit {MAX_FUNCTION})"
            for n, w in funcs if n > MAX_FUNCTION]
    for b in bad:
        print("  over: " + b)
    print("code shape: " + ("ok" if not bad else f"{len(bad)} over a limit"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
