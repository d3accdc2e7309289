// SPDX-License-Identifier: GPL-2.0
/*
 * Atomic replace under traffic (issue 16): TCP_FW_REPLACE_RULE swaps a
 * rule's type and all of its branches again and again while 1,000
 * connections run through it, four clients at a time, IPv4 and IPv6:
 *
 *   A  dice      a: R1 50 %, b: R2 30 %, default D1
 *   B  address   a: 127.0.0.0/8 (v4-mapped) -> R3, b: ::1/128 -> R4,
 *                default D2
 *   C  content   a: "ping" -> R2, b: "zzz" -> R4, until push, default D2
 *
 * Each listener's server answers with its name. No connection may be
 * refused or reset, and each must be answered by a port one of the rules
 * in force while it ran chose for it (a decoy listener X that no rule
 * names must never answer). The listener of the rule never closes
 * (connect() would be refused), the rule's dropped counter stays 0 and
 * configfs shows the last rule's branches.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kselftest_harness.h"
#include "forward_common.h"

enum { R1, R2, R3, R4, D1, D2, X, NSRV };
static const char *const srv_name[NSRV] = {
	"R1", "R2", "R3", "R4", "D1", "D2", "X"
};

#define NCLIENTS	4
#define NCONNS		1000
#define NCFG		3

struct rp {
	uint16_t p;
	uint16_t port[NSRV];
	int fd[NSRV];
	atomic_bool stop;
	atomic_uint started;	/* replaces begun */
	atomic_uint done;	/* replaces returned */
	atomic_uint next;	/* connections handed out */
	atomic_uint failed;	/* refused, reset, unanswered */
	atomic_uint wrong;	/* answered by a port no rule chose */
	atomic_uint narrow;	/* ran under one rule only */
	atomic_uint by_cfg[NCFG];
	atomic_uint by_srv[NSRV];
};

/* The ports configuration @cfg may send a client of @family to. */
static unsigned int cfg_allows(int cfg, int family)
{
	switch (cfg) {
	case 0:
		return 1u << R1 | 1u << R2 | 1u << D1;
	case 1:
		return family == AF_INET ? 1u << R3 : 1u << R4;
	default:
		return 1u << R2;
	}
}

static int cfg_set(struct rp *t, int cfg)
{
	struct tcp_fw_branch_user br[2];
	struct tcp_fw_replace_user r;

	switch (cfg) {
	case 0:
		fw_repl(&r, TCP_DICE_FW, t->p, t->port[D1], br, 2);
		fw_br(&br[0], "a", t->port[R1]);
		br[0].chance = 50;
		fw_br(&br[1], "b", t->port[R2]);
		br[1].chance = 30;
		break;
	case 1:
		fw_repl(&r, TCP_ADDR_FW, t->p, t->port[D2], br, 2);
		fw_br_addr(&br[0], "a", t->port[R3], "::ffff:127.0.0.0", 104);
		fw_br_addr(&br[1], "b", t->port[R4], "::1", 128);
		break;
	default:
		fw_repl(&r, TCP_CONTENT_FW, t->p, t->port[D2], br, 2);
		fw_br_content(&br[0], "a", t->port[R2], "ping", -1);
		fw_br_content(&br[1], "b", t->port[R4], "zzz", -1);
		break;
	}
	return fw_replace(&r);
}

/* A backend: accept, read the request line, answer with our name. */
struct srv {
	struct rp *t;
	int i;
};

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct rp *t = s->t;
	struct pollfd pfd = { .fd = t->fd[s->i], .events = POLLIN };
	char buf[64], out[8];

	while (!atomic_load(&t->stop)) {
		size_t got = 0;
		int a;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		a = accept4(pfd.fd, NULL, NULL, 0);
		if (a < 0)
			continue;
		/* the request: up to its newline */
		while (got < sizeof(buf) - 1 &&
		       !fw_read_exact(a, buf + got, 1, 5000)) {
			if (buf[got++] == '\n')
				break;
		}
		snprintf(out, sizeof(out), "%s\n", srv_name[s->i]);
		fw_write_all(a, out, strlen(out));
		atomic_fetch_add(&t->by_srv[s->i], 1);
		close(a);
	}
	return NULL;
}

/* One connection: which server answered, or -1 (refused, reset, none). */
static int one(struct rp *t, const char *dst)
{
	char buf[8] = {};
	int c, i;

	c = fw_connect(NULL, dst, t->p);
	if (c < 0)
		return -1;
	if (fw_write_all(c, "ping\n", 5) ||
	    fw_read_exact(c, buf, 3, 10000)) {
		close(c);
		return -1;
	}
	close(c);
	for (i = 0; i < NSRV; i++)
		if (!strncmp(buf, srv_name[i], 2) && buf[2] == '\n')
			return i;
	return -1;
}

static void *client_main(void *arg)
{
	struct rp *t = arg;
	unsigned int n;

	while ((n = atomic_fetch_add(&t->next, 1)) < NCONNS) {
		int family = n & 1 ? AF_INET6 : AF_INET;
		unsigned int g0, g1, g, allowed = 0;
		int w;

		g0 = atomic_load(&t->done);
		w = one(t, family == AF_INET ? "127.0.0.1" : "::1");
		g1 = atomic_load(&t->started);
		for (g = g0; g <= g1 && g < g0 + NCFG; g++)
			allowed |= cfg_allows(g % NCFG, family);
		if (w < 0) {
			atomic_fetch_add(&t->failed, 1);
			continue;
		}
		if (!(allowed & 1u << w)) {
			atomic_fetch_add(&t->wrong, 1);
			continue;
		}
		if (g0 == g1) {
			atomic_fetch_add(&t->narrow, 1);
			atomic_fetch_add(&t->by_cfg[g0 % NCFG], 1);
		}
	}
	return NULL;
}

FIXTURE(rp) {
	struct rp t;
	pthread_t srv[NSRV];
	struct srv s[NSRV];
};

FIXTURE_SETUP(rp)
{
	int i;

	SKEX_NEED_MODULE();
	memset(&self->t, 0, sizeof(self->t));
	for (i = 0; i < NSRV; i++) {
		self->t.fd[i] = fw_listen("::", 0, 1024, false,
					  &self->t.port[i]);
		ASSERT_LE(0, self->t.fd[i]) TH_LOG("listen: %s", strerror(errno));
	}
	self->t.p = fw_free_port();
	ASSERT_NE(0, self->t.p);
	for (i = 0; i < NSRV; i++) {
		self->s[i].t = &self->t;
		self->s[i].i = i;
		ASSERT_EQ(0, pthread_create(&self->srv[i], NULL, srv_main,
					    &self->s[i]));
	}
}

FIXTURE_TEARDOWN(rp)
{
	int i;

	atomic_store(&self->t.stop, true);
	for (i = 0; i < NSRV; i++)
		pthread_join(self->srv[i], NULL);
	for (i = TCP_DICE_FW; i <= TCP_ADDR_FW; i++)
		fw_rule(TCP_FW_DEL_RULE, i, self->t.p, 0);
	for (i = 0; i < NSRV; i++)
		close(self->t.fd[i]);
}

TEST_F_TIMEOUT(rp, under_traffic, 600)
{
	struct rp *t = &self->t;
	pthread_t cl[NCLIENTS];
	unsigned int replaces = 0, i;
	uint64_t t0 = skex_now_us();

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, t->p, t->port[D1]));
	ASSERT_EQ(0, cfg_set(t, 0));
	for (i = 0; i < NCLIENTS; i++)
		ASSERT_EQ(0, pthread_create(&cl[i], NULL, client_main, t));
	/* replace while they run: A, B, C, A, ... */
	while (atomic_load(&t->next) < NCONNS) {
		atomic_fetch_add(&t->started, 1);
		EXPECT_EQ(0, cfg_set(t, (replaces + 1) % NCFG));
		replaces++;
		atomic_fetch_add(&t->done, 1);
		/* slower on a debug kernel: each rule keeps whole connections */
		skex_sleep_ms((20 + replaces % 40) * skex_time_scale());
	}
	for (i = 0; i < NCLIENTS; i++)
		pthread_join(cl[i], NULL);

	TH_LOG("%u connections, %u replaces in %.1f s; failed %u, wrong port %u",
	       NCONNS, replaces, (skex_now_us() - t0) / 1e6,
	       atomic_load(&t->failed), atomic_load(&t->wrong));
	TH_LOG("under one rule only: %u (dice %u, address %u, content %u)",
	       atomic_load(&t->narrow), atomic_load(&t->by_cfg[0]),
	       atomic_load(&t->by_cfg[1]), atomic_load(&t->by_cfg[2]));
	TH_LOG("answered: R1 %u R2 %u R3 %u R4 %u D1 %u D2 %u X %u",
	       atomic_load(&t->by_srv[R1]), atomic_load(&t->by_srv[R2]),
	       atomic_load(&t->by_srv[R3]), atomic_load(&t->by_srv[R4]),
	       atomic_load(&t->by_srv[D1]), atomic_load(&t->by_srv[D2]),
	       atomic_load(&t->by_srv[X]));
	EXPECT_EQ(0, atomic_load(&t->failed));
	EXPECT_EQ(0, atomic_load(&t->wrong));
	EXPECT_EQ(0, atomic_load(&t->by_srv[X]));
	/* the three rules each had connections to themselves */
	EXPECT_LT(0, atomic_load(&t->by_cfg[0]));
	EXPECT_LT(0, atomic_load(&t->by_cfg[1]));
	EXPECT_LT(0, atomic_load(&t->by_cfg[2]));
	EXPECT_LE(30, replaces);
	EXPECT_EQ(0, fw_cfs_num(t->p, NULL, "dropped"));
	EXPECT_STREQ("1", fw_cfs_get(t->p, NULL, "enable"));
	EXPECT_STREQ(replaces % NCFG == 0 ? "dice" : replaces % NCFG == 1 ?
		     "address" : "content", fw_cfs_get(t->p, NULL, "type"));
	EXPECT_TRUE(fw_cfs_exists(t->p, "a"));
	EXPECT_TRUE(fw_cfs_exists(t->p, "b"));
}

TEST_HARNESS_MAIN
