// SPDX-License-Identifier: GPL-2.0
/*
 * Content rules that decide as soon as the outcome is certain (SPEC
 * section 1, content; issue 13), on loopback in the initial namespace:
 *
 *   anchored_early     a branch anchored at offset 0: a client whose bytes
 *                      diverge at byte 2 reaches the default port at once,
 *                      long before timeout_ms; a match reaches its branch
 *   until_delim        the default `until` of a configfs rule is \r\n\r\n:
 *                      headers without their end wait, the end decides;
 *                      a binary delimiter; bad values refused
 *   until_push         the first write (PSH) ends the message: a request
 *                      split over two writes goes to the default
 *   until_window       today's behaviour: a split pattern still matches,
 *                      no match waits for timeout_ms
 *   seed_first_message a rule made by setsockopt() decides on the
 *                      client's first write: `until` push, branches
 *                      unanchored
 *   thousand           1000 content branches through setsockopt() in < 5 s
 *                      in a namespace of their own (in the initial one,
 *                      with a configfs directory each: measured only);
 *                      every one reachable, the earliest match wins
 *   address_4096       4096 address branches through setsockopt() in < 5 s
 *                      in a namespace of their own (in the initial one,
 *                      with a configfs directory each: measured only)
 *
 * The classifier's CPU time per byte is forward_trickle.c's, on the counted
 * clock.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "forward_common.h"

#define NLST	4	/* listeners R1 R2 R3 D */
#define IDX_D	3

FIXTURE(fm) {
	uint16_t p;
	uint16_t port[NLST];
	int fd[NLST];
};

FIXTURE_SETUP(fm)
{
	int i;

	SKEX_NEED_MODULE();
	for (i = 0; i < NLST; i++) {
		self->fd[i] = fw_listen("::", 0, 1024, false, &self->port[i]);
		ASSERT_LE(0, self->fd[i]) TH_LOG("listen: %s", strerror(errno));
	}
	self->p = fw_free_port();
	ASSERT_NE(0, self->p);
}

/* Remove the rule on @p, whichever front made it. */
static void rule_del(uint16_t p)
{
	char path[320];
	struct dirent *d;
	DIR *dir;
	int t;

	for (t = TCP_DICE_FW; t <= TCP_ADDR_FW; t++)
		fw_rule(TCP_FW_DEL_RULE, t, p, 0);
	fw_cfs_set(p, NULL, "enable", "0");
	snprintf(path, sizeof(path), FW_CFS "/%u/branches", p);
	dir = opendir(path);
	if (dir) {
		while ((d = readdir(dir)))
			if (d->d_name[0] != '.') {
				fw_cfs_path(path, sizeof(path), p, d->d_name,
					    NULL);
				rmdir(path);
			}
		closedir(dir);
	}
	fw_cfs_path(path, sizeof(path), p, NULL, NULL);
	rmdir(path);
}

FIXTURE_TEARDOWN(fm)
{
	int i;

	rule_del(self->p);
	for (i = 0; i < NLST; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
}

/* A configfs content rule on p, default D, not enabled yet. */
static int cfs_rule(FIXTURE_DATA(fm) *self)
{
	char path[256], val[16];
	int err;

	fw_cfs_path(path, sizeof(path), self->p, NULL, NULL);
	if (mkdir(path, 0755))
		return -errno;
	snprintf(val, sizeof(val), "%u", self->port[IDX_D]);
	err = fw_cfs_set(self->p, NULL, "type", "content");
	if (!err)
		err = fw_cfs_set(self->p, NULL, "default_port", val);
	return err;
}

/* A configfs branch: pattern @pat (@len bytes), offset @off, to R@i. */
static int cfs_branch(FIXTURE_DATA(fm) *self, const char *name, int i,
		      const char *pat, size_t len, const char *off)
{
	char path[256], val[300];
	int fd, err = 0;

	fw_cfs_path(path, sizeof(path), self->p, name, NULL);
	if (mkdir(path, 0755))
		return -errno;
	fw_cfs_path(path, sizeof(path), self->p, name, "pattern");
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, pat, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	if (!err && off)
		err = fw_cfs_set(self->p, name, "offset", off);
	snprintf(val, sizeof(val), "%u", self->port[i]);
	if (!err)
		err = fw_cfs_set(self->p, name, "port", val);
	return err;
}

/*
 * Accept one connection within @limit ms: which listener (-1: none), the
 * ms it took in *@ms, and the first @len bytes it carries in @buf.
 */
static int take(FIXTURE_DATA(fm) *self, int limit, long *ms, char *buf,
		size_t len)
{
	uint64_t t0 = skex_now_us();
	int s, w;

	s = fw_accept_any(self->fd, NLST, limit, &w);
	if (ms)
		*ms = (long)((skex_now_us() - t0) / 1000);
	if (s < 0)
		return -1;
	if (buf && fw_read_exact(s, buf, len, 5000))
		w = -2;
	close(s);
	return w;
}

/* Connect to p and send @msg in one write; the client socket. */
static int send_one(struct __test_metadata *_metadata, FIXTURE_DATA(fm) *self,
		    const char *msg, size_t len)
{
	int c = fw_connect(NULL, "127.0.0.1", self->p);

	EXPECT_LE(0, c);
	if (c >= 0 && len)
		EXPECT_EQ(0, fw_write_all(c, msg, len));
	return c;
}

TEST_F(fm, anchored_early)
{
	char buf[32] = {};
	long ms;
	int c;

	ASSERT_EQ(0, cfs_rule(self));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "5000"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "window"));
	ASSERT_EQ(0, cfs_branch(self, "img", 0, "GET /images/", 12, "0"));
	ASSERT_EQ(0, cfs_branch(self, "api", 1, "GET /api/", 9, "0"));
	EXPECT_STREQ("0", fw_cfs_get(self->p, "img", "offset"));
	/* offsets: any or a number below the largest window */
	EXPECT_EQ(-EINVAL, fw_cfs_set(self->p, "api", "offset", "-1"));
	EXPECT_EQ(-EINVAL, fw_cfs_set(self->p, "api", "offset", "x"));
	EXPECT_EQ(-ERANGE, fw_cfs_set(self->p, "api", "offset", "65536"));
	EXPECT_STREQ("0", fw_cfs_get(self->p, "api", "offset"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "1"));

	/* "GEX": no anchored pattern can match from byte 2 on */
	c = send_one(_metadata, self, "GEX", 3);
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, buf, 3));
	EXPECT_STREQ("GEX", buf);
	TH_LOG("diverged at byte 2: default port after %ld ms", ms);
	EXPECT_GT(1000, ms);
	close(c);

	/* "GET /" is still open: nothing until the rest */
	c = send_one(_metadata, self, "GET /", 5);
	EXPECT_EQ(-1, take(self, 300, NULL, NULL, 0));
	ASSERT_EQ(0, fw_write_all(c, "apx", 3));
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	EXPECT_GT(1000, ms);
	close(c);

	c = send_one(_metadata, self, "GET /api/v1 HTTP/1.1\r\n", 22);
	EXPECT_EQ(1, take(self, 4000, &ms, buf, 9));
	EXPECT_GT(1000, ms);
	close(c);
	/* the pattern elsewhere does not count */
	c = send_one(_metadata, self, "PUT /x GET /images/", 19);
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	EXPECT_GT(1000, ms);
	close(c);

	/* any: found anywhere again */
	ASSERT_EQ(0, fw_cfs_set(self->p, "img", "offset", "any"));
	EXPECT_STREQ("any", fw_cfs_get(self->p, "img", "offset"));
	c = send_one(_metadata, self, "PUT /x GET /images/", 19);
	EXPECT_EQ(0, take(self, 4000, NULL, NULL, 0));
	close(c);
	EXPECT_EQ(1, fw_cfs_num(self->p, "img", "hits"));
	EXPECT_EQ(1, fw_cfs_num(self->p, "api", "hits"));
	EXPECT_EQ(3, fw_cfs_num(self->p, NULL, "default_hits"));
}

TEST_F(fm, until_delim)
{
	static const char hdr[] = "GET / HTTP/1.1\r\nHost: a\r\n";
	long ms;
	int c;

	ASSERT_EQ(0, cfs_rule(self));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "5000"));
	EXPECT_STREQ("\\r\\n\\r\\n", fw_cfs_get(self->p, NULL, "until"));
	ASSERT_EQ(0, cfs_branch(self, "img", 0, "/images/", 8, NULL));
	EXPECT_STREQ("any", fw_cfs_get(self->p, "img", "offset"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "1"));

	c = send_one(_metadata, self, hdr, strlen(hdr));
	EXPECT_EQ(-1, take(self, 300, NULL, NULL, 0));
	/* the end of the headers, split over two writes */
	ASSERT_EQ(0, fw_write_all(c, "\r", 1));
	EXPECT_EQ(-1, take(self, 100, NULL, NULL, 0));
	ASSERT_EQ(0, fw_write_all(c, "\n", 1));
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	TH_LOG("end of headers: default port after %ld ms", ms);
	EXPECT_GT(1000, ms);
	close(c);
	/* a match inside the headers, the end in a later write */
	c = send_one(_metadata, self, "GET /images/a HTTP/1.1\r\n", 24);
	EXPECT_EQ(0, take(self, 4000, NULL, NULL, 0));
	close(c);
	/* a pattern after the end is too late */
	c = send_one(_metadata, self, "GET / HTTP/1.0\r\n\r\n/images/", 26);
	EXPECT_EQ(IDX_D, take(self, 4000, NULL, NULL, 0));
	close(c);

	/* a binary delimiter, written escaped */
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "\\x00END"));
	EXPECT_STREQ("\\x00END", fw_cfs_get(self->p, NULL, "until"));
	c = send_one(_metadata, self, "abc\0EN", 6);
	EXPECT_EQ(-1, take(self, 300, NULL, NULL, 0));
	ASSERT_EQ(0, fw_write_all(c, "D", 1));
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	EXPECT_GT(1000, ms);
	close(c);

	/* bad values change nothing */
	EXPECT_EQ(-EINVAL, fw_cfs_set(self->p, NULL, "until", "\\q"));
	EXPECT_EQ(-EINVAL, fw_cfs_set(self->p, NULL, "until", "\\x0"));
	EXPECT_EQ(-EINVAL, fw_cfs_set(self->p, NULL, "until", "\n"));
	EXPECT_STREQ("\\x00END", fw_cfs_get(self->p, NULL, "until"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "\\r\\n\\r\\n\n"));
	EXPECT_STREQ("\\r\\n\\r\\n", fw_cfs_get(self->p, NULL, "until"));
	EXPECT_EQ(1, fw_cfs_num(self->p, "img", "hits"));
	EXPECT_EQ(3, fw_cfs_num(self->p, NULL, "default_hits"));
}

TEST_F(fm, until_push)
{
	long ms;
	int c;

	ASSERT_EQ(0, cfs_rule(self));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "5000"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "push"));
	EXPECT_STREQ("push", fw_cfs_get(self->p, NULL, "until"));
	ASSERT_EQ(0, cfs_branch(self, "img", 0, "/images/", 8, NULL));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "1"));

	c = send_one(_metadata, self, "GET / HTTP/1.1\r\n", 16);
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	TH_LOG("first write without a match: default port after %ld ms", ms);
	EXPECT_GT(1000, ms);
	close(c);
	/* the first write ends the message, even in the middle */
	c = send_one(_metadata, self, "GET /ima", 8);
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	EXPECT_GT(1000, ms);
	close(c);
	c = send_one(_metadata, self, "GET /images/a HTTP/1.1\r\n", 24);
	EXPECT_EQ(0, take(self, 4000, NULL, NULL, 0));
	close(c);
}

TEST_F(fm, until_window)
{
	char buf[64] = {};
	long ms;
	int c;

	ASSERT_EQ(0, cfs_rule(self));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "600"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "window"));
	EXPECT_STREQ("window", fw_cfs_get(self->p, NULL, "until"));
	ASSERT_EQ(0, cfs_branch(self, "img", 0, "/images/", 8, NULL));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "enable", "1"));

	c = send_one(_metadata, self, "GET /ima", 8);
	EXPECT_EQ(-1, take(self, 300, NULL, NULL, 0));
	ASSERT_EQ(0, fw_write_all(c, "ges/ HTTP/1.0\r\n\r\n", 17));
	EXPECT_EQ(0, take(self, 4000, NULL, buf, 25));
	EXPECT_STREQ("GET /images/ HTTP/1.0\r\n\r\n", buf);
	close(c);
	c = send_one(_metadata, self, "GET / HTTP/1.0\r\n\r\n", 18);
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	EXPECT_LE(500, ms);
	close(c);
}

TEST_F(fm, seed_first_message)
{
	long ms;
	int c;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "/images/"));
	EXPECT_STREQ("push", fw_cfs_get(self->p, NULL, "until"));
	EXPECT_STREQ("any", fw_cfs_get(self->p, "br1", "offset"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "5000"));

	c = send_one(_metadata, self, "GET / HTTP/1.0\r\n", 16);
	EXPECT_EQ(IDX_D, take(self, 4000, &ms, NULL, 0));
	TH_LOG("seed rule, no match: default port after %ld ms", ms);
	EXPECT_GT(1000, ms);
	close(c);
	c = send_one(_metadata, self, "GET /x/images/ HTTP/1.0\r\n", 25);
	EXPECT_EQ(0, take(self, 4000, NULL, NULL, 0));
	close(c);
	EXPECT_EQ(1, fw_cfs_num(self->p, "br1", "hits"));
	EXPECT_EQ(1, fw_cfs_num(self->p, NULL, "default_hits"));
}

TEST_F_TIMEOUT(fm, thousand, 300)
{
	char pat[32], req[128], name[16];
	int i, c, w, n = 1000;
	uint64_t t0, us;

	/* in a namespace of its own: the engine alone, in < 5 s (x scale) */
	if (fork() == 0) {
		int err = unshare(CLONE_NEWNET);

		t0 = skex_now_us();
		err = err ?: fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
				     self->port[IDX_D]);
		for (i = 0; !err && i < n; i++) {
			snprintf(pat, sizeof(pat), "GET /b%d/", i);
			err = fw_content_str(TCP_FW_ADD_BRANCH, self->p, 80,
					     pat);
		}
		us = skex_now_us() - t0;
		TH_LOG("1000 content branches in a new namespace: %.2f s (%d)",
		       us / 1e6, err);
		_exit(err ? 2 : us < 5000000ull * skex_time_scale() ? 0 : 1);
	}
	ASSERT_LT(0, wait(&c));
	EXPECT_TRUE(WIFEXITED(c) && WEXITSTATUS(c) == 0);

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[IDX_D]));
	t0 = skex_now_us();
	for (i = 0; i < n; i++) {
		snprintf(pat, sizeof(pat), "GET /b%d/", i);
		ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p,
					    self->port[i % 3], pat));
	}
	us = skex_now_us() - t0;
	TH_LOG("1000 content branches with their directories: %.2f s",
	       us / 1e6);

	for (i = 0; i < n; i++) {
		int len = snprintf(req, sizeof(req),
				   "GET /b%d/x HTTP/1.0\r\nX: GET /b%d/\r\n\r\n",
				   i, (i + 1) % n);

		c = send_one(_metadata, self, req, len);
		w = take(self, 4000, NULL, NULL, 0);
		ASSERT_EQ(i % 3, w) TH_LOG("request for /b%d/", i);
		close(c);
	}
	/* the match that ends first, not the older branch */
	c = send_one(_metadata, self, "GET /b999/ GET /b0/", 19);
	EXPECT_EQ(999 % 3, take(self, 4000, NULL, NULL, 0));
	close(c);
	/* nothing: the default, at the first write */
	c = send_one(_metadata, self, "GET /b1000/ HTTP/1.0\r\n", 22);
	EXPECT_EQ(IDX_D, take(self, 4000, NULL, NULL, 0));
	close(c);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "br%d", i + 1);
		ASSERT_EQ(i == 999 ? 2 : 1, fw_cfs_num(self->p, name, "hits"))
			TH_LOG("hits of %s", name);
	}
	t0 = skex_now_us();
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_CONTENT_FW, self->p, 0));
	TH_LOG("deleted in %.2f s", (skex_now_us() - t0) / 1e6);
}

/*
 * A rule on @p and 4096 address branches 10.x.y.1/32 (the last one
 * 127.0.0.2/32 to @r1), through one socket as a seed program would: 0 or
 * -errno, the seconds it took in *@secs.
 */
static int addr_4096(uint16_t p, uint16_t d, uint16_t r1, double *secs,
		     double *half)
{
	uint64_t t0 = skex_now_us();
	int i, err;

	fw_call_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fw_call_fd < 0)
		return -errno;
	err = fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, p, d);
	for (i = 0; !err && i < 4096; i++) {
		char src[32];

		snprintf(src, sizeof(src), "10.%d.%d.1", i / 256, i % 256);
		if (i == 2048)
			*half = (skex_now_us() - t0) / 1e6;
		err = fw_addr(TCP_FW_ADD_BRANCH, p, i < 4095 ? r1 + i % 3 : r1,
			      i < 4095 ? src : "127.0.0.2", "255.255.255.255");
	}
	close(fw_call_fd);
	fw_call_fd = -1;
	*secs = (skex_now_us() - t0) / 1e6;
	return err;
}

TEST_F_TIMEOUT(fm, address_4096, 300)
{
	double secs, half;
	uint64_t t0;
	int st, c;

	/* in a namespace of its own: the engine alone, in < 5 s (x scale) */
	if (fork() == 0) {
		int err = unshare(CLONE_NEWNET);

		err = err ?: addr_4096(self->p, self->port[IDX_D], 80, &secs,
				       &half);
		TH_LOG("4096 address branches in a new namespace: %.2f s, the first 2048 in %.2f s (%d)",
		       secs, half, err);
		_exit(err ? 2 : secs < 5.0 * skex_time_scale() ? 0 : 1);
	}
	ASSERT_LT(0, wait(&st));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* here, each with its configfs directory: measured only */
	ASSERT_EQ(0, addr_4096(self->p, self->port[IDX_D], self->port[1],
			       &secs, &half));
	TH_LOG("4096 address branches with their directories: %.2f s, the first 2048 in %.2f s",
	       secs, half);
	EXPECT_TRUE(fw_cfs_exists(self->p, "br4096"));

	c = fw_connect("127.0.0.2", "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	EXPECT_EQ(1, take(self, 4000, NULL, NULL, 0));
	close(c);
	c = fw_connect("127.0.0.3", "127.0.0.1", self->p);
	ASSERT_LE(0, c);
	EXPECT_EQ(IDX_D, take(self, 4000, NULL, NULL, 0));
	close(c);
	EXPECT_EQ(1, fw_cfs_num(self->p, "br4096", "hits"));
	t0 = skex_now_us();
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, self->p, 0));
	TH_LOG("deleted in %.2f s", (skex_now_us() - t0) / 1e6);
}

TEST_HARNESS_MAIN
