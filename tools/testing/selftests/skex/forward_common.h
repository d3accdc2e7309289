/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the forwarding selftests (forward.c, forward_tool.c): the
 * seed's setsockopt() commands, the rule's configfs directory, listeners
 * and clients with chosen addresses.
 */
#ifndef _SKEX_FORWARD_COMMON_H
#define _SKEX_FORWARD_COMMON_H

#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>

#include <linux/tcp_fw_user.h>

#include "skex_common.h"

#define FW_CFS		"/sys/kernel/config/skex/forward"

/* ---- the seed's commands: 0 or -errno ---- */

/* A socket the calls reuse (a test making thousands); -1: one per call. */
static int fw_call_fd = -1;

static inline int fw_call(int optname, const struct tcp_fw_user *u)
{
	return skex_tcp_setsockopt(fw_call_fd, AF_INET, optname, u, sizeof(*u));
}

static inline int fw_rule(int optname, int type, uint16_t port,
			  uint16_t def_port)
{
	struct tcp_fw_user u;

	memset(&u, 0xa5, sizeof(u));	/* the seed leaves the rest unset */
	u.type = type;
	u.port = port;
	u.def_port = def_port;
	return fw_call(optname, &u);
}

static inline int fw_addr(int optname, uint16_t port, uint16_t redir,
			  const char *src, const char *mask)
{
	struct tcp_fw_user u;

	memset(&u, 0xa5, sizeof(u));
	u.type = TCP_ADDR_FW;
	u.port = port;
	u.u.afb_u.redir_port = redir;
	inet_pton(AF_INET, src, &u.u.afb_u.src);
	inet_pton(AF_INET, mask, &u.u.afb_u.src_mask);
	return fw_call(optname, &u);
}

static inline int fw_dice(int optname, uint16_t port, uint16_t redir,
			  uint16_t chance)
{
	struct tcp_fw_user u;

	memset(&u, 0xa5, sizeof(u));
	u.type = TCP_DICE_FW;
	u.port = port;
	u.u.dfb_u.redir_port = redir;
	u.u.dfb_u.redir_chance = chance;
	return fw_call(optname, &u);
}

static inline int fw_content(int optname, uint16_t port, uint16_t redir,
			     const void *pattern, uint16_t len)
{
	struct tcp_fw_user u;

	memset(&u, 0xa5, sizeof(u));
	u.type = TCP_CONTENT_FW;
	u.port = port;
	u.u.cfb_u.redir_port = redir;
	u.u.cfb_u.ptn_len = len;
	u.u.cfb_u.pattern = (char *)pattern;
	return fw_call(optname, &u);
}

static inline int fw_content_str(int optname, uint16_t port, uint16_t redir,
				 const char *pattern)
{
	return fw_content(optname, port, redir, pattern, strlen(pattern));
}

/* ---- configfs: forward/<port>/[branches/<name>/]<attr> ---- */

static inline void fw_cfs_path(char *buf, size_t size, uint16_t port,
			       const char *branch, const char *attr)
{
	if (branch)
		snprintf(buf, size, FW_CFS "/%u/branches/%s%s%s", port, branch,
			 attr ? "/" : "", attr ? attr : "");
	else
		snprintf(buf, size, FW_CFS "/%u%s%s", port, attr ? "/" : "",
			 attr ? attr : "");
}

/* The attribute's text without its newline, or "" when unreadable. */
static inline const char *fw_cfs_get(uint16_t port, const char *branch,
				     const char *attr)
{
	static char val[512];
	char path[256];
	ssize_t n;
	int fd;

	fw_cfs_path(path, sizeof(path), port, branch, attr);
	val[0] = '\0';
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return val;
	n = read(fd, val, sizeof(val) - 1);
	close(fd);
	if (n < 0)
		n = 0;
	val[n] = '\0';
	if (n && val[n - 1] == '\n')
		val[n - 1] = '\0';
	return val;
}

static inline long long fw_cfs_num(uint16_t port, const char *branch,
				   const char *attr)
{
	const char *v = fw_cfs_get(port, branch, attr);

	return *v ? atoll(v) : -1;
}

/* write(2) of @val: 0 or -errno */
static inline int fw_cfs_set(uint16_t port, const char *branch,
			     const char *attr, const char *val)
{
	char path[256];

	fw_cfs_path(path, sizeof(path), port, branch, attr);
	return skex_write_file(path, val);
}

static inline bool fw_cfs_exists(uint16_t port, const char *branch)
{
	char path[256];

	fw_cfs_path(path, sizeof(path), port, branch, NULL);
	return access(path, F_OK) == 0;
}

/* ---- sockets ---- */

static inline int fw_sockaddr(const char *addr, uint16_t port,
			      struct skex_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		return inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		return inet_pton(AF_INET, addr, &s4->sin_addr) == 1 ? 0 : -1;
	}
}

/*
 * A nonblocking listener on @addr:@port (port 0: any); "::" is dual-stack.
 * Returns the fd and sets *@bound to the port, or -1.
 */
static inline int fw_listen(const char *addr, uint16_t port, int backlog,
			    bool reuseport, uint16_t *bound)
{
	struct skex_addr a;
	int one = 1, zero = 0, fd;

	if (fw_sockaddr(addr, port, &a))
		return -1;
	fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto err;
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) || listen(fd, backlog))
		goto err;
	a.len = sizeof(a.ss);
	if (getsockname(fd, (struct sockaddr *)&a.ss, &a.len))
		goto err;
	if (bound)
		*bound = skex_addr_port(&a);
	return fd;
err:
	close(fd);
	return -1;
}

/*
 * A port nothing uses now (on any address, both families), and not one this
 * process was given before: a test takes several before binding any. bind()
 * to port 0 picks the parity connect() avoids, so clients leave it alone.
 */
static inline uint16_t fw_free_port(void)
{
	static uint16_t given[64];
	static unsigned int ngiven;

	for (int tries = 0; tries < 100; tries++) {
		uint16_t port = 0;
		int fd = fw_listen("::", 0, 1, false, &port);
		unsigned int i;

		if (fd < 0)
			return 0;
		close(fd);
		for (i = 0; i < ngiven && given[i] != port; i++)
			;
		if (i < ngiven)
			continue;
		if (ngiven < 64)
			given[ngiven++] = port;
		return port;
	}
	return 0;
}

/* Blocking client from @src (NULL: any) to @dst:@port; -1 on failure. */
static inline int fw_connect(const char *src, const char *dst, uint16_t port)
{
	struct skex_addr s, d;
	int fd;

	if (fw_sockaddr(dst, port, &d))
		return -1;
	fd = socket(d.ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (src && (fw_sockaddr(src, 0, &s) ||
		    bind(fd, (struct sockaddr *)&s.ss, s.len)))
		goto err;
	if (connect(fd, (struct sockaddr *)&d.ss, d.len))
		goto err;
	return fd;
err:
	close(fd);
	return -1;
}

/*
 * Accept one connection from any of @fds[@n] within @timeout_ms. Returns
 * the accepted fd (blocking mode) and sets *@which, or -1 on timeout.
 */
static inline int fw_accept_any(const int *fds, int n, int timeout_ms,
				int *which)
{
	struct pollfd p[16];
	uint64_t end = skex_now_us() + (uint64_t)timeout_ms * 1000;
	int i, fd;

	if (n > 16)
		return -1;
	for (;;) {
		int64_t left = (int64_t)(end - skex_now_us()) / 1000;

		if (left < 0)
			left = 0;
		for (i = 0; i < n; i++) {
			p[i].fd = fds[i];
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		if (poll(p, n, (int)left) <= 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			fd = accept4(fds[i], NULL, NULL, 0);
			if (fd >= 0) {
				*which = i;
				return fd;
			}
		}
	}
}

/* write all of @buf: 0 or -1 */
static inline int fw_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* read exactly @len bytes within @timeout_ms: 0, or -1 */
static inline int fw_read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	char *p = buf;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Same address and port. */
static inline bool fw_same_addr(const struct sockaddr_storage *a,
				const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

/* The IPv4 address inside a v4-mapped IPv6 one, as an AF_INET address. */
static inline void fw_unmap(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in s4 = { .sin_family = AF_INET };

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &s4, sizeof(s4));
}

/* ---- skex's own commands: IPv6 sources, replace ---- */

/* @bits ones from the top of a 128-bit mask */
static inline void fw_mask6(struct in6_addr *m, int bits)
{
	int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < bits; i++)
		m->s6_addr[i / 8] |= 0x80 >> (i % 8);
}

/* TCP_FW_ADD_BRANCH6/DEL_BRANCH6 of @src/@bits (IPv6 or ::ffff:a.b.c.d) */
static inline int fw_addr6(int optname, uint16_t port, uint16_t redir,
			   const char *src, int bits)
{
	struct tcp_fw_addr6_user a;

	memset(&a, 0, sizeof(a));
	a.type = TCP_ADDR_FW;
	a.port = port;
	a.redir_port = redir;
	inet_pton(AF_INET6, src, &a.src);
	fw_mask6(&a.src_mask, bits);
	return skex_tcp_setsockopt(-1, AF_INET6, optname, &a, sizeof(a));
}

/* One branch of a replace: name, port and a condition of its rule's type. */
static inline void fw_br(struct tcp_fw_branch_user *b, const char *name,
			 uint16_t redir)
{
	memset(b, 0, sizeof(*b));
	strncpy(b->name, name, sizeof(b->name) - 1);
	b->redir_port = redir;
}

static inline void fw_br_addr(struct tcp_fw_branch_user *b, const char *name,
			      uint16_t redir, const char *src, int bits)
{
	fw_br(b, name, redir);
	inet_pton(AF_INET6, src, &b->src);
	fw_mask6(&b->src_mask, bits);
}

static inline void fw_br_content(struct tcp_fw_branch_user *b,
				 const char *name, uint16_t redir,
				 const char *pattern, int anchor)
{
	fw_br(b, name, redir);
	b->ptn_len = strlen(pattern);
	b->pattern = (uintptr_t)pattern;
	if (anchor >= 0) {
		b->flags = TCP_FW_BRANCH_ANCHORED;
		b->offset = anchor;
	}
}

/* TCP_FW_REPLACE_RULE with @r (its branches set by the caller): 0 or -errno */
static inline int fw_replace_len(const struct tcp_fw_replace_user *r,
				 socklen_t len)
{
	return skex_tcp_setsockopt(-1, AF_INET, TCP_FW_REPLACE_RULE, r, len);
}

static inline int fw_replace(const struct tcp_fw_replace_user *r)
{
	return fw_replace_len(r, sizeof(*r));
}

static inline void fw_repl(struct tcp_fw_replace_user *r, int type,
			   uint16_t port, uint16_t def_port,
			   struct tcp_fw_branch_user *br, int n)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->port = port;
	r->def_port = def_port;
	r->nbranches = n;
	r->branches = (uintptr_t)br;
	if (type == TCP_CONTENT_FW)
		r->until = TCP_FW_UNTIL_PUSH;
}

/*
 * The row of /proc/net/skex_forward of rule @port and @branch ("-": the
 * rule's), without its newline, in @buf; 0, or -1 when there is none.
 */
static inline int fw_proc_row(uint16_t port, const char *branch, char *buf,
			      size_t size)
{
	char want[64], line[1024];
	FILE *f = fopen("/proc/net/skex_forward", "r");
	int ret = -1;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%u %s ", port, branch);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) < size) {
			strcpy(buf, line);
			ret = 0;
		}
		break;
	}
	fclose(f);
	return ret;
}

/* Bring up lo in a new network namespace (ip(8) from the host's root). */
static inline int fw_netns_lo(const char *const *addrs6)
{
	char cmd[256];

	if (system("ip link set lo up"))
		return -1;
	for (; addrs6 && *addrs6; addrs6++) {
		snprintf(cmd, sizeof(cmd), "ip -6 addr add %s/128 dev lo nodad",
			 *addrs6);
		if (system(cmd))
			return -1;
	}
	return 0;
}

#endif /* _SKEX_FORWARD_COMMON_H */
