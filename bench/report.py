#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the benchmark records of one or more VM runs into bench/results.md.

    bench/report.py [--out FILE] [--plots DIR] [--no-plots] [--host-load L]
                    [--runtime TEXT] [--module TEXT] [--clock counted|real]
                    [--real KVER=DIR]... [--real-load TEXT] [--real-runtime TEXT]
                    [--real-machine TEXT] KVER=DIR...

DIR is what bench/guest.sh wrote for kernel KVER (info.tsv, status.tsv and
one <id>.tsv per scenario, described in bench/lib.sh). Writes FILE (default
bench/results.md): per scenario a table per kernel, each figure the median of
the repetitions with their min and max, ratios against the baseline, and
whether the target is met; step plots as PNG in DIR (default: next to FILE)
with matplotlib, else gnuplot. Prints a summary of the ratios.

--clock: the guest clock of the KVER=DIR runs (default counted: vm.sh
--icount). --real KVER=DIR: a run of some scenarios with the real-time clock
(scripts/bench.sh's real-clock pass); for those scenarios each kernel's
section gets a table of both clocks' figures and ratios side by side, and the
summary a line per clock. Targets are judged on the counted clock only.

Numbers never fail this program; missing or broken records are reported in
the tables. Exit 1 only on bad usage or unreadable input.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
from collections import OrderedDict


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if v == int(v) and a < 1e9:
        return str(int(v))
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


class Scenario:
    def __init__(self, sid):
        self.id = sid
        self.title = sid
        self.desc = []
        self.layout = "metrics"
        self.variants = OrderedDict()   # name -> description
        self.vskip = OrderedDict()      # name -> reason
        self.metrics = OrderedDict()    # name -> dict
        self.results = {}               # (metric, variant) -> [values]
        self.notes = []
        self.skip = None
        self.seconds = None
        self.plots = OrderedDict()      # name -> (title, ylabel, [(label, file)])
        self.status = None
        self.summary = []               # metrics shown in the summary
        self.xratios = []               # (metric, variant, other, target)

    def values(self, metric, variant):
        return self.results.get((metric, variant), [])

    def median(self, metric, variant):
        v = self.values(metric, variant)
        return statistics.median(v) if v else None


def parse_scenario(path):
    sc = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            kind, args = p[0], p[1:]
            if kind == "scenario":
                sc = Scenario(args[0])
                if len(args) > 1:
                    sc.title = args[1]
                continue
            if sc is None:
                sc = Scenario(os.path.basename(path)[:-4])
            try:
                if kind == "desc":
                    sc.desc.append(args[0])
                elif kind == "layout":
                    sc.layout = args[0]
                elif kind == "variant":
                    sc.variants[args[0]] = args[1] if len(args) > 1 else ""
                elif kind == "vskip":
                    sc.vskip[args[0]] = args[1] if len(args) > 1 else ""
                elif kind == "metric":
                    name, unit, better, base, target = args[:5]
                    sc.metrics[name] = dict(
                        unit=unit, better=better,
                        base=None if base == "-" else base,
                        target=None if target == "-" else target,
                        desc=args[5] if len(args) > 5 else "")
                elif kind == "result":
                    metric, variant, _rep, value = args[:4]
                    sc.results.setdefault((metric, variant), []).append(float(value))
                elif kind == "xratio":
                    sc.xratios.append((args[0], args[1], args[2],
                                       None if args[3] == "-" else args[3]))
                elif kind == "summary":
                    sc.summary = args
                elif kind == "note":
                    sc.notes.append(args[0])
                elif kind == "skip":
                    sc.skip = args[0]
                elif kind == "end":
                    sc.seconds = int(args[0])
                elif kind == "plot":
                    sc.plots[args[0]] = (args[1], args[2], [],
                                         args[3] if len(args) > 3 else "time (s)",
                                         args[4] if len(args) > 4 else "lines")
                elif kind == "series":
                    sc.plots.setdefault(args[0], (args[0], "", [], "time (s)", "lines"))[2].append(
                        (args[1], os.path.join(os.path.dirname(path), args[2])))
            except (IndexError, ValueError) as e:
                sc.notes.append(f"unreadable record '{line.strip()}': {e}")
    return sc


def read_kv(path):
    d = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) >= 2:
                    d[p[0]] = p[1:]
    except OSError:
        pass
    return d


def ratio(sc, metric, variant):
    m = sc.metrics[metric]
    base = m["base"]
    b, v = sc.median(metric, base), sc.median(metric, variant)
    if b is None or v is None or b == 0 or v == 0:
        return None
    return b / v if m["better"] == "lower" else v / b


def diff(sc, metric, variant):
    """variant's median minus the baseline's (None when one is missing)."""
    b = sc.median(metric, sc.metrics[metric]["base"])
    v = sc.median(metric, variant)
    return None if b is None or v is None else v - b


def check_target(sc, metric, variant=None):
    """(text, met) for a metric's target; met is None when not checkable.

    Targets: ratio>=X (against the baseline), diff<=X (a cost's median at
    most X above the baseline's), max<=X, min>=X, abs<=X (every repetition),
    in=LO..HI (every median), optionally for some variants only:
    VARIANT[,VARIANT]:max<=X; several, separated by ";", all met."""
    t = sc.metrics[metric]["target"]
    if not t:
        return None, None
    res = [check_one_target(sc, metric, one, variant) for one in t.split(";")]
    res = [(text, met) for text, met in res if text]
    if not res:
        return None, None
    mets = [met for _, met in res if met is not None]
    return "; ".join(text for text, _ in res), (all(mets) if mets else None)


def check_one_target(sc, metric, t, variant):
    """check_target() of one of a metric's targets, @t."""
    m = sc.metrics[metric]
    only = None
    if ":" in t:
        only, t = t.split(":", 1)
    if variant:
        vs = [variant]
    else:
        vs = list(sc.variants)
    if only:
        vs = [v for v in vs if v in only.split(",")]
        if not vs:
            return None, None
    pre = f"{only}: " if only and not variant else ""
    if t.startswith("ratio>="):
        lim = float(t[len("ratio>="):])
        rs = [ratio(sc, metric, v) for v in vs if v != m["base"]]
        rs = [r for r in rs if r is not None]
        if not rs:
            return f"{pre}≥ {fmt(lim)}", None
        return f"{pre}≥ {fmt(lim)}", all(r >= lim for r in rs)
    if t.startswith("diff<="):
        lim = float(t[len("diff<="):])
        text = f"{pre}≤ +{fmt(lim)} {m['unit'].split('/')[0]}"
        ds = [diff(sc, metric, v) for v in vs if v != m["base"]]
        ds = [d for d in ds if d is not None]
        if not ds:
            return text, None
        return text, all(d <= lim for d in ds)
    if t.startswith("in="):
        lo, hi = (float(x) for x in t[3:].split(".."))
        meds = [sc.median(metric, v) for v in vs]
        meds = [x for x in meds if x is not None]
        text = f"{pre}{fmt(lo)}–{fmt(hi)}"
        if not meds:
            return text, None
        return text, all(lo <= x <= hi for x in meds)
    for op, text in (("max<=", "≤ "), ("min>=", "≥ "), ("abs<=", "abs ≤ ")):
        if not t.startswith(op):
            continue
        lim = float(t[len(op):])
        vals = [x for v in vs for x in sc.values(metric, v)]
        if not vals:
            return f"{pre}{text}{fmt(lim)}", None
        if op == "max<=":
            met = max(vals) <= lim
        elif op == "min>=":
            met = min(vals) >= lim
        else:
            met = max(abs(x) for x in vals) <= lim
        return f"{pre}{text}{fmt(lim)}", met
    return t, None


def xratio(sc, metric, variant, other, target):
    """(ratio, text of the target, met) of VARIANT / OTHER (costs inverted)."""
    a, b = sc.median(metric, variant), sc.median(metric, other)
    if a is None or b is None or a == 0 or b == 0:
        r = None
    else:
        r = b / a if sc.metrics.get(metric, {}).get("better") == "lower" else a / b
    if not target or not target.startswith("ratio>="):
        return r, None, None
    lim = float(target[len("ratio>="):])
    return r, f"≥ {fmt(lim)}", None if r is None else r >= lim


def cell(sc, metric, variant):
    v = sc.values(metric, variant)
    if not v:
        return "skipped" if variant in sc.vskip else "-"
    med = statistics.median(v)
    if len(v) == 1:
        return fmt(med)
    return f"{fmt(med)} [{fmt(min(v))}–{fmt(max(v))}]"


def verdict(met):
    return {True: "met", False: "**not met**", None: "-"}[met]


def ratio_text(sc, metric, variant):
    """variant / baseline as the tables show it (costs: and the difference)."""
    m = sc.metrics[metric]
    r = ratio(sc, metric, variant)
    if r is None:
        return "-"
    if m["better"] == "lower":
        d = diff(sc, metric, variant)
        return f"{r:.3f} ({d:+.0f} {m['unit'].split('/')[0]})"
    return f"{r:.3f}"


def table_metrics(sc):
    """rows: metrics; columns: variants, ratios against the baseline."""
    variants = list(sc.variants)
    bases = {m["base"] for m in sc.metrics.values() if m["base"]}
    others = [v for v in variants if v not in bases]
    head = ["metric", "unit"] + variants
    head += [f"{v} / {b}" for b in sorted(bases) for v in others]
    head.append("target")
    rows = []
    for name, m in sc.metrics.items():
        row = [name, m["unit"]] + [cell(sc, name, v) for v in variants]
        for b in sorted(bases):
            for v in others:
                if m["base"] != b:
                    row.append("")
                    continue
                row.append(ratio_text(sc, name, v))
        t, met = check_target(sc, name)
        row.append(f"{t}: {verdict(met)}" if t else "")
        rows.append(row)
    return head, rows


def table_variants(sc):
    """rows: variants; columns: metrics."""
    head = ["load"] + [f"{n} ({m['unit']})" for n, m in sc.metrics.items()] + ["target"]
    rows = []
    for v in sc.variants:
        row = [v] + [cell(sc, n, v) for n in sc.metrics]
        ts = []
        for n in sc.metrics:
            t, met = check_target(sc, n, v)
            if t and met is not None:
                ts.append(f"{n} {t}: {verdict(met)}")
        row.append("; ".join(ts))
        rows.append(row)
    return head, rows


def table_clocks(sc, rsc, clock):
    """rows: a metric of a variant; columns: its figure and ratio under the
    run's clock (@sc, @clock) and under the real clock (@rsc), side by side."""
    metrics = OrderedDict(sc.metrics)
    for n, m in rsc.metrics.items():
        metrics.setdefault(n, m)
    variants = list(sc.variants) + [v for v in rsc.variants if v not in sc.variants]
    based = any(m["base"] for m in metrics.values())
    head = ["metric", "unit", "variant", clock, "real clock"]
    if based:
        head += [f"ratio, {clock}", "ratio, real clock"]
    head.append(f"target ({clock})")
    rows = []
    for n, m in metrics.items():
        for v in variants:
            if not sc.values(n, v) and not rsc.values(n, v):
                continue
            row = [n, m["unit"], v,
                   cell(sc, n, v) if n in sc.metrics else "-",
                   cell(rsc, n, v) if n in rsc.metrics else "-"]
            if based:
                if not m["base"] or v == m["base"]:
                    row += ["", ""]
                else:
                    row += [ratio_text(sc, n, v) if n in sc.metrics else "-",
                            ratio_text(rsc, n, v) if n in rsc.metrics else "-"]
            t, met = check_target(sc, n, v) if n in sc.metrics else (None, None)
            row.append(f"{t}: {verdict(met)}" if t else "")
            rows.append(row)
    return head, rows


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return out


def summary_line(sc, judge=True):
    """A short text of the ratios (metrics layout) or key figures; with
    @judge, whether the targets are met."""
    parts = []
    if sc.layout == "variants":
        for v in sc.variants:
            vals = [f"{n} {fmt(sc.median(n, v))}" for n in sc.summary or sc.metrics
                    if n in sc.metrics and sc.median(n, v) is not None]
            if vals:
                parts.append(f"{v}: " + ", ".join(vals))
    else:
        for n, m in sc.metrics.items():
            if sc.summary and n not in sc.summary:
                continue
            if not m["base"]:
                vals = [f"{v} {fmt(sc.median(n, v))}" for v in sc.variants
                        if sc.median(n, v) is not None]
                if vals:
                    parts.append(f"{n}: " + ", ".join(vals))
                continue
            rs = []
            for v in sc.variants:
                if v == m["base"]:
                    continue
                r = ratio(sc, n, v)
                if r is not None:
                    rs.append(f"{v} {r:.3f}")
            if rs:
                parts.append(f"{n}: " + ", ".join(rs))
    for m, v, o, t in sc.xratios:
        r = xratio(sc, m, v, o, t)[0]
        if r is not None:
            parts.append(f"{m} {v}/{o}: {r:.2f}")
    mets = [check_target(sc, n)[1] for n in sc.metrics]
    mets += [xratio(sc, *x)[2] for x in sc.xratios]
    mets = [x for x in mets if x is not None]
    tail = ""
    if mets and judge:
        tail = " — targets " + ("met" if all(mets) else "NOT met")
    return "; ".join(parts) + tail


def make_plot(sc, name, kver, png):
    title, ylabel, series, xlabel, kind = sc.plots[name]
    data = []
    for label, path in series:
        xs, ys = [], []
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    p = line.split()
                    if len(p) >= 2:
                        xs.append(float(p[0]))
                        ys.append(float(p[1]))
        except (OSError, ValueError):
            continue
        data.append((label, xs, ys, path))
    if not data:
        return "no data"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
        for label, xs, ys, _ in data:
            ref = label.startswith(("quota", "set", "exact"))
            if ref:
                ax.plot(xs, ys, "k--", label=label, linewidth=1.0)
            elif kind == "points":
                ax.plot(xs, ys, "o", label=label, markersize=3, alpha=0.6)
            else:
                ax.plot(xs, ys, "-", label=label, linewidth=1.2)
        quota = [y for label, _, ys, _ in data if label.startswith("quota") for y in ys]
        if quota:   # a retransmitted burst must not flatten the rest
            top = max(y for _, _, ys, _ in data for y in ys)
            ax.set_ylim(0, min(top * 1.05, 2.5 * max(quota)))
        ax.set_title(f"{title} ({kver})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
        fig.tight_layout()
        fig.savefig(png)
        plt.close(fig)
        return None
    except ImportError:
        pass
    if shutil.which("gnuplot"):
        cmds = [
            "set terminal png size 800,450",
            f"set output '{png}'",
            f"set title '{title} ({kver})'",
            f"set xlabel '{xlabel}'",
            f"set ylabel '{ylabel}'",
            "set grid",
            "plot " + ", ".join(f"'{p}' using 1:2 with {kind} title '{lbl}'"
                                for lbl, _, _, p in data),
        ]
        r = subprocess.run(["gnuplot"], input="\n".join(cmds), text=True,
                           capture_output=True, check=False)
        return None if r.returncode == 0 else f"gnuplot failed: {r.stderr.strip()}"
    return "neither matplotlib nor gnuplot installed"


def load_run(ap, r):
    """(kver, info, status, {sid: Scenario}) of a KVER=DIR argument."""
    if "=" not in r:
        ap.error(f"not KVER=DIR: {r}")
    kver, d = r.split("=", 1)
    info = read_kv(os.path.join(d, "info.tsv"))
    status = read_kv(os.path.join(d, "status.tsv"))
    scs = {}
    if os.path.isdir(d):
        for fn in sorted(os.listdir(d)):
            if fn.endswith(".tsv") and fn not in ("info.tsv", "status.tsv"):
                sc = parse_scenario(os.path.join(d, fn))
                sc.status = status.get(sc.id, [None])[0]
                scs[sc.id] = sc
    return kver, info, status, scs


def run_line(info, sc):
    """'date, mode, N repetition(s), S s.' of a scenario's run."""
    took = f", {sc.seconds} s" if sc.seconds is not None else ""
    return (f"{info.get('date', ['?'])[0]}, {info.get('mode', ['?'])[0]}, "
            f"{info.get('reps', ['?'])[0]} repetition(s){took}.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--plots", default=None)
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--host-load", default=None)
    ap.add_argument("--runtime", default=None)
    ap.add_argument("--machine", default="QEMU TCG (no KVM), 2 vCPUs on one host thread, 2 GB",
                    help="how the VM was run")
    ap.add_argument("--module", default=None, help="which skex.ko was measured")
    ap.add_argument("--clock", choices=("counted", "real"), default="counted",
                    help="the guest clock of the KVER=DIR runs")
    ap.add_argument("--real", action="append", default=[], metavar="KVER=DIR",
                    help="a run of some scenarios with the real-time clock")
    ap.add_argument("--real-load", default=None,
                    help="the host's load average at the start of the real-clock runs")
    ap.add_argument("--real-runtime", default=None)
    ap.add_argument("--real-machine",
                    default="QEMU TCG (no KVM), 2 vCPUs on one host thread, 2 GB, real-time clock",
                    help="how the real-clock VMs were run")
    ap.add_argument("runs", nargs="+", metavar="KVER=DIR")
    a = ap.parse_args()
    if a.real and a.clock == "real":
        ap.error("--real with --clock real: the runs are real-clock already")
    here = os.path.dirname(os.path.abspath(__file__))
    out = a.out or os.path.join(here, "results.md")
    plots = a.plots or os.path.dirname(os.path.abspath(out))
    clock = f"{a.clock} clock"

    runs = [load_run(ap, r) for r in a.runs]    # (kver, info, status, {sid: Scenario})
    real = OrderedDict((k, (i, sc)) for k, i, _, sc in (load_run(ap, r) for r in a.real))
    real_ids = {sid for _, scs in real.values() for sid in scs}

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    os.makedirs(plots, exist_ok=True)
    ids = sorted({sid for _, _, _, scs in runs for sid in scs} | real_ids,
                 key=lambda s: (len(s), s))
    dates = sorted({i.get("date", ["?"])[0] for _, i, _, _ in runs})
    modes = sorted({i.get("mode", ["?"])[0] for _, i, _, _ in runs})
    reps = sorted({i.get("reps", ["?"])[0] for _, i, _, _ in runs})

    md = ["# skex benchmark results", ""]
    md.append("Generated by `make bench` (`scripts/bench.sh`: one VM boot per kernel running "
              "`bench/guest.sh`, then `bench/report.py`); do not edit by hand.")
    md.append("")
    md.append(f"- date: {', '.join(dates)}; mode: {', '.join(modes)}; "
              f"repetitions per figure: {', '.join(reps)}")
    md.append(f"- kernels: {', '.join(k for k, _, _, _ in runs)}")
    if a.module:
        md.append(f"- module: {a.module}")
    if a.runtime:
        md.append(f"- `make bench` took {a.runtime}")
    host = a.machine
    if a.host_load:
        host += f"; host load average at the start: {a.host_load}"
    md.append(f"- machine: {host}")
    if real:
        rdates = sorted({i["date"][0] for i, _ in real.values() if "date" in i}) or ["?"]
        text = (f"- real clock: {', '.join(sorted(real_ids, key=lambda s: (len(s), s)))} "
                f"again on {', '.join(real)}, one VM at a time after the counted pass "
                f"({', '.join(rdates)}), the same module file: {a.real_machine}")
        if a.real_runtime:
            text += f"; the pass took {a.real_runtime}"
        if a.real_load:
            text += f"; host load average at its start: {a.real_load}"
        md.append(text + ". A real-clock figure depends on what else the host runs (other VMs "
                  "included), a counted-clock one does not: targets are judged on the counted "
                  "clock; the real clock's figures and ratios are shown beside them.")
    md.append("- Each figure: median [min–max] of the repetitions. Absolute numbers under TCG "
              "mean little; the ratios between variants measured in the same boot do. "
              "Ratios: variant / baseline for higher-is-better figures, baseline / variant "
              "for costs (so below 1 is worse either way, the difference in brackets).")
    md.append("")

    md.append("## Summary")
    md.append("")
    srows = []
    for sid in ids:
        both = sid in real_ids
        for kver, _, _, scs in runs:
            sc = scs.get(sid)
            pre = f"{clock}: " if both else ""
            if sc is None:
                srows.append([sid, kver, f"{pre}no records"])
            elif sc.skip:
                srows.append([f"{sid} {sc.title}", kver, f"{pre}skipped: {sc.skip}"])
            elif sc.status == "failed":
                srows.append([f"{sid} {sc.title}", kver, f"{pre}FAILED (see notes)"])
            else:
                srows.append([f"{sid} {sc.title}", kver, pre + (summary_line(sc) or "-")])
            if not both:
                continue
            rsc = real.get(kver, (None, {}))[1].get(sid)
            title = f"{sid} {(rsc or sc).title}" if rsc or sc else sid
            if kver not in real:
                srows.append([title, kver, "real clock: not run"])
            elif rsc is None:
                srows.append([title, kver, "real clock: no records"])
            elif rsc.skip:
                srows.append([title, kver, f"real clock: skipped: {rsc.skip}"])
            elif rsc.status == "failed":
                srows.append([title, kver, "real clock: FAILED (see notes)"])
            else:
                srows.append([title, kver, "real clock: " + (summary_line(rsc, judge=False) or "-")
                              + " (targets: on the counted clock)"])
    md += md_table(["scenario", "kernel", "result"], srows)
    md.append("")

    printed = []
    for sid in ids:
        first = next((scs[sid] for _, _, _, scs in runs if sid in scs), None) or \
            next(scs[sid] for _, scs in real.values() if sid in scs)
        both = sid in real_ids
        md.append(f"## {sid}: {first.title}")
        md.append("")
        for d in first.desc:
            md.append(d)
            md.append("")
        if first.metrics and not first.skip:
            for n, m in first.metrics.items():
                md.append(f"- `{n}` ({m['unit']}): {m['desc']}")
            if first.variants:
                md.append("")
                label = "Loads" if first.layout == "variants" else "Variants"
                md.append(f"{label}: " + "; ".join(
                    f"`{v}`: {d}" for v, d in first.variants.items()) + ".")
            md.append("")
        for kver, info, _, scs in runs:
            sc = scs.get(sid)
            md.append(f"### {kver}")
            md.append("")
            tag = f" ({clock})" if both else ""
            kernel_block(md, printed, a, out, plots, sid, kver, tag, info, sc)
            if both:
                real_block(md, printed, sid, kver, clock, sc, real)

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(md).rstrip() + "\n")
    print("bench: ratios (median of each variant / baseline):")
    for line in printed:
        print("  " + line)
    print(f"bench: wrote {out}")
    return 0


def absent(md, printed, sc, label, prefix, none):
    """Say so when a run has no records of a scenario or skipped it."""
    if sc is None:
        md.append(f"{prefix}{none} (the VM run did not reach this scenario).")
    elif sc.skip:
        md.append(f"{prefix}skipped: {sc.skip}")
        printed.append(f"{label}: skipped: {sc.skip}")
    else:
        return False
    md.append("")
    return True


def notes_block(md, sc, prefix):
    """A scenario's variants not measured and its notes, as a list."""
    for v, why in sc.vskip.items():
        md.append(f"- {prefix}`{v}` not measured: {why}")
    for n in sc.notes:
        md.append(f"- {prefix}{n}")
    if sc.vskip or sc.notes:
        md.append("")


def kernel_block(md, printed, a, out, plots, sid, kver, tag, info, sc):
    """A kernel's part of a scenario's section: its table, notes and plots."""
    if absent(md, printed, sc, f"{sid} {kver}{tag}", "", "No records"):
        return
    md.append(run_line(info, sc))
    md.append("")
    if sc.metrics and sc.results:
        head, rows = (table_variants if sc.layout == "variants" else table_metrics)(sc)
        md += md_table(head, rows)
        md.append("")
    elif sc.status != "failed":
        md.append("No figures recorded.")
        md.append("")
    if sc.xratios and sc.results:
        for m, v, o, t in sc.xratios:
            r, tt, met = xratio(sc, m, v, o, t)
            rt = "-" if r is None else f"{r:.3f}"
            md.append(f"- `{m}` {v} / {o}: {rt}" +
                      (f" (target {tt}: {verdict(met)})" if tt else ""))
        md.append("")
    notes_block(md, sc, "")
    if not a.no_plots:
        for pname in sc.plots:
            short = ".".join(kver.split("-")[0].split(".")[:2])   # 6.1, 6.12
            png = os.path.join(plots, f"{sid}-{pname}-{short}.png")
            try:
                err = make_plot(sc, pname, kver, png)
            except Exception as e:  # a plot is not worth the report
                err = f"failed: {e}"
            if err:
                md.append(f"(plot {pname}: {err})")
            else:
                rel = os.path.relpath(png, os.path.dirname(os.path.abspath(out)))
                md.append(f"![{sc.plots[pname][0]} ({kver})]({rel})")
            md.append("")
    st = "FAILED: " if sc.status == "failed" else ""
    printed.append(f"{sid} {kver}{tag}: {st}{summary_line(sc)}")


def real_block(md, printed, sid, kver, clock, sc, real):
    """A kernel's figures of a scenario under both clocks, side by side."""
    if kver not in real:
        md.append(f"Real clock: not run on {kver}.")
        md.append("")
        return
    info, scs = real[kver]
    rsc = scs.get(sid)
    if absent(md, printed, rsc, f"{sid} {kver} (real clock)", "Real clock: ",
              "no records"):
        return
    md.append(f"{kver}, {clock} and real clock side by side. Real clock: "
              f"{run_line(info, rsc)[:-1]}, 2 vCPUs; its figures move with the host's load. "
              f"Targets are judged on the {clock}.")
    md.append("")
    if rsc.metrics and rsc.results:
        md += md_table(*table_clocks(sc or Scenario(sid), rsc, clock))
        md.append("")
    elif rsc.status != "failed":
        md.append("Real clock: no figures recorded.")
        md.append("")
    if rsc.xratios and rsc.results:
        for m, v, o, _ in rsc.xratios:
            r = xratio(rsc, m, v, o, None)[0]
            rc = xratio(sc, m, v, o, None)[0] if sc else None
            md.append(f"- `{m}` {v} / {o}: {clock} {'-' if rc is None else f'{rc:.3f}'}, "
                      f"real clock {'-' if r is None else f'{r:.3f}'}")
        md.append("")
    notes_block(md, rsc, "real clock: ")
    st = "FAILED: " if rsc.status == "failed" else ""
    printed.append(f"{sid} {kver} (real clock): {st}{summary_line(rsc, judge=False)}")


if __name__ == "__main__":
    sys.exit(main())
