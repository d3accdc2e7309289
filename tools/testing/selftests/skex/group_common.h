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
