#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A strict parser of the Prometheus text exposition format (0.0.4), for
the skexctl selftests: prom_check.py FILE [EXPECT...]

Checks every line: comments are "# HELP name text" or "# TYPE name type";
one TYPE per metric, before its samples, and all of a metric's samples
together; metric and label names match the format's grammar; label values
use only the escapes \\\\ \\" \\n; no series is given twice; values are
floats (or +Inf, -Inf, NaN); counters are named *_total and are not
negative; no timestamps are expected from skexctl, so none are allowed.

Each EXPECT is NAME{LABEL="VALUE",...}=NUMBER (labels in any order, the
value unescaped, as the shell passes it): that series must be present with
that value. Prints "ok: ..." lines, or errors; exit 0 or 1.
"""

import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_labels(s, pos, lineno):
    """Parses {a="x",b="y"} at s[pos] ('{'); returns (dict, new pos)."""
    labels = {}
    pos += 1
    while True:
        if s[pos:pos + 1] == "}":
            return labels, pos + 1
        m = re.compile(LABEL).match(s, pos)
        if not m:
            raise ValueError("line %d: bad label name at %d" % (lineno, pos))
        name = m.group(0)
        pos = m.end()
        if s[pos:pos + 2] != '="':
            raise ValueError("line %d: expected =\" after %s" % (lineno, name))
        pos += 2
        val = []
        while True:
            if pos >= len(s):
                raise ValueError("line %d: unterminated label value" % lineno)
            c = s[pos]
            if c == "\\":
                e = s[pos + 1:pos + 2]
                if e not in ("\\", '"', "n"):
                    raise ValueError("line %d: bad escape \\%s" % (lineno, e))
                val.append("\n" if e == "n" else e)
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ValueError("line %d: newline in label value" % lineno)
            else:
                val.append(c)
                pos += 1
        if name in labels:
            raise ValueError("line %d: label %s twice" % (lineno, name))
        labels[name] = "".join(val)
        if s[pos:pos + 1] == ",":
            pos += 1
        elif s[pos:pos + 1] != "}":
            raise ValueError("line %d: expected , or } at %d" % (lineno, pos))


def parse_value(v, lineno):
    if v in ("+Inf", "-Inf", "NaN"):
        return float(v.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", v):
        raise ValueError("line %d: bad value %r" % (lineno, v))
    return float(v)


def parse(text):
    """{(name, frozenset(labels)): value}, {name: type}"""
    if text and not text.endswith("\n"):
        raise ValueError("the last line has no newline")
    types, helps, series = {}, {}, {}
    done, current = set(), None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            raise ValueError("line %d: empty line" % lineno)
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
            if not m:
                raise ValueError("line %d: bad comment %r" % (lineno, line))
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if rest not in TYPES:
                    raise ValueError("line %d: bad type %r" % (lineno, rest))
                if name in types or name in done:
                    raise ValueError("line %d: TYPE of %s again or after "
                                     "its samples" % (lineno, name))
                types[name] = rest
            else:
                if name in helps:
                    raise ValueError("line %d: HELP of %s twice" % (lineno, name))
                if re.search(r"\\[^\\n]", rest):
                    raise ValueError("line %d: bad escape in HELP" % lineno)
                helps[name] = rest
            continue
        m = re.compile(NAME).match(line)
        if not m:
            raise ValueError("line %d: bad metric name" % lineno)
        name = m.group(0)
        pos = m.end()
        labels = {}
        if line[pos:pos + 1] == "{":
            labels, pos = parse_labels(line, pos, lineno)
        if line[pos:pos + 1] != " ":
            raise ValueError("line %d: expected one space before the value" % lineno)
        fields = line[pos + 1:].split(" ")
        if len(fields) != 1:
            raise ValueError("line %d: timestamp or trailing text" % lineno)
        value = parse_value(fields[0], lineno)
        if name not in types:
            raise ValueError("line %d: %s has no TYPE line" % (lineno, name))
        if current != name:
            if name in done:
                raise ValueError("line %d: samples of %s not together" % (lineno, name))
            if current:
                done.add(current)
            current = name
        if types[name] == "counter":
            if not name.endswith("_total"):
                raise ValueError("line %d: counter %s not named *_total" % (lineno, name))
            if value < 0 or math.isnan(value):
                raise ValueError("line %d: counter %s is %s" % (lineno, name, value))
        key = (name, frozenset(labels.items()))
        if key in series:
            raise ValueError("line %d: series given twice" % lineno)
        series[key] = value
    return series, types


def parse_expect(e):
    m = re.fullmatch(r"(%s)\{(.*)\}=(.*)" % NAME, e, re.S)
    if not m:
        raise ValueError("bad EXPECT %r" % e)
    name, body, value = m.groups()
    labels = {}
    # values in EXPECT are raw: split on '",' followed by a label name
    for part in re.split(r'",(?=%s=")' % LABEL, body):
        k, _, v = part.partition('="')
        labels[k] = v[:-1] if v.endswith('"') else v
    return (name, frozenset(labels.items())), float(value)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: prom_check.py FILE [EXPECT...]\n")
        return 2
    text = open(argv[1], encoding="utf-8").read()
    try:
        series, types = parse(text)
    except ValueError as e:
        print("FAIL: %s: %s" % (argv[1], e))
        return 1
    print("ok: %s parses: %d series of %d metrics" % (argv[1], len(series), len(types)))
    ret = 0
    for e in argv[2:]:
        key, want = parse_expect(e)
        got = series.get(key)
        if got is None:
            print("FAIL: no series %s" % e)
            ret = 1
        elif got != want:
            print("FAIL: %s is %s" % (e, got))
            ret = 1
        else:
            print("ok: %s" % e)
    return ret


if __name__ == "__main__":
    sys.exit(main(sys.argv))
