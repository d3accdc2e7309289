// SPDX-License-Identifier: GPL-2.0
/*
 * skex_net: small traffic tools for the shell tests, in C because a Python
 * start costs seconds in the TCG guest.
 *
 *   skex_net freeport [-n COUNT] [ADDR...]
 *                                    COUNT (default 1) distinct ports, each
 *                                    free on every ADDR (default 127.0.0.1
 *                                    and ::1), below the ephemeral range
 *                                    when there is room
 *   skex_net listen ADDR PORT        listen, never accept, until killed
 *   skex_net serve ADDR PORT OUT [WAIT_FILE]
 *                                    accept forever (once WAIT_FILE exists);
 *                                    per connection: read to EOF, write OUT
 *                                    bytes, close
 *   skex_net client ADDR PORT SEND EXPECT [COUNT]
 *                                    COUNT connections one after the other:
 *                                    write SEND bytes, half-close, read to
 *                                    EOF; exactly the EXPECT bytes the server
 *                                    sends must arrive
 *
 * Servers print "port N" once listening. IPv6 listeners are IPV6_V6ONLY.
 * The bytes are the seeded stream of skex_common.h (server: seed 7, client:
 * seed 11), checked by hash. Exit: 0 ok, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "skex_common.h"

static int parse_addr(const char *s, uint16_t port, struct skex_addr *a)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		return 0;
	}
	fprintf(stderr, "skex_net: bad address %s\n", s);
	return -1;
}

static long parse_num(const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 0 || v > max) {
		fprintf(stderr, "skex_net: bad number %s\n", s);
		exit(2);
	}
	return v;
}

static int open_listener(const char *addr, long port)
{
	struct skex_addr a;
	int one = 1, fd;

	if (parse_addr(addr, port, &a))
		exit(2);
	fd = socket(a.ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (a.ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&a.ss, a.len) || listen(fd, 128)) {
		fprintf(stderr, "skex_net: listen on %s port %ld: %s\n", addr,
			port, strerror(errno));
		exit(1);
	}
	a.len = sizeof(a.ss);
	getsockname(fd, (struct sockaddr *)&a.ss, &a.len);
	printf("port %u\n", skex_addr_port(&a));
	fflush(stdout);
	return fd;
}

static int write_stream(int fd, uint64_t seed, uint64_t len)
{
	static char buf[65536];
	struct skex_gen g;

	skex_gen_init(&g, seed);
	while (len) {
		size_t n = len > sizeof(buf) ? sizeof(buf) : len, off = 0;

		skex_gen_fill(&g, buf, n);
		while (off < n) {
			ssize_t w = write(fd, buf + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
			off += w;
		}
		len -= n;
	}
	return 0;
}

/* read to EOF; byte count and hash */
static int read_stream(int fd, uint64_t *count, uint64_t *hash)
{
	static char buf[65536];
	struct skex_hash h;

	skex_hash_init(&h);
	*count = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (!r)
			break;
		skex_hash_update(&h, buf, r);
		*count += r;
	}
	*hash = skex_hash_final(&h);
	return 0;
}

/*
 * The lowest port connect() may pick (ip_local_port_range). The caller
 * binds its port later: one the kernel picked for bind(port 0) would be in
 * that range, where a client's connect() may take it meanwhile.
 */
static unsigned int ephemeral_low(void)
{
	unsigned int low = 32768, high;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (f) {
		if (fscanf(f, "%u %u", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	return low;
}

/*
 * Bind and listen on @port on each of the @n addresses; the sockets go to
 * @fds. Port 0 takes the kernel's pick on the first address and then that
 * port on the others. Returns the port, or 0 with every socket closed.
 */
static uint16_t hold_port(const char *const *addrs, int n, uint16_t port,
			  int *fds)
{
	int i;

	for (i = 0; i < n; i++) {
		struct skex_addr a;

		if (parse_addr(addrs[i], port, &a))
			break;
		fds[i] = socket(a.ss.ss_family, SOCK_STREAM, 0);
		if (fds[i] < 0)
			break;
		if (bind(fds[i], (struct sockaddr *)&a.ss, a.len) ||
		    listen(fds[i], 1)) {
			close(fds[i]);
			break;
		}
		if (!port) {
			a.len = sizeof(a.ss);
			getsockname(fds[i], (struct sockaddr *)&a.ss, &a.len);
			port = skex_addr_port(&a);
		}
	}
	if (i == n)
		return port;
	while (i)
		close(fds[--i]);
	return 0;
}

/*
 * freeport [-n COUNT] [ADDR...]: COUNT distinct ports, one a line. Each is
 * held (bound and listening) until all are found, so no two can be equal;
 * the seed comes from getrandom(), as two runs in one second must not
 * share a sequence either.
 */
static int cmd_freeport(int argc, char **argv)
{
	static const char *const dflt[] = { "127.0.0.1", "::1" };
	const char *const *addrs;
	unsigned int low = ephemeral_low(), seed, count = 1, found = 0;
	int fds[64][8], n, ret = 1;
	uint16_t ports[64];

	if (argc >= 2 && !strcmp(argv[0], "-n")) {
		count = parse_num(argv[1], 64);
		argc -= 2;
		argv += 2;
	}
	addrs = argc ? (const char *const *)argv : dflt;
	n = argc ? argc : 2;
	if (!count || n > 8)
		return 2;
	for (int i = 0; i < n; i++) {
		struct skex_addr a;

		if (parse_addr(addrs[i], 0, &a))
			return 2;
	}
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = getpid() ^ time(NULL);
	srand(seed);
	for (unsigned int tries = 0; tries < 100 * count && found < count; tries++) {
		/* below the ephemeral range if there is room, else any */
		uint16_t want = low > 11024 ? 10000 + rand() % (low - 11024) : 0;

		ports[found] = hold_port(addrs, n, want, fds[found]);
		if (ports[found])
			found++;
	}
	if (found == count) {
		for (unsigned int i = 0; i < count; i++)
			printf("%u\n", ports[i]);
		ret = 0;
	} else {
		fprintf(stderr, "skex_net: %u free ports of %u\n", found, count);
	}
	while (found--)
		for (int i = 0; i < n; i++)
			close(fds[found][i]);
	return ret;
}

static int cmd_listen(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	open_listener(argv[0], parse_num(argv[1], 65535));
	for (;;)
		pause();
}

static int cmd_serve(int argc, char **argv)
{
	uint64_t out;
	int lfd;

	if (argc != 3 && argc != 4)
		return 2;
	out = parse_num(argv[2], 1L << 40);
	lfd = open_listener(argv[0], parse_num(argv[1], 65535));
	if (argc == 4)
		while (access(argv[3], F_OK))
			skex_sleep_ms(50);
	for (;;) {
		uint64_t count, hash;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "skex_net: accept: %s\n", strerror(errno));
			return 1;
		}
		if (read_stream(fd, &count, &hash) || write_stream(fd, 7, out))
			fprintf(stderr, "skex_net: serve: %s\n", strerror(errno));
		close(fd);
	}
}

static int cmd_client(int argc, char **argv)
{
	uint64_t send_len, expect, count = 1, want;
	struct skex_addr a;

	if (argc != 4 && argc != 5)
		return 2;
	if (parse_addr(argv[0], parse_num(argv[1], 65535), &a))
		return 2;
	send_len = parse_num(argv[2], 1L << 40);
	expect = parse_num(argv[3], 1L << 40);
	if (argc == 5)
		count = parse_num(argv[4], 1000000);
	want = skex_stream_hash(7, expect);
	for (uint64_t i = 0; i < count; i++) {
		uint64_t got, hash;
		int fd = skex_connect(&a);

		if (fd < 0) {
			fprintf(stderr, "skex_net: connection %llu: connect: %s\n",
				(unsigned long long)i, strerror(errno));
			return 1;
		}
		if (write_stream(fd, 11, send_len) || shutdown(fd, SHUT_WR) ||
		    read_stream(fd, &got, &hash)) {
			fprintf(stderr, "skex_net: connection %llu: %s\n",
				(unsigned long long)i, strerror(errno));
			return 1;
		}
		close(fd);
		if (got != expect || hash != want) {
			fprintf(stderr, "skex_net: connection %llu: got %llu bytes, expected %llu%s\n",
				(unsigned long long)i, (unsigned long long)got,
				(unsigned long long)expect,
				got == expect ? " (content differs)" : "");
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	int ret = 2;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "freeport"))
		ret = cmd_freeport(argc - 2, argv + 2);
	else if (argc >= 2 && !strcmp(argv[1], "listen"))
		ret = cmd_listen(argc - 2, argv + 2);
	else if (argc >= 2 && !strcmp(argv[1], "serve"))
		ret = cmd_serve(argc - 2, argv + 2);
	else if (argc >= 2 && !strcmp(argv[1], "client"))
		ret = cmd_client(argc - 2, argv + 2);
	if (ret == 2)
		fprintf(stderr, "usage: see the comment at the top of skex_net.c\n");
	return ret;
}
