#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where the cost of skex's hooks goes: the report of scripts/profile.sh.

    profile_report.py DIR [--top N]

DIR holds, per LOAD-STATE, the load's output (.out) and perf's samples by
dso and symbol (.sym) from bench/profile_guest.sh. For each load, and each
state against the unloaded one: samples per operation (a request of wrk, an
iteration of skex_bench calls), what the module's own code took (its
symbols, ftrace's trampolines) and the symbols that grew most. Under the
counted clock a sample is a fixed number of instructions; perf itself
slows the loads, so the rates here are not s1's (make bench has those).
"""
import argparse
import os
import re
import sys

LINE = re.compile(r'\s*([\d.]+)%\s+(\d+)\s+(\S+)\s+\[(.)\]\s+(.*\S)')
OWN_SYMS = ('ftrace_trampoline', 'ftrace_regs_caller', 'ftrace_caller')


def ops(path):
    """Operations the load made: wrk's requests or skex_bench's iterations."""
    with open(path, encoding='utf-8', errors='replace') as f:
        text = f.read()
    m = re.search(r'(\d+) requests in', text) or re.search(r'iters=(\d+)', text)
    return int(m.group(1)) if m else 0


def samples(path):
    """{(dso, sym): samples} of a .sym file."""
    out = {}
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = LINE.match(line)
            if m:
                key = (m.group(3), m.group(5))
                out[key] = out.get(key, 0) + int(m.group(2))
    return out


def own(key):
    """The module's code: perf names it by kallsyms, as the kernel's."""
    dso, sym = key
    return dso == '[skex]' or sym.startswith('skex_') or sym in OWN_SYMS


def report(d, top):
    loads = {}
    for name in sorted(os.listdir(d)):
        m = re.match(r'(\w+)-(\w+)\.sym$', name)
        if m:
            loads.setdefault(m.group(1), []).append(m.group(2))
    if not loads:
        print(f'{d}: no profiles', file=sys.stderr)
        return 1
    for load, states in sorted(loads.items()):
        data = {}
        for st in states:
            n = ops(os.path.join(d, f'{load}-{st}.out'))
            if n:
                data[st] = (n, samples(os.path.join(d, f'{load}-{st}.sym')))
        print(f'## {load}\n')
        print('| state | operations | samples/op | module own/op | module share |')
        print('|---|---|---|---|---|')
        for st, (n, s) in data.items():
            total = sum(s.values())
            mine = sum(v for k, v in s.items() if own(k))
            print(f'| {st} | {n} | {total / n:.4f} | {mine / n:.4f} | '
                  f'{100.0 * mine / total:.2f}% |')
        print()
        base = data.get('unloaded')
        for st, (n, s) in data.items():
            if st == 'unloaded' or not base:
                continue
            bn, bs = base
            growth = {k: s.get(k, 0) / n - bs.get(k, 0) / bn
                      for k in set(s) | set(bs)}
            extra = sum(s.values()) / n - sum(bs.values()) / bn
            print(f'{st} against unloaded: {extra:+.4f} samples/op '
                  f'({100.0 * extra / (sum(bs.values()) / bn):+.2f}%); '
                  f'the module\'s own symbols, then what grew most, in '
                  f'samples per 1000 operations. Outside the module much '
                  f'of it is noise: TCG delivers the sampling interrupt '
                  f'where interrupts are enabled again, so code run with '
                  f'them off is charged to whatever re-enables them:\n')
            print('| dso | symbol | unloaded | ' + st + ' | growth |')
            print('|---|---|---|---|---|')
            keys = sorted((k for k in growth if own(k)), key=lambda k: -growth[k])
            keys += sorted((k for k in growth if not own(k)),
                           key=lambda k: -growth[k])[:top]
            for k in keys:
                print(f'| {k[0]} | {k[1]} | {1000 * bs.get(k, 0) / bn:.2f} | '
                      f'{1000 * s.get(k, 0) / n:.2f} | {1000 * growth[k]:+.2f} |')
            print()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('dir')
    ap.add_argument('--top', type=int, default=15)
    a = ap.parse_args()
    return report(a.dir, a.top)


if __name__ == '__main__':
    sys.exit(main())
