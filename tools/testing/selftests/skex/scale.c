// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile tenants (issue 14 items 3-5): what one namespace's configuration
 * may cost the machine and the other namespaces.
 *
 *   groups_netns   10,000 accept_rate groups in a namespace of their own,
 *                  then TCP_SKEX_FLUSH_LIST: every gid is the lowest free
 *                  one, a freed gid is reused, the flush leaves none
 *   groups_init    the same, fewer, in the initial namespace (mirrored to
 *                  configfs): directories follow
 *   rules_netns    10,000 enabled rules, a rule of 4096 branches flushed,
 *                  then TCP_FW_DEL_RULE of every rule at once: the ports
 *                  are free again
 *   cross_ns       namespace B deletes 5,000 rules and flushes 5,000
 *                  groups in one call each while namespace A adds and
 *                  deletes rules and groups: A is done while B's delete
 *                  still runs
 *   limits         net.skex.max_rules, max_branches, max_groups: ENOSPC at
 *                  the limit; a namespace cannot raise its limit above the
 *                  initial namespace's, a user-namespace root can lower its
 *                  own and cannot touch the initial namespace's
 *   rules_init     a rule of 4096 address branches and one of 1,000
 *                  content branches built through the sockopt front in
 *                  the initial namespace (mirrored to configfs): the tree
 *                  names exactly the engine's branches
 *                  (/proc/net/skex_forward) after the build, after a
 *                  TCP_FW_REPLACE_RULE that keeps some, renames some and
 *                  drops the rest, after a delete and after a flush
 *   memcg_groups   a process in a cgroup with a small memory.max making
 *   memcg_rules    groups (rules) until it fails: ENOMEM well before the
 *                  namespace limit, memory.events counts "max", no OOM kill,
 *                  and the initial namespace still configures
 *
 * Times are printed (KTAP diagnostics), never asserted: the test's timeout
 * in tests.list (quadratic work does not finish in it) and the structural
 * checks are what fail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "forward_common.h"
#include "group_common.h"

#define N_GROUPS	10000
#define N_GROUPS_INIT	2000
#define N_RULES		10000
#define N_BRANCHES	4096
#define N_CROSS		5000
#define SYSCTL		"/proc/sys/net/skex/"
#define CGROOT		"/sys/fs/cgroup"
#define CG		CGROOT "/skex_scale"
/* the cases' timeouts are multiplied by this (a measurement of old code) */
#ifndef SCALE_T
#define SCALE_T		1
#endif

/* A KTAP diagnostic; flushed, as the harness ends a case with _exit(). */
#define note(...) do {						\
	ksft_print_msg(__VA_ARGS__);					\
	fflush(stdout);							\
} while (0)

static double secs(uint64_t us)
{
	return us / 1e6;
}

/* setsockopt(@opt) on @fd: 0 or -errno. */
static int so(int fd, int opt, void *arg, socklen_t len)
{
	return setsockopt(fd, IPPROTO_TCP, opt, arg, len) ? -errno : 0;
}

static int add_rate_group(int fd, uint16_t port, uint16_t *gid)
{
	struct sock_ex_user s = sx_frac(port, 10, 0);
	struct sock_group_user sg = {
		.type = SKEX_ACCEPT_ABSOLUTE, .sock_cnt = 1, .socks = &s,
	};
	int ret = so(fd, TCP_SKEX_ADD_GROUP, &sg, sizeof(sg));

	if (!ret && gid)
		*gid = sg.gid;
	return ret;
}

static int del_group(int fd, int gid)
{
	return so(fd, TCP_SKEX_DEL_GROUP, &gid, sizeof(gid));
}

static int flush_groups(int fd)
{
	int zero = 0;

	return so(fd, TCP_SKEX_FLUSH_LIST, &zero, sizeof(zero));
}

/* fw_addr() for the /32 source 0.0.0.0 + @src, on fw_call_fd */
static int fw_host_branch(int opt, uint16_t port, uint16_t redir, uint32_t src)
{
	char a[INET_ADDRSTRLEN];
	struct in_addr in = { .s_addr = htonl(src) };

	inet_ntop(AF_INET, &in, a, sizeof(a));
	return fw_addr(opt, port, redir, a, "255.255.255.255");
}

/*
 * A TCP socket in the caller's namespace, to configure it with: ours and
 * fw_call()'s (forward_common.h).
 */
static int ctl_socket(void)
{
	fw_call_fd = socket(AF_INET, SOCK_STREAM, 0);
	return fw_call_fd;
}

/* Whether @port can be bound in the caller's namespace (nobody has it). */
static bool port_free(uint16_t port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons(port) };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

	if (fd < 0)
		return false;
	ok = !bind(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return ok;
}

static int read_uint(const char *path, unsigned long long *val)
{
	char b[64];

	if (cfs_read(path, b, sizeof(b)) < 0)
		return -1;
	*val = strtoull(b, NULL, 10);
	return 0;
}

static int write_uint(const char *path, unsigned long long val)
{
	char b[32];

	snprintf(b, sizeof(b), "%llu", val);
	return skex_write_file(path, b);
}

/* The test VM runs in a chroot: user namespaces need PID 1's root. */
static int unchroot(void)
{
	if (chdir("/proc/1/root") || chroot("."))
		return -1;
	return chdir("/");
}

/* The times of a loop of @n adds: all of it, its first and last tenth. */
struct add_timer {
	unsigned int n, k;
	uint64_t t0, first, last;
};

static void add_timer_start(struct add_timer *t, unsigned int n)
{
	t->n = n;
	t->k = n / 10;
	t->first = 0;
	t->last = 0;
	t->t0 = skex_now_us();
}

/* Before add @i (from 0). */
static void add_timer_tick(struct add_timer *t, unsigned int i)
{
	if (i == t->k)
		t->first = skex_now_us() - t->t0;
	if (i == t->n - t->k)
		t->last = skex_now_us();
}

/* After the last add: "@what: added @n @objects in ..." */
static void add_timer_end(struct add_timer *t, const char *what,
			  const char *objects)
{
	uint64_t now = skex_now_us();

	note("%s: added %u %s in %.2f s (first %u: %.0f us each, last %u: %.0f us each)\n",
	     what, t->n, objects, secs(now - t->t0), t->k,
	     (double)t->first / t->k, t->k, (double)(now - t->last) / t->k);
}

/*
 * Add @n accept_rate groups on ports @base.. with @fd and flush them,
 * checking every gid; prints the times under @what.
 */
static void groups_round(struct __test_metadata *_metadata, int fd,
			 unsigned int n, uint16_t base, const char *what,
			 bool cfs)
{
	struct add_timer at;
	uint64_t t0, tflush;
	unsigned int i;
	uint16_t gid;

	add_timer_start(&at, n);
	for (i = 0; i < n; i++) {
		add_timer_tick(&at, i);
		ASSERT_EQ(0, add_rate_group(fd, base + i, &gid))
			TH_LOG("group %u", i + 1);
		ASSERT_EQ(i + 1, gid);
	}
	add_timer_end(&at, what, "accept_rate groups");
	/* a freed gid is the lowest free one again */
	ASSERT_EQ(0, del_group(fd, n / 2));
	ASSERT_EQ(0, add_rate_group(fd, base + n / 2 - 1, &gid));
	ASSERT_EQ(n / 2, gid);
	ASSERT_EQ(-EEXIST, add_rate_group(fd, base, NULL));
	if (cfs) {
		char p[64];

		ASSERT_EQ((int)n, cfs_count(CFS_GROUPS));
		snprintf(p, sizeof(p), CFS_GROUPS "/%u/ports/%u", n,
			 base + n - 1);
		ASSERT_TRUE(cfs_exists(p));
	}

	t0 = skex_now_us();
	ASSERT_EQ(0, flush_groups(fd));
	tflush = skex_now_us() - t0;

	ASSERT_EQ(-ENOENT, del_group(fd, 1));
	ASSERT_EQ(-ENOENT, del_group(fd, n));
	if (cfs)
		ASSERT_EQ(0, cfs_count(CFS_GROUPS));
	ASSERT_EQ(0, add_rate_group(fd, base, &gid));
	ASSERT_EQ(1, gid);
	ASSERT_EQ(0, flush_groups(fd));

	note("%s: flushed %u groups in %.3f s\n", what, n, secs(tflush));
}

FIXTURE(scale) {};
FIXTURE_SETUP(scale)
{
	SKEX_NEED_MODULE();
}

FIXTURE_TEARDOWN(scale)
{
}

TEST_F_TIMEOUT(scale, groups_netns, 60 * SCALE_T)
{
	int fd;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	fd = ctl_socket();
	ASSERT_LE(0, fd);
	groups_round(_metadata, fd, N_GROUPS, 1000, "groups, own namespace",
		     false);
	close(fd);
}

TEST_F_TIMEOUT(scale, groups_init, 60 * SCALE_T)
{
	int fd;

	ASSERT_EQ(0, group_flush());
	fd = ctl_socket();
	ASSERT_LE(0, fd);
	groups_round(_metadata, fd, N_GROUPS_INIT, 1000,
		     "groups, initial namespace (configfs mirror)", true);
	close(fd);
}

/* qsort() of names */
static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	unsigned int n;
};

static void names_free(struct names *s)
{
	while (s->n)
		free(s->v[--s->n]);
	free(s->v);
	s->v = NULL;
}

static int names_add(struct names *s, const char *name)
{
	char **v = realloc(s->v, (s->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	s->v = v;
	s->v[s->n] = strdup(name);
	return s->v[s->n] ? (int)s->n++ : -1;
}

/* The directories of forward/<port>/branches, sorted; -1: none. */
static int tree_branches(uint16_t port, struct names *s)
{
	char path[128];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/kernel/config/skex/forward/%u/branches",
		 port);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && names_add(s, de->d_name) < 0)
			break;
	closedir(d);
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), name_cmp);
	return s->n;
}

/* The engine's branches of rule @port (/proc/net/skex_forward), sorted. */
static int engine_branches(uint16_t port, struct names *s)
{
	char want[16], line[1024], name[64];
	FILE *f = fopen("/proc/net/skex_forward", "r");

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%u ", port);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)) &&
		    sscanf(line + strlen(want), "%63s", name) == 1 &&
		    strcmp(name, "-") && names_add(s, name) < 0)
			break;
	fclose(f);
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), name_cmp);
	return s->n;
}

/* configfs shows rule @port with exactly the engine's @n branches. */
static void tree_is_engine(struct __test_metadata *_metadata, uint16_t port,
			   int n)
{
	struct names t = {}, e = {};
	unsigned int i;

	ASSERT_EQ(n, engine_branches(port, &e));
	ASSERT_EQ(n, tree_branches(port, &t));
	for (i = 0; i < e.n; i++)
		ASSERT_STREQ(e.v[i], t.v[i]) TH_LOG("rule %u, branch %u", port, i);
	names_free(&t);
	names_free(&e);
}

TEST_F_TIMEOUT(scale, rules_init, 120 * SCALE_T)
{
	static struct tcp_fw_branch_user br[N_BRANCHES];
	const uint16_t pa = 40200, pc = 40201;
	struct tcp_fw_replace_user r;
	char name[16], pat[32], src[32];
	uint64_t t0, tbr, tcont, trep;
	unsigned int i, n;
	int fd;

	fd = ctl_socket();
	ASSERT_LE(0, fd);
	fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, pa, 0);
	fw_rule(TCP_FW_DEL_RULE, TCP_CONTENT_FW, pc, 0);

	/* 4096 address branches: br1 .. br4096 */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, pa, 19999));
	t0 = skex_now_us();
	for (i = 0; i < N_BRANCHES; i++)
		ASSERT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, pa, 19998,
					       0x0a000000 + i))
			TH_LOG("branch %u", i);
	tbr = skex_now_us() - t0;
	ASSERT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, pa, 19998,
					     0x0b000000));
	tree_is_engine(_metadata, pa, N_BRANCHES);
	ASSERT_TRUE(fw_cfs_exists(pa, "br1"));
	ASSERT_TRUE(fw_cfs_exists(pa, "br4096"));
	ASSERT_STREQ("10.0.15.255/32", fw_cfs_get(pa, "br4096", "source"));

	/* 1,000 content branches */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, pc, 19999));
	t0 = skex_now_us();
	for (i = 0; i < 1000; i++) {
		snprintf(pat, sizeof(pat), "X-NoMatch-%06u", i);
		ASSERT_EQ(0, fw_content_str(TCP_FW_ADD_BRANCH, pc, 19998, pat))
			TH_LOG("branch %u", i);
	}
	tcont = skex_now_us() - t0;
	tree_is_engine(_metadata, pc, 1000);
	note("rules, initial namespace (configfs mirror): %u address branches added in %.2f s, 1000 content branches in %.2f s\n",
	     N_BRANCHES, secs(tbr), secs(tcont));

	/*
	 * A replace: br1 .. br2048 stay (sources moved to 11.x), r1 .. r1024
	 * are new, br2049 .. br4096 go.
	 */
	n = 0;
	for (i = 0; i < 2048; i++, n++) {
		snprintf(name, sizeof(name), "br%u", i + 1);
		snprintf(src, sizeof(src), "::ffff:11.0.%u.%u", i >> 8, i & 255);
		fw_br_addr(&br[n], name, 19998, src, 128);
	}
	for (i = 0; i < 1024; i++, n++) {
		snprintf(name, sizeof(name), "r%u", i + 1);
		snprintf(src, sizeof(src), "::ffff:12.0.%u.%u", i >> 8, i & 255);
		fw_br_addr(&br[n], name, 19998, src, 128);
	}
	fw_repl(&r, TCP_ADDR_FW, pa, 19999, br, n);
	t0 = skex_now_us();
	ASSERT_EQ(0, fw_replace(&r));
	trep = skex_now_us() - t0;
	note("rules, initial namespace: replace of 4096 branches by %u (2048 kept) in %.2f s\n",
	     n, secs(trep));
	tree_is_engine(_metadata, pa, n);
	ASSERT_FALSE(fw_cfs_exists(pa, "br2049"));
	ASSERT_TRUE(fw_cfs_exists(pa, "r1024"));
	ASSERT_STREQ("11.0.7.255/32", fw_cfs_get(pa, "br2048", "source"));

	/* one branch deleted, then all of them flushed */
	ASSERT_EQ(0, fw_host_branch(TCP_FW_DEL_BRANCH, pa, 19998, 0x0b000000));
	tree_is_engine(_metadata, pa, n - 1);
	ASSERT_FALSE(fw_cfs_exists(pa, "br1"));
	ASSERT_EQ(0, fw_rule(TCP_FW_FLUSH_BRANCH, TCP_ADDR_FW, pa, 0));
	tree_is_engine(_metadata, pa, 0);

	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, pa, 0));
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_CONTENT_FW, pc, 0));
	ASSERT_FALSE(fw_cfs_exists(pa, NULL));
	ASSERT_FALSE(fw_cfs_exists(pc, NULL));
	close(fd);
	fw_call_fd = -1;
}

TEST_F_TIMEOUT(scale, rules_netns, 120 * SCALE_T)
{
	uint64_t t0, tbr, tflush, tdel;
	struct add_timer at;
	unsigned int i;
	int fd;

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	fd = ctl_socket();
	ASSERT_LE(0, fd);

	add_timer_start(&at, N_RULES);
	for (i = 0; i < N_RULES; i++) {
		add_timer_tick(&at, i);
		ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 20000 + i,
				     19999)) TH_LOG("rule %u", i);
	}
	add_timer_end(&at, "rules, own namespace", "enabled address rules");
	ASSERT_FALSE(port_free(20000));
	ASSERT_FALSE(port_free(20000 + N_RULES - 1));
	ASSERT_EQ(-EEXIST, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 20000,
				 19999));

	/* a rule of 4096 branches (the per-rule limit), flushed */
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 40000, 19999));
	t0 = skex_now_us();
	for (i = 0; i < N_BRANCHES; i++)
		ASSERT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 40000,
					       19998, 0x0a000000 + i))
			TH_LOG("branch %u", i);
	tbr = skex_now_us() - t0;
	ASSERT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, 40000,
					     19998, 0x0b000000));
	t0 = skex_now_us();
	ASSERT_EQ(0, fw_rule(TCP_FW_FLUSH_BRANCH, TCP_ADDR_FW, 40000, 0));
	tflush = skex_now_us() - t0;
	note("rules, own namespace: %u branches added in %.2f s, flushed in %.3f s\n",
	     N_BRANCHES, secs(tbr), secs(tflush));
	/* all gone: the same branches fit again */
	ASSERT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 40000, 19998,
				       0x0a000000));

	t0 = skex_now_us();
	ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, 0, 0));
	tdel = skex_now_us() - t0;
	note("rules, own namespace: deleted all %u rules in one call in %.3f s\n",
	     N_RULES + 1, secs(tdel));
	ASSERT_EQ(-ENOENT, fw_rule(TCP_FW_EDIT_RULE, TCP_ADDR_FW, 20000,
				 19999));
	ASSERT_TRUE(port_free(20000));
	ASSERT_TRUE(port_free(20000 + N_RULES - 1));
	ASSERT_TRUE(port_free(40000));
	close(fd);
}

/* What the two namespaces of cross_ns tell each other. */
struct cross {
	volatile int b_ready;		/* B configured, about to delete */
	volatile int b_rules_done;	/* B's TCP_FW_DEL_RULE returned */
	volatile int b_done;		/* B's deletes returned */
	volatile int b_err;
	volatile uint64_t b_start, b_rules_end, b_end;
};

static void cross_b(struct cross *x)
{
	unsigned int i;
	int fd, err = 0;

	if (unshare(CLONE_NEWNET))
		_exit(2);
	fd = ctl_socket();
	for (i = 0; !err && i < N_CROSS; i++)
		err = fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, 20000 + i, 19999);
	for (i = 0; !err && i < N_CROSS; i++)
		err = add_rate_group(fd, 1000 + i, NULL);
	if (err) {
		x->b_err = err;
		_exit(3);
	}
	x->b_start = skex_now_us();
	__atomic_store_n(&x->b_ready, 1, __ATOMIC_SEQ_CST);
	err = fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, 0, 0);
	x->b_rules_end = skex_now_us();
	__atomic_store_n(&x->b_rules_done, 1, __ATOMIC_SEQ_CST);
	if (!err)
		err = flush_groups(fd);
	x->b_end = skex_now_us();
	__atomic_store_n(&x->b_done, 1, __ATOMIC_SEQ_CST);
	x->b_err = err;
	_exit(err ? 4 : 0);
}

TEST_F_TIMEOUT(scale, cross_ns, 120 * SCALE_T)
{
	uint64_t t0, t, worst = 0, total, ends[10];
	unsigned int i, ops = 0, inside = 0;
	struct cross *x;
	int fd, status;
	uint16_t gid;
	pid_t pid;

	x = mmap(NULL, sizeof(*x), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, x);
	memset(x, 0, sizeof(*x));
	ASSERT_EQ(0, unshare(CLONE_NEWNET));	/* A's */

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		cross_b(x);

	fd = ctl_socket();
	ASSERT_LE(0, fd);
	while (!__atomic_load_n(&x->b_ready, __ATOMIC_SEQ_CST)) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ASSERT_TRUE(false) TH_LOG("B failed to configure: %d",
						  x->b_err);
		}
		skex_sleep_ms(5);
	}
	/* let B enter its call */
	skex_sleep_ms(20);

	/* rounds of four calls, each started after B entered its delete */
	t0 = skex_now_us();
	for (i = 0; i < 10; i++) {
		t = skex_now_us();
		ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_DICE_FW, 30000 + i,
				     29999));
		ASSERT_EQ(0, add_rate_group(fd, 30000 + i, &gid));
		ASSERT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_DICE_FW, 30000 + i,
				     0));
		ASSERT_EQ(0, del_group(fd, gid));
		ends[i] = skex_now_us();
		t = ends[i] - t;
		worst = t > worst ? t : worst;
		ops += 4;
	}
	total = skex_now_us() - t0;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("B: %d", x->b_err);
	for (i = 0; i < 10; i++)
		inside += ends[i] < x->b_rules_end;
	note("cross_ns: B deleted %u rules in one call in %.3f s, then flushed %u groups in %.3f s; meanwhile A made %u calls in %.3f s (%.1f ms per add+del of a rule and a group, worst %.1f ms); %u of A's 10 rounds were done before B's delete returned\n",
	     N_CROSS, secs(x->b_rules_end - x->b_start), N_CROSS,
	     secs(x->b_end - x->b_rules_end), ops, secs(total),
	     total / 10 / 1e3, worst / 1e3, inside);
	/*
	 * A never waited for B: its first round, started inside B's delete,
	 * was done before that delete returned.
	 */
	EXPECT_LE(1, inside);
	EXPECT_LT(ends[0], x->b_rules_end);
	close(fd);
}

/*
 * With max_branches 5 and no rule: a replace counts its rule's new
 * branches against the limit and gives the old ones back, so that the
 * namespace has exactly 5 again once the rule is gone.
 */
static void scale_replace_limit(struct __test_metadata *_metadata)
{
	struct tcp_fw_branch_user br[6];
	struct tcp_fw_replace_user r;
	char src[32];
	int i;

	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 2005, 2000));
	for (i = 0; i < 6; i++) {
		snprintf(src, sizeof(src), "::ffff:10.9.%d.0", i);
		fw_br_addr(&br[i], "", 3000, src, 120);
	}
	fw_repl(&r, TCP_ADDR_FW, 2005, 2000, br, 6);
	EXPECT_EQ(-ENOSPC, fw_replace(&r));
	fw_repl(&r, TCP_ADDR_FW, 2005, 2000, br, 5);
	EXPECT_EQ(0, fw_replace(&r));
	EXPECT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, 2005, 3000, 20));
	fw_repl(&r, TCP_ADDR_FW, 2005, 2000, br, 2);
	EXPECT_EQ(0, fw_replace(&r));
	EXPECT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, 2005, 0));
	ASSERT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 2006, 2000));
	for (i = 1; i <= 5; i++)
		EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2006, 3000,
					    20 + i));
	EXPECT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, 2006, 3000, 26));
	EXPECT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, 0, 0));
}

TEST_F_TIMEOUT(scale, limits, 60 * SCALE_T)
{
	unsigned long long init_groups, v;
	int fd, status;
	uint16_t gid;
	pid_t pid;

	ASSERT_EQ(0, read_uint(SYSCTL "max_groups", &init_groups))
		TH_LOG(SYSCTL "max_groups missing");
	ASSERT_EQ(0, read_uint(SYSCTL "max_rules", &v));
	ASSERT_EQ(16384, v);
	ASSERT_EQ(0, read_uint(SYSCTL "max_branches", &v));
	ASSERT_EQ(65536, v);
	ASSERT_EQ(16384, init_groups);

	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	fd = ctl_socket();
	ASSERT_LE(0, fd);
	/* a new namespace starts with the initial one's limits */
	ASSERT_EQ(0, read_uint(SYSCTL "max_groups", &v));
	ASSERT_EQ(init_groups, v);
	/* and cannot exceed them */
	EXPECT_EQ(-EINVAL, write_uint(SYSCTL "max_groups", init_groups + 1));
	EXPECT_EQ(0, write_uint(SYSCTL "max_groups", 3));
	EXPECT_EQ(0, read_uint(SYSCTL "max_groups", &v));
	EXPECT_EQ(3, v);
	EXPECT_EQ(0, add_rate_group(fd, 1001, &gid));
	EXPECT_EQ(0, add_rate_group(fd, 1002, &gid));
	EXPECT_EQ(0, add_rate_group(fd, 1003, &gid));
	EXPECT_EQ(-ENOSPC, add_rate_group(fd, 1004, &gid));
	/* lowering keeps what exists */
	EXPECT_EQ(0, write_uint(SYSCTL "max_groups", 1));
	EXPECT_EQ(-ENOSPC, add_rate_group(fd, 1004, &gid));
	EXPECT_EQ(0, del_group(fd, 1));
	EXPECT_EQ(0, del_group(fd, 2));
	EXPECT_EQ(-ENOSPC, add_rate_group(fd, 1004, &gid));
	EXPECT_EQ(0, del_group(fd, 3));
	EXPECT_EQ(0, add_rate_group(fd, 1004, &gid));
	EXPECT_EQ(0, flush_groups(fd));
	/* the initial namespace's is untouched */

	EXPECT_EQ(0, write_uint(SYSCTL "max_rules", 2));
	EXPECT_EQ(0, write_uint(SYSCTL "max_branches", 5));
	EXPECT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 2001, 2000));
	EXPECT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 2002, 2000));
	EXPECT_EQ(-ENOSPC, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 2003,
				 2000));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2001, 3000, 1));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2001, 3000, 2));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2001, 3000, 3));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2002, 3000, 4));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2002, 3000, 5));
	/* the limit is the namespace's, whatever the rule */
	EXPECT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, 2002,
					     3000, 6));
	EXPECT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, 2001,
					     3000, 6));
	/* flushing, deleting a branch or a rule gives room back */
	EXPECT_EQ(0, fw_rule(TCP_FW_FLUSH_BRANCH, TCP_ADDR_FW, 2001, 0));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2002, 3000, 6));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_DEL_BRANCH, 2002, 3000, 4));
	/* 2001: none, 2002: 5 and 6 */
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2001, 3000, 7));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2001, 3000, 8));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2001, 3000, 9));
	EXPECT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, 2001,
					     3000, 10));
	EXPECT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, 2002, 0));
	EXPECT_EQ(0, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 2003, 2000));
	EXPECT_EQ(-ENOSPC, fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW, 2004,
				 2000));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2001, 3000, 10));
	EXPECT_EQ(0, fw_host_branch(TCP_FW_ADD_BRANCH, 2003, 3000, 11));
	EXPECT_EQ(-ENOSPC, fw_host_branch(TCP_FW_ADD_BRANCH, 2003,
					     3000, 12));
	EXPECT_EQ(0, fw_rule(TCP_FW_DEL_RULE, TCP_ADDR_FW, 0, 0));
	scale_replace_limit(_metadata);
	close(fd);

	/* a local user become user-namespace root (unshare -Urn) */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int r1, r2, r3, r4;

		if (unchroot() ||
		    setns(open("/proc/1/ns/net", O_RDONLY), CLONE_NEWNET))
			_exit(9);
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(8);
		/* setuid() made us undumpable: /proc/self/uid_map root's */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
			_exit(7);
		if (unshare(CLONE_NEWUSER))
			_exit(10);
		if (skex_write_file("/proc/self/uid_map", "0 65534 1"))
			_exit(6);
		/* in the initial namespace: may not write its limits */
		r1 = write_uint(SYSCTL "max_groups", 1);
		if (unshare(CLONE_NEWNET))
			_exit(11);
		r2 = write_uint(SYSCTL "max_groups", 2);
		r3 = write_uint(SYSCTL "max_groups", init_groups + 1);
		fd = ctl_socket();
		r4 = add_rate_group(fd, 1001, NULL) ?:
		     add_rate_group(fd, 1002, NULL) ?:
		     add_rate_group(fd, 1003, NULL);
		if (r1 != -EACCES && r1 != -EPERM)
			_exit(12);
		if (r2)
			_exit(13);
		if (r3 != -EINVAL)
			_exit(14);
		_exit(r4 == -ENOSPC ? 0 : 15);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("user namespace: step %d",
						 WEXITSTATUS(status));
}

/* A cgroup file's "key value" line. */
static long long cg_key(const char *file, const char *key)
{
	char path[128], line[256];
	long long v = -1;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), CG "/%s", file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			v = atoll(line + klen + 1);
	fclose(f);
	return v;
}

/*
 * A child in cgroup CG, with memory.max its usage plus @room bytes, makes
 * groups (@rules false) or enabled rules in a namespace of its own until
 * a call fails. Returns through @made and @err what it made and why it
 * stopped.
 */
static void memcg_fill(struct __test_metadata *_metadata, bool rules,
		       long long room)
{
	unsigned long long cur, max, limit;
	int sync[2], done[2], status, result[2] = { 0, 0 };
	long long events_max, oom_kill, slab;
	char c = 0;
	pid_t pid;

	if (access(CGROOT "/cgroup.controllers", F_OK))
		SKIP(return, "no cgroup v2");
	rmdir(CG);
	skex_write_file(CGROOT "/cgroup.subtree_control", "+memory");
	if (mkdir(CG, 0755) || access(CG "/memory.max", F_OK)) {
		rmdir(CG);
		SKIP(return, "no memory controller");
	}
	ASSERT_EQ(0, pipe(sync));
	ASSERT_EQ(0, pipe(done));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		unsigned int i, n = 0;
		int fd, err = 0;

		if (write_uint(CG "/cgroup.procs", getpid()) ||
		    unshare(CLONE_NEWNET))
			_exit(2);
		fd = ctl_socket();
		/* ready: the parent sets memory.max now */
		if (write(sync[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(3);
		for (i = 0; !err && i < 16384; i++) {
			if (rules)
				err = fw_rule(TCP_FW_ADD_RULE, TCP_ADDR_FW,
					    20000 + i, 19999);
			else
				err = add_rate_group(fd, 1000 + i, NULL);
			if (!err)
				n++;
		}
		result[0] = n;
		result[1] = err;
		if (write(sync[1], result, sizeof(result)) != sizeof(result))
			_exit(4);
		/* stay until the parent has read the cgroup's counters */
		if (read(done[0], &c, 1) != 1)
			_exit(5);
		_exit(0);
	}
	ASSERT_EQ(1, read(sync[0], &c, 1));
	ASSERT_EQ(0, read_uint(CG "/memory.current", &cur));
	limit = cur + room;
	ASSERT_EQ(0, write_uint(CG "/memory.max", limit));
	ASSERT_EQ(1, write(done[1], &c, 1));
	ASSERT_EQ(sizeof(result), read(sync[0], result, sizeof(result)));

	ASSERT_EQ(0, read_uint(CG "/memory.current", &max));
	events_max = cg_key("memory.events", "max");
	oom_kill = cg_key("memory.events", "oom_kill");
	slab = cg_key("memory.stat", "slab");
	ASSERT_EQ(1, write(done[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	rmdir(CG);

	note("memcg %s: memory.max %llu (usage at start %llu + %lld); made %d before %s; memory.current %llu, slab %lld, memory.events max %lld oom_kill %lld\n",
		       rules ? "rules" : "groups", limit, cur, room, result[0],
		       strerror(-result[1]), max, slab, events_max, oom_kill);
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("child status %#x", status);
	/* its own limit, not the namespace's nor the host's */
	EXPECT_EQ(-ENOMEM, result[1]);
	EXPECT_LT(0, result[0]);
	EXPECT_GT(16384, result[0]);
	EXPECT_LT(0, events_max);
	EXPECT_EQ(0, oom_kill);
	/* charged: the cgroup's usage went up to its limit */
	EXPECT_LT(cur + room / 2, max);

	/* the host configures as before */
	{
		uint16_t gid;
		int fd = ctl_socket();

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, add_rate_group(fd, 45001, &gid));
		EXPECT_EQ(0, del_group(fd, gid));
		close(fd);
	}
}

TEST_F_TIMEOUT(scale, memcg_groups, 60 * SCALE_T)
{
	memcg_fill(_metadata, false, 4 << 20);
}

TEST_F_TIMEOUT(scale, memcg_rules, 60 * SCALE_T)
{
	memcg_fill(_metadata, true, 4 << 20);
}

TEST_HARNESS_MAIN
