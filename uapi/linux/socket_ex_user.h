/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * skex socket groups and netmeter: setsockopt()/getsockopt() front.
 *
 * Calls are made on any TCP socket at level IPPROTO_TCP. The set calls need
 * CAP_NET_ADMIN in the socket's network namespace; TCP_SKEX_STAT does not.
 *
 *   TCP_SKEX_ADD_GROUP   struct sock_group_user; the kernel picks the gid
 *                        and writes it back into the caller's structure
 *   TCP_SKEX_EDIT_GROUP  struct sock_group_user with gid set; replaces the
 *                        group's port list and quotas
 *   TCP_SKEX_DEL_GROUP   int gid
 *   TCP_SKEX_FLUSH_LIST  int (ignored): delete every group
 *   TCP_SKEX_STAT        getsockopt, struct netmeter with port set
 *
 * Group types: SKEX_ACCEPT_ABSOLUTE (one port, quota.frac connections per
 * second), SKEX_ACCEPT_RATIO (two or more ports, quota.frac weights),
 * SKEX_OUTPUT_ABSOLUTE and SKEX_OUTPUT_ABSOLUTE_FTP (one port,
 * quota.integer bytes per second).
 */
#ifndef _UAPI_LINUX_SOCKET_EX_USER_H
#define _UAPI_LINUX_SOCKET_EX_USER_H

#include <linux/types.h>

/* Group types */
#define SKEX_ACCEPT_ABSOLUTE		1
#define SKEX_ACCEPT_RATIO		2
#define SKEX_OUTPUT_ABSOLUTE		3
#define SKEX_OUTPUT_ABSOLUTE_FTP	4

/* Most ports in one group */
#define SKEX_GROUP_PORTS_MAX		64

/* setsockopt/getsockopt(IPPROTO_TCP) option names; a contiguous range */
#define TCP_SKEX_BASE_CTL	0x5310
#define TCP_SKEX_ADD_GROUP	(TCP_SKEX_BASE_CTL + 0)
#define TCP_SKEX_EDIT_GROUP	(TCP_SKEX_BASE_CTL + 1)
#define TCP_SKEX_DEL_GROUP	(TCP_SKEX_BASE_CTL + 2)
#define TCP_SKEX_FLUSH_LIST	(TCP_SKEX_BASE_CTL + 3)
#define TCP_SKEX_STAT		(TCP_SKEX_BASE_CTL + 4)
#define TCP_SKEX_MAX		TCP_SKEX_STAT

/* A fraction as whole + frac / 1000; frac is at most 999 */
struct quota {
	__u16 whole;
	__u16 frac;
};

#ifndef __KERNEL__
/* Thousandths of a non-negative number, as the seed's examples use it */
static inline __u16 FRAC_PART(double x)
{
	__u16 frac = (__u16)((x - (double)(__u16)x) * 1000.0 + 0.5);

	return frac > 999 ? 999 : frac;
}
#endif

struct sock_ex_user {
	__u16 port;		/* port number, host byte order */
	union {
		struct quota frac;
		__u32 integer;
	} quota;		/* meaning depends on the group type */
	short nonblock;		/* non-zero: fail with EAGAIN, never block */
};

struct sock_group_user {
	__u16 gid;		/* group id, written back by TCP_SKEX_ADD_GROUP */
	__u16 type;		/* SKEX_* group type */
	__u16 sock_cnt;		/* entries in socks, 1..SKEX_GROUP_PORTS_MAX */
	struct sock_ex_user *socks;
};

struct port_stat_user {
	__u64 bout, bin;	/* application bytes written, read on the port */
	__u32 conn;		/* connections accepted via this port */
	__u32 accept_delay;	/* total accept delay, unit 0.01 s */
	__u16 ref_count;	/* listening sockets on the port */
	__u16 conn_waiting;	/* connections waiting in the accept queue */
};

struct netmeter {
	__u16 port;		/* listening port, host byte order */
	struct port_stat_user stat;
};

#endif /* _UAPI_LINUX_SOCKET_EX_USER_H */
