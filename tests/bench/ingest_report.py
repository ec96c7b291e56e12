"""Tables and plot of `make bench-ingest` (tests/bench/ingest.sh).

    python3 tests/bench/ingest_report.py TSV OPEN_TSV SVG key=value...

Reads the closed-loop runs (TSV: one line per round, target and
concurrency) and the open-loop runs, prints the Markdown tables (means of
the rounds, and the ratios of millrace to its Go peers in the same run) and
writes SVG, a plot of 202/s and p99 against connections. key=value: the
run's facts (duration, threads, ncpu, commit, load_before, load_after,
open_s, open_conns, ref: the commit of the -ref targets, if any) and each
target's peak RSS in KiB (TARGET=KIB).
"""
import csv
import math
import statistics
import sys

NAMES = {
    "bare": "bare civetweb (ceiling)",
    "queued": "ingest-api, ack queued",
    "kafka": "ingest-api, ack kafka",
    "go-promise": "Go: Produce + promise, linger 5 ms",
    "go-sync": "Go: ProduceSync",
    "go-async": "Go: async (peer of queued)",
    "queued-ref": "ingest-api at {ref}, ack queued",
    "kafka-ref": "ingest-api at {ref}, ack kafka",
}
COLORS = {"bare": "#888888", "queued": "#1f77b4", "kafka": "#d62728",
          "go-promise": "#ff7f0e", "go-sync": "#2ca02c", "go-async": "#9467bd",
          "queued-ref": "#9ecae1", "kafka-ref": "#fc9272"}


def mean(rows, key):
    return statistics.mean(float(r[key]) for r in rows)


def paired(rows, a, b, c, key):
    """Ratio a/b of each round, both measured in it: minutes apart, so they
    share the machine's mood, which moves the same binary's rate by up to a third
    from one round to the next here. "median (lowest-highest)"."""
    by = {(r["round"], r["target"]): float(r[key]) for r in rows
          if int(r["connections"]) == c}
    rs = sorted(by[n, a] / by[n, b] for n, t in by if t == a and (n, b) in by
                and by[n, b] > 0)
    if not rs:
        return ""
    med = statistics.median(rs)
    return f"{med:.2f}" if len(rs) == 1 else f"{med:.2f} ({rs[0]:.2f}-{rs[-1]:.2f})"


def main(argv):
    tsv, openl, svg = argv[:3]
    facts = dict(a.split("=", 1) for a in argv[3:])
    for t in ("queued-ref", "kafka-ref"):
        NAMES[t] = NAMES[t].format(ref=facts.get("ref") or "ref")
    rows = list(csv.DictReader(open(tsv), delimiter="\t"))
    targets = [t for t in NAMES if any(r["target"] == t for r in rows)]
    conns = sorted({int(r["connections"]) for r in rows})
    nrounds = len({r["round"] for r in rows})
    m = {}
    for t in targets:
        for c in conns:
            rs = [r for r in rows if r["target"] == t and int(r["connections"]) == c]
            if rs:
                rps = mean(rs, "rps_202")
                m[t, c] = {
                    "rps": rps, "p50": mean(rs, "p50_ms"), "p99": mean(rs, "p99_ms"),
                    "cpu": mean(rs, "cpu_cores"), "broker": mean(rs, "broker_cores"),
                    "steal": mean(rs, "steal_pct"),
                    "bwait": mean(rs, "broker_wait_ms") if "broker_wait_ms" in rs[0] else None,
                }
    print(f"Closed loop (wrk, keep-alive, {facts['duration']} s per run, mean of "
          f"{nrounds} rounds with the targets taking turns, {facts['threads']} civetweb "
          f"threads, {facts['ncpu']} CPUs shared with Kafka, the load generator and "
          f"whatever else ran; commit {facts['commit']}; load average "
          f"{facts['load_before']} before, {facts['load_after']} after). "
          "202/s (p99 ms):\n")
    print("| connections | " + " | ".join(NAMES[t] for t in targets) + " |")
    print("|---:|" + "---:|" * len(targets))
    for c in conns:
        cells = [f"{m[t, c]['rps']:,.0f} ({m[t, c]['p99']:.1f})" if (t, c) in m else ""
                 for t in targets]
        print(f"| {c} | " + " | ".join(cells) + " |")

    have = set(targets)
    if {"kafka", "go-promise", "go-sync"} <= have or {"queued", "go-async"} <= have:
        print("\nmillrace against its Go peers, same run (ratios above 1 favour "
              "millrace for 202/s, below 1 for p99 and CPU; ±10% is noise on this "
              "machine). Ratios are the median of the rounds' paired ratios, each "
              "with its lowest and highest; a range that spans 1 is a tie. The peer is "
              "the Go configuration with the higher mean 202/s. Broker CPU is Kafka's "
              "CPU time per request answered 202:\n")
        print("| connections | kafka ÷ best Go (202/s) | kafka p99 ÷ that peer's | "
              "broker µs/request: kafka, that peer | kafka CPU µs/request: ingest-api, "
              "that peer | queued ÷ Go async (202/s) | queued p99 ÷ Go async p99 |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for c in conns:
            cells = []
            if {("kafka", c), ("go-promise", c), ("go-sync", c)} <= m.keys():
                k = m["kafka", c]
                best = max(("go-promise", "go-sync"), key=lambda t: m[t, c]["rps"])
                g = m[best, c]
                us = lambda x, k2: 1e6 * x[k2] / max(x["rps"], 1)
                cells += [paired(rows, "kafka", best, c, "rps_202") + f" vs {best}",
                          paired(rows, "kafka", best, c, "p99_ms"),
                          f"{us(k, 'broker'):.0f}, {us(g, 'broker'):.0f}",
                          f"{us(k, 'cpu'):.0f}, {us(g, 'cpu'):.0f}"]
            else:
                cells += [""] * 4
            if {("queued", c), ("go-async", c)} <= m.keys():
                cells += [paired(rows, "queued", "go-async", c, "rps_202"),
                          paired(rows, "queued", "go-async", c, "p99_ms")]
            else:
                cells += [""] * 2
            print(f"| {c} | " + " | ".join(cells) + " |")

    if {"queued-ref", "kafka-ref"} & have:
        print(f"\nThis commit against {facts.get('ref')}, same run (202/s ratio, p99 ratio; "
              "above 1 favours this commit for 202/s, below 1 for p99; paired by "
              "round as above):\n")
        print("| connections | queued ÷ ref (202/s) | queued p99 ÷ ref | "
              "kafka ÷ ref (202/s) | kafka p99 ÷ ref |")
        print("|---:|---:|---:|---:|---:|")
        for c in conns:
            cells = []
            for t in ("queued", "kafka"):
                if {(t, c), (t + "-ref", c)} <= m.keys():
                    cells += [paired(rows, t, t + "-ref", c, "rps_202"),
                              paired(rows, t, t + "-ref", c, "p99_ms")]
                else:
                    cells += ["", ""]
            print(f"| {c} | " + " | ".join(cells) + " |")

    if all(v["bwait"] is not None for v in m.values()):
        print("\nKafka's wait to run while each target was loaded: its threads' mean "
              "time in the run queue each time one was scheduled, ms (from "
              "/proc schedstat; the broker shares the CPUs, and while it waits, "
              "produce requests wait):\n")
        print("| connections | " + " | ".join(NAMES[t] for t in targets) + " |")
        print("|---:|" + "---:|" * len(targets))
        for c in conns:
            cells = [f"{m[t, c]['bwait']:.1f}" if (t, c) in m else "" for t in targets]
            print(f"| {c} | " + " | ".join(cells) + " |")

    print("\nPeak RSS over the whole run (MiB): " + ", ".join(
        f"{NAMES[t]} {int(facts[t]) / 1024:.0f}" for t in targets if t in facts) + ".")

    try:
        orows = list(csv.DictReader(open(openl), delimiter="\t"))
    except OSError:
        orows = []
    if orows:
        print(f"\nOpen loop ({orows[0]['rate']} requests/s = half of ack kafka's peak, "
              f"{facts['open_s']} s, {facts['open_conns']} connections; "
              "tests/bench/openloop.c times each request from when it was due). "
              "Each target's row is its median run by p99:\n")
        print("| target | answered 202 | p50 ms | p99 ms | p99 of each run | max ms | "
              "server CPU µs/request | broker CPU µs/request | CPU stolen |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for t in [t for t in NAMES if any(r["target"] == t for r in orows)]:
            runs = [r for r in orows if r["target"] == t]
            r = sorted(runs, key=lambda r: float(r["p99_ms"]))[(len(runs) - 1) // 2]
            n = float(r["rate"]) * float(facts["open_s"]) * float(r["success"])
            each = ", ".join(f"{float(x['p99_ms']):.1f}" for x in runs)
            print(f"| {NAMES[t]} | {float(r['success']) * 100:.2f}% | {r['p50_ms']} | "
                  f"{r['p99_ms']} | {each} | {r['max_ms']} | "
                  f"{1e6 * float(r['server_cpu_s']) / max(n, 1):.0f} | "
                  f"{1e6 * float(r['broker_cpu_s']) / max(n, 1):.0f} | {r['steal_pct']}% |")
    write_svg(svg, targets, conns, m, facts)


def write_svg(path, targets, conns, m, facts):
    """Two panels, 202/s and p99 against connections (log2 x, p99 log y)."""
    W, H, L, R, T, B = 900, 330, 80, 230, 40, 45
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{2 * H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{2 * H}" fill="white"/>']
    xs = [math.log2(c) for c in conns]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    X = lambda c: L + (math.log2(c) - x0) / (x1 - x0) * (W - L - R)
    for panel, (key, title, logy) in enumerate(
            [("rps", "requests/s answered 202", False), ("p99", "p99 latency, ms (log)", True)]):
        oy = panel * H
        vals = [v[key] for v in m.values() if v[key] > 0]
        lo = min(vals) if logy else 0
        hi = max(vals) * (1.1 if not logy else 1.5)
        f = (lambda v: math.log10(v)) if logy else (lambda v: v)
        Y = lambda v: oy + H - B - (f(max(v, lo)) - f(lo)) / ((f(hi) - f(lo)) or 1) * (H - T - B)
        out.append(f'<text x="{L}" y="{oy + 25}" font-size="14">{title}</text>')
        out.append(f'<line x1="{L}" y1="{oy + H - B}" x2="{W - R}" y2="{oy + H - B}" stroke="black"/>')
        out.append(f'<line x1="{L}" y1="{oy + T}" x2="{L}" y2="{oy + H - B}" stroke="black"/>')
        for c in conns:
            out.append(f'<text x="{X(c):.0f}" y="{oy + H - B + 16}" text-anchor="middle">{c}</text>')
        for i in range(5):
            v = lo + (hi - lo) * i / 4 if not logy else 10 ** (f(lo) + (f(hi) - f(lo)) * i / 4)
            out.append(f'<text x="{L - 6}" y="{Y(v) + 4:.0f}" text-anchor="end">'
                       f'{v:,.0f}</text>' if v >= 10 else
                       f'<text x="{L - 6}" y="{Y(v) + 4:.0f}" text-anchor="end">{v:.1f}</text>')
            out.append(f'<line x1="{L}" y1="{Y(v):.0f}" x2="{W - R}" y2="{Y(v):.0f}" stroke="#eee"/>')
        out.append(f'<text x="{(L + W - R) / 2}" y="{oy + H - 8}" text-anchor="middle">connections</text>')
        for i, t in enumerate(targets):
            pts = [(X(c), Y(m[t, c][key])) for c in conns if (t, c) in m]
            out.append(f'<polyline fill="none" stroke="{COLORS[t]}" stroke-width="2" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            for x, y in pts:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[t]}"/>')
            ly = oy + T + 18 * i
            out.append(f'<line x1="{W - R + 15}" y1="{ly}" x2="{W - R + 35}" y2="{ly}" '
                       f'stroke="{COLORS[t]}" stroke-width="2"/>')
            out.append(f'<text x="{W - R + 40}" y="{ly + 4}">{NAMES[t]}</text>')
    out.append(f'<text x="{W - 10}" y="{2 * H - 6}" text-anchor="end" fill="#666">'
               f'make bench-ingest, commit {facts["commit"]}, {facts["ncpu"]} CPUs</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
