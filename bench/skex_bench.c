// SPDX-License-Identifier: GPL-2.0
/*
 * skex_bench: loopback load generators and probes for the skex benchmarks
 * (bench/), built on the host (make -C bench) and run in the VM.
 *
 *   skex_bench bulk write|sendfile SECS PORT [CHUNK]
 *        One connection over 127.0.0.1:PORT for SECS seconds. The accepted
 *        (server) side sends, with write() of CHUNK bytes (default 65536) or
 *        sendfile() of CHUNK bytes from a 16 MB file in /tmp; a child
 *        process connects and reads. Prints
 *          bytes=N secs=S mbps=MB/s
 *   skex_bench calls SECS PORT
 *        Per-call cost of the send and receive paths: a connected pair over
 *        127.0.0.1:PORT, one thread; SECS seconds of
 *          send(A, 1 byte) recv(B) send(B, 1 byte) recv(A)
 *        with A the accepted socket. The calls on A are timed one by one;
 *        the figures are the medians of batches of 64 iterations (so that
 *        moments the CPU was taken away do not count). Prints
 *          iters=N send_ns=X recv_ns=Y
 *   skex_bench delay PORT COUNT INTERVAL_US SERVICE_US [BURST]
 *        Accept-queue sensing. A child connects COUNT times, every
 *        INTERVAL_US (BURST connections at a time, default 1), and sends the
 *        CLOCK_MONOTONIC time at which connect() returned. The server
 *        accepts one connection every SERVICE_US: after accept() it takes
 *        its own measure of the accept delay (accept return - connect
 *        return) and, from /proc/net/skex, the delay skex adds for the port
 *        (delay_us now - before the accept()). Prints one line per
 *        connection "conn I app_us A skex_us S waiting W" and a summary
 *          n=N app_ms=A skex_ms=S err_ms=E maxerr_ms=M bad=B
 *        (means; err = skex - app; bad: connections for which the port's
 *        conns did not move by exactly one, left out of the means).
 *        Without /proc/net/skex (module unloaded) skex_us is -1.
 *   skex_bench rate PORT SECS SAMPLE_MS [SKIP [SNDBUF]]
 *        Rate over time: the accepted side writes 64 KB blocks as fast as
 *        it can for SECS seconds, a child reads for SECS seconds and prints
 *        "t_ms bytes" every SAMPLE_MS (bytes received in the sample ending
 *        at t_ms), then a summary
 *          bytes=N secs=S win_rate=B sent=N cpu_ms=C cpu_ms_per_mb=X
 *        win_rate: bytes/s received after the first SKIP seconds (default
 *        0); sent: bytes the sender's write()s took; cpu_ms: the sender's
 *        user + system time while writing (getrusage); cpu_ms_per_mb: its
 *        time per MB written after the first SKIP seconds. SNDBUF (bytes,
 *        0: the kernel's autotuning) sets the sender's SO_SNDBUF: a limit
 *        below the socket (a qdisc) lets write() take what waits in the
 *        socket's queue, which autotuning grows to megabytes, so that bytes
 *        written count what never went out.
 *
 *   skex_bench accepts PORT SECS OFFER SKIP [epoll]
 *        Accept rate: a child opens OFFER connections per second
 *        (non-blocking connect(), so dropped SYNs do not hold it up) for
 *        SECS seconds; the server accept()s as fast as it is allowed and
 *        counts what it accepted after the first SKIP seconds: blocking
 *        accept(), or with epoll: a non-blocking listener in an
 *        edge-triggered epoll set, accept() until EAGAIN at each event, as
 *        nginx does. Prints
 *          accepted=N window=S rate=R total=T
 *   skex_bench fwrule address|content PORT DEF_PORT N [BRANCH_PORT]
 *        Through the sockopt front (TCP_FW_ADD_RULE, TCP_FW_ADD_BRANCH), in
 *        one process: a rule on PORT (enabled at once) with, first, a
 *        branch that matches loopback clients (127.0.0.1/32; "GET /"), then
 *        N - 1 that do not (address: 10.x.y.z/32; content: 16-byte
 *        patterns), all to BRANCH_PORT (default DEF_PORT). When the engine
 *        refuses a branch with ENOSPC (its per-rule limit) the rule keeps
 *        as many as it allows. Prints
 *          branches=N wanted=W limited=0|1 secs=S
 *   skex_bench fwdel address|content PORT
 *        TCP_FW_DEL_RULE (no error if there is none). Prints deleted=0|1
 *   skex_bench poll PORT INTERVAL_MS
 *        What a feedback controller does: getsockopt(TCP_SKEX_STAT) for
 *        PORT every INTERVAL_MS until SIGTERM. Prints polls=N missing=M
 *        (M: ENOENT, the port not known)
 *   skex_bench soak SECS
 *        The CPU nothing else wants: a SCHED_IDLE process on each online
 *        CPU counts loops for SECS seconds. Prints loops=N (all of them)
 *        secs=S cpus=C. Run once on an idle machine
 *        and once beside a load, the loops it lost are the CPU the load
 *        took, wherever the kernel did its work (a softirq run from a timer
 *        in the idle task counts too, as it does not in getrusage()).
 * SECS may have a fraction (0.5). Exit 0 on success, 1 on a failure (a socket call that should not fail),
 * 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../uapi/linux/socket_ex_user.h"
#include "../uapi/linux/tcp_fw_user.h"

#define SKEX_PROC "/proc/net/skex"

static void die(const char *what)
{
	fprintf(stderr, "skex_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: skex_bench bulk write|sendfile SECS PORT [CHUNK]\n"
		"       skex_bench calls SECS PORT\n"
		"       skex_bench delay PORT COUNT INTERVAL_US SERVICE_US [BURST]\n"
		"       skex_bench rate PORT SECS SAMPLE_MS [SKIP [SNDBUF]]\n"
		"       skex_bench accepts PORT SECS OFFER SKIP [epoll]\n"
		"       skex_bench fwrule address|content PORT DEF_PORT N [BRANCH_PORT]\n"
		"       skex_bench fwdel address|content PORT\n"
		"       skex_bench poll PORT INTERVAL_MS\n"
		"       skex_bench soak SECS\n");
	exit(2);
}

static long num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "skex_bench: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* seconds, fractions allowed, as nanoseconds */
static uint64_t secs_ns(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v > 0) || v > 3600) {
		fprintf(stderr, "skex_bench: bad duration '%s'\n", s);
		exit(2);
	}
	return (uint64_t)(v * 1e9);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { t / 1000000000ull, t % 1000000000ull };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static struct sockaddr_in lo_addr(int port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int listen_on(int port)
{
	struct sockaddr_in a = lo_addr(port);
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind 127.0.0.1");
	if (listen(fd, 4096))
		die("listen");
	return fd;
}

static int connect_to(int port)
{
	struct sockaddr_in a = lo_addr(port);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect 127.0.0.1");
	return fd;
}

static int accept_one(int lfd)
{
	int fd;

	do
		fd = accept(lfd, NULL, NULL);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		die("accept");
	return fd;
}

static int reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* ---- bulk ---- */

static int make_file(size_t size)
{
	char path[] = "/tmp/skex_bench.XXXXXX";
	char buf[65536];
	size_t done;
	int fd;

	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	memset(buf, 'x', sizeof(buf));
	for (done = 0; done < size; done += sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("write file");
	return fd;
}

static int cmd_bulk(int argc, char **argv)
{
	const size_t fsize = 16 << 20;
	int use_sendfile, port, lfd, fd, file = -1;
	long chunk = 65536;
	uint64_t t0, t1, end, bytes = 0, dur;
	char *buf;
	off_t off = 0;
	pid_t pid;

	if (argc < 4 || argc > 5)
		usage();
	if (!strcmp(argv[1], "write"))
		use_sendfile = 0;
	else if (!strcmp(argv[1], "sendfile"))
		use_sendfile = 1;
	else
		usage();
	dur = secs_ns(argv[2]);
	port = num(argv[3], 1, 65535);
	if (argc == 5)
		chunk = num(argv[4], 1, 1 << 24);
	buf = malloc(chunk > 65536 ? chunk : 65536);
	if (!buf)
		die("malloc");
	memset(buf, 'y', chunk);
	if (use_sendfile)
		file = make_file(fsize);

	lfd = listen_on(port);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {		/* the client: read to EOF */
		ssize_t n;

		close(lfd);
		fd = connect_to(port);
		while ((n = read(fd, buf, 65536)) != 0)
			if (n < 0 && errno != EINTR)
				die("read");
		_exit(0);
	}
	fd = accept_one(lfd);
	close(lfd);
	t0 = now_ns();
	end = t0 + dur;
	while (now_ns() < end) {
		ssize_t n;

		if (use_sendfile) {
			if (off + chunk > (off_t)fsize)
				off = 0;
			n = sendfile(fd, file, &off, chunk);
		} else {
			n = write(fd, buf, chunk);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(use_sendfile ? "sendfile" : "write");
		}
		bytes += n;
	}
	shutdown(fd, SHUT_WR);
	if (reap(pid))
		return 1;
	t1 = now_ns();
	close(fd);
	printf("bytes=%llu secs=%.3f mbps=%.2f\n", (unsigned long long)bytes,
	       (t1 - t0) / 1e9, bytes / ((t1 - t0) / 1e9) / 1e6);
	return 0;
}

/* ---- calls ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Batches of 64 iterations; the figure is the median batch over 64, so that
 * the times the (emulated) CPU was taken away do not weigh in.
 */
#define ACC_BATCH	16
#define ACC_BATCHES	32

static int cmd_calls(int argc, char **argv)
{
	size_t nb = 0, cap = 4096;
	uint64_t *bs, *br, end, a, b, dur;
	int lfd, cfd, sfd, port, one = 1;
	char c = 'z';

	if (argc != 3)
		usage();
	dur = secs_ns(argv[1]);
	port = num(argv[2], 1, 65535);
	bs = malloc(cap * sizeof(*bs));
	br = malloc(cap * sizeof(*br));
	if (!bs || !br)
		die("malloc");
	lfd = listen_on(port);
	cfd = connect_to(port);
	sfd = accept_one(lfd);
	close(lfd);
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	end = now_ns() + dur;
	while (now_ns() < end || nb < 3) {
		uint64_t ts = 0, tr = 0;
		int i;

		for (i = 0; i < 64; i++) {
			a = now_ns();
			if (send(sfd, &c, 1, 0) != 1)
				die("send A");
			b = now_ns();
			ts += b - a;
			if (recv(cfd, &c, 1, 0) != 1)
				die("recv B");
			if (send(cfd, &c, 1, 0) != 1)
				die("send B");
			a = now_ns();
			if (recv(sfd, &c, 1, 0) != 1)
				die("recv A");
			b = now_ns();
			tr += b - a;
		}
		if (nb == cap) {
			cap *= 2;
			bs = realloc(bs, cap * sizeof(*bs));
			br = realloc(br, cap * sizeof(*br));
			if (!bs || !br)
				die("realloc");
		}
		bs[nb] = ts;
		br[nb] = tr;
		nb++;
	}
	close(sfd);
	close(cfd);
	qsort(bs, nb, sizeof(*bs), cmp_u64);
	qsort(br, nb, sizeof(*br), cmp_u64);
	printf("iters=%zu send_ns=%.1f recv_ns=%.1f", nb * 64,
	       bs[nb / 2] / 64.0, br[nb / 2] / 64.0);

	/* accept() of a connection already queued, batches of ACC_BATCH */
	lfd = listen_on(port);
	for (nb = 0; nb < ACC_BATCHES; nb++) {
		int c[ACC_BATCH], i;
		uint64_t t = 0;

		for (i = 0; i < ACC_BATCH; i++)
			c[i] = connect_to(port);
		for (i = 0; i < ACC_BATCH; i++) {
			a = now_ns();
			sfd = accept_one(lfd);
			b = now_ns();
			t += b - a;
			close(sfd);
		}
		for (i = 0; i < ACC_BATCH; i++)
			close(c[i]);
		bs[nb] = t;
	}
	close(lfd);
	qsort(bs, nb, sizeof(*bs), cmp_u64);
	printf(" accept_ns=%.1f\n", bs[nb / 2] / (double)ACC_BATCH);
	free(bs);
	free(br);
	return 0;
}

/* ---- delay ---- */

/* conns and delay_us of PORT in /proc/net/skex; -1 if not there */
static int proc_port(int port, long long *conns, long long *delay_us, long long *waiting)
{
	static char buf[1 << 16];
	ssize_t len = 0, n;
	char *line;
	int fd;

	fd = open(SKEX_PROC, O_RDONLY);
	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = 0;
	for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		long long p, c, w, d;

		if (sscanf(line, "%lld %lld %lld %lld", &p, &c, &w, &d) == 4 && p == port) {
			*conns = c;
			*delay_us = d;
			*waiting = w;
			return 0;
		}
	}
	return -1;
}

static int cmd_delay(int argc, char **argv)
{
	long count, interval_us, service_us, burst = 1, i;
	double app_sum = 0, skex_sum = 0, maxerr = 0;
	long long c0, d0, w0, c1, d1, w1;
	int port, lfd, have_proc;
	long good = 0, bad = 0;
	pid_t pid;

	if (argc < 5 || argc > 6)
		usage();
	port = num(argv[1], 1, 65535);
	count = num(argv[2], 1, 100000);
	interval_us = num(argv[3], 0, 60000000);
	service_us = num(argv[4], 0, 60000000);
	if (argc == 6)
		burst = num(argv[5], 1, 4096);

	lfd = listen_on(port);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {		/* the clients: connect, say when, wait for EOF */
		uint64_t next = now_ns();
		int *fds = calloc(count, sizeof(int));

		close(lfd);
		if (!fds)
			die("calloc");
		for (i = 0; i < count; i++) {
			uint64_t t;

			if (i % burst == 0 && i) {
				next += interval_us * 1000ull;
				sleep_until(next);
			}
			fds[i] = connect_to(port);
			t = now_ns();
			if (write(fds[i], &t, sizeof(t)) != sizeof(t))
				die("client write");
		}
		for (i = 0; i < count; i++) {
			char c;

			while (read(fds[i], &c, 1) > 0)
				;
			close(fds[i]);
		}
		_exit(0);
	}

	have_proc = proc_port(port, &c0, &d0, &w0) == 0;
	for (i = 0; i < count; i++) {
		uint64_t t_acc, t_conn;
		double app_us, skex_us = -1;
		ssize_t n;
		int fd;

		fd = accept_one(lfd);
		t_acc = now_ns();
		n = recv(fd, &t_conn, sizeof(t_conn), MSG_WAITALL);
		if (n != sizeof(t_conn)) {
			fprintf(stderr, "skex_bench: short read of the client's time\n");
			return 1;
		}
		app_us = (double)((int64_t)(t_acc - t_conn)) / 1000.0;
		w1 = -1;
		if (have_proc) {
			if (proc_port(port, &c1, &d1, &w1)) {
				fprintf(stderr, "skex_bench: port %d left %s\n", port, SKEX_PROC);
				return 1;
			}
			if (c1 - c0 == 1) {
				double err;

				skex_us = (double)(d1 - d0);
				err = (skex_us - app_us) / 1000.0;
				app_sum += app_us;
				skex_sum += skex_us;
				if (err < 0)
					err = -err;
				if (err > maxerr)
					maxerr = err;
				good++;
			} else {
				bad++;
			}
			c0 = c1;
			d0 = d1;
		} else {
			app_sum += app_us;
			good++;
		}
		printf("conn %ld app_us %.0f skex_us %.0f waiting %lld\n", i, app_us,
		       skex_us, w1);
		if (service_us)
			usleep(service_us);
		close(fd);
	}
	close(lfd);
	if (reap(pid))
		return 1;
	if (!good)
		good = 1;
	if (have_proc)
		printf("n=%ld app_ms=%.3f skex_ms=%.3f err_ms=%.3f maxerr_ms=%.3f bad=%ld\n",
		       count, app_sum / good / 1000, skex_sum / good / 1000,
		       (skex_sum - app_sum) / good / 1000, maxerr, bad);
	else
		printf("n=%ld app_ms=%.3f skex_ms=-1 err_ms=-1 maxerr_ms=-1 bad=0\n",
		       count, app_sum / good / 1000);
	return 0;
}

/* ---- rate ---- */

static double cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		die("getrusage");
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmd_rate(int argc, char **argv)
{
	uint64_t dur, skip = 0, sent = 0, sent_skip = 0;
	long sample_ms;
	int port, lfd, fd, pfd[2], sndbuf = 0;
	static char buf[1 << 16];
	double c0, c1, c_skip;
	pid_t pid;

	if (argc < 4 || argc > 6)
		usage();
	port = num(argv[1], 1, 65535);
	dur = secs_ns(argv[2]);
	sample_ms = num(argv[3], 1, 60000);
	if (argc >= 5) {
		skip = (uint64_t)(strtod(argv[4], NULL) * 1e9);
		if (skip >= dur)
			usage();
	}
	if (argc == 6)
		sndbuf = num(argv[5], 0, INT_MAX / 2);

	lfd = listen_on(port);
	if (pipe(pfd))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {		/* the client: count what arrives per sample */
		uint64_t t0, next, bytes = 0, total = 0, win = 0, t;
		ssize_t n;
		int rfd = connect_to(port);
		struct timeval tv = { 0, 20000 };
		char line[128];

		close(lfd);
		close(pfd[0]);
		setsockopt(rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		t0 = now_ns();
		next = t0 + sample_ms * 1000000ull;
		/* until the sender's time is up: what is queued then is not drained */
		while (now_ns() < t0 + dur) {
			n = read(rfd, buf, sizeof(buf));
			t = now_ns();
			if (n > 0) {
				bytes += n;
				total += n;
				if (t >= t0 + skip)
					win += n;
			}
			while (t >= next) {
				printf("%llu %llu\n",
				       (unsigned long long)((next - t0) / 1000000),
				       (unsigned long long)bytes);
				bytes = 0;
				next += sample_ms * 1000000ull;
			}
			if (n == 0)
				break;
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				die("read");
		}
		close(rfd);
		fflush(stdout);
		n = snprintf(line, sizeof(line), "bytes=%llu secs=%.3f win_rate=%.0f",
			     (unsigned long long)total, (now_ns() - t0) / 1e9,
			     win / ((dur - skip) / 1e9));
		if (write(pfd[1], line, n) != n)
			die("pipe write");
		_exit(0);
	}
	close(pfd[1]);
	fd = accept_one(lfd);
	close(lfd);
	memset(buf, 'r', sizeof(buf));
	if (sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		die("SO_SNDBUF");
	c0 = cpu_ms();
	c_skip = c0;
	{
		uint64_t t, start = now_ns(), end = start + dur;
		struct timeval tv = { 0, 100000 };
		bool settled = !skip;

		/* a blocked (throttled) write must not outlive the run */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		while ((t = now_ns()) < end) {
			ssize_t n;

			if (!settled && t >= start + skip) {
				settled = true;
				c_skip = cpu_ms();
				sent_skip = sent;
			}
			n = write(fd, buf, sizeof(buf));
			if (n > 0)
				sent += n;
			/* the reader stops on its own clock: it may be gone */
			if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
				break;
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				die("write");
		}
	}
	c1 = cpu_ms();
	shutdown(fd, SHUT_WR);
	{
		char line[128];
		ssize_t n = read(pfd[0], line, sizeof(line) - 1);

		if (reap(pid))
			return 1;
		if (n <= 0) {
			fprintf(stderr, "skex_bench: no summary from the reader\n");
			return 1;
		}
		line[n] = 0;
		printf("%s sent=%llu cpu_ms=%.1f cpu_ms_per_mb=%.3f\n", line,
		       (unsigned long long)sent, c1 - c0,
		       sent > sent_skip ?
		       (c1 - c_skip) / ((sent - sent_skip) / 1e6) : 0);
	}
	close(fd);
	return 0;
}

/* ---- accepts ---- */

/* the clients keep every connection open: thousands of descriptors */
static void raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {	/* root may raise the hard limit too */
		struct rlimit r2 = { want, want };

		if (!setrlimit(RLIMIT_NOFILE, &r2))
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/*
 * The next connection of @lfd, or -1 with errno: blocking (SO_RCVTIMEO),
 * or (@ep >= 0) non-blocking, waiting in edge-triggered epoll_wait() when
 * the queue is empty or the quota refuses.
 */
static int accept_next(int lfd, int ep)
{
	struct epoll_event ev;
	int fd;

	if (ep < 0)
		return accept(lfd, NULL, NULL);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	if (fd >= 0 || errno != EAGAIN)
		return fd;
	if (epoll_wait(ep, &ev, 1, 100) < 0)
		return -1;
	errno = EAGAIN;
	return -1;
}

static int cmd_accepts(int argc, char **argv)
{
	uint64_t dur, skip, t0, t, next;
	long offer, total = 0, counted = 0;
	struct timeval tv = { 0, 100000 };
	int port, lfd, ep = -1;
	pid_t pid;

	if (argc != 5 && !(argc == 6 && !strcmp(argv[5], "epoll")))
		usage();
	port = num(argv[1], 1, 65535);
	dur = secs_ns(argv[2]);
	offer = num(argv[3], 1, 10000);
	skip = (uint64_t)(strtod(argv[4], NULL) * 1e9);
	if (skip >= dur)
		usage();

	raise_nofile((rlim_t)(dur / 1e9 * offer) + 256);
	lfd = listen_on(port);
	t0 = now_ns();
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {		/* the clients */
		long n = 0, i, max = (long)(dur / 1e9 * offer) + 2;
		int *fds = calloc(max, sizeof(int));

		close(lfd);
		if (!fds)
			die("calloc");
		next = t0;
		while (n < max && next < t0 + dur) {
			struct sockaddr_in a = lo_addr(port);
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

			if (fd < 0)
				die("socket");
			if (connect(fd, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS)
				die("connect");
			fds[n++] = fd;
			next += 1000000000ull / offer;
			sleep_until(next);
		}
		/* keep them open until the server is done */
		sleep_until(t0 + dur + 200000000ull);
		for (i = 0; i < n; i++)
			close(fds[i]);
		_exit(0);
	}
	setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (argc == 6) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

		ep = epoll_create1(0);
		if (ep < 0 || fcntl(lfd, F_SETFL, O_NONBLOCK) ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
			die("epoll");
	}
	while ((t = now_ns()) < t0 + dur) {
		int fd = accept_next(lfd, ep);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("accept");
		}
		t = now_ns();
		if (t >= t0 + dur) {
			close(fd);
			break;
		}
		total++;
		if (t >= t0 + skip)
			counted++;
		close(fd);
	}
	if (ep >= 0)
		close(ep);
	close(lfd);
	if (reap(pid))
		return 1;
	printf("accepted=%ld window=%.3f rate=%.3f total=%ld\n", counted,
	       (dur - skip) / 1e9, counted / ((dur - skip) / 1e9), total);
	return 0;
}

/* ---- forwarding rules through the sockopt front ---- */

static int fw_type(const char *s)
{
	if (!strcmp(s, "address"))
		return TCP_ADDR_FW;
	if (!strcmp(s, "content"))
		return TCP_CONTENT_FW;
	usage();
	return 0;
}

/* branch I of a rule (I = 0: the matching one) into fwu */
static void fw_fill(struct tcp_fw_user *fwu, int type, long i, int bport, char *pat)
{
	memset(&fwu->u, 0, sizeof(fwu->u));
	if (type == TCP_ADDR_FW) {
		fwu->u.afb_u.redir_port = bport;
		fwu->u.afb_u.src.s_addr = i ? htonl(0x0a000000u | (uint32_t)i) :
					      htonl(INADDR_LOOPBACK);
		fwu->u.afb_u.src_mask.s_addr = 0xffffffffu;
	} else {
		if (i)
			snprintf(pat, 32, "X-NoMatch-%06ld", i);
		else
			strcpy(pat, "GET /");
		fwu->u.cfb_u.redir_port = bport;
		fwu->u.cfb_u.ptn_len = strlen(pat);
		fwu->u.cfb_u.pattern = pat;
	}
}

static int cmd_fwrule(int argc, char **argv)
{
	struct tcp_fw_user fwu;
	int type, port, def, bport, sk, limited = 0;
	long n, i, made = 0;
	char pat[32];
	uint64_t t0;

	if (argc != 5 && argc != 6)
		usage();
	type = fw_type(argv[1]);
	port = num(argv[2], 1, 65535);
	def = num(argv[3], 1, 65535);
	n = num(argv[4], 1, 1000000);
	bport = argc == 6 ? num(argv[5], 1, 65535) : def;
	sk = socket(AF_INET, SOCK_STREAM, 0);
	if (sk < 0)
		die("socket");
	t0 = now_ns();
	memset(&fwu, 0, sizeof(fwu));
	fwu.type = type;
	fwu.port = port;
	fwu.def_port = def;
	if (setsockopt(sk, IPPROTO_TCP, TCP_FW_ADD_RULE, &fwu, sizeof(fwu)))
		die("TCP_FW_ADD_RULE");
	/*
	 * The matching branch first: when the engine's limit cuts the rule
	 * short, no branch has to be deleted again (on 6.1 deleting one from
	 * a rule of a few hundred branches trips a page allocator warning:
	 * an order > 1 __GFP_NOFAIL allocation in __skex_fw_rule_commit()).
	 */
	fw_fill(&fwu, type, 0, bport, pat);
	if (setsockopt(sk, IPPROTO_TCP, TCP_FW_ADD_BRANCH, &fwu, sizeof(fwu)))
		die("TCP_FW_ADD_BRANCH (matching)");
	for (i = 1; i < n; i++) {
		fw_fill(&fwu, type, i, bport, pat);
		if (setsockopt(sk, IPPROTO_TCP, TCP_FW_ADD_BRANCH, &fwu, sizeof(fwu))) {
			if (errno != ENOSPC)
				die("TCP_FW_ADD_BRANCH");
			limited = 1;
			break;
		}
		made++;
	}
	made++;
	close(sk);
	printf("branches=%ld wanted=%ld limited=%d secs=%.3f\n", made, n, limited,
	       (now_ns() - t0) / 1e9);
	return 0;
}

static int cmd_fwdel(int argc, char **argv)
{
	struct tcp_fw_user fwu;
	int sk, ok;

	if (argc != 3)
		usage();
	memset(&fwu, 0, sizeof(fwu));
	fwu.type = fw_type(argv[1]);
	fwu.port = num(argv[2], 1, 65535);
	sk = socket(AF_INET, SOCK_STREAM, 0);
	if (sk < 0)
		die("socket");
	ok = !setsockopt(sk, IPPROTO_TCP, TCP_FW_DEL_RULE, &fwu, sizeof(fwu));
	if (!ok && errno != ENOENT)
		die("TCP_FW_DEL_RULE");
	close(sk);
	printf("deleted=%d\n", ok);
	return 0;
}

/* ---- poll ---- */

static volatile sig_atomic_t poll_stop;

static void poll_term(int sig)
{
	(void)sig;
	poll_stop = 1;
}

static int cmd_poll(int argc, char **argv)
{
	struct timespec iv;
	struct netmeter nm;
	long port, ms, n = 0, missing = 0;
	socklen_t len;
	int sk;

	if (argc != 3)
		usage();
	port = num(argv[1], 1, 65535);
	ms = num(argv[2], 1, 60000);
	iv.tv_sec = ms / 1000;
	iv.tv_nsec = (ms % 1000) * 1000000L;
	signal(SIGTERM, poll_term);
	signal(SIGINT, poll_term);
	sk = socket(AF_INET, SOCK_STREAM, 0);
	if (sk < 0)
		die("socket");
	while (!poll_stop) {
		memset(&nm, 0, sizeof(nm));
		nm.port = port;
		len = sizeof(nm);
		if (getsockopt(sk, IPPROTO_TCP, TCP_SKEX_STAT, &nm, &len)) {
			if (errno != ENOENT)
				die("TCP_SKEX_STAT");
			missing++;
		}
		n++;
		nanosleep(&iv, NULL);
	}
	close(sk);
	printf("polls=%ld missing=%ld\n", n, missing);
	return 0;
}

/* ---- soak ---- */

/* SCHED_IDLE loops on CPU @cpu until @end (ns) */
static uint64_t soak_cpu(int cpu, uint64_t end)
{
	struct sched_param sp = { 0 };
	volatile uint64_t sink = 0;
	uint64_t loops = 0;
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
	if (sched_setscheduler(0, SCHED_IDLE, &sp))
		die("sched_setscheduler");
	while (now_ns() < end) {
		for (i = 0; i < 1024; i++)
			sink += i;
		loops++;
	}
	return loops;
}

static int cmd_soak(int argc, char **argv)
{
	long cpu, cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t end, t0, n, loops = 0;
	int pfd[2], st, got = 0, bad = 0;
	pid_t pid;

	if (argc != 2)
		usage();
	if (cpus < 1 || pipe(pfd))
		die("soak");
	t0 = now_ns();
	end = t0 + secs_ns(argv[1]);
	/* one soaker per CPU: a load may run on any */
	for (cpu = 0; cpu < cpus; cpu++) {
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			n = soak_cpu(cpu, end);
			if (write(pfd[1], &n, sizeof(n)) != sizeof(n))
				die("pipe write");
			_exit(0);
		}
	}
	close(pfd[1]);
	while (read(pfd[0], &n, sizeof(n)) == sizeof(n)) {
		loops += n;
		got++;
	}
	while (wait(&st) > 0)
		bad |= !WIFEXITED(st) || WEXITSTATUS(st);
	if (bad || got != cpus) {
		fprintf(stderr, "skex_bench: a soaker failed\n");
		return 1;
	}
	printf("loops=%llu secs=%.3f cpus=%ld\n", (unsigned long long)loops,
	       (end - t0) / 1e9, cpus);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "bulk"))
		return cmd_bulk(argc - 1, argv + 1);
	if (!strcmp(argv[1], "calls"))
		return cmd_calls(argc - 1, argv + 1);
	if (!strcmp(argv[1], "delay"))
		return cmd_delay(argc - 1, argv + 1);
	if (!strcmp(argv[1], "rate"))
		return cmd_rate(argc - 1, argv + 1);
	if (!strcmp(argv[1], "accepts"))
		return cmd_accepts(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fwrule"))
		return cmd_fwrule(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fwdel"))
		return cmd_fwdel(argc - 1, argv + 1);
	if (!strcmp(argv[1], "poll"))
		return cmd_poll(argc - 1, argv + 1);
	if (!strcmp(argv[1], "soak"))
		return cmd_soak(argc - 1, argv + 1);
	usage();
	return 2;
}
