/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the socket group selftests (group_*.c): the seed's
 * group calls, configfs access, clocks and CPU time.
 */
#ifndef _SKEX_GROUP_COMMON_H
#define _SKEX_GROUP_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "skex_common.h"

#define CFS_GROUPS	"/sys/kernel/config/skex/groups"

static inline struct sock_ex_user sx_frac(uint16_t port, double q, int nb)
{
	struct sock_ex_user s;

	memset(&s, 0, sizeof(s));
	s.port = port;
	s.quota.frac.whole = (__u16)q;
	s.quota.frac.frac = FRAC_PART(q);
	s.nonblock = nb;
	return s;
}

static inline struct sock_ex_user sx_int(uint16_t port, uint32_t q, int nb)
{
	struct sock_ex_user s;

	memset(&s, 0, sizeof(s));
	s.port = port;
	s.quota.integer = q;
	s.nonblock = nb;
	return s;
}

/* setsockopt(@opt) with @sg on a fresh TCP socket: 0 or -errno. */
static inline int group_call(int opt, void *arg, socklen_t len)
{
	return skex_tcp_setsockopt(-1, AF_INET, opt, arg, len);
}

/* TCP_SKEX_ADD_GROUP: 0 and *gid, or -errno. */
static inline int group_add(int type, struct sock_ex_user *socks, int n,
			    uint16_t *gid)
{
	struct sock_group_user sg = {
		.type = type, .sock_cnt = n, .socks = socks,
	};
	int ret = group_call(TCP_SKEX_ADD_GROUP, &sg, sizeof(sg));

	if (!ret && gid)
		*gid = sg.gid;
	return ret;
}

static inline int group_edit(uint16_t gid, int type, struct sock_ex_user *socks,
			     int n)
{
	struct sock_group_user sg = {
		.gid = gid, .type = type, .sock_cnt = n, .socks = socks,
	};

	return group_call(TCP_SKEX_EDIT_GROUP, &sg, sizeof(sg));
}

static inline int group_del(int gid)
{
	return group_call(TCP_SKEX_DEL_GROUP, &gid, sizeof(gid));
}

static inline int group_flush(void)
{
	int useless = 0;

	return group_call(TCP_SKEX_FLUSH_LIST, &useless, sizeof(useless));
}

/* One-port groups, the common case. */
static inline int group_add1(int type, uint16_t port, double q, int nb,
			     uint16_t *gid)
{
	struct sock_ex_user s = type == SKEX_ACCEPT_ABSOLUTE ||
				type == SKEX_ACCEPT_RATIO ?
				sx_frac(port, q, nb) : sx_int(port, q, nb);

	return group_add(type, &s, 1, gid);
}

static inline int group_edit1(uint16_t gid, int type, uint16_t port, double q,
			      int nb)
{
	struct sock_ex_user s = type == SKEX_ACCEPT_ABSOLUTE ||
				type == SKEX_ACCEPT_RATIO ?
				sx_frac(port, q, nb) : sx_int(port, q, nb);

	return group_edit(gid, type, &s, 1);
}

/* ---- configfs ---- */

/* Read a configfs file into @buf (newline stripped): length or -errno. */
static inline int cfs_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return n;
}

static inline int cfs_mkdir(const char *path)
{
	return mkdir(path, 0755) ? -errno : 0;
}

static inline int cfs_rmdir(const char *path)
{
	return rmdir(path) ? -errno : 0;
}

static inline bool cfs_exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* groups/<gid>/ports/<port>/burst (accept_rate): 0 or -errno */
static inline int cfs_set_burst(unsigned int gid, unsigned int port,
				unsigned int burst)
{
	char path[128], val[16];

	snprintf(path, sizeof(path), CFS_GROUPS "/%u/ports/%u/burst", gid,
		 port);
	snprintf(val, sizeof(val), "%u\n", burst);
	return skex_write_file(path, val);
}

/* Entries of a directory, "." and ".." aside; -1 if it cannot be read. */
static inline int cfs_count(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* groups/<gid>/ports/<port>/throttled, or -1 */
static inline long long cfs_throttled(unsigned int gid, unsigned int port)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), CFS_GROUPS "/%u/ports/%u/throttled", gid,
		 port);
	if (cfs_read(path, buf, sizeof(buf)) < 0)
		return -1;
	return atoll(buf);
}

/* ---- time ---- */

static inline uint64_t thread_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec * 1000000ull + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_sec * 1000000ull + ru.ru_stime.tv_usec;
}

/*
 * ---- what else ran ----
 * The CPU time of every thread but the test's own, from a snapshot to
 * another: on one vCPU, what a writer late for its tokens waited behind.
 */
#define CPU_SNAP_MAX	1024

struct cpu_use {
	int tid;
	char comm[16];
	uint64_t ns;		/* on the CPU since it started */
};

struct cpu_snap {
	int n;
	struct cpu_use t[CPU_SNAP_MAX];
};

/* Thread @tid of process @pid into @e; false if it is gone. */
static inline bool cpu_snap_one(const char *pid, const char *tid,
				struct cpu_use *e)
{
	unsigned long long ns;
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat", pid, tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	e->tid = atoi(tid);
	e->ns = ns;
	snprintf(path, sizeof(path), "/proc/%s/task/%s/comm", pid, tid);
	f = fopen(path, "r");
	if (!f || !fgets(e->comm, sizeof(e->comm), f))
		strcpy(e->comm, "?");
	if (f)
		fclose(f);
	e->comm[strcspn(e->comm, "\n")] = 0;
	return true;
}

static inline void cpu_snap_take(struct cpu_snap *cs)
{
	DIR *procs = opendir("/proc"), *tasks;
	struct dirent *p, *t;
	char path[300];

	cs->n = 0;
	while (procs && (p = readdir(procs))) {
		if (atoi(p->d_name) <= 0 || atoi(p->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		tasks = opendir(path);
		while (tasks && (t = readdir(tasks)) && cs->n < CPU_SNAP_MAX)
			if (atoi(t->d_name) > 0 &&
			    cpu_snap_one(p->d_name, t->d_name, &cs->t[cs->n]))
				cs->n++;
		if (tasks)
			closedir(tasks);
	}
	if (procs)
		closedir(procs);
}

/*
 * What the other threads ran from @a to @b: the total (ms) and the three
 * that ran most, as "comm ms, ..." in @top.
 */
static inline double cpu_snap_diff(const struct cpu_snap *a,
				   const struct cpu_snap *b,
				   char *top, size_t len)
{
	double total = 0, best[3] = { 0 };
	int who[3] = { -1, -1, -1 }, i, j, k;

	for (i = 0; i < b->n; i++) {
		double d = b->t[i].ns;

		for (j = 0; j < a->n; j++)
			if (a->t[j].tid == b->t[i].tid) {
				d -= a->t[j].ns;
				break;
			}
		d /= 1e6;
		total += d;
		for (k = 0; k < 3; k++)
			if (d > best[k]) {
				memmove(&best[k + 1], &best[k],
					(2 - k) * sizeof(best[0]));
				memmove(&who[k + 1], &who[k],
					(2 - k) * sizeof(who[0]));
				best[k] = d;
				who[k] = i;
				break;
			}
	}
	top[0] = 0;
	for (k = 0; k < 3 && who[k] >= 0; k++)
		snprintf(top + strlen(top), len - strlen(top), "%s%s %.0f",
			 k ? ", " : "", b->t[who[k]].comm, best[k]);
	return total;
}

static inline void noop_handler(int sig)
{
	(void)sig;
}

/* Install a no-op handler for @sig, with or without SA_RESTART. */
static inline void catch_signal(int sig, bool restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = noop_handler;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(sig, &sa, NULL);
}

/* ---- a call that a quota holds back, in a thread ---- */

/* The call of a thread started on it; @len: the bytes of a write. */
struct blocked {
	int fd;
	size_t len;
	ssize_t ret;
	int err;
	pid_t tid;
	volatile bool done;
};

/* Whether @b's call has returned, waiting up to @ms milliseconds. */
static inline bool blocked_wait(struct blocked *b, unsigned int ms)
{
	while (!b->done && ms--)
		skex_sleep_ms(1);
	return b->done;
}

/*
 * SIGUSR1 to call @fn (a thread's function, on @b) that a quota of 0 on
 * @port of group @gid holds back: without SA_RESTART the call fails with
 * EINTR; with SA_RESTART it goes on sleeping until the quota is raised to
 * @quota (type @type), which wakes it. Returns with @b holding the
 * restarted call's result and its thread joined.
 */
static inline void blocked_signal(struct __test_metadata *_metadata,
				  void *(*fn)(void *), struct blocked *b,
				  uint16_t gid, int type, uint16_t port,
				  double quota)
{
	pthread_t t;

	catch_signal(SIGUSR1, false);
	ASSERT_EQ(0, pthread_create(&t, NULL, fn, b));
	EXPECT_FALSE(blocked_wait(b, 300));
	pthread_kill(t, SIGUSR1);
	EXPECT_TRUE(blocked_wait(b, 2000));
	pthread_join(t, NULL);
	EXPECT_EQ(-1, b->ret);
	EXPECT_EQ(EINTR, b->err);

	catch_signal(SIGUSR1, true);
	b->done = false;
	ASSERT_EQ(0, pthread_create(&t, NULL, fn, b));
	EXPECT_FALSE(blocked_wait(b, 300));
	pthread_kill(t, SIGUSR1);
	EXPECT_FALSE(blocked_wait(b, 300)) TH_LOG("not restarted");
	ASSERT_EQ(0, group_edit1(gid, type, port, quota, 0));
	EXPECT_TRUE(blocked_wait(b, 3000))
		TH_LOG("raising the quota did not wake it");
	pthread_join(t, NULL);
}

/* A loopback IPv4 listener on a free port; *port set. */
static inline int listen_any(uint16_t *port, int backlog)
{
	struct skex_addr a;
	int fd;

	skex_loopback(&a, AF_INET, 0);
	fd = skex_listen(&a, backlog, false);
	if (fd >= 0)
		*port = skex_addr_port(&a);
	return fd;
}

static inline int connect_port(uint16_t port)
{
	struct skex_addr a;

	skex_loopback(&a, AF_INET, port);
	return skex_connect(&a);
}

#endif /* _SKEX_GROUP_COMMON_H */
