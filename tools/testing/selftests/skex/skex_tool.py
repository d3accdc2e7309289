#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Traffic helpers for the skex shell selftests (the simple servers and
clients are skex_net.c: a Python start costs seconds in the TCG guest).

  echo-server --addr A [--port P] [--file-size S]
                                 per connection: echo everything, except a
                                 connection starting with b"F" gets S bytes
                                 of a file through socket.sendfile()
  stream --addr A --port P --stop F --status S [--file-size S]
                                 one long echo stream plus short sendfile
                                 connections, all bytes verified, until file
                                 F exists; progress in S; exit 0 iff no error
  hold --addr A                  sockets made now, checked later: on each
                                 "check" line from stdin exercise them;
                                 "release" wakes the tasks left blocked

Servers print "port N" on stdout once listening. Exit status: 0 ok,
1 failure (message on stderr), 2 usage.
"""

import argparse
import functools
import hashlib
import os
import socket
import sys
import tempfile
import threading
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listener(addr, port, backlog=128):
    s = socket.socket(family_of(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if ":" in addr:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port))
    s.listen(backlog)
    return s


def announce(s):
    print("port %d" % s.getsockname()[1], flush=True)


def connect(addr, port, timeout=60):
    c = socket.create_connection((addr, port), timeout=timeout)
    return c


@functools.lru_cache(maxsize=128)
def pattern(seed, n):
    """n deterministic bytes for seed."""
    out = bytearray()
    block = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d:%d" % (seed, block)).digest() * 64
        block += 1
    return bytes(out[:n])


def recv_all(c):
    """Read to EOF; returns the bytes."""
    chunks = []
    while True:
        b = c.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def die(msg):
    print("skex_tool: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def make_file(size):
    f = tempfile.TemporaryFile(dir="/tmp")
    f.write(pattern(23, size))
    f.flush()
    return f


def cmd_echo_server(a):
    s = listener(a.addr, a.port)
    f = make_file(a.file_size)
    announce(s)

    def one(c):
        with c:
            first = c.recv(65536)
            if first == b"F":
                c.sendfile(f, 0, a.file_size)
                return
            while first:
                c.sendall(first)
                first = c.recv(65536)

    while True:
        c, _ = s.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def cmd_stream(a):
    """Long-lived echo stream and short sendfile connections, verified."""
    state = {"bytes": 0, "conns": 0, "errors": 0, "last_error": ""}
    lock = threading.Lock()
    stop = threading.Event()
    want_file = hashlib.sha256(pattern(23, a.file_size)).hexdigest()

    def error(msg):
        with lock:
            state["errors"] += 1
            state["last_error"] = msg

    def echo_stream():
        try:
            c = connect(a.addr, a.port)
            seq = 0
            while not stop.is_set():
                blk = pattern(1000 + seq % 50, 40000)[:8192 + (seq * 4099) % 30000]
                c.sendall(blk)
                got = bytearray()
                while len(got) < len(blk):
                    b = c.recv(len(blk) - len(got))
                    if not b:
                        raise OSError("EOF after %d of %d bytes" %
                                      (len(got), len(blk)))
                    got += b
                if bytes(got) != blk:
                    raise OSError("echo block %d corrupt" % seq)
                with lock:
                    state["bytes"] += 2 * len(blk)
                seq += 1
                # continuous, not saturating: rmmod/insmod need CPU too
                time.sleep(0.005)
            c.close()
        except OSError as e:
            error("stream: %s" % e)

    def short_conns():
        while not stop.is_set():
            try:
                with connect(a.addr, a.port) as c:
                    c.sendall(b"F")
                    got = recv_all(c)
                if hashlib.sha256(got).hexdigest() != want_file:
                    raise OSError("sendfile reply of %d bytes, %d expected%s"
                                  % (len(got), a.file_size,
                                     " (content differs)"
                                     if len(got) == a.file_size else ""))
                with lock:
                    state["bytes"] += len(got)
                    state["conns"] += 1
                time.sleep(0.02)
            except OSError as e:
                error("short: %s" % e)
                time.sleep(0.1)

    threads = [threading.Thread(target=echo_stream),
               threading.Thread(target=short_conns)]
    for t in threads:
        t.start()

    def report():
        with lock:
            line = "bytes=%d conns=%d errors=%d\n" % (
                state["bytes"], state["conns"], state["errors"])
        tmp = a.status + ".tmp"
        with open(tmp, "w") as f:
            f.write(line)
        os.replace(tmp, a.status)
        return line

    while not os.path.exists(a.stop):
        report()
        if not all(t.is_alive() for t in threads):
            break
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(60)
    line = report().strip()
    print(line, flush=True)
    if state["errors"]:
        die("%d errors, last: %s" % (state["errors"], state["last_error"]))
    if any(t.is_alive() for t in threads):
        die("traffic threads hung")


def cmd_hold(a):
    """Sockets opened now, exercised on each "check" line of stdin.

    Besides a listener and a connected pair, threads sit blocked in
    accept(), recv() and send() across the checks: they must complete
    normally once their peer acts, whatever happened in between (rmmod).
    """
    lst = listener(a.addr, 0)
    port = lst.getsockname()[1]
    cli = connect(a.addr, port)
    srv, _ = lst.accept()
    msg = pattern(31, 100000)

    def exchange(tag):
        cli.sendall(msg)
        got = bytearray()
        while len(got) < len(msg):
            b = srv.recv(len(msg) - len(got))
            if not b:
                raise OSError("%s: EOF on accepted socket" % tag)
            got += b
        if bytes(got) != msg:
            raise OSError("%s: client->server corrupt" % tag)
        srv.sendall(msg[::-1])
        got = bytearray()
        while len(got) < len(msg):
            b = cli.recv(len(msg) - len(got))
            if not b:
                raise OSError("%s: EOF on client socket" % tag)
            got += b
        if bytes(got) != msg[::-1]:
            raise OSError("%s: server->client corrupt" % tag)

    def new_conn(tag):
        c = connect(a.addr, port)
        s, peer = lst.accept()
        if peer[1] != c.getsockname()[1]:
            raise OSError("%s: accepted %r, connected from %r"
                          % (tag, peer, c.getsockname()))
        c.sendall(b"hello")
        if s.recv(5, socket.MSG_WAITALL) != b"hello":
            raise OSError("%s: new connection lost bytes" % tag)
        s.sendall(b"world!")
        if c.recv(6, socket.MSG_WAITALL) != b"world!":
            raise OSError("%s: new connection lost bytes back" % tag)
        c.close()
        s.close()

    # blocked tasks: accept() on a second listener, recv() on an idle
    # accepted socket, send() on a full one
    blk_lst = listener(a.addr, 0)
    blk_rx_c = connect(a.addr, port)
    blk_rx_s, _ = lst.accept()
    blk_tx_c = connect(a.addr, port)
    blk_tx_s, _ = lst.accept()
    blk_tx_s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    blk_tx_c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    results = {}
    big = pattern(41, 4 << 20)

    def blocked_accept():
        try:
            s, _ = blk_lst.accept()
            results["accept"] = s.recv(3, socket.MSG_WAITALL) == b"acc"
            s.close()
        except OSError as e:
            results["accept"] = "accept: %s" % e

    def blocked_recv():
        try:
            results["recv"] = blk_rx_s.recv(3, socket.MSG_WAITALL) == b"rcv"
        except OSError as e:
            results["recv"] = "recv: %s" % e

    def blocked_send():
        try:
            blk_tx_s.sendall(big)
            results["send"] = True
        except OSError as e:
            results["send"] = "send: %s" % e

    blocked = [threading.Thread(target=f, daemon=True)
               for f in (blocked_accept, blocked_recv, blocked_send)]

    try:
        exchange("setup")
        new_conn("setup")
    except OSError as e:
        die(str(e))
    for t in blocked:
        t.start()
    print("ready port=%d blocked_port=%d" % (port, blk_lst.getsockname()[1]),
          flush=True)

    n = 0
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            break
        if line == "release":
            # wake the blocked tasks by acting as their peers
            try:
                c = connect(a.addr, blk_lst.getsockname()[1])
                c.sendall(b"acc")
                blk_rx_c.sendall(b"rcv")
                got = 0
                h = hashlib.sha256()
                while got < len(big):
                    b = blk_tx_c.recv(65536)
                    if not b:
                        break
                    h.update(b)
                    got += len(b)
                for t in blocked:
                    t.join(30)
                c.close()
                bad = [k + "=" + str(v) for k, v in sorted(results.items())
                       if v is not True]
                if len(results) != 3 or bad or got != len(big) or \
                        h.digest() != hashlib.sha256(big).digest():
                    print("fail blocked tasks: results %r, %d of %d bytes"
                          % (results, got, len(big)), flush=True)
                else:
                    print("ok released accept, recv, send", flush=True)
            except OSError as e:
                print("fail release: %s" % e, flush=True)
            continue
        n += 1
        try:
            exchange("check %d" % n)
            new_conn("check %d" % n)
            print("ok check %d" % n, flush=True)
        except OSError as e:
            print("fail %s" % e, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("echo-server")
    sp.add_argument("--addr", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=0)
    sp.add_argument("--file-size", type=int, default=256 * 1024 + 17)
    sp.set_defaults(fn=cmd_echo_server)

    sp = sub.add_parser("stream")
    sp.add_argument("--addr", default="127.0.0.1")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--stop", required=True)
    sp.add_argument("--status", required=True)
    sp.add_argument("--file-size", type=int, default=256 * 1024 + 17)
    sp.set_defaults(fn=cmd_stream)

    sp = sub.add_parser("hold")
    sp.add_argument("--addr", default="127.0.0.1")
    sp.set_defaults(fn=cmd_hold)

    a = p.parse_args()
    try:
        a.fn(a)
    except KeyboardInterrupt:
        sys.exit(1)


if __name__ == "__main__":
    main()
