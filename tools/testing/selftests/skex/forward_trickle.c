// SPDX-License-Identifier: GPL-2.0
/*
 * The classifier's CPU time per connection (issue 13), on the counted clock
 * (tests.list): clients that send a byte every 10 ms until the content
 * rule's timeout_ms hands them to the default port must cost the kernel's
 * workers time linear in their bytes, and well under a millisecond a byte.
 *
 * The workers' time is their /proc/PID/schedstat. On the host's clock a
 * vCPU the host takes away charges the wait to whatever ran at that moment
 * (a 6.12 debug kernel beside the fuzzer: 546 ms for 400 bytes, 64 ms
 * alone); on the counted clock a task's time is the instructions it ran.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>

#include "kselftest_harness.h"
#include "forward_common.h"

#define NCLIENT	8

FIXTURE(ft) {
	uint16_t p;
	uint16_t port[2];	/* a branch's listener, the default's */
	int fd[2];
};

FIXTURE_SETUP(ft)
{
	int i;

	SKEX_NEED_MODULE();
	for (i = 0; i < 2; i++) {
		self->fd[i] = fw_listen("::", 0, 1024, false, &self->port[i]);
		ASSERT_LE(0, self->fd[i]) TH_LOG("listen: %s", strerror(errno));
	}
	self->p = fw_free_port();
	ASSERT_NE(0, self->p);
}

FIXTURE_TEARDOWN(ft)
{
	int i;

	fw_rule(TCP_FW_DEL_RULE, TCP_CONTENT_FW, self->p, 0);
	for (i = 0; i < 2; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
}

/* Nanoseconds the kernel's workers ran so far (the classifier is one). */
static uint64_t kworker_ns(void)
{
	char path[300], comm[64];
	uint64_t sum = 0, ns;
	struct dirent *d;
	DIR *dir = opendir("/proc");
	FILE *f;

	if (!dir)
		return 0;
	while ((d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		if (strncmp(comm, "kworker", 7))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/schedstat", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%" SCNu64, &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/*
 * NCLIENT clients each send a byte every 10 ms until the rule's timeout
 * hands them to the default port; returns the workers' CPU time per client
 * (us).
 */
static double trickle(struct __test_metadata *_metadata,
		      FIXTURE_DATA(ft) *self, int ms)
{
	int c[NCLIENT], i, s, w, got = 0;
	uint64_t ns0, end;

	ns0 = kworker_ns();
	for (i = 0; i < NCLIENT; i++) {
		c[i] = fw_connect(NULL, "127.0.0.1", self->p);
		ASSERT_LE(0, c[i]) TH_LOG("connect: %s", strerror(errno));
	}
	end = skex_now_us() + (uint64_t)ms * 1000;
	while (skex_now_us() < end) {
		for (i = 0; i < NCLIENT; i++)
			fw_write_all(c[i], "a", 1);
		skex_sleep_ms(10);
	}
	while (got < NCLIENT &&
	       (s = fw_accept_any(self->fd, 2, 3000, &w)) >= 0) {
		close(s);
		if (w != 1)
			break;
		got++;
	}
	EXPECT_EQ(NCLIENT, got);
	for (i = 0; i < NCLIENT; i++)
		close(c[i]);
	return (kworker_ns() - ns0) / 1e3 / NCLIENT;
}

TEST_F_TIMEOUT(ft, trickle, 120)
{
	double us1, us4, idle;
	uint64_t ns0;

	/* branches no byte of theirs matches: every byte is looked at */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, self->p,
			     self->port[1]));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "zzzz"));
	ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, self->p, self->port[0],
				    "aaab"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "until", "window"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "window", "65536"));
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "1000"));

	ns0 = kworker_ns();
	skex_sleep_ms(1000);
	idle = (kworker_ns() - ns0) / 1e3;
	us1 = trickle(_metadata, self, 1000);
	ASSERT_EQ(0, fw_cfs_set(self->p, NULL, "timeout_ms", "4000"));
	us4 = trickle(_metadata, self, 4000);
	TH_LOG("workers idle: %.0f us/s; per connection: %.0f us for ~100 bytes, %.0f us for ~400",
	       idle, us1, us4);
	/* linear in the bytes (quadratic would be 16x), well under 1 ms/byte */
	EXPECT_GT(8 * us1 + 4 * idle, us4);
	EXPECT_GT(400 * 1000.0, us4);
	EXPECT_EQ(2 * NCLIENT, fw_cfs_num(self->p, NULL, "default_hits"));
	EXPECT_EQ(0, fw_cfs_num(self->p, "br1", "hits"));
	EXPECT_EQ(0, fw_cfs_num(self->p, "br2", "hits"));
}

TEST_HARNESS_MAIN
