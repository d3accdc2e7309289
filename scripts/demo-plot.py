#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Plot the demo's throttled download: rate over time against the quota.

Usage: demo-plot.py SAMPLES.csv OUT.png [KERNEL]
SAMPLES.csv (written by demo-guest.sh's output_rate part): t_s (since nginx's
first byte), sent_bytes (nginx's bytes_out in /proc/net/skex), received_bytes
(what curl has written to its file: its wchar, last the file's size),
quota_Bps (read from configfs at each sample).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rates(t, b, span=0.5):
    """Rate in KB/s at each sample over the last >= `span` seconds.

    The samples come from a shell loop in a busy VM and are not evenly
    spaced: each rate is taken back to the newest sample at least `span`
    seconds older (or the first one).
    """
    out_t, out_r = [], []
    j = 0
    for i in range(1, len(t)):
        while j + 1 < i and t[i] - t[j + 1] >= span:
            j += 1
        if t[i] > t[j]:
            out_t.append(t[i])
            out_r.append((b[i] - b[j]) / (t[i] - t[j]) / 1000)
    return out_t, out_r


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) < 3:
        sys.exit("demo-plot: too few samples in " + sys.argv[1])
    t = [float(r["t_s"]) for r in rows]
    sent = [int(r["sent_bytes"]) for r in rows]
    got = [int(r["received_bytes"]) for r in rows]
    quota = [int(r["quota_Bps"] or 0) / 1000 for r in rows]
    # Rates are drawn up to the last sample before nginx had sent it all:
    # the next one's window holds the end of the transfer and idle time. A
    # line marks the sample where curl had it all.
    done = next(i for i in range(len(t)) if got[i] == got[-1])
    end = next(i for i in range(len(t)) if sent[i] == sent[-1])
    t_end, total = t[done], got[done]
    t, sent, got, quota = t[:end], sent[:end], got[:end], quota[:end]
    kernel = sys.argv[3] if len(sys.argv) > 3 else ""

    fig, ax = plt.subplots(figsize=(9, 4.8), dpi=110)
    ax.step(t, quota, where="post", color="black", linestyle="--",
            linewidth=1.5, label="quota (configfs)")
    ax.plot(*rates(t, sent), color="tab:blue", linewidth=2,
            label="nginx sent (bytes_out, /proc/net/skex)")
    ax.plot(*rates(t, got), color="tab:orange", linewidth=1.5,
            linestyle=":", marker=".", label="curl wrote to its file (wchar)")
    # phases of one quota each: the mean rate nginx sent at, from the
    # first sample with that quota (+0.5 s to settle after a change) to
    # the last one with it
    cuts = [0] + [i for i in range(1, len(quota)) if quota[i] != quota[i - 1]]
    notes = []
    for k, a in enumerate(cuts):
        b = (cuts[k + 1] if k + 1 < len(cuts) else len(t)) - 1
        if k:
            ax.annotate(f"quota raised to {quota[a]:g} KB/s",
                        xy=(t[a], quota[a]), xytext=(t[a] + 0.2, quota[a] * 1.08),
                        fontsize=9)
            a = next((i for i in range(a, b + 1) if t[i] - t[a] >= 0.5), b)
        if t[b] > t[a]:
            mean = (sent[b] - sent[a]) / (t[b] - t[a]) / 1000
            notes.append(f"quota {quota[b]:g} KB/s: nginx sent {mean:.1f} KB/s "
                         f"({t[a]:.1f}-{t[b]:.1f} s)")
    ax.axvline(t_end, color="grey", linestyle=":", linewidth=1)
    ax.annotate(f"{total:,} bytes received", xy=(t_end, 0),
                xytext=(t_end - 0.1, 40), ha="right", fontsize=9, color="dimgrey")
    if notes:
        ax.text(0.99, 0.97, "\n".join(notes), transform=ax.transAxes,
                ha="right", va="top", fontsize=9,
                bbox=dict(facecolor="white", edgecolor="lightgrey"))
    ax.set_xlabel("time since nginx sent the first byte (s)")
    ax.set_ylabel("rate (KB/s, over the last 0.5 s)")
    ax.set_ylim(0, max(quota + [0]) * 1.3 or None)
    ax.set_xlim(0, t_end + 0.2)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    ax.set_title("skex output_rate group on port 8090: curl downloading 4 MB"
                 + (f" ({kernel})" if kernel else ""))
    fig.tight_layout()
    fig.savefig(sys.argv[2])


if __name__ == "__main__":
    main()
