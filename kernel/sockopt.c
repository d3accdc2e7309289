// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The setsockopt()/getsockopt() front at level IPPROTO_TCP (docs/sockopt.md;
 * uapi/linux/tcp_fw_user.h, uapi/linux/socket_ex_user.h). A thin layer:
 * it checks the caller and the length from a per-command table before any
 * copy, then calls the same engine functions as configfs. After a command
 * that succeeded, it has the mirror show what changed in configfs.
 */
#include "skex.h"
#include "forward.h"
#include "group.h"
#include "mirror.h"

#include <linux/capability.h>
#include <linux/socket_ex_user.h>
#include <linux/tcp_fw_user.h>
#include <linux/uaccess.h>
#include <net/sock.h>

/**
 * struct skex_sockopt - one command of the front
 * @optname: its option name
 * @len: the least optlen it accepts
 * @set: handler of a setsockopt() command (needs CAP_NET_ADMIN); fills in
 *	what it changed for the mirror
 * @get: handler of a getsockopt() command; returns the length written
 */
struct skex_sockopt {
	int optname;
	unsigned int len;
	int (*set)(struct sock *sk, int optname, sockptr_t optval,
		   unsigned int optlen, struct skex_change *chg);
	int (*get)(struct sock *sk, void __user *optval, int len);
};

/* Fills struct netmeter (docs/proc.md) for the port the caller names. */
static int skex_get_stat(struct sock *sk, void __user *optval, int len)
{
	struct skex_port_stat st;
	struct netmeter nm;
	u16 port;
	int err;

	if (copy_from_user(&port, optval + offsetof(struct netmeter, port),
			   sizeof(port)))
		return -EFAULT;
	err = skex_port_stat(sock_net(sk), port, &st);
	if (err)
		return err;

	memset(&nm, 0, sizeof(nm));
	nm.port = port;
	nm.stat.bout = st.bytes_out;
	nm.stat.bin = st.bytes_in;
	nm.stat.conn = min_t(u64, st.conns, U32_MAX);
	nm.stat.accept_delay = min_t(u64, div_u64(st.delay_ns, 10 * NSEC_PER_MSEC),
				     U32_MAX);
	nm.stat.ref_count = min_t(u32, st.listeners, U16_MAX);
	nm.stat.conn_waiting = min_t(u64, st.waiting, U16_MAX);
	if (copy_to_user(optval, &nm, sizeof(nm)))
		return -EFAULT;
	return sizeof(nm);
}

#define SKEX_FW(name)	{ name, sizeof(struct tcp_fw_user), skex_fw_setsockopt }
#define SKEX_FW_LEN(name, type) { name, sizeof(type), skex_fw_setsockopt }
#define SKEX_GROUP(name, type) { name, sizeof(type), skex_group_setsockopt }

static const struct skex_sockopt skex_sockopts[] = {
	SKEX_FW(TCP_FW_ADD_RULE),
	SKEX_FW(TCP_FW_ADD_BRANCH),
	SKEX_FW(TCP_FW_DEL_BRANCH),
	SKEX_FW(TCP_FW_FLUSH_BRANCH),
	SKEX_FW(TCP_FW_EDIT_RULE),
	SKEX_FW(TCP_FW_DEL_RULE),
	SKEX_FW_LEN(TCP_FW_ADD_BRANCH6, struct tcp_fw_addr6_user),
	SKEX_FW_LEN(TCP_FW_DEL_BRANCH6, struct tcp_fw_addr6_user),
	SKEX_FW_LEN(TCP_FW_REPLACE_RULE, struct tcp_fw_replace_user),
	SKEX_GROUP(TCP_SKEX_ADD_GROUP, struct sock_group_user),
	SKEX_GROUP(TCP_SKEX_EDIT_GROUP, struct sock_group_user),
	SKEX_GROUP(TCP_SKEX_DEL_GROUP, int),
	SKEX_GROUP(TCP_SKEX_FLUSH_LIST, int),
	{ TCP_SKEX_STAT, sizeof(struct netmeter), NULL, skex_get_stat },
};

static const struct skex_sockopt *skex_sockopt_find(int optname, bool set)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(skex_sockopts); i++)
		if (skex_sockopts[i].optname == optname &&
		    (set ? !!skex_sockopts[i].set : !!skex_sockopts[i].get))
			return &skex_sockopts[i];
	return NULL;
}

/* Whether @optname at level IPPROTO_TCP is skex's. Called at hook entry. */
bool skex_sockopt_owns(int optname, bool set)
{
	if (optname < TCP_FW_BASE_CTL || optname > TCP_SKEX_MAX)
		return false;
	return !!skex_sockopt_find(optname, set);
}

int skex_sockopt_set(struct sock *sk, int optname, sockptr_t optval,
		     unsigned int optlen)
{
	const struct skex_sockopt *op = skex_sockopt_find(optname, true);
	struct skex_change chg = { .what = SKEX_CHANGE_NONE };
	int err;

	if (!op)
		return -ENOPROTOOPT;
	if (!ns_capable(sock_net(sk)->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	if (optlen < op->len)
		return -EINVAL;
	/* the one trigger of the mirror (docs/configfs.md) */
	skex_mirror_begin(skex_net(sock_net(sk)));
	err = op->set(sk, optname, optval, optlen, &chg);
	if (err)
		chg.what = SKEX_CHANGE_NONE;
	skex_mirror_end(skex_net(sock_net(sk)), &chg);
	return err;
}

int skex_sockopt_get(struct sock *sk, int optname, char __user *optval,
		     int __user *optlen)
{
	const struct skex_sockopt *op = skex_sockopt_find(optname, false);
	int len, ret;

	if (!op)
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0 || (unsigned int)len < op->len)
		return -EINVAL;
	ret = op->get(sk, optval, len);
	if (ret < 0)
		return ret;
	return put_user(ret, optlen);
}
