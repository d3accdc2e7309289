/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the skex C selftests: loopback sockets, the
 * /proc/net/skex reader, TCP_SKEX_STAT, a seeded PRNG and a streaming hash.
 */
#ifndef _SKEX_SELFTEST_COMMON_H
#define _SKEX_SELFTEST_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/socket_ex_user.h>

#define SKEX_PROC		"/proc/net/skex"
#define SKEX_PROC_HEADER	"port conns waiting delay_us bytes_in bytes_out"

/* ---- time ---- */

static inline uint64_t skex_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static inline void skex_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- files ---- */

/*
 * @len bytes of @buf (NULs included) to @path in one write(2), as echo
 * does to configfs, /proc and /sys: 0, -errno, or -EIO if it was short.
 */
static inline int skex_write_file_len(const char *path, const void *buf,
				      size_t len)
{
	int fd = open(path, O_WRONLY), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, buf, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

/* The string @s to @path in one write(2): 0 or -errno. */
static inline int skex_write_file(const char *path, const char *s)
{
	return skex_write_file_len(path, s, strlen(s));
}

/*
 * ---- trace events ----
 *
 * Recorded in a tracefs instance of the test's own, so that the global
 * buffer and other users' filters are left alone.
 */
#define TRACE_INSTANCES	"/sys/kernel/tracing/instances/"

/*
 * Record @event (under events/: "skex/skex_output" one event, "workqueue"
 * a whole system) matching @filter (NULL: all) in instance @inst.
 */
static inline int trace_start(const char *inst, const char *event,
			      const char *filter)
{
	char path[256];

	snprintf(path, sizeof(path), TRACE_INSTANCES "%s", inst);
	rmdir(path);
	if (mkdir(path, 0700))
		return -errno;
	/* 10 s of a busy port, with room: lost events would fake a result */
	snprintf(path, sizeof(path), TRACE_INSTANCES "%s/buffer_size_kb", inst);
	if (skex_write_file(path, "4096"))
		return -EIO;
	snprintf(path, sizeof(path), TRACE_INSTANCES "%s/events/%s/filter",
		 inst, event);
	if (filter && skex_write_file(path, filter))
		return -EIO;
	snprintf(path, sizeof(path), TRACE_INSTANCES "%s/events/%s/enable",
		 inst, event);
	if (skex_write_file(path, "1"))
		return -EIO;
	return 0;
}

/*
 * Stop recording @event in @inst; open what it recorded. NULL (errno set)
 * if it cannot be read, or if the buffer overran and events were lost.
 * trace_done() removes the instance.
 */
static inline FILE *trace_stop(const char *inst, const char *event)
{
	char path[256], line[128];
	unsigned long long overrun, lost = 0;
	FILE *f;
	int cpu;

	snprintf(path, sizeof(path), TRACE_INSTANCES "%s/events/%s/enable",
		 inst, event);
	skex_write_file(path, "0");
	for (cpu = 0; ; cpu++) {
		snprintf(path, sizeof(path),
			 TRACE_INSTANCES "%s/per_cpu/cpu%d/stats", inst, cpu);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "overrun: %llu", &overrun) == 1)
				lost += overrun;
		fclose(f);
	}
	if (lost) {
		errno = EOVERFLOW;
		return NULL;
	}
	snprintf(path, sizeof(path), TRACE_INSTANCES "%s/trace", inst);
	return fopen(path, "r");
}

static inline void trace_done(const char *inst, FILE *f)
{
	char path[256];

	if (f)
		fclose(f);
	snprintf(path, sizeof(path), TRACE_INSTANCES "%s", inst);
	rmdir(path);
}

/*
 * Field @name (e.g. " granted=") of a line of the trace, as a number; false
 * if the line has none.
 */
static inline bool trace_field(const char *line, const char *name,
			       unsigned long long *v)
{
	const char *p = strstr(line, name);

	return p && sscanf(p + strlen(name), "%llu", v) == 1;
}

/* ---- addresses and sockets ---- */

struct skex_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Loopback address of @family with port @port (host order). */
static inline void skex_loopback(struct skex_addr *a, int family, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
	}
}

static inline uint16_t skex_addr_port(const struct skex_addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

static inline void skex_addr_set_port(struct skex_addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

/*
 * Listening socket on @addr (port 0 picks a free one); the bound address,
 * port included, is written back to @addr. Returns the fd or -1.
 */
static inline int skex_listen(struct skex_addr *addr, int backlog, bool reuseport)
{
	int one = 1;
	int fd;

	fd = socket(addr->ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (addr->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto err;
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto err;
	if (bind(fd, (struct sockaddr *)&addr->ss, addr->len))
		goto err;
	if (listen(fd, backlog))
		goto err;
	addr->len = sizeof(addr->ss);
	if (getsockname(fd, (struct sockaddr *)&addr->ss, &addr->len))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

/* Bring "lo" up in the namespace of the caller (a new one has it down). */
static inline int skex_lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret;

	if (fd < 0)
		return -1;
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return ret;
}

/*
 * setsockopt(IPPROTO_TCP, @optname) of @len bytes at @arg on @fd, or when
 * @fd is -1 on a fresh TCP socket of @family: 0 or -errno.
 */
static inline int skex_tcp_setsockopt(int fd, int family, int optname,
				      const void *arg, socklen_t len)
{
	int s = fd >= 0 ? fd : socket(family, SOCK_STREAM, 0), ret = 0;

	if (s < 0)
		return -errno;
	if (setsockopt(s, IPPROTO_TCP, optname, arg, len))
		ret = -errno;
	if (s != fd)
		close(s);
	return ret;
}

static inline int skex_connect(const struct skex_addr *addr)
{
	int fd = socket(addr->ss.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- netmeter readers ---- */

struct skex_line {
	unsigned long long port, conns, waiting, delay_us, bytes_in, bytes_out;
};

/*
 * Find @port in /proc/net/skex. Returns 1 and fills @out when found, 0 when
 * the port has no line, -1 when the file is missing, -2 when the header or
 * a line is malformed, -3 when the port appears more than once.
 */
static inline int skex_proc_read(uint16_t port, struct skex_line *out)
{
	char line[512];
	int found = 0;
	FILE *f;

	f = fopen(SKEX_PROC, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f) ||
	    strcmp(line, SKEX_PROC_HEADER "\n")) {
		fclose(f);
		return -2;
	}
	while (fgets(line, sizeof(line), f)) {
		struct skex_line l;
		int n;

		n = sscanf(line, "%llu %llu %llu %llu %llu %llu",
			   &l.port, &l.conns, &l.waiting, &l.delay_us,
			   &l.bytes_in, &l.bytes_out);
		if (n != 6) {
			fclose(f);
			return -2;
		}
		if (l.port != port)
			continue;
		if (found) {
			fclose(f);
			return -3;
		}
		found = 1;
		*out = l;
	}
	fclose(f);
	return found;
}

/* As skex_proc_read(), but a port without a line reads as all zero. */
static inline int skex_proc_read0(uint16_t port, struct skex_line *out)
{
	int ret = skex_proc_read(port, out);

	if (ret == 0) {
		memset(out, 0, sizeof(*out));
		out->port = port;
	}
	return ret;
}

/* TCP_SKEX_STAT for @port through a throwaway TCP socket: 0 or -errno. */
static inline int skex_stat(uint16_t port, struct netmeter *nm)
{
	socklen_t len = sizeof(*nm);
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	memset(nm, 0, sizeof(*nm));
	nm->port = port;
	if (getsockopt(fd, IPPROTO_TCP, TCP_SKEX_STAT, nm, &len))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Module presence: the tests of the module's behaviour skip when it is
 * absent, unless SKEX_REQUIRE is set (the suite in the VM sets it).
 */
static inline bool skex_loaded(void)
{
	return access(SKEX_PROC, F_OK) == 0;
}

static inline bool skex_required(void)
{
	const char *r = getenv("SKEX_REQUIRE");

	return r && *r && strcmp(r, "0");
}

#define SKEX_NEED_MODULE() do {						\
	if (!skex_loaded()) {						\
		if (skex_required())					\
			ASSERT_TRUE(skex_loaded()) {			\
				TH_LOG(SKEX_PROC " missing");		\
			}						\
		SKIP(return, SKEX_PROC " missing: skex not loaded");	\
	}								\
} while (0)

/* ---- data: seeded PRNG and an order-sensitive streaming hash ---- */

/* xorshift64*: one 64-bit word of the stream per call */
static inline uint64_t skex_prng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/*
 * Stream generator: bytes of the little-endian word sequence, cut anywhere.
 */
struct skex_gen {
	uint64_t state;
	uint64_t word;
	unsigned int left;	/* bytes of word not yet handed out */
};

static inline void skex_gen_init(struct skex_gen *g, uint64_t seed)
{
	g->state = seed ? seed : 0x9E3779B97F4A7C15ull;
	g->word = 0;
	g->left = 0;
}

static inline void skex_gen_fill(struct skex_gen *g, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len && g->left) {
		*p++ = (unsigned char)(g->word >> (8 * (8 - g->left)));
		g->left--;
		len--;
	}
	while (len >= 8) {
		uint64_t w = skex_prng_next(&g->state);

		memcpy(p, &w, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		g->word = skex_prng_next(&g->state);
		g->left = 8;
		while (len) {
			*p++ = (unsigned char)(g->word >> (8 * (8 - g->left)));
			g->left--;
			len--;
		}
	}
}

/*
 * FNV-1a style hash over 64-bit little-endian words; the result does not
 * depend on how the stream is cut into chunks.
 */
struct skex_hash {
	uint64_t h;
	uint64_t len;
	unsigned char carry[8];
	unsigned int ncarry;
};

#define SKEX_FNV_PRIME	0x100000001b3ull

static inline void skex_hash_init(struct skex_hash *h)
{
	h->h = 0xcbf29ce484222325ull;
	h->len = 0;
	h->ncarry = 0;
}

static inline void skex_hash_word(struct skex_hash *h, uint64_t w)
{
	h->h = (h->h ^ w) * SKEX_FNV_PRIME;
	h->h ^= h->h >> 29;
}

static inline void skex_hash_update(struct skex_hash *h, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	h->len += len;
	while (len && h->ncarry) {
		h->carry[h->ncarry++] = *p++;
		len--;
		if (h->ncarry == 8) {
			uint64_t w;

			memcpy(&w, h->carry, 8);
			skex_hash_word(h, w);
			h->ncarry = 0;
		}
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		skex_hash_word(h, w);
		p += 8;
		len -= 8;
	}
	if (len) {	/* ncarry is 0 here */
		memcpy(h->carry, p, len);
		h->ncarry = len;
	}
}

static inline uint64_t skex_hash_final(struct skex_hash *h)
{
	uint64_t w = 0;

	if (h->ncarry) {
		memcpy(&w, h->carry, h->ncarry);
		skex_hash_word(h, w ^ ((uint64_t)h->ncarry << 56));
	}
	skex_hash_word(h, h->len);
	return h->h;
}

/* skex_hash of the first @len bytes of skex_gen's stream for @seed. */
static inline uint64_t skex_stream_hash(uint64_t seed, uint64_t len)
{
	static __thread char buf[16384];
	struct skex_hash h;
	struct skex_gen g;

	skex_gen_init(&g, seed);
	skex_hash_init(&h);
	while (len) {
		size_t n = len > sizeof(buf) ? sizeof(buf) : len;

		skex_gen_fill(&g, buf, n);
		skex_hash_update(&h, buf, n);
		len -= n;
	}
	return skex_hash_final(&h);
}

#ifdef TEST_HARNESS_MAIN
/*
 * One case of a harness binary: run_all.sh NAME:CASE (make check
 * T=NAME:CASE) sets SKEX_TEST_CASE=CASE, and only the TEST/TEST_F cases named
 * CASE (or FIXTURE.CASE) run; none named so fails. The 6.1 kselftest harness
 * has no option for it.
 */
static inline void skex_filter_tests(void)
{
	const char *want = getenv("SKEX_TEST_CASE");
	struct __fixture_metadata *f;
	struct __test_metadata *t, *next, *head, *tail;
	char full[256];
	int found = 0;

	if (!want || !*want)
		return;
	for (f = __fixture_list; f; f = f->next) {
		head = NULL;
		tail = NULL;
		for (t = f->tests; t; t = next) {
			next = t->next;
			snprintf(full, sizeof(full), "%s.%s", f->name, t->name);
			if (strcmp(t->name, want) && strcmp(full, want))
				continue;
			t->next = NULL;
			if (tail) {
				tail->next = t;
				t->prev = tail;
			} else {
				head = t;
			}
			tail = t;
			found++;
		}
		if (head)
			head->prev = tail;	/* only prev is circular */
		f->tests = head;
	}
	if (!found) {
		fprintf(stderr, "no test case named '%s'\n", want);
		exit(KSFT_FAIL);
	}
}

/*
 * SKEX_TIMEOUT_SCALE (1 to 100, default 1): how many times slower than a
 * production kernel this one may be (check-debug: KASAN and lockdep). Time
 * limits in tests, which bound an algorithm's order and not its speed, are
 * multiplied by it.
 */
static inline long skex_time_scale(void)
{
	const char *env = getenv("SKEX_TIMEOUT_SCALE");
	long scale = env ? strtol(env, NULL, 10) : 1;

	return scale < 1 || scale > 100 ? 1 : scale;
}

/* Each case's own timeout times skex_time_scale(), as run_all.sh's. */
static inline void skex_scale_timeouts(void)
{
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	long scale = skex_time_scale();

	if (scale == 1)
		return;
	for (f = __fixture_list; f; f = f->next)
		for (t = f->tests; t; t = t->next)
			t->timeout *= scale;
}

#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN \
	int main(int argc, char **argv) \
	{ \
		skex_filter_tests(); \
		skex_scale_timeouts(); \
		return test_harness_run(argc, argv); \
	}
#endif /* TEST_HARNESS_MAIN */

#endif /* _SKEX_SELFTEST_COMMON_H */
