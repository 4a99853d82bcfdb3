#!/usr/bin/env python3
"""Draws the load generator's curves as SVG: sagas/s and p99 latency against concurrency, one chart per
log backend, with batching (the default), without it, and the raw baseline of the same runs.

Reads the load generator's JSON lines (one object per line, as `cargo bench --bench loadgen` prints
them, optionally with an added "uptime" field) from every `*.jsonl` file in the input directory and
writes `<log>.svg` for each backend into the output directory. Python 3.11 standard library only.

    python3 scripts/charts.py [--data docs/bench-data] [--out docs/charts] [--table]

`--table` also prints a Markdown table per backend of every line (happy path and failing step).

Charts show log backends on the happy path: lines of the in-memory log, of a remote transport, with a
`fail_at`, a `recovery` or a non-default `ping_after_idle_ms` are left out (`--table` lists them). When several
lines share a backend, batching setting and concurrency, the median of their figures is drawn.
"""

import argparse
import json
import math
import pathlib
import statistics
import sys
from xml.sax.saxutils import escape

SERIES = [
    # (key, label, colour, dashed)
    ("on", "library, batching on (default)", "#1f77b4", False),
    ("off", "library, batching off", "#ff7f0e", False),
    ("baseline", "raw baseline (unbatched)", "#555555", True),
]
PANEL_W, PANEL_H = 360, 250
MARGIN = dict(left=64, right=16, top=40, bottom=46)


def load(directory, everything=False):
    """Every happy-path line (or every line) of every .jsonl file in `directory`."""
    lines = []
    for path in sorted(pathlib.Path(directory).glob("*.jsonl")):
        for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = text.strip()
            if not text:
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
            if everything or charted(line):
                lines.append(line)
    return lines


def charted(line):
    """Whether a line belongs on a chart: a log backend's happy path, in-process transport, default
    connection settings."""
    return (
        line.get("fail_at") is None
        and "recovery" not in line
        and line.get("transport", "inproc") == "inproc"
        and line.get("log") != "memory"
        and line.get("ping_after_idle_ms") is None
        and "scaling" not in line
    )


def batching(line):
    """Whether the line's library ran with batching (older lines call it group_commit)."""
    return bool(line.get("batching", line.get("group_commit", False)))


def series(lines, log):
    """{series key: {concurrency: (sagas/s, p99 ms)}} for one backend, medians of repeated lines."""
    points = {key: {} for key, *_ in SERIES}
    for line in lines:
        if line.get("log") != log:
            continue
        c = int(line["concurrency"])
        lib = (line["sagas_per_sec"], line["p99_ms"])
        points["on" if batching(line) else "off"].setdefault(c, []).append(lib)
        base = line.get("baseline") or {}
        if "sagas_per_sec" in base:
            points["baseline"].setdefault(c, []).append((base["sagas_per_sec"], base["p99_ms"]))
    return {
        key: {
            c: (statistics.median(v[0] for v in vs), statistics.median(v[1] for v in vs))
            for c, vs in by_c.items()
        }
        for key, by_c in points.items()
    }


def nice_max(value):
    """A round number at or above `value` for the top of an axis."""
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def fmt(v):
    return f"{v / 1000:g}k" if v >= 10000 else f"{v:g}"


def panel(x0, title, ylabel, data, index, concurrencies):
    """One panel's SVG elements: axes, grid, a polyline per series."""
    out = []
    left, top = x0 + MARGIN["left"], MARGIN["top"]
    w = PANEL_W - MARGIN["left"] - MARGIN["right"]
    h = PANEL_H - MARGIN["top"] - MARGIN["bottom"]
    values = [p[index] for s in data.values() for p in s.values()]
    ymax = nice_max(max(values, default=1.0))
    lo, hi = math.log2(min(concurrencies)), math.log2(max(concurrencies))
    span = (hi - lo) or 1.0

    def x(c):
        return left + (math.log2(c) - lo) / span * w

    def y(v):
        return top + h - v / ymax * h

    out.append(f'<text x="{left + w / 2}" y="{top - 16}" text-anchor="middle" '
               f'font-weight="bold">{escape(title)}</text>')
    for k in range(5):
        v = ymax * k / 4
        out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{left + w}" y2="{y(v):.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
    for c in concurrencies:
        out.append(f'<line x1="{x(c):.1f}" y1="{top}" x2="{x(c):.1f}" y2="{top + h}" '
                   f'stroke="#eee"/>')
        out.append(f'<text x="{x(c):.1f}" y="{top + h + 16}" text-anchor="middle">{c}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    out.append(f'<text x="{left + w / 2}" y="{top + h + 34}" text-anchor="middle">'
               f'sagas in flight (log scale)</text>')
    out.append(f'<text transform="translate({x0 + 14},{top + h / 2}) rotate(-90)" '
               f'text-anchor="middle">{escape(ylabel)}</text>')
    for key, _label, colour, dashed in SERIES:
        pts = sorted(data.get(key, {}).items())
        if not pts:
            continue
        coords = " ".join(f"{x(c):.1f},{y(p[index]):.1f}" for c, p in pts)
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"{dash}/>')
        for c, p in pts:
            out.append(f'<circle cx="{x(c):.1f}" cy="{y(p[index]):.1f}" r="3" fill="{colour}">'
                       f'<title>{c} in flight: {p[index]:g}</title></circle>')
    return out


def chart(log, data):
    """The SVG document of one backend: throughput and p99 side by side, and a legend."""
    concurrencies = sorted({c for s in data.values() for c in s})
    width, height = 2 * PANEL_W, PANEL_H + 28
    body = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    body += panel(0, f"{log}: throughput", "sagas/s", data, 0, concurrencies)
    body += panel(PANEL_W, f"{log}: p99 latency", "p99 ms", data, 1, concurrencies)
    lx = MARGIN["left"]
    for key, label, colour, dashed in SERIES:
        if not data.get(key):
            continue
        dash = ' stroke-dasharray="5,4"' if dashed else ""
        body.append(f'<line x1="{lx}" y1="{height - 12}" x2="{lx + 24}" y2="{height - 12}" '
                    f'stroke="{colour}" stroke-width="2"{dash}/>')
        body.append(f'<text x="{lx + 30}" y="{height - 8}">{escape(label)}</text>')
        lx += 36 + 6.2 * len(label)
    body.append("</svg>")
    return "\n".join(body) + "\n"


def table(lines, log):
    """A Markdown table of one backend's lines, in file order."""
    rows = [
        "| in flight | fail at | batching | sagas/s | p50 ms | p99 ms | commits/saga | "
        "raw baseline sagas/s (p99 ms) | ratio | load average |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for line in lines:
        if (
            line.get("log") != log
            or "scaling" in line
            or "recovery" in line
            or line.get("transport", "inproc") != "inproc"
        ):
            continue
        base = line.get("baseline") or {}
        commits = line.get("commits_per_saga")
        rows.append(
            f"| {line['concurrency']} | {line.get('fail_at') or '-'} | "
            f"{'on' if batching(line) else 'off'} | {line['sagas_per_sec']:.0f} | "
            f"{line['p50_ms']:.1f} | {line['p99_ms']:.1f} | "
            f"{'-' if commits is None else f'{commits:.2f}'} | "
            f"{base.get('sagas_per_sec', 0):.0f} ({base.get('p99_ms', 0):.1f}) | "
            f"{line['ratio']:.2f} | {line.get('uptime', '-')} |"
        )
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="docs/bench-data", help="directory of *.jsonl files")
    parser.add_argument("--out", default="docs/charts", help="directory for the SVG files")
    parser.add_argument("--table", action="store_true", help="print Markdown tables too")
    args = parser.parse_args()
    if args.table:
        everything = load(args.data, everything=True)
        for log in sorted({line["log"] for line in everything}):
            print(f"\n{log}:\n\n{table(everything, log)}\n")
    lines = load(args.data)
    if not lines:
        sys.exit(f"no load generator lines in {args.data}/*.jsonl")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for log in sorted({line["log"] for line in lines}):
        data = series(lines, log)
        if not any(data.values()):
            continue
        path = out / f"{log}.svg"
        path.write_text(chart(log, data), encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
