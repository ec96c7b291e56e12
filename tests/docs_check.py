"""Checks the documentation: README.md and docs/*.md (or the files named).

    python3 tests/docs_check.py [FILE.md ...]

Fails (exit 1, one line per problem) unless, in each file:

  - every generated-section marker pair is well-formed: for each
    <!-- NAME:ID --> (config-doc:..., bench:...) the start marker occurs
    exactly once, its end marker <!-- /NAME:ID --> exactly once, and the
    start comes first; deploy/local/config-doc.sh and
    tests/bench/readme_section.py write between them;
  - no heading occurs twice (outside code blocks): one copy of each section,
    and every heading's link anchor is unique;
  - every relative link and image ([text](path#anchor)) names a file that
    exists, and an anchor that one of that Markdown file's headings makes;

and, across all the files, no paragraph of prose (160 characters or more,
outside code blocks and tables) stands in two places: a section copied
instead of linked.

`make test` runs it (tests/run-all.sh).
"""
import collections
import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MARKER = re.compile(r"<!--\s*(/?)([a-z][a-z0-9-]*:[A-Za-z0-9_.-]+)\s*-->")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MIN_PARAGRAPH = 160


def prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        s = line.lstrip()
        if fence is None and (s.startswith("```") or s.startswith("~~~")):
            fence = s[:3]
            continue
        if fence is not None:
            if s.startswith(fence):
                fence = None
            continue
        yield n, line


def slug(title):
    """GitHub's anchor for a heading."""
    t = re.sub(r"<[^>]+>", "", title)
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", t)  # a link's text
    t = t.strip().lower()
    t = re.sub(r"[^\w\- ]", "", t)
    return t.replace(" ", "-")


def headings(text):
    out = []
    for n, line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            out.append((n, m.group(1), m.group(2)))
    return out


def check_markers(path, text):
    problems = []
    starts, ends = collections.defaultdict(list), collections.defaultdict(list)
    for n, line in enumerate(text.split("\n"), 1):
        line = re.sub(r"`[^`]*`", "", line)  # a marker quoted in prose is no marker
        for m in MARKER.finditer(line):
            (ends if m.group(1) else starts)[m.group(2)].append(n)
    for key in sorted(set(starts) | set(ends)):
        s, e = starts.get(key, []), ends.get(key, [])
        if len(s) != 1:
            problems.append(f"{path}: <!-- {key} --> occurs {len(s)} times"
                            f"{' (lines ' + ', '.join(map(str, s)) + ')' if s else ''}"
                            f"; it must occur exactly once")
        if len(e) != 1:
            problems.append(f"{path}: <!-- /{key} --> occurs {len(e)} times"
                            f"{' (lines ' + ', '.join(map(str, e)) + ')' if e else ''}"
                            f"; it must occur exactly once")
        if len(s) == 1 and len(e) == 1 and s[0] > e[0]:
            problems.append(f"{path}:{e[0]}: <!-- /{key} --> comes before "
                            f"<!-- {key} --> (line {s[0]})")
    return problems


def check_headings(path, text):
    problems = []
    seen = {}
    for n, level, title in headings(text):
        key = slug(title)
        if key in seen:
            problems.append(f"{path}:{n}: heading \"{level} {title}\" repeats line "
                            f"{seen[key]} (a duplicated section?)")
        else:
            seen[key] = n
    return problems


def check_links(path, text, anchors_of):
    problems = []
    here = os.path.dirname(os.path.abspath(path))
    for n, line in prose_lines(text):
        for m in LINK.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(here, file_part)) if file_part \
                else os.path.abspath(path)
            if not os.path.exists(dest):
                problems.append(f"{path}:{n}: link to {target}: {file_part} does not exist")
                continue
            if anchor and dest.endswith(".md"):
                if anchor not in anchors_of(dest):
                    problems.append(f"{path}:{n}: link to {target}: no heading in "
                                    f"{os.path.relpath(dest)} makes the anchor #{anchor}")
    return problems


def paragraphs(text):
    """Prose paragraphs: runs of non-blank lines outside code, tables, markers."""
    para, start = [], 0
    for n, line in list(prose_lines(text)) + [(None, "")]:
        s = line.strip()
        if not s or s.startswith("|") or s.startswith("#") or s.startswith("<!--"):
            if para:
                yield start, " ".join(para)
            para = []
            continue
        if not para:
            start = n
        para.append(s)


def check_copies(texts):
    problems = []
    where = {}
    for path, text in texts.items():
        for n, p in paragraphs(text):
            # a list item is its own paragraph
            for i, item in enumerate(re.split(r" (?=[-*] |\d+\. )", p)):
                norm = re.sub(r"\s+", " ", item).strip()
                if len(norm) < MIN_PARAGRAPH:
                    continue
                if norm in where:
                    problems.append(f"{path}:{n}: this paragraph is also at "
                                    f"{where[norm]}: \"{norm[:70]}...\"")
                else:
                    where[norm] = f"{path}:{n}"
    return problems


def main(argv):
    os.chdir(ROOT) if not argv else None
    files = argv or ["README.md"] + sorted(glob.glob("docs/*.md"))
    texts = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            texts[f] = fh.read()
    cache = {}

    def anchors_of(dest):
        if dest not in cache:
            rel = [f for f in texts if os.path.abspath(f) == dest]
            text = texts[rel[0]] if rel else open(dest, encoding="utf-8").read()
            cache[dest] = {slug(t) for _, _, t in headings(text)}
        return cache[dest]

    problems = []
    for path, text in texts.items():
        problems += check_markers(path, text)
        problems += check_headings(path, text)
        problems += check_links(path, text, anchors_of)
    problems += check_copies(texts)
    for p in problems:
        print(f"docs-check: {p}", file=sys.stderr)
    n = len(texts)
    if problems:
        print(f"docs-check: {len(problems)} problem(s) in {n} file(s)", file=sys.stderr)
        return 1
    markers = sum(len(MARKER.findall(re.sub(r"`[^`]*`", "", t))) // 2
                  for t in texts.values())
    print(f"docs-check: {n} files, {markers} marker pairs well-formed, no heading "
          f"twice, every relative link resolves, no paragraph copied")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
