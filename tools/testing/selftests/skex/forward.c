// SPDX-License-Identifier: GPL-2.0
/*
 * Connection classification and forwarding (SPEC section 1) through the
 * seed's setsockopt() commands, on loopback, in the initial namespace (the
 * counters are read from configfs):
 *
 *   address_lpm        clients from 127.0.0.2, .3, 127.0.1.1 and ::1: the
 *                      longest mask wins, IPv6 goes to the default port;
 *                      getpeername is the client, getsockname the incoming
 *                      port; v4 clients reach IPv4-only and dual-stack
 *                      listeners alike
 *   dice_chi2          1000 connections over 20/30/25 % + rest: chi-square
 *                      p > 0.001; chances over 100 refused
 *   content_split      the pattern split over two segments 300 ms apart
 *                      still matches (until window); bytes sent before and after the
 *                      hand-off arrive in order
 *   content_earliest   the branch whose match ends first wins, ties by
 *                      creation order
 *   content_timeout    server-speaks-first reaches the default port after
 *                      timeout_ms; a half-close and a full window decide at
 *                      once; a match past the window does not count
 *   bulk_10mb          10 MB up and 10 MB down through a forwarded
 *                      connection, hashes equal
 *   fallback_drop      missing branch listener -> default port; missing
 *                      default too -> reset, counted dropped
 *   full_queue         a full accept queue counts as missing
 *   reuseport_bind     SO_REUSEPORT groups share, a listener bound to the
 *                      connection's local address is preferred
 *   seed_sequence      the seed's section 1 with its typos fixed
 *   bad_input          the errors of every bad argument, state unchanged
 *   disable_pending    connections waiting for their first bytes go to the
 *                      default port on disable and on delete, bytes intact
 *   disable_race       issue 14: clients parked without bytes when the rule
 *                      is disabled, then each sends in turn to a server of
 *                      one connection at a time: all reach D in their
 *                      order, bytes and wake-ups intact (25 rounds)
 *   edit_under_traffic rules edited while 300 connections flow: each
 *                      arrives, with its bytes, on a port it may go to
 *   many_branches      a rule of 1500 address branches: each deleted one
 *                      by one, the rule still classifies in between (its
 *                      snapshot no longer fits in a few pages)
 *   addr6_netns        TCP_FW_ADD_BRANCH6/DEL_BRANCH6 in a new namespace:
 *                      IPv6 clients from fd00::1, fd00::2 and ::1 go by
 *                      their longest prefix, a v4-mapped source is an IPv4
 *                      branch; /proc/net/skex_forward lists them; every bad
 *                      field's errno, nothing changed
 *   replace_rule       TCP_FW_REPLACE_RULE: dice -> dice (a kept branch
 *                      keeps its hits) -> address -> content, configfs
 *                      follows (old branch directories gone, new ones
 *                      there), the rule's counters and listener stay; every
 *                      bad field's errno, nothing changed
 *   mirror_race        a branch made with mkdir while setsockopt replaces
 *                      its rule over and over (each replace mirrors the
 *                      whole rule; 10 s and at least 100 replaces): the
 *                      mirror never removes the new
 *                      directory of a branch the engine has (it used to,
 *                      and freed the branch still on its rule's list);
 *                      afterwards tree and engine agree
 *   listener_options   a connection handed to a listener carries the socket
 *                      options that listener's own connections inherit
 *                      (TCP_NODELAY, keepalive, buffers, mark,
 *                      timeouts, linger, ...), the same as one accepted
 *                      directly (not SO_PRIORITY: sk_clone_lock() clears
 *                      it, for the kernel's children too)
 *   target_closes      issue 14: the target stops listening while connections
 *                      are handed to it: each reaches it, the default port or
 *                      is reset by its close; none dropped, no socket left
 *   inet_target        issue 14: an IPv4 client handed to an AF_INET listener
 *                      is an AF_INET socket (SO_DOMAIN, IPV6_JOIN_ANYCAST, no
 *                      anycast left after close), to a dual-stack one a mapped
 *                      IPv6 one, as direct connections
 *   target_policy      issue 14: targets with MD5 keys, a socket filter or a
 *                      reuseport BPF program are refused (default port; reset
 *                      when it has keys too)
 *   target_cgroup      issue 14: a forwarded connection is in the target's
 *                      cgroup: a cgroup-BPF egress drop applies to it
 *   fastopen_listen    issue 14: no Fast Open child on a module listener with
 *                      tcp_fastopen 0x400, rules enabled again and again
 *   delete_handshake   issue 14: handshakes in progress when the rule goes
 *                      finish and reach the default port
 *   mirror_stale       two processes add and delete one rule through
 *                      setsockopt: its directory never shows a rule the
 *                      engine deleted (a command's mirror pass used to
 *                      come after the other's command)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "forward_common.h"

#define NLST	4	/* listeners R1 R2 R3 D */
#define IDX_D	3

FIXTURE(fw) {
	uint16_t p;		/* incoming port */
	uint16_t port[NLST];	/* R1 R2 R3 D */
	int fd[NLST];
};

FIXTURE_SETUP(fw)
{
	int i;

	SKEX_NEED_MODULE();
	for (i = 0; i < NLST; i++) {
		/* R3 is IPv4 only, the others dual-stack */
		self->fd[i] = fw_listen(i == 2 ? "0.0.0.0" : "::", 0, 256,
					false, &self->port[i]);
		ASSERT_LE(0, self->fd[i]) TH_LOG("listen: %s", strerror(errno));
	}
	self->p = fw_free_port();
	ASSERT_NE(0, self->p);
}

FIXTURE_TEARDOWN(fw)
{
	int t, i;

	for (t = TCP_DICE_FW; t <= TCP_ADDR_FW; t++)
		fw_rule(TCP_FW_DEL_RULE, t, self->p, 0);
	for (i = 0; i < NLST; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
}

/*
 * Connect from @src to @dst:p, send @msg, and return which listener got
 * it (-1: none within @ms). Checks what the accepted socket sees.
 */
static int one_conn(struct __test_metadata *_metadata, FIXTURE_DATA(fw) *self,
		    const char *src, const char *dst, const char *msg, int ms)
{
	struct sockaddr_storage cli = {}, peer = {}, local = {};
	socklen_t len;
	char buf[256];
	int c, a, which = -1;

	c = fw_connect(src, dst, self->p);
	EXPECT_LE(0, c) TH_LOG("connect %s -> %s: %s", src ? src : "*", dst,
			       strerror(errno));
	if (c < 0)
		return -1;
	if (msg)
		EXPECT_EQ(0, fw_write_all(c, msg, strlen(msg)));
	a = fw_accept_any(self->fd, NLST, ms, &which);
	if (a < 0) {
		close(c);
		return -1;
	}
	len = sizeof(cli);
	getsockname(c, (struct sockaddr *)&cli, &len);
	len = sizeof(peer);
	EXPECT_EQ(0, getpeername(a, (struct sockaddr *)&peer, &len));
	len = sizeof(local);
	EXPECT_EQ(0, getsockname(a, (struct sockaddr *)&local, &len));
	fw_unmap(&cli);
	fw_unmap(&peer);
	EXPECT_TRUE(fw_same_addr(&cli, &peer)) TH_LOG("getpeername is not the client");
	EXPECT_EQ(self->p, skex_addr_port(&(struct skex_addr){ .ss = local }));
	if (msg) {
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(0, fw_read_exact(a, buf, strlen(msg), 5000));
		EXPECT_STREQ(msg, buf);
		/* and the other way, after the hand-off */
		EXPECT_EQ(0, fw_write_all(a, "pong", 4));
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(0, fw_read_exact(c, buf, 4, 5000));
		EXPECT_STREQ("pong", buf);
	}
	close(a);
	close(c);
	return which;
}

static void expect_counters(struct __test_metadata *_metadata, uint16_t p,
			    long long def, long long dropped)
{
	EXPECT_EQ(def, fw_cfs_num(p, NULL, "default_hits"));
	EXPECT_EQ(dropped, fw_cfs_num(p, NULL, "dropped"));
}

/* A connection from @src to P is reset, and no listener gets it. */
static void expect_reset(struct __test_metadata *_metadata,
			 FIXTURE_DATA(fw) *self, const char *src)
{
	char buf[8];
	int c, w, err;

	c = fw_connect(src, "127.0.0.1", self->p);
	err = errno;
	/* the reset may come before connect() returns */
	if (c >= 0) {
		EXPECT_GT(0, fw_read_exact(c, buf, 1, 5000));
		err = errno;
		close(c);
	}
	EXPECT_EQ(ECONNRESET, err);
	EXPECT_GT(0, fw_accept_any(self->fd, NLST, 100, &w));
}

TEST_F(fw, address_lpm)
{
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
			     "127.0.0.0", "255.0.0.0"));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[1],
			     "127.0.0.0", "255.255.255.0"));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[2],
			     "127.0.0.2", "255.255.255.255"));
	/* the same condition again */
	EXPECT_EQ(-EEXIST, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				   "127.0.0.9", "255.255.255.0"));
	EXPECT_STREQ("127.0.0.0/8", fw_cfs_get(self->p, "br1", "source"));
	EXPECT_STREQ("127.0.0.2/32", fw_cfs_get(self->p, "br3", "source"));

	EXPECT_EQ(2, one_conn(_metadata, self, "127.0.0.2", "127.0.0.1", "a", 5000));
	EXPECT_EQ(1, one_conn(_metadata, self, "127.0.0.3", "127.0.0.1", "bb", 5000));
	EXPECT_EQ(0, one_conn(_metadata, self, "127.0.1.1", "127.0.0.1", "ccc", 5000));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, "::1", "::1", "dddd", 5000));
	/* the local address does not matter, the client's does */
	EXPECT_EQ(2, one_conn(_metadata, self, "127.0.0.2", "127.0.0.5", "e", 5000));

	EXPECT_EQ(1, fw_cfs_num(self->p, "br1", "hits"));
	EXPECT_EQ(1, fw_cfs_num(self->p, "br2", "hits"));
	EXPECT_EQ(2, fw_cfs_num(self->p, "br3", "hits"));
	expect_counters(_metadata, self->p, 1, 0);
}

TEST_F(fw, dice_chi2)
{
	static const int chance[3] = { 20, 30, 25 };
	int n = 1000, got[NLST] = {}, i, w;
	double chi2 = 0;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p,
			     self->port[IDX_D]));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[i],
				     chance[i]));
	/* 75 + 26 > 100 */
	EXPECT_EQ(-EINVAL, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0], 26));
	EXPECT_FALSE(fw_cfs_exists(self->p, "br4"));

	for (i = 0; i < n; i++) {
		w = one_conn(_metadata, self, NULL, "127.0.0.1", NULL, 5000);
		ASSERT_LE(0, w);
		got[w]++;
	}
	for (i = 0; i < NLST; i++) {
		double exp = n * (i < 3 ? chance[i] : 25) / 100.0;

		chi2 += (got[i] - exp) * (got[i] - exp) / exp;
	}
	TH_LOG("R1 %d R2 %d R3 %d D %d: chi2 %.2f", got[0], got[1], got[2],
	       got[3], chi2);
	/* 3 degrees of freedom: P(chi2 > 16.27) = 0.001 */
	EXPECT_GT(16.27, chi2);
	EXPECT_EQ(got[0], fw_cfs_num(self->p, "br1", "hits"));
	EXPECT_EQ(got[1], fw_cfs_num(self->p, "br2", "hits"));
	EXPECT_EQ(got[2], fw_cfs_num(self->p, "br3", "hits"));
	expect_counters(_metadata, self->p, got[3], 0);
}

TEST_F(fw, content_split)
{
	const char *a = "GET /ima", *b = "ges/logo.png HTTP/1.0\r\n\r\n";
	char want[128], buf[128] = {};
	struct skex_line r0, r1, p0, p1;
	int c, s, w;

	ASSERT_EQ(1, skex_proc_read(self->port[0], &r0));
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(1, skex_proc_read(self->p, &p0));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "/images/"));
	/* a rule made by setsockopt() decides on the first write: not here */
	EXPECT_STREQ("push", fw_cfs_get(self->p, NULL, "until"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "window"));
	c = fw_connect(NULL, "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, fw_write_all(c, a, strlen(a)));
	skex_sleep_ms(300);
	/* not decided yet: nothing to accept */
	EXPECT_GT(0, fw_accept_any(self->fd, NLST, 0, &w));
	ASSERT_EQ(0, fw_write_all(c, b, strlen(b)));
	s = fw_accept_any(self->fd, NLST, 5000, &w);
	ASSERT_LE(0, s);
	EXPECT_EQ(0, w);
	/* sent after the hand-off: comes after the rest */
	ASSERT_EQ(0, fw_write_all(c, "tail", 4));
	snprintf(want, sizeof(want), "%s%stail", a, b);
	EXPECT_EQ(0, fw_read_exact(s, buf, strlen(want), 5000));
	EXPECT_STREQ(want, buf);
	close(s);
	close(c);
	EXPECT_EQ(1, fw_cfs_num(self->p, "br1", "hits"));
	expect_counters(_metadata, self->p, 0, 0);

	/* netmeter counts the connection for the port it was handed to */
	ASSERT_EQ(1, skex_proc_read(self->port[0], &r1));
	ASSERT_EQ(1, skex_proc_read(self->p, &p1));
	EXPECT_EQ(r0.conns + 1, r1.conns);
	EXPECT_EQ(r0.bytes_in + strlen(want), r1.bytes_in);
	EXPECT_EQ(p0.conns, p1.conns);
	EXPECT_EQ(p0.bytes_in, p1.bytes_in);
	EXPECT_EQ(0, p1.waiting);
}

TEST_F(fw, content_earliest)
{
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0], "bbbb"));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[1], "ab"));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[2], "cab"));
	EXPECT_EQ(-EEXIST, fw_content_str(TCP_FW_ADD_BRANCH, self->p,
					  self->port[2], "ab"));
	/* binary-safe: a NUL inside the pattern */
	ASSERT_EQ(0, fw_content(TCP_FW_ADD_BRANCH, self->p, self->port[2],
				"n\0l", 3));

	EXPECT_EQ(1, one_conn(_metadata, self, NULL, "127.0.0.1", "aabbbb", 5000));
	EXPECT_EQ(0, one_conn(_metadata, self, NULL, "127.0.0.1", "zzbbbbab", 5000));
	/* "cab" and "ab" end together: the older branch */
	EXPECT_EQ(1, one_conn(_metadata, self, NULL, "127.0.0.1", "xcab", 5000));
	EXPECT_EQ(1, fw_cfs_num(self->p, "br1", "hits"));
	EXPECT_EQ(2, fw_cfs_num(self->p, "br2", "hits"));
	EXPECT_EQ(0, fw_cfs_num(self->p, "br3", "hits"));

	/* the NUL pattern, written raw */
	{
		int c = fw_connect(NULL, "127.0.0.1", self->p), s, w;

		ASSERT_LE(0, c);
		ASSERT_EQ(0, fw_write_all(c, "xn\0lx", 5));
		s = fw_accept_any(self->fd, NLST, 5000, &w);
		ASSERT_LE(0, s);
		EXPECT_EQ(2, w);
		close(s);
		close(c);
	}
	EXPECT_EQ(1, fw_cfs_num(self->p, "br4", "hits"));
}

/* ms until the connection from @c is accepted, -1 if not in @limit ms */
static long accept_ms(FIXTURE_DATA(fw) *self, int want, int limit)
{
	uint64_t t0 = skex_now_us();
	int s, w;

	s = fw_accept_any(self->fd, NLST, limit, &w);
	if (s < 0)
		return -1;
	close(s);
	return w == want ? (long)((skex_now_us() - t0) / 1000) : -2;
}

TEST_F(fw, content_timeout)
{
	long ms;
	int c;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "/images/"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "500"));
	EXPECT_STREQ("500", fw_cfs_get(self->p, NULL, "timeout_ms"));

	/* the client waits for the server to speak */
	c = fw_connect(NULL, "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	ms = accept_ms(self, IDX_D, 10000);
	EXPECT_LE(450, ms);
	EXPECT_GT(5000, ms);
	close(c);

	/* a half-close decides at once */
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "4000"));
	c = fw_connect(NULL, "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, fw_write_all(c, "GET /im", 7));
	shutdown(c, SHUT_WR);
	ms = accept_ms(self, IDX_D, 10000);
	EXPECT_LE(0, ms);
	EXPECT_GT(3000, ms);
	close(c);

	/* window 16: 16 bytes without a match decide, a later match is late */
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "window", "16"));
	c = fw_connect(NULL, "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, fw_write_all(c, "0123456789/images/", 18));
	ms = accept_ms(self, IDX_D, 10000);
	EXPECT_LE(0, ms);
	EXPECT_GT(3000, ms);
	close(c);
	EXPECT_EQ(0, one_conn(_metadata, self, NULL, "127.0.0.1",
			      "01234567/images/", 5000));
	EXPECT_EQ(1, fw_cfs_num(self->p, "br1", "hits"));
	expect_counters(_metadata, self->p, 3, 0);
}

struct bulk {
	int fd;
	uint64_t bytes;
	uint64_t seed;
	uint64_t hash;
	int err;
};

static void *bulk_send(void *arg)
{
	struct bulk *b = arg;
	static __thread char buf[65536];
	struct skex_hash h;
	struct skex_gen g;
	uint64_t left = b->bytes;

	skex_gen_init(&g, b->seed);
	skex_hash_init(&h);
	while (left) {
		size_t n = left < sizeof(buf) ? left : sizeof(buf);

		skex_gen_fill(&g, buf, n);
		skex_hash_update(&h, buf, n);
		if (fw_write_all(b->fd, buf, n)) {
			b->err = errno;
			break;
		}
		left -= n;
	}
	b->hash = skex_hash_final(&h);
	return NULL;
}

static uint64_t bulk_recv(int fd, uint64_t bytes, uint64_t *got)
{
	static char buf[65536];
	struct skex_hash h;

	skex_hash_init(&h);
	*got = 0;
	while (*got < bytes) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		skex_hash_update(&h, buf, n);
		*got += n;
	}
	return skex_hash_final(&h);
}

TEST_F_TIMEOUT(fw, bulk_10mb, 240)
{
	const uint64_t mb10 = 10ull << 20;
	struct bulk up = { .bytes = mb10, .seed = 11 };
	struct bulk down = { .bytes = mb10, .seed = 7 };
	const char *hdr = "PUT /upload HTTP/1.1\r\n\r\n";
	char buf[64] = {};
	pthread_t th;
	uint64_t got, hash;
	int c, s, w;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[1],
				    "/upload"));
	c = fw_connect(NULL, "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	ASSERT_EQ(0, fw_write_all(c, hdr, strlen(hdr)));
	/* the upload starts before the hand-off */
	up.fd = c;
	ASSERT_EQ(0, pthread_create(&th, NULL, bulk_send, &up));
	s = fw_accept_any(self->fd, NLST, 10000, &w);
	ASSERT_LE(0, s);
	EXPECT_EQ(1, w);
	ASSERT_EQ(0, fw_read_exact(s, buf, strlen(hdr), 5000));
	EXPECT_STREQ(hdr, buf);
	hash = bulk_recv(s, mb10, &got);
	pthread_join(th, NULL);
	EXPECT_EQ(0, up.err);
	EXPECT_EQ(mb10, got);
	EXPECT_EQ(up.hash, hash);

	down.fd = s;
	ASSERT_EQ(0, pthread_create(&th, NULL, bulk_send, &down));
	hash = bulk_recv(c, mb10, &got);
	pthread_join(th, NULL);
	EXPECT_EQ(0, down.err);
	EXPECT_EQ(mb10, got);
	EXPECT_EQ(down.hash, hash);
	close(s);
	close(c);
}

TEST_F(fw, fallback_drop)
{
	uint16_t none = fw_free_port(), none2;

	ASSERT_NE(0, none);
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, none, "127.0.0.2",
			     "255.255.255.255"));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, "127.0.0.2", "127.0.0.1",
				  "x", 5000));
	EXPECT_EQ(0, fw_cfs_num(self->p, "br1", "hits"));
	expect_counters(_metadata, self->p, 1, 0);

	/* the default port has no listener either: reset */
	none2 = fw_free_port();
	ASSERT_EQ(0, fw_rule(TCP_FW_EDIT_RULE, TCP_ADDR_FW, self->p, none2));
	expect_reset(_metadata, self, "127.0.0.2");
	expect_counters(_metadata, self->p, 1, 1);
}

TEST_F(fw, full_queue)
{
	uint16_t rp;
	int r, i, w, s, c[6], d = 0;

	/* backlog 1: two connections fit in the queue, never accepted */
	r = fw_listen("::", 0, 1, false, &rp);
	ASSERT_LE(0, r);
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, rp, 100));
	for (i = 0; i < 6; i++) {
		c[i] = fw_connect(NULL, "127.0.0.1", self->p);
		ASSERT_LE(0, c[i]);
		skex_sleep_ms(50);
	}
	while ((s = fw_accept_any(self->fd, NLST, 2000, &w)) >= 0) {
		EXPECT_EQ(IDX_D, w);
		d++;
		close(s);
	}
	EXPECT_EQ(4, d);
	EXPECT_EQ(2, fw_cfs_num(self->p, "br1", "hits"));
	expect_counters(_metadata, self->p, 4, 0);
	for (i = 0; i < 6; i++)
		close(c[i]);
	close(r);
}

TEST_F(fw, reuseport_bind)
{
	uint16_t rp, sp;
	int r[4], i, w, got[4] = {};

	r[0] = fw_listen("::", 0, 64, true, &rp);
	ASSERT_LE(0, r[0]);
	r[1] = fw_listen("::", rp, 64, true, NULL);
	ASSERT_LE(0, r[1]);
	/* local-address listeners on one port */
	r[2] = fw_listen("127.0.0.1", 0, 64, false, &sp);
	ASSERT_LE(0, r[2]);
	r[3] = fw_listen("127.0.0.2", sp, 64, false, NULL);
	ASSERT_LE(0, r[3]);

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, rp, "127.0.0.1",
			     "255.255.255.255"));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, sp, "127.0.0.3",
			     "255.255.255.255"));
	for (i = 0; i < 64; i++) {
		int c = fw_connect("127.0.0.1", "127.0.0.1", self->p), s;

		ASSERT_LE(0, c);
		s = fw_accept_any(r, 2, 5000, &w);
		ASSERT_LE(0, s);
		got[w]++;
		close(s);
		close(c);
	}
	TH_LOG("reuseport group: %d + %d", got[0], got[1]);
	EXPECT_LT(0, got[0]);
	EXPECT_LT(0, got[1]);

	for (i = 0; i < 2; i++) {
		const char *dst = i ? "127.0.0.2" : "127.0.0.1";
		int c = fw_connect("127.0.0.3", dst, self->p), s;

		ASSERT_LE(0, c);
		s = fw_accept_any(r + 2, 2, 5000, &w);
		ASSERT_LE(0, s);
		EXPECT_EQ(i, w) TH_LOG("connection to %s", dst);
		close(s);
		close(c);
	}
	for (i = 0; i < 4; i++)
		close(r[i]);
}

TEST_F(fw, seed_sequence)
{
	uint16_t p2 = fw_free_port(), p3;
	int i;

	/* 1.2: an empty rule, then conditions */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
			     "127.0.0.2", "255.255.255.255"));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[1],
			     "127.0.0.3", "255.255.255.255"));
	EXPECT_STREQ("address", fw_cfs_get(self->p, NULL, "type"));
	EXPECT_STREQ("1", fw_cfs_get(self->p, NULL, "enable"));
	EXPECT_TRUE(fw_cfs_exists(self->p, "br1"));
	EXPECT_TRUE(fw_cfs_exists(self->p, "br2"));
	EXPECT_EQ(0, one_conn(_metadata, self, "127.0.0.2", "127.0.0.1", "1", 5000));
	EXPECT_EQ(1, one_conn(_metadata, self, "127.0.0.3", "127.0.0.1", "2", 5000));

	/* 1.3.1: remove a condition; the wrong port does not match it */
	EXPECT_EQ(-ENOENT, fw_addr(TCP_FW_DEL_BRANCH, self->p, self->port[1],
				   "127.0.0.2", "255.255.255.255"));
	ASSERT_EQ(0, fw_addr(TCP_FW_DEL_BRANCH, self->p, self->port[0],
			     "127.0.0.2", "255.255.255.255"));
	EXPECT_FALSE(fw_cfs_exists(self->p, "br1"));
	EXPECT_EQ(-ENOENT, fw_addr(TCP_FW_DEL_BRANCH, self->p, self->port[0],
				   "127.0.0.2", "255.255.255.255"));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, "127.0.0.2", "127.0.0.1", "3", 5000));

	/* 1.3.2: remove all conditions */
	ASSERT_EQ(0, fw_rule(TCP_FW_FLUSH_BRANCH, TCP_ADDR_FW, self->p, 0));
	EXPECT_FALSE(fw_cfs_exists(self->p, "br2"));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, "127.0.0.3", "127.0.0.1", "4", 5000));

	/* 1.4.1: the default port, with the seed's spelling */
	ASSERT_EQ(0, fw_rule(TCP_FW_EIDT_RULE, TCP_ADDR_FW, self->p,
			     self->port[2]));
	EXPECT_EQ(self->port[2], fw_cfs_num(self->p, NULL, "default_port"));
	EXPECT_EQ(2, one_conn(_metadata, self, "127.0.0.3", "127.0.0.1", "5", 5000));
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_EDIT_RULE, TCP_DICE_FW, self->p,
				   self->port[1]));

	/* 1.4.2: remove the rule; its port is free again */
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, self->p, 0));
	EXPECT_FALSE(fw_cfs_exists(self->p, NULL));
	EXPECT_EQ(-ENOENT, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, self->p, 0));
	EXPECT_GT(0, fw_connect(NULL, "127.0.0.1", self->p));

	/* 1.4.3: all the rules of one type */
	p3 = fw_free_port();
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p, self->port[0]));
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, p2, self->port[0]));
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, p3, self->port[0]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, p2, self->port[1], "10.0.0.0",
			     "255.0.0.0"));
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, 0, 0));
	EXPECT_FALSE(fw_cfs_exists(self->p, NULL));
	EXPECT_FALSE(fw_cfs_exists(p2, NULL));
	EXPECT_TRUE(fw_cfs_exists(p3, NULL));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, 0, 0));
	EXPECT_FALSE(fw_cfs_exists(p3, NULL));
}

static int unprivileged_add(uint16_t p, uint16_t d)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		/* nobody, no capabilities */
		if (setgid(65534) || setuid(65534))
			_exit(99);
		_exit(-fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, p, d) & 0xff);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

TEST_F(fw, bad_input)
{
	uint16_t d = self->port[IDX_D];
	long pg = sysconf(_SC_PAGESIZE);
	struct tcp_fw_user u;
	char *map, big[300];
	int fd;

	memset(big, 'x', sizeof(big));
	/* rules */
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_ADD_RULE, 0, self->p, d));
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_ADD_RULE, 4, self->p, d));
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 0, d));
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p, 0));
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p, self->p));
	EXPECT_EQ(-EADDRINUSE, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW,
				       self->port[0], d));
	EXPECT_FALSE(fw_cfs_exists(self->port[0], NULL));
	EXPECT_EQ(-ENOENT, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				   "127.0.0.1", "255.255.255.255"));
	/* port 0 is never a rule's: a bad value, whatever the command */
	EXPECT_EQ(-EINVAL, fw_addr(TCP_FW_ADD_BRANCH, 0, self->port[0],
				   "127.0.0.1", "255.255.255.255"));
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_EDIT_RULE, TCP_ADDR_FW, 0, d));
	EXPECT_EQ(-EINVAL, fw_rule(TCP_FW_FLUSH_BRANCH, TCP_ADDR_FW, 0, 0));
	EXPECT_EQ(EPERM, unprivileged_add(self->p, d));
	EXPECT_FALSE(fw_cfs_exists(self->p, NULL));

	/* too short an optlen, a faulting structure */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	memset(&u, 0, sizeof(u));
	u.type = TCP_ADDR_FW;
	u.port = self->p;
	u.def_port = d;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FW_ADD_RULE, &u, sizeof(u) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FW_ADD_RULE,
				 (void *)8, sizeof(u)));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
	EXPECT_FALSE(fw_cfs_exists(self->p, NULL));

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p, d));
	EXPECT_EQ(-EEXIST, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p, d));
	/* patterns */
	EXPECT_EQ(-EINVAL, fw_content(TCP_FW_ADD_BRANCH, self->p, self->port[0], "", 0));
	EXPECT_EQ(-EINVAL, fw_content(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				      big, 257));
	EXPECT_EQ(0, fw_content(TCP_FW_ADD_BRANCH, self->p, self->port[0], big, 256));
	EXPECT_EQ(-EFAULT, fw_content(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				      (void *)8, 4));
	/* ptn_len longer than the string: runs into an unmapped page */
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + pg, pg));
	strcpy(map + pg - 4, "abc");
	EXPECT_EQ(-EFAULT, fw_content(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				      map + pg - 4, 10));
	EXPECT_EQ(0, fw_content(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				map + pg - 4, 3));
	munmap(map, pg);
	EXPECT_EQ(-EINVAL, fw_content_str(TCP_FW_ADD_BRANCH, self->p, 0, "zz"));
	EXPECT_EQ(-EINVAL, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->p, "zz"));
	/* the wrong type for the rule */
	EXPECT_EQ(-EINVAL, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0], 10));
	EXPECT_TRUE(fw_cfs_exists(self->p, "br2"));
	EXPECT_FALSE(fw_cfs_exists(self->p, "br3"));
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_CONTENT_FW, self->p, 0));

	/* chances */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p, d));
	EXPECT_EQ(-EINVAL, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0], 101));
	EXPECT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0], 60));
	EXPECT_EQ(-EINVAL, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[1], 41));
	EXPECT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[1], 40));
	EXPECT_FALSE(fw_cfs_exists(self->p, "br4"));
	EXPECT_EQ(-ENOENT, fw_dice(TCP_FW_DEL_BRANCH, self->p, self->port[1], 41));
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, self->p, 0));

	/* masks */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p, d));
	EXPECT_EQ(-EINVAL, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				   "10.0.0.0", "255.0.255.0"));
	EXPECT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
			     "10.1.2.3", "255.255.0.0"));
	EXPECT_STREQ("10.1.0.0/16", fw_cfs_get(self->p, "br1", "source"));
}

/* @n clients that sent @msg (no match) and wait; all must reach D. */
static void park(struct __test_metadata *_metadata, FIXTURE_DATA(fw) *self,
		 int *c, int n, const char *msg)
{
	int i;

	for (i = 0; i < n; i++) {
		c[i] = fw_connect(NULL, "127.0.0.1", self->p);
		ASSERT_LE(0, c[i]);
		ASSERT_EQ(0, fw_write_all(c[i], msg, strlen(msg)));
	}
	skex_sleep_ms(300);
	EXPECT_GT(0, fw_accept_any(self->fd, NLST, 0, &i));
}

static void collect(struct __test_metadata *_metadata, FIXTURE_DATA(fw) *self,
		    int *c, int n, const char *msg)
{
	char buf[64];
	int i, s, w, got = 0;

	while (got < n && (s = fw_accept_any(self->fd, NLST, 5000, &w)) >= 0) {
		EXPECT_EQ(IDX_D, w);
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(0, fw_read_exact(s, buf, strlen(msg), 5000));
		EXPECT_STREQ(msg, buf);
		close(s);
		got++;
	}
	EXPECT_EQ(n, got);
	for (i = 0; i < n; i++)
		close(c[i]);
}

TEST_F(fw, disable_pending)
{
	int c[16];

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "/images/"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "60000"));
	/* undecided until window or timeout, not at the first write */
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "window"));

	park(_metadata, self, c, 16, "GET /im");
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "0"));
	collect(_metadata, self, c, 16, "GET /im");
	expect_counters(_metadata, self->p, 16, 0);
	EXPECT_GT(0, fw_connect(NULL, "127.0.0.1", self->p));

	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "1"));
	EXPECT_EQ(0, one_conn(_metadata, self, NULL, "127.0.0.1",
			      "GET /images/", 5000));
	park(_metadata, self, c, 16, "GET /x");
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_CONTENT_FW, self->p, 0));
	collect(_metadata, self, c, 16, "GET /x");
}

/*
 * Issue 14's race: @RACE_N clients connect to a content rule without
 * sending, it is disabled, then each in turn sends "\r\n\r\n" and waits
 * for the answer of D's server, which serves one connection at a time, in
 * accept order, with a 5 s read timeout. D must get the connections in
 * the order they arrived (as its own accept queue would have given them),
 * each with its bytes.
 */
#define RACE_N		5
#define RACE_ROUNDS	25

struct race_srv {
	int lfd;
	int n;			/* connections to serve */
	int timeouts;		/* read timeouts: bytes not there in 5 s */
	int ahead;		/* bytes there, poll() not woken */
	struct sockaddr_storage order[RACE_N];	/* peers, in accept order */
};

static void *race_srv_main(void *arg)
{
	struct race_srv *srv = arg;
	int i;

	for (i = 0; i < srv->n; i++) {
		socklen_t len = sizeof(srv->order[i]);
		struct pollfd pf = { .events = POLLIN };
		char buf[4];
		int a, q = 0;

		pf.fd = srv->lfd;
		if (poll(&pf, 1, 15000) != 1)
			break;
		a = accept(srv->lfd, (struct sockaddr *)&srv->order[i], &len);
		if (a < 0)
			break;
		fw_unmap(&srv->order[i]);
		pf.fd = a;
		if (poll(&pf, 1, 5000) != 1) {
			/* nothing, or a wake-up lost? */
			if (!ioctl(a, FIONREAD, &q) && q > 0)
				srv->ahead++;
			srv->timeouts++;
			close(a);
			continue;
		}
		if (fw_read_exact(a, buf, 4, 5000) || memcmp(buf, "\r\n\r\n", 4))
			srv->timeouts++;
		else
			fw_write_all(a, "ok", 2);
		close(a);
	}
	return NULL;
}

TEST_F_TIMEOUT(fw, disable_race, 600)
{
	struct sockaddr_storage cli[RACE_N];
	int c[RACE_N], r, i, lost = 0, eofs = 0, reordered = 0;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "/images/"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "10000"));

	for (r = 0; r < RACE_ROUNDS; r++) {
		struct race_srv srv = { .lfd = self->fd[IDX_D], .n = RACE_N };
		pthread_t th;

		if (r)
			ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "1"));
		for (i = 0; i < RACE_N; i++) {
			socklen_t len = sizeof(cli[i]);

			c[i] = fw_connect(NULL, "127.0.0.1", self->p);
			ASSERT_LE(0, c[i]);
			getsockname(c[i], (struct sockaddr *)&cli[i], &len);
		}
		skex_sleep_ms(300);
		ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "0"));
		ASSERT_EQ(0, pthread_create(&th, NULL, race_srv_main, &srv));
		for (i = 0; i < RACE_N; i++) {
			char buf[4] = {};

			ASSERT_EQ(0, fw_write_all(c[i], "\r\n\r\n", 4));
			if (fw_read_exact(c[i], buf, 2, 20000) ||
			    memcmp(buf, "ok", 2))
				eofs++;
		}
		pthread_join(th, NULL);
		for (i = 0; i < RACE_N; i++) {
			if (!fw_same_addr(&cli[i], &srv.order[i]))
				reordered++;
			close(c[i]);
		}
		lost += srv.timeouts;
		if (srv.ahead)
			TH_LOG("round %d: %d connection(s) with bytes but no wake-up",
			       r, srv.ahead);
		EXPECT_EQ(0, srv.ahead);
	}
	TH_LOG("%d rounds of %d: %d EOF, %d read timeouts, %d out of order",
	       RACE_ROUNDS, RACE_N, eofs, lost, reordered);
	EXPECT_EQ(0, eofs);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, reordered);
	expect_counters(_metadata, self->p, RACE_ROUNDS * RACE_N, 0);
}

struct churn {
	uint16_t p;
	uint16_t r[2];
	uint16_t d[2];
	volatile bool stop;
	int errors;
	int rounds;
};

static void *churn_main(void *arg)
{
	struct churn *ch = arg;
	int i = 0;

	while (!ch->stop) {
		if (fw_content_str(TCP_FW_ADD_BRANCH, ch->p, ch->r[i & 1], "/b") ||
		    fw_rule(TCP_FW_EDIT_RULE, TCP_CONTENT_FW, ch->p, ch->d[i & 1]) ||
		    fw_content_str(TCP_FW_DEL_BRANCH, ch->p, ch->r[i & 1], "/b"))
			ch->errors++;
		i++;
		ch->rounds = i;
	}
	return NULL;
}

TEST_F_TIMEOUT(fw, edit_under_traffic, 240)
{
	struct churn ch = {
		.p = self->p,
		.r = { self->port[1], self->port[2] },
		.d = { self->port[IDX_D], self->port[2] },
	};
	int i, n = 300, got[NLST] = {};
	pthread_t th;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "/a"));
	ASSERT_EQ(0, pthread_create(&th, NULL, churn_main, &ch));
	for (i = 0; i < n; i++) {
		int w = one_conn(_metadata, self, NULL, "127.0.0.1",
				 i & 1 ? "GET /b HTTP/1.0\r\n\r\n" :
					 "GET /a HTTP/1.0\r\n\r\n", 5000);

		ASSERT_LE(0, w);
		got[w]++;
		/* /a always goes to R1; /b never does */
		EXPECT_EQ(!(i & 1), w == 0);
	}
	ch.stop = true;
	pthread_join(th, NULL);
	TH_LOG("%d churn rounds; R1 %d R2 %d R3 %d D %d", ch.rounds, got[0],
	       got[1], got[2], got[3]);
	EXPECT_EQ(0, ch.errors);
	EXPECT_EQ(0, fw_cfs_num(self->p, NULL, "dropped"));
}

#define NBIG	1500

TEST_F_TIMEOUT(fw, many_branches, 300)
{
	char src[32];
	int i;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	for (i = 0; i < NBIG; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.1", i / 250, i % 250);
		ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[1],
				     src, "255.255.255.255")) TH_LOG("branch %d", i);
	}
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
			     "127.0.0.0", "255.0.0.0"));
	EXPECT_EQ(0, one_conn(_metadata, self, "127.0.0.1", "127.0.0.1", "x", 5000));
	/* each deletion publishes a snapshot of what is left, and cannot fail */
	for (i = 0; i < NBIG; i++) {
		snprintf(src, sizeof(src), "10.%d.%d.1", i / 250, i % 250);
		ASSERT_EQ(0, fw_addr(TCP_FW_DEL_BRANCH, self->p, self->port[1],
				     src, "255.255.255.255")) TH_LOG("branch %d", i);
		if (i == NBIG / 2)
			EXPECT_EQ(0, one_conn(_metadata, self, "127.0.0.1",
					      "127.0.0.1", "y", 5000));
	}
	EXPECT_EQ(0, one_conn(_metadata, self, "127.0.0.1", "127.0.0.1", "z", 5000));
	EXPECT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, self->p, 0));
}

TEST_F(fw, addr6_netns)
{
	static const char *const addrs[] = { "fd00::1", "fd00::2", NULL };
	uint16_t d;
	struct tcp_fw_addr6_user a;
	char row[512], want[512];
	int i, fd;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, fw_netns_lo(addrs));
	for (i = 0; i < NLST; i++) {
		close(self->fd[i]);
		self->fd[i] = fw_listen(i == 2 ? "0.0.0.0" : "::",
					self->port[i], 256, false, NULL);
		ASSERT_LE(0, self->fd[i]) TH_LOG("listen: %s", strerror(errno));
	}
	d = self->port[IDX_D];
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p, d));
	ASSERT_EQ(0, fw_addr6(TCP_FW_ADD_BRANCH6, self->p, self->port[0],
			      "fd00::1234", 64));
	ASSERT_EQ(0, fw_addr6(TCP_FW_ADD_BRANCH6, self->p, self->port[1],
			      "fd00::2", 128));
	/* v4-mapped: an IPv4 branch, 127.0.0.0/8 */
	ASSERT_EQ(0, fw_addr6(TCP_FW_ADD_BRANCH6, self->p, self->port[2],
			      "::ffff:127.1.2.3", 104));
	EXPECT_EQ(-EEXIST, fw_addr6(TCP_FW_ADD_BRANCH6, self->p, self->port[2],
				    "fd00::9", 64));
	/* the seed's structure names the same IPv4 branch */
	EXPECT_EQ(-EEXIST, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				   "127.0.0.0", "255.0.0.0"));

	EXPECT_EQ(0, one_conn(_metadata, self, "fd00::1", "::1", "a", 5000));
	EXPECT_EQ(1, one_conn(_metadata, self, "fd00::2", "::1", "b", 5000));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, "::1", "::1", "c", 5000));
	EXPECT_EQ(2, one_conn(_metadata, self, "127.0.0.1", "127.0.0.1", "d", 5000));

	ASSERT_EQ(0, fw_proc_row(self->p, "br1", row, sizeof(row)));
	snprintf(want, sizeof(want), "%u br1 address %u - - - fd00::/64 - - 1 - - -",
		 self->p, self->port[0]);
	EXPECT_STREQ(want, row);
	ASSERT_EQ(0, fw_proc_row(self->p, "br2", row, sizeof(row)));
	snprintf(want, sizeof(want), "%u br2 address %u - - - fd00::2/128 - - 1 - - -",
		 self->p, self->port[1]);
	EXPECT_STREQ(want, row);
	ASSERT_EQ(0, fw_proc_row(self->p, "br3", row, sizeof(row)));
	snprintf(want, sizeof(want), "%u br3 address %u - - - 127.0.0.0/8 - - 1 - - -",
		 self->p, self->port[2]);
	EXPECT_STREQ(want, row);

	/* bad fields: precise errors, nothing made */
	EXPECT_EQ(-EINVAL, fw_addr6(TCP_FW_ADD_BRANCH6, self->p, self->port[0],
				    "::ffff:10.0.0.0", 80));	/* mapped, < 96 */
	EXPECT_EQ(-EINVAL, fw_addr6(TCP_FW_ADD_BRANCH6, 0, self->port[0],
				    "fd01::", 64));
	EXPECT_EQ(-EINVAL, fw_addr6(TCP_FW_ADD_BRANCH6, self->p, 0, "fd01::", 64));
	EXPECT_EQ(-EINVAL, fw_addr6(TCP_FW_ADD_BRANCH6, self->p, self->p,
				    "fd01::", 64));
	EXPECT_EQ(-ENOENT, fw_addr6(TCP_FW_ADD_BRANCH6, self->p + 1 ?: 1,
				    self->port[0], "fd01::", 64));
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	memset(&a, 0, sizeof(a));
	a.type = TCP_ADDR_FW;
	a.port = self->p;
	a.redir_port = self->port[0];
	inet_pton(AF_INET6, "fd01::", &a.src);
	fw_mask6(&a.src_mask, 64);
	a.src_mask.s6_addr[15] = 1;		/* not a prefix */
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FW_ADD_BRANCH6, &a, sizeof(a)));
	EXPECT_EQ(EINVAL, errno);
	fw_mask6(&a.src_mask, 64);
	a.reserved = 1;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FW_ADD_BRANCH6, &a, sizeof(a)));
	EXPECT_EQ(EINVAL, errno);
	a.reserved = 0;
	a.type = TCP_DICE_FW;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FW_ADD_BRANCH6, &a, sizeof(a)));
	EXPECT_EQ(EINVAL, errno);
	a.type = TCP_ADDR_FW;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FW_ADD_BRANCH6, &a, sizeof(a) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FW_ADD_BRANCH6, (void *)8, sizeof(a)));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
	EXPECT_NE(0, fw_proc_row(self->p, "br4", row, sizeof(row)));
	/* another type's rule */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->port[0] + 1 ?: 1, d));
	EXPECT_EQ(-EINVAL, fw_addr6(TCP_FW_ADD_BRANCH6, self->port[0] + 1 ?: 1,
				    self->port[1], "fd01::", 64));

	/* delete: the same fields; fd00::2 then goes by the /64 */
	EXPECT_EQ(-ENOENT, fw_addr6(TCP_FW_DEL_BRANCH6, self->p, self->port[0],
				    "fd00::2", 128));
	EXPECT_EQ(0, fw_addr6(TCP_FW_DEL_BRANCH6, self->p, self->port[1],
			      "fd00::2", 128));
	EXPECT_EQ(-ENOENT, fw_addr6(TCP_FW_DEL_BRANCH6, self->p, self->port[1],
				    "fd00::2", 128));
	EXPECT_NE(0, fw_proc_row(self->p, "br2", row, sizeof(row)));
	EXPECT_EQ(0, one_conn(_metadata, self, "fd00::2", "::1", "e", 5000));
	ASSERT_EQ(0, fw_proc_row(self->p, "-", row, sizeof(row)));
	snprintf(want, sizeof(want), "%u - address %u 1 1000 2048 - - - 1 0 - -",
		 self->p, d);
	EXPECT_STREQ(want, row);
}

/* The names of the branch directories of rule @p, sorted, space-separated. */
static const char *fw_cfs_branches(uint16_t p)
{
	static char out[512];
	struct dirent **ents;
	char path[256];
	int i, n;

	out[0] = '\0';
	snprintf(path, sizeof(path), FW_CFS "/%u/branches", p);
	n = scandir(path, &ents, NULL, alphasort);
	for (i = 0; i < n; i++) {
		size_t len = strlen(out);

		if (ents[i]->d_name[0] != '.' &&
		    len + strlen(ents[i]->d_name) + 2 < sizeof(out))
			sprintf(out + len, "%s%s", len ? " " : "",
				ents[i]->d_name);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	return out;
}

TEST_F(fw, replace_rule)
{
	uint16_t d = self->port[IDX_D], p = self->p;
	struct tcp_fw_branch_user br[4], one;
	struct tcp_fw_replace_user r, keep;
	char name32[33], delim[] = "\r\n\r\n";
	long pg = sysconf(_SC_PAGESIZE);
	char *map;
	int i;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, p, d));
	ASSERT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, p, self->port[0], 100));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, one_conn(_metadata, self, NULL, "127.0.0.1", "a", 5000));
	EXPECT_EQ(3, fw_cfs_num(p, "br1", "hits"));

	/* the same rule, br1 to another port: br1 keeps its hits */
	fw_repl(&r, TCP_DICE_FW, p, d, br, 1);
	fw_br(&br[0], "br1", self->port[1]);
	br[0].chance = 100;
	ASSERT_EQ(0, fw_replace(&r));
	EXPECT_EQ(1, one_conn(_metadata, self, NULL, "127.0.0.1", "b", 5000));
	EXPECT_EQ(4, fw_cfs_num(p, "br1", "hits"));
	EXPECT_STREQ("br1", fw_cfs_branches(p));

	/* an address rule now: br1 goes, three branches come */
	fw_repl(&r, TCP_ADDR_FW, p, d, br, 3);
	fw_br_addr(&br[0], "lan", self->port[2], "::ffff:127.0.0.0", 104);
	fw_br_addr(&br[1], "v6", self->port[0], "::1", 128);
	fw_br_addr(&br[2], "w", self->port[1], "fd00::", 8);
	ASSERT_EQ(0, fw_replace(&r));
	EXPECT_STREQ("lan v6 w", fw_cfs_branches(p));
	EXPECT_STREQ("address", fw_cfs_get(p, NULL, "type"));
	EXPECT_STREQ("127.0.0.0/8", fw_cfs_get(p, "lan", "source"));
	EXPECT_STREQ("::1/128", fw_cfs_get(p, "v6", "source"));
	EXPECT_STREQ("1", fw_cfs_get(p, NULL, "enable"));
	EXPECT_EQ(2, one_conn(_metadata, self, "127.0.0.1", "127.0.0.1", "c", 5000));
	EXPECT_EQ(0, one_conn(_metadata, self, "::1", "::1", "d", 5000));
	EXPECT_EQ(1, fw_cfs_num(p, "lan", "hits"));
	EXPECT_EQ(1, fw_cfs_num(p, "v6", "hits"));

	/* content, anchored, a delimiter, an unnamed branch (br1) */
	fw_repl(&r, TCP_CONTENT_FW, p, d, br, 2);
	r.until = TCP_FW_UNTIL_DELIM;
	r.delim = (uintptr_t)delim;
	r.delim_len = 4;
	r.timeout_ms = 500;
	r.window = 4096;
	fw_br_content(&br[0], "img", self->port[0], "GET /img", 0);
	fw_br_content(&br[1], "", self->port[1], "xyz", -1);
	ASSERT_EQ(0, fw_replace(&r));
	EXPECT_STREQ("br1 img", fw_cfs_branches(p));
	EXPECT_STREQ("content", fw_cfs_get(p, NULL, "type"));
	EXPECT_STREQ("\\r\\n\\r\\n", fw_cfs_get(p, NULL, "until"));
	EXPECT_STREQ("500", fw_cfs_get(p, NULL, "timeout_ms"));
	EXPECT_STREQ("4096", fw_cfs_get(p, NULL, "window"));
	EXPECT_STREQ("0", fw_cfs_get(p, "img", "offset"));
	EXPECT_STREQ("any", fw_cfs_get(p, "br1", "offset"));
	EXPECT_STREQ("GET /img", fw_cfs_get(p, "img", "pattern"));
	EXPECT_EQ(0, one_conn(_metadata, self, NULL, "127.0.0.1",
			      "GET /img/a HTTP/1.0\r\n\r\n", 5000));
	EXPECT_EQ(1, one_conn(_metadata, self, NULL, "127.0.0.1",
			      "GET /xyz HTTP/1.0\r\n\r\n", 5000));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, NULL, "127.0.0.1",
				  "POST /img HTTP/1.0\r\n\r\n", 5000));
	/* the rule's counters went on: one default hit, nothing dropped */
	expect_counters(_metadata, p, 1, 0);

	/* bad fields: each refused with its errno, nothing changed */
	keep = r;
#define BAD(err, ...) do {						\
		r = keep;						\
		fw_br_content(&br[0], "img", self->port[0], "GET /img", 0); \
		fw_br_content(&br[1], "", self->port[1], "xyz", -1);	\
		__VA_ARGS__;						\
		EXPECT_EQ(err, fw_replace(&r)) TH_LOG("%s", #__VA_ARGS__); \
	} while (0)
	BAD(-ENOENT, r.port = p + 1 ?: 1);
	BAD(-EINVAL, r.port = 0);
	BAD(-EINVAL, r.type = 0);
	BAD(-EINVAL, r.type = 4);
	BAD(-EINVAL, r.reserved = 1);
	BAD(-EINVAL, r.def_port = 0);
	BAD(-EINVAL, r.def_port = p);
	BAD(-E2BIG, r.nbranches = TCP_FW_BRANCHES_MAX + 1);
	BAD(-EFAULT, r.branches = 8);
	BAD(-EFAULT, r.delim = 8);
	BAD(-EINVAL, r.delim_len = 0);
	BAD(-EINVAL, r.delim_len = 257);
	BAD(-EINVAL, r.until = 0);
	BAD(-EINVAL, r.until = 4);
	BAD(-EINVAL, r.until = TCP_FW_UNTIL_PUSH);	/* with a delimiter */
	BAD(-ERANGE, r.timeout_ms = 3600001);
	BAD(-ERANGE, r.window = 65537);
	BAD(-EINVAL, br[1].redir_port = 0);
	BAD(-EINVAL, br[1].redir_port = p);
	BAD(-EINVAL, br[1].ptn_len = 0);
	BAD(-EINVAL, br[1].ptn_len = 257);
	BAD(-EFAULT, br[1].pattern = 8);
	BAD(-EINVAL, br[1].chance = 5);
	BAD(-EINVAL, br[1].reserved = 1);
	BAD(-EINVAL, br[1].flags = 2);
	BAD(-EINVAL, br[1].offset = 3);			/* not anchored */
	BAD(-ERANGE, br[0].offset = 65536);
	BAD(-EINVAL, br[1].src.s6_addr[0] = 1);
	BAD(-EEXIST, strcpy(br[1].name, "img"));
	BAD(-EEXIST, fw_br_content(&br[1], "x", self->port[1], "GET /img", 0));
	BAD(-EINVAL, strcpy(br[1].name, "a/b"));
	BAD(-EINVAL, strcpy(br[1].name, ".."));
	BAD(-EINVAL, memcpy(br[1].name, "a\0b", 4));	/* an embedded NUL */
	memset(name32, 'n', sizeof(name32));
	BAD(-EINVAL, memcpy(br[1].name, name32, 32));	/* no NUL */
	/* a dice rule: content fields must be 0, chances <= 100 in all */
	BAD(-EINVAL, r.type = TCP_DICE_FW);
	BAD(-EINVAL, r.type = TCP_DICE_FW; r.until = 0; r.delim = 0;
	    r.delim_len = 0; r.timeout_ms = 0; r.window = 0;
	    fw_br(&br[0], "a", self->port[0]); br[0].chance = 60;
	    fw_br(&br[1], "b", self->port[1]); br[1].chance = 41);
	BAD(-EINVAL, r.type = TCP_ADDR_FW; r.until = 0; r.delim = 0;
	    r.delim_len = 0; r.timeout_ms = 0; r.window = 0;
	    fw_br_addr(&br[0], "a", self->port[0], "::ffff:10.0.0.0", 64);
	    fw_br_addr(&br[1], "b", self->port[1], "fd00::", 8));
	BAD(-EINVAL, r.type = TCP_ADDR_FW; r.until = 0; r.delim = 0;
	    r.delim_len = 0; r.timeout_ms = 0; r.window = 0;
	    fw_br_addr(&br[0], "a", self->port[0], "fd00::", 8);
	    br[0].src_mask.s6_addr[15] = 1;
	    fw_br_addr(&br[1], "b", self->port[1], "fd01::", 16));
	/* a pattern running into an unmapped page */
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, munmap(map + pg, pg));
	strcpy(map + pg - 4, "abc");
	BAD(-EFAULT, br[1].pattern = (uintptr_t)(map + pg - 4); br[1].ptn_len = 10);
	/* the branch array running into it */
	memcpy(map + pg - sizeof(one), &br[0], sizeof(one));
	BAD(-EFAULT, r.branches = (uintptr_t)(map + pg - sizeof(one)));
	munmap(map, pg);
	r = keep;
	EXPECT_EQ(-EINVAL, fw_replace_len(&r, sizeof(r) - 1));
#undef BAD
	EXPECT_STREQ("br1 img", fw_cfs_branches(p));
	EXPECT_STREQ("content", fw_cfs_get(p, NULL, "type"));
	EXPECT_STREQ("500", fw_cfs_get(p, NULL, "timeout_ms"));
	EXPECT_EQ(0, one_conn(_metadata, self, NULL, "127.0.0.1",
			      "GET /img/b HTTP/1.0\r\n\r\n", 5000));
	EXPECT_EQ(2, fw_cfs_num(p, "img", "hits"));

	/* no branches at all; a rule made by mkdir is replaced too */
	fw_repl(&r, TCP_DICE_FW, p, self->port[2], NULL, 0);
	ASSERT_EQ(0, fw_replace(&r));
	EXPECT_STREQ("", fw_cfs_branches(p));
	EXPECT_EQ(2, one_conn(_metadata, self, "127.0.0.1", "127.0.0.1", "e", 5000));
	expect_counters(_metadata, p, 2, 0);
}

struct fw_opt {
	const char *name;
	int level, opt;
	int val;		/* an int option: the value to set */
	size_t len;		/* other options: their size */
	const void *set;
};

static const struct timeval fw_tv = { .tv_sec = 2, .tv_usec = 500000 };
static const struct linger fw_lin = { .l_onoff = 1, .l_linger = 7 };

static const struct fw_opt fw_opts[] = {
	{ "TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 1, 0, NULL },
	{ "SO_KEEPALIVE", SOL_SOCKET, SO_KEEPALIVE, 1, 0, NULL },
	{ "TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, 77, 0, NULL },
	{ "TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, 13, 0, NULL },
	{ "TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, 4, 0, NULL },
	{ "SO_RCVBUF", SOL_SOCKET, SO_RCVBUF, 200000, 0, NULL },
	{ "SO_SNDBUF", SOL_SOCKET, SO_SNDBUF, 300000, 0, NULL },
	{ "SO_MARK", SOL_SOCKET, SO_MARK, 42, 0, NULL },
	{ "SO_RCVLOWAT", SOL_SOCKET, SO_RCVLOWAT, 3, 0, NULL },
	{ "SO_OOBINLINE", SOL_SOCKET, SO_OOBINLINE, 1, 0, NULL },
	{ "TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT, 12345, 0, NULL },
	{ "TCP_NOTSENT_LOWAT", IPPROTO_TCP, TCP_NOTSENT_LOWAT, 99999, 0, NULL },
	{ "TCP_LINGER2", IPPROTO_TCP, TCP_LINGER2, 9, 0, NULL },
	{ "SO_RCVTIMEO", SOL_SOCKET, SO_RCVTIMEO, 0, sizeof(fw_tv), &fw_tv },
	{ "SO_SNDTIMEO", SOL_SOCKET, SO_SNDTIMEO, 0, sizeof(fw_tv), &fw_tv },
	{ "SO_LINGER", SOL_SOCKET, SO_LINGER, 0, sizeof(fw_lin), &fw_lin },
};

/* The value of option @o on @fd, as bytes, in @buf[64]; its length. */
static socklen_t fw_getopt(int fd, const struct fw_opt *o, char *buf)
{
	socklen_t len = 64;

	memset(buf, 0, 64);
	if (getsockopt(fd, o->level, o->opt, buf, &len))
		return 0;
	return len;
}

TEST_F_TIMEOUT(fw, mirror_race, 240)
{
	uint16_t d = self->port[IDX_D], p = self->p;
	struct tcp_fw_branch_user br;
	struct tcp_fw_replace_user r;
	char dir[256], row[512], c;
	int replaced = 0, status, stop[2];
	time_t t0, end;
	pid_t pid;

	if (access(FW_CFS, F_OK))
		SKIP(return, "configfs not mounted");
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, p, d));
	fw_repl(&r, TCP_ADDR_FW, p, d, &br, 1);
	fw_br_addr(&br, "k", self->port[0], "::ffff:127.0.0.0", 104);
	ASSERT_EQ(0, fw_replace(&r));
	fw_cfs_path(dir, sizeof(dir), p, "u", NULL);

	ASSERT_EQ(0, pipe(stop));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/*
		 * A user's branch, made and removed in a loop until the
		 * parent closes the pipe. A replace that comes after the
		 * mkdir removes it for good (ENOENT); one that the mirror
		 * began before must leave it alone.
		 */
		close(stop[1]);
		fcntl(stop[0], F_SETFL, O_NONBLOCK);
		while (read(stop[0], &c, 1) < 0 && errno == EAGAIN) {
			if (mkdir(dir, 0755) && errno != EEXIST)
				_exit(2);
			if (rmdir(dir) && errno != ENOENT)
				_exit(3);
		}
		_exit(0);
	}
	close(stop[0]);
	/*
	 * 10 s and at least 100 replaces racing the loop: a debug kernel
	 * beside the fuzzer made 89 in 10 s (a replace waits for grace
	 * periods), too few to count as a race.
	 */
	t0 = time(NULL);
	end = t0 + 10;
	while (time(NULL) < end || replaced < 100) {
		ASSERT_EQ(0, fw_replace(&r));
		replaced++;
	}
	close(stop[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("mkdir/rmdir loop: status %#x (2: mkdir, 3: rmdir failed)",
		       status);
	TH_LOG("%d replaces in %ld s", replaced, (long)(time(NULL) - t0));
	/* the tree and the engine agree: k only */
	EXPECT_STREQ("k", fw_cfs_branches(p));
	EXPECT_EQ(0, fw_proc_row(p, "k", row, sizeof(row)));
	EXPECT_EQ(-1, fw_proc_row(p, "u", row, sizeof(row)))
		TH_LOG("the engine still has branch u: %s", row);
}

TEST_F(fw, listener_options)
{
	char direct[64], fwd[64], dflt[64];
	int c1, c2, a1, a2, which, i;
	socklen_t l1, l2, l3;

	for (i = 0; i < (int)ARRAY_SIZE(fw_opts); i++) {
		const struct fw_opt *o = &fw_opts[i];

		ASSERT_EQ(0, setsockopt(self->fd[0], o->level, o->opt,
					o->set ? o->set : (const void *)&o->val,
					o->set ? (socklen_t)o->len : sizeof(int)))
			TH_LOG("%s: %s", o->name, strerror(errno));
	}
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
			     "127.0.0.0", "255.0.0.0"));

	/* one connection straight to R1, one through the rule */
	c1 = fw_connect(NULL, "127.0.0.1", self->port[0]);
	ASSERT_LE(0, c1);
	a1 = fw_accept_any(self->fd, 1, 5000, &which);
	ASSERT_LE(0, a1);
	c2 = fw_connect(NULL, "127.0.0.1", self->p);
	ASSERT_LE(0, c2);
	a2 = fw_accept_any(self->fd, 1, 5000, &which);
	ASSERT_LE(0, a2) TH_LOG("the forwarded connection did not reach R1");

	for (i = 0; i < (int)ARRAY_SIZE(fw_opts); i++) {
		const struct fw_opt *o = &fw_opts[i];

		l1 = fw_getopt(a1, o, direct);
		l2 = fw_getopt(a2, o, fwd);
		l3 = fw_getopt(c1, o, dflt);
		ASSERT_NE(0, l1) TH_LOG("%s: %s", o->name, strerror(errno));
		EXPECT_EQ(l1, l2);
		EXPECT_EQ(0, memcmp(direct, fwd, l1)) {
			TH_LOG("%s: accepted directly %d, forwarded %d",
			       o->name, *(int *)direct, *(int *)fwd);
		}
		/* the option is one a default socket does not have */
		EXPECT_TRUE(l3 != l1 || memcmp(direct, dflt, l1)) {
			TH_LOG("%s: %d is the default", o->name, *(int *)direct);
		}
	}
	close(a1);
	close(a2);
	close(c1);
	close(c2);
}

/*
 * issue 14: the target stops listening while connections are handed to
 * it. Every client gets the default port's answer, the target's, or a
 * reset from the target's close (it was queued there); none is reset by
 * the module (dropped) while the default port listens, and no socket is
 * left behind.
 */
#define CLOSE_N		1000

struct fw_closer {
	uint16_t port;
	int dfd;		/* the default port's listener */
	volatile int stop;
	int cycles;
};

static void *fw_closer_main(void *arg)
{
	struct fw_closer *cl = arg;
	unsigned int seed = 1;

	while (!cl->stop) {
		int fd = fw_listen("::", cl->port, 64, false, NULL), a;

		if (fd < 0) {
			usleep(100);
			continue;
		}
		usleep(rand_r(&seed) % 400);
		while ((a = accept4(fd, NULL, NULL, 0)) >= 0) {
			if (write(a, "R", 1) != 1)
				break;
			close(a);
		}
		close(fd);	/* resets what is still queued */
		cl->cycles++;
	}
	return NULL;
}

static void *fw_answer_main(void *arg)
{
	struct fw_closer *cl = arg;

	while (!cl->stop) {
		struct pollfd p = { .fd = cl->dfd, .events = POLLIN };
		int a;

		if (poll(&p, 1, 50) <= 0)
			continue;
		a = accept4(cl->dfd, NULL, NULL, 0);
		if (a < 0)
			continue;
		if (write(a, "D", 1) != 1)
			break;
		close(a);
	}
	return NULL;
}

/* TCP sockets allocated in the system (/proc/net/sockstat), -1: unknown */
static long fw_tcp_alloc(void)
{
	char line[256];
	long alloc = -1;
	FILE *f = fopen("/proc/net/sockstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %*d orphan %*d tw %*d alloc %ld",
			   &alloc) == 1)
			break;
	fclose(f);
	return alloc;
}

TEST_F_TIMEOUT(fw, target_closes, 300)
{
	struct fw_closer cl = { .port = self->port[0] };
	int got_r = 0, got_d = 0, reset = 0, lost = 0, eof = 0, i;
	long base, now = -1;
	pthread_t tc, ta;
	char ch;

	close(self->fd[0]);
	self->fd[0] = -1;
	cl.dfd = self->fd[IDX_D];
	base = fw_tcp_alloc();
	ASSERT_LE(0, base);
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0], 100));
	ASSERT_EQ(0, pthread_create(&tc, NULL, fw_closer_main, &cl));
	ASSERT_EQ(0, pthread_create(&ta, NULL, fw_answer_main, &cl));
	for (i = 0; i < CLOSE_N; i++) {
		int c = fw_connect(NULL, "127.0.0.1", self->p);

		if (c < 0) {
			reset++;	/* reset before connect() returned */
			continue;
		}
		if (!fw_read_exact(c, &ch, 1, 5000)) {
			if (ch == 'R')
				got_r++;
			else
				got_d++;
		} else if (errno == ECONNRESET) {
			reset++;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			lost++;
		} else {
			eof++;
		}
		close(c);
	}
	cl.stop = 1;
	pthread_join(tc, NULL);
	pthread_join(ta, NULL);
	TH_LOG("%d to the target, %d to the default, %d reset by the target's close, %d listen cycles",
	       got_r, got_d, reset, cl.cycles);
	EXPECT_EQ(0, lost);
	EXPECT_EQ(0, eof);
	EXPECT_EQ(0, fw_cfs_num(self->p, NULL, "dropped"));
	EXPECT_EQ(got_d, fw_cfs_num(self->p, NULL, "default_hits"));
	EXPECT_EQ(got_r + reset, fw_cfs_num(self->p, "br1", "hits"));
	EXPECT_EQ(CLOSE_N, got_r + got_d + reset);

	/* every socket freed: the count is back where it was */
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, self->p, 0));
	for (i = 0; i < 100; i++) {
		now = fw_tcp_alloc();
		if (now <= base)
			break;
		skex_sleep_ms(100);
	}
	EXPECT_GE(base, now) TH_LOG("%ld TCP sockets before, %ld after", base, now);
}

/*
 * issue 14: an IPv4 client handed to an AF_INET listener gets the socket
 * an AF_INET listener's own child is (AF_INET, released by inet_release),
 * to a dual-stack listener a v4-mapped IPv6 one, as a direct connection
 * to each: SO_DOMAIN, getsockname()'s family and IPV6_JOIN_ANYCAST (on an
 * IPv6 socket an anycast address joined is left at close; on a mapped
 * socket released as IPv4 it stayed on the device).
 */
static bool fw_anycast_joined(const char *hex)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/net/anycast6", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, hex);
	fclose(f);
	return found;
}

/* IPV6_JOIN_ANYCAST of fd00::a1 on lo: 0 or errno */
static int fw_join_anycast(int fd)
{
	struct ipv6_mreq m = { .ipv6mr_interface = if_nametoindex("lo") };

	inet_pton(AF_INET6, "fd00::a1", &m.ipv6mr_multiaddr);
	return setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_ANYCAST, &m,
			  sizeof(m)) ? errno : 0;
}

TEST_F(fw, inet_target)
{
	static const char *const src[2] = { "127.0.0.2", "127.0.0.3" };
	static const char ac[] = "fd0000000000000000000000000000a1";
	static const int tgt[2] = { 2, 0 };	/* R3 AF_INET, R1 dual */
	int k, i;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, fw_netns_lo(NULL));
	/* anycast needs a prefix of the device (a host, not a router) */
	ASSERT_EQ(0, system("ip -6 addr add fd00::1/64 dev lo nodad"));
	for (i = 0; i < NLST; i++) {
		close(self->fd[i]);
		self->fd[i] = fw_listen(i == 2 ? "0.0.0.0" : "::",
					self->port[i], 256, false, NULL);
		ASSERT_LE(0, self->fd[i]) TH_LOG("listen: %s", strerror(errno));
	}
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[2],
			     src[0], "255.255.255.255"));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
			     src[1], "255.255.255.255"));

	for (k = 0; k < 2; k++) {
		int c[2], a[2], dom[2], join[2], w;
		struct sockaddr_storage ss[2];
		socklen_t len;

		for (i = 0; i < 2; i++) {
			/* i 0: straight to the target, 1: through the rule */
			c[i] = fw_connect(src[k], "127.0.0.1",
					  i ? self->p : self->port[tgt[k]]);
			ASSERT_LE(0, c[i]);
			a[i] = fw_accept_any(&self->fd[tgt[k]], 1, 5000, &w);
			ASSERT_LE(0, a[i]) TH_LOG("%s: nothing on the target",
						  src[k]);
			len = sizeof(int);
			ASSERT_EQ(0, getsockopt(a[i], SOL_SOCKET, SO_DOMAIN,
						&dom[i], &len));
			len = sizeof(ss[i]);
			ASSERT_EQ(0, getsockname(a[i],
						 (struct sockaddr *)&ss[i],
						 &len));
			join[i] = fw_join_anycast(a[i]);
			close(a[i]);
			close(c[i]);
			/* nothing of it stays after the close */
			EXPECT_FALSE(fw_anycast_joined(ac))
				TH_LOG("%s %s: anycast address left behind",
				       src[k], i ? "forwarded" : "direct");
		}
		EXPECT_EQ(k ? AF_INET6 : AF_INET, dom[0]);
		EXPECT_EQ(dom[0], dom[1]) TH_LOG("%s: SO_DOMAIN", src[k]);
		EXPECT_EQ(ss[0].ss_family, ss[1].ss_family);
		EXPECT_EQ(k ? 0 : ENOPROTOOPT, join[0]) TH_LOG("%s", strerror(join[0]));
		EXPECT_EQ(join[0], join[1]) TH_LOG("%s: IPV6_JOIN_ANYCAST %s",
						   src[k], strerror(join[1]));
	}
}

/*
 * issue 14: a target whose policy the hand-off would bypass is refused:
 * TCP-MD5 keys (the session would not be authenticated), a socket filter,
 * a reuseport BPF program; the connection goes to the default port, and is
 * reset when the default port has keys too.
 */
static int fw_md5(int fd, const char *peer, int keylen)
{
	struct tcp_md5sig m;
	struct skex_addr a;

	memset(&m, 0, sizeof(m));
	if (fw_sockaddr(peer, 0, &a))
		return -1;
	memcpy(&m.tcpm_addr, &a.ss, a.len);
	m.tcpm_keylen = keylen;
	memcpy(m.tcpm_key, "skex-key", 8);
	return setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &m, sizeof(m));
}

TEST_F(fw, target_policy)
{
	struct sock_filter all[] = { BPF_STMT(BPF_RET | BPF_K, 0xffffffff) };
	struct sock_filter first[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog fall = { .len = 1, .filter = all };
	struct sock_fprog ffirst = { .len = 1, .filter = first };
	const char *c2 = "127.0.0.2";
	int w;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[0],
			     "127.0.0.0", "255.0.0.0"));
	EXPECT_EQ(0, one_conn(_metadata, self, c2, "127.0.0.1", "a", 5000));

	/* R1 wants MD5 from this client: not an unsigned session */
	ASSERT_EQ(0, fw_md5(self->fd[0], "::ffff:127.0.0.2", 8))
		TH_LOG("TCP_MD5SIG: %s", strerror(errno));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, c2, "127.0.0.1", "b", 5000));
	/* the key deleted: R1 again */
	ASSERT_EQ(0, fw_md5(self->fd[0], "::ffff:127.0.0.2", 0));
	EXPECT_EQ(0, one_conn(_metadata, self, c2, "127.0.0.1", "c", 5000));

	/* a socket filter, even one that takes everything */
	ASSERT_EQ(0, setsockopt(self->fd[0], SOL_SOCKET, SO_ATTACH_FILTER,
				&fall, sizeof(fall)));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, c2, "127.0.0.1", "d", 5000));
	ASSERT_EQ(0, setsockopt(self->fd[0], SOL_SOCKET, SO_DETACH_FILTER,
				&w, sizeof(w)));
	EXPECT_EQ(0, one_conn(_metadata, self, c2, "127.0.0.1", "e", 5000));

	/* a reuseport group with a BPF program, on R2 for 127.0.0.3 */
	close(self->fd[1]);
	self->fd[1] = fw_listen("::", self->port[1], 64, true, NULL);
	ASSERT_LE(0, self->fd[1]);
	ASSERT_EQ(0, setsockopt(self->fd[1], SOL_SOCKET,
				SO_ATTACH_REUSEPORT_CBPF, &ffirst,
				sizeof(ffirst)));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, self->port[1],
			     "127.0.0.3", "255.255.255.255"));
	EXPECT_EQ(IDX_D, one_conn(_metadata, self, "127.0.0.3", "127.0.0.1",
				  "f", 5000));

	/* the default port wants MD5 too: reset, counted dropped */
	ASSERT_EQ(0, fw_md5(self->fd[0], "::ffff:127.0.0.2", 8));
	ASSERT_EQ(0, fw_md5(self->fd[IDX_D], "::ffff:127.0.0.2", 8));
	expect_reset(_metadata, self, c2);

	EXPECT_EQ(3, fw_cfs_num(self->p, "br1", "hits"));
	EXPECT_EQ(0, fw_cfs_num(self->p, "br2", "hits"));
	expect_counters(_metadata, self->p, 3, 1);
}

/*
 * issue 14: a connection handed to a listener is in that listener's
 * cgroup, as the listener's own children are: a cgroup-BPF program that
 * drops the egress of a cgroup applies to it. The target listens from a
 * process in a cgroup of its own; its answer goes out only once the
 * program is detached (retransmitted, intact).
 */
static int fw_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

TEST_F_TIMEOUT(fw, target_cgroup, 120)
{
	struct bpf_insn drop[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char cg[128], path[160], buf[8], log[512] = "";
	int cgfd, pfd, sync[2], done[2], c, st;
	union bpf_attr attr;
	uint16_t rp = 0;
	pid_t pid;
	FILE *f;

	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/skex_fw_%d", getpid());
	if (mkdir(cg, 0755))
		SKIP(return, "no cgroup2 at /sys/fs/cgroup: %s", strerror(errno));
	ASSERT_EQ(0, pipe(sync));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int r, a;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		f = fopen(path, "w");
		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
			_exit(1);
		r = fw_listen("::", 0, 16, false, &rp);
		if (r < 0 || write(sync[1], &rp, sizeof(rp)) != sizeof(rp))
			_exit(2);
		a = fw_accept_any(&r, 1, 20000, &c);
		if (a < 0 || write(a, "pong", 4) != 4)
			_exit(3);
		/* keep the connection until the parent is done */
		if (read(done[0], buf, 1) < 0)
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(sizeof(rp), read(sync[0], &rp, sizeof(rp)));

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_SKB;
	attr.expected_attach_type = BPF_CGROUP_INET_EGRESS;
	attr.insns = (uintptr_t)drop;
	attr.insn_cnt = ARRAY_SIZE(drop);
	attr.license = (uintptr_t)"GPL";
	attr.log_buf = (uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	pfd = fw_bpf(BPF_PROG_LOAD, &attr);
	ASSERT_LE(0, pfd) TH_LOG("BPF_PROG_LOAD: %s %s", strerror(errno), log);
	cgfd = open(cg, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, cgfd);
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = cgfd;
	attr.attach_bpf_fd = pfd;
	attr.attach_type = BPF_CGROUP_INET_EGRESS;
	ASSERT_EQ(0, fw_bpf(BPF_PROG_ATTACH, &attr))
		TH_LOG("BPF_PROG_ATTACH: %s", strerror(errno));

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_addr(TCP_FW_ADD_BRANCH, self->p, rp, "127.0.0.0",
			     "255.0.0.0"));
	c = fw_connect(NULL, "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	/* the target's answer is its cgroup's egress: dropped */
	EXPECT_GT(0, fw_read_exact(c, buf, 4, 1500))
		TH_LOG("the answer left the target's cgroup past its program");
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = cgfd;
	attr.attach_bpf_fd = pfd;
	attr.attach_type = BPF_CGROUP_INET_EGRESS;
	ASSERT_EQ(0, fw_bpf(BPF_PROG_DETACH, &attr));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(0, fw_read_exact(c, buf, 4, 10000));
	EXPECT_STREQ("pong", buf);
	EXPECT_EQ(1, fw_cfs_num(self->p, "br1", "hits"));

	close(c);
	ASSERT_EQ(1, write(done[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	close(cgfd);
	close(pfd);
	EXPECT_EQ(0, rmdir(cg));
}

/*
 * issue 14: with net.ipv4.tcp_fastopen 0x400 (Fast Open on every listener
 * without a socket option), Fast Open was on for the instant between the
 * module listener's listen() and the module turning it off: a SYN with
 * data then made a child in SYN_RECV tied to the module listener. Now
 * never on: rules enabled again and again while Fast Open clients hammer
 * their port make no Fast Open child (TCPFastOpenPassive), and every
 * client's byte reaches the target (a direct one shows Fast Open works).
 */
static long fw_tcpext(const char *name)
{
	char names[4096], vals[4096], *n, *v, *sn, *sv;
	long ret = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &sn);
		v = strtok_r(vals, " \n", &sv);
		while (n && v) {
			if (!strcmp(n, name)) {
				ret = atol(v);
				break;
			}
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
		break;
	}
	fclose(f);
	return ret;
}

struct fw_tfo {
	uint16_t port;
	int lfd[2];		/* R1 and D: a deleted rule hands off to D */
	volatile int stop, stop_server;
	int sent, got, bad;
	int cfail[3], sfail[3];	/* no answer: timeout, EOF/reset, other */
};

/*
 * Why fw_read_exact() failed, as an index of fw_tfo.cfail/sfail, from
 * errno (cleared before the call: still 0 after an EOF).
 */
static int fw_tfo_why(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 :
	       !errno || errno == ECONNRESET ? 1 : 2;
}

static void *fw_tfo_client(void *arg)
{
	struct fw_tfo *t = arg;
	struct skex_addr a;

	fw_sockaddr("127.0.0.1", t->port, &a);
	while (!t->stop) {
		int c = socket(AF_INET, SOCK_STREAM, 0);

		if (c < 0)
			break;
		if (sendto(c, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&a.ss,
			   a.len) == 1) {
			char ch;

			int err;

			t->sent++;
			/* the target answers once it has the byte */
			errno = 0;
			err = fw_read_exact(c, &ch, 1, 5000 * skex_time_scale());
			if (err) {
				t->bad++;
				t->cfail[fw_tfo_why()]++;
			}
		}
		close(c);
	}
	return NULL;
}

static void *fw_tfo_server(void *arg)
{
	struct fw_tfo *t = arg;
	int w;

	while (!t->stop_server) {
		int a = fw_accept_any(t->lfd, 2, 50, &w);
		char ch = 0;
		int err;

		if (a < 0)
			continue;
		errno = 0;
		err = fw_read_exact(a, &ch, 1, 5000 * skex_time_scale());
		if (err || ch != 'x') {
			t->bad++;
			t->sfail[err ? fw_tfo_why() : 2]++;
		} else {
			t->got++;
		}
		if (write(a, "y", 1) != 1)
			t->bad++;
		close(a);
	}
	return NULL;
}

TEST_F_TIMEOUT(fw, fastopen_listen, 240)
{
	struct fw_tfo t = { .port = self->p };
	long before, after;
	pthread_t tc, ts;
	char ch;
	int i, c, a, w;
	FILE *f;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, fw_netns_lo(NULL));
	f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "w");
	ASSERT_NE(NULL, f);
	/* client, client without cookie, server, without cookie, all */
	ASSERT_LT(0, fprintf(f, "%d\n", 0x1 | 0x4 | 0x2 | 0x200 | 0x400));
	ASSERT_EQ(0, fclose(f));
	for (i = 0; i < NLST; i++) {
		close(self->fd[i]);
		self->fd[i] = fw_listen(i == 2 ? "0.0.0.0" : "::",
					self->port[i], 256, false, NULL);
		ASSERT_LE(0, self->fd[i]) TH_LOG("listen: %s", strerror(errno));
	}

	/* Fast Open works here: straight to R2 */
	before = fw_tcpext("TCPFastOpenPassive");
	ASSERT_LE(0, before);
	{
		struct skex_addr r2;

		ASSERT_EQ(0, fw_sockaddr("127.0.0.1", self->port[1], &r2));
		c = socket(AF_INET, SOCK_STREAM, 0);
		ASSERT_EQ(1, sendto(c, "x", 1, MSG_FASTOPEN,
				    (struct sockaddr *)&r2.ss, r2.len));
		a = fw_accept_any(&self->fd[1], 1, 5000, &w);
		ASSERT_LE(0, a);
		EXPECT_EQ(0, fw_read_exact(a, &ch, 1, 5000));
		close(a);
		close(c);
	}
	EXPECT_EQ(before + 1, fw_tcpext("TCPFastOpenPassive"));

	before = fw_tcpext("TCPFastOpenPassive");
	t.lfd[0] = self->fd[0];
	t.lfd[1] = self->fd[IDX_D];
	ASSERT_EQ(0, pthread_create(&ts, NULL, fw_tfo_server, &t));
	ASSERT_EQ(0, pthread_create(&tc, NULL, fw_tfo_client, &t));
	for (i = 0; i < 40; i++) {
		ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p,
				     self->port[IDX_D]));
		ASSERT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				     100));
		skex_sleep_ms(20);
		ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, self->p, 0));
	}
	t.stop = 1;
	pthread_join(tc, NULL);
	t.stop_server = 1;
	pthread_join(ts, NULL);
	after = fw_tcpext("TCPFastOpenPassive");
	TH_LOG("%d Fast Open clients sent, %d bytes reached the target", t.sent,
	       t.got);
	EXPECT_EQ(before, after) TH_LOG("Fast Open children of the module's listener");
	EXPECT_EQ(0, t.bad)
		TH_LOG("client: %d timeouts, %d EOF/reset, %d other; target: %d, %d, %d",
		       t.cfail[0], t.cfail[1], t.cfail[2],
		       t.sfail[0], t.sfail[1], t.sfail[2]);
	EXPECT_LT(0, t.got);
}

/*
 * A handshake in progress when the rule goes: the client has the SYN-ACK,
 * its ACK is on its way (a client with TCP_DEFER_ACCEPT set delays it by
 * 200 ms). P's listener lets it finish and the connection goes to D, as a
 * queued one would; a new SYN finds P closed; the rule can be made again
 * at once. A client whose connect() returned HS_LATE_US or more before the
 * deletion began may have sent its ACK while the rule was still there (the
 * deletion takes it away a little after it begins; a debug kernel can take
 * that long over the connects), and may go to the branch as well.
 */
#define HS_N		4
#define HS_LATE_US	150000

/* the client of @s among @c, by its port, or -1 */
static int hs_client(int s, const int *c)
{
	struct sockaddr_in own;
	struct sockaddr_in6 peer;
	socklen_t len = sizeof(peer);
	int i;

	/* AF_INET, or v4-mapped AF_INET6: the port is at the same offset */
	if (getpeername(s, (struct sockaddr *)&peer, &len))
		return -1;
	for (i = 0; i < HS_N; i++) {
		len = sizeof(own);
		if (!getsockname(c[i], (struct sockaddr *)&own, &len) &&
		    own.sin_port == peer.sin6_port)
			return i;
	}
	return -1;
}

TEST_F(fw, delete_handshake)
{
	struct skex_addr a;
	int c[HS_N], i, one = 1, got = 0, late = 0;
	uint64_t t_conn[HS_N], t_del;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0], 100));
	ASSERT_EQ(0, fw_sockaddr("127.0.0.1", self->p, &a));
	for (i = 0; i < HS_N; i++) {
		c[i] = socket(AF_INET, SOCK_STREAM, 0);
		ASSERT_LE(0, c[i]);
		ASSERT_EQ(0, setsockopt(c[i], IPPROTO_TCP, TCP_DEFER_ACCEPT,
					&one, sizeof(one)));
		/* returns at the SYN-ACK; the ACK waits */
		ASSERT_EQ(0, connect(c[i], (struct sockaddr *)&a.ss, a.len));
		t_conn[i] = skex_now_us();
	}
	t_del = skex_now_us();
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, self->p, 0));
	for (i = 0; i < HS_N; i++)
		late += t_del - t_conn[i] >= HS_LATE_US;
	TH_LOG("%d of %d clients connected %d ms or more before the deletion (the first %llu ms, the deletion took %llu ms)",
	       late, HS_N, HS_LATE_US / 1000,
	       (unsigned long long)(t_del - t_conn[0]) / 1000,
	       (unsigned long long)(skex_now_us() - t_del) / 1000);
	EXPECT_GT(0, fw_connect(NULL, "127.0.0.1", self->p));

	for (i = 0; i < HS_N; i++)
		EXPECT_EQ(0, fw_write_all(c[i], "x", 1)) TH_LOG("client %d: %s",
								i, strerror(errno));
	for (i = 0; i < HS_N; i++) {
		char ch = 0;
		int w = -1, s, k;

		s = fw_accept_any(self->fd, NLST, 5000, &w);
		if (s < 0)
			break;
		k = hs_client(s, c);
		EXPECT_LE(0, k);
		if (k < 0 || t_del - t_conn[k] < HS_LATE_US) {
			EXPECT_EQ(IDX_D, w) TH_LOG("client %d", k);
		} else {
			EXPECT_TRUE(w == IDX_D || w == 0)
				TH_LOG("late client %d went to %d", k, w);
		}
		EXPECT_EQ(0, fw_read_exact(s, &ch, 1, 5000));
		EXPECT_EQ('x', ch);
		EXPECT_EQ(1, write(s, "y", 1));
		close(s);
		got++;
	}
	EXPECT_EQ(HS_N, got) TH_LOG("connections reset as the rule went");
	for (i = 0; i < HS_N; i++) {
		char ch = 0;

		EXPECT_EQ(0, fw_read_exact(c[i], &ch, 1, 5000))
			TH_LOG("client %d: %s", i, strerror(errno));
		EXPECT_EQ('y', ch);
		close(c[i]);
	}

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_dice(TCP_FW_ADD_BRANCH, self->p, self->port[0], 100));
	EXPECT_EQ(0, one_conn(_metadata, self, NULL, "127.0.0.1", "ping",
			      5000));
}

/*
 * Two processes add and delete rule P through setsockopt, each with its
 * own default port, as fast as they can: the mirror pass of one command
 * may come after the other's command. Afterwards P's directory, if any,
 * shows the rule the engine has (an edit through setsockopt shows), never
 * one deleted meanwhile.
 */
TEST_F_TIMEOUT(fw, mirror_stale, 240)
{
	uint16_t p = self->p, d9 = self->port[2];
	int round, i, stale = 0, shown = 0;

	if (access(FW_CFS, F_OK))
		SKIP(return, "configfs not mounted");
	for (round = 0; round < 40; round++) {
		pid_t pid[2];
		int status;

		for (i = 0; i < 2; i++) {
			pid[i] = fork();
			ASSERT_LE(0, pid[i]);
			if (!pid[i]) {
				uint64_t end = skex_now_us() + 300000;
				uint16_t d = self->port[i];

				do {
					fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, p, d);
					fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, p, 0);
					fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, p, d);
				} while (skex_now_us() < end);
				_exit(0);
			}
		}
		for (i = 0; i < 2; i++) {
			ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
			ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
		}
		if (fw_rule(TCP_FW_EDIT_RULE, TCP_DICE_FW, p, d9)) {
			EXPECT_FALSE(fw_cfs_exists(p, NULL))
				TH_LOG("round %d: no rule, a directory", round);
			continue;
		}
		shown++;
		if (fw_cfs_num(p, NULL, "default_port") != d9) {
			stale++;
			TH_LOG("round %d: the directory shows default_port %lld, the engine's rule has %u",
			       round, fw_cfs_num(p, NULL, "default_port"), d9);
		}
		ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, p, 0));
	}
	TH_LOG("%d rounds ended with the rule, %d with a stale directory",
	       shown, stale);
	EXPECT_EQ(0, stale);
	EXPECT_LT(0, shown);
}

TEST_HARNESS_MAIN
