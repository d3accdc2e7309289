// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Where skex sits in the TCP stack. Each wrapper runs in place of the
 * kernel function of the same name (see hook.c), calls the original and
 * hands what it learnt to the engines:
 *
 *   handshake done    inet_csk_complete_hashdance,
 *                     inet_csk_reqsk_queue_add   (observed)  netmeter
 *   accept()          inet_csk_accept                        netmeter
 *   write paths       tcp_sendmsg, tcp_sendpage (6.1)        netmeter
 *   read paths        tcp_recvmsg, tcp_splice_read           netmeter
 *   socket gone       tcp_v4_destroy_sock (v4+v6, observed)  netmeter
 *   control           tcp_setsockopt, tcp_getsockopt         sockopt.c
 *
 * Every wrapper brackets its work with skex_call_enter()/skex_call_exit()
 * so that unloading can wait for it (hook.c).
 */
#include "skex.h"
#include "compat.h"
#include "hook.h"
#include "netmeter.h"
#include "tcp_hooks.h"

#include <linux/ptrace.h>
#include <net/tcp.h>

static typeof(inet_csk_accept) *inet_csk_accept_orig;
static typeof(tcp_sendmsg) *tcp_sendmsg_orig;
static typeof(tcp_recvmsg) *tcp_recvmsg_orig;
static typeof(tcp_splice_read) *tcp_splice_read_orig;
static typeof(tcp_setsockopt) *tcp_setsockopt_orig;
static typeof(tcp_getsockopt) *tcp_getsockopt_orig;
#if SKEX_HAVE_TCP_SENDPAGE
static typeof(tcp_sendpage) *tcp_sendpage_orig;
#endif

/* inet_csk_reqsk_queue_add(sk, req, child): fast open, migration, skex */
static void skex_observe_queue_add(struct pt_regs *regs)
{
	skex_nm_queued((struct sock *)regs_get_kernel_argument(regs, 0),
		       (struct sock *)regs_get_kernel_argument(regs, 2));
}

/*
 * inet_csk_complete_hashdance(sk, child, req, own_req): the end of every
 * regular handshake; the compiler may inline the queue_add it calls.
 */
static void skex_observe_hashdance(struct pt_regs *regs)
{
	if (regs_get_kernel_argument(regs, 3) & 0xff)
		skex_nm_queued((struct sock *)regs_get_kernel_argument(regs, 0),
			       (struct sock *)regs_get_kernel_argument(regs, 1));
}

static void skex_observe_destroy(struct pt_regs *regs)
{
	skex_nm_destroyed((struct sock *)regs_get_kernel_argument(regs, 0));
}

static struct sock *skex_inet_csk_accept(SKEX_ACCEPT_PROTO)
{
	struct skex_call call;
	struct sock *child;

	skex_call_enter(&call, sk);
	child = inet_csk_accept_orig(SKEX_ACCEPT_ARGS);
	if (child && sk->sk_protocol == IPPROTO_TCP)
		skex_nm_accepted(sk, child);
	skex_call_exit(&call);
	if (!child) {
		struct skex_accept_args a = SKEX_ACCEPT_ARGS_INIT;

		skex_accept_set_err(&a, skex_call_ret(skex_accept_err(&a)));
	}
	return child;
}

static int skex_tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, sk);
	ret = tcp_sendmsg_orig(sk, msg, size);
	if (ret > 0)
		skex_nm_sent(sk, ret);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

#if SKEX_HAVE_TCP_SENDPAGE
static int skex_tcp_sendpage(struct sock *sk, struct page *page, int offset,
			     size_t size, int flags)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, sk);
	ret = tcp_sendpage_orig(sk, page, offset, size, flags);
	if (ret > 0)
		skex_nm_sent(sk, ret);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}
#endif

static int skex_tcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
			    int flags, int *addr_len)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, sk);
	ret = tcp_recvmsg_orig(sk, msg, len, flags, addr_len);
	if (ret > 0 && !(flags & (MSG_PEEK | MSG_ERRQUEUE)))
		skex_nm_received(sk, ret);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

static ssize_t skex_tcp_splice_read(struct socket *sock, loff_t *ppos,
				    struct pipe_inode_info *pipe, size_t len,
				    unsigned int flags)
{
	struct skex_call call;
	ssize_t ret;

	skex_call_enter(&call, sock->sk);
	ret = tcp_splice_read_orig(sock, ppos, pipe, len, flags);
	if (ret > 0)
		skex_nm_received(sock->sk, ret);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

/* tcp_[gs]etsockopt(sk, level, optname, ...): only skex's own names. */
static bool skex_want_setsockopt(struct pt_regs *regs)
{
	return regs_get_kernel_argument(regs, 1) == SOL_TCP &&
	       skex_sockopt_owns(regs_get_kernel_argument(regs, 2), true);
}

static bool skex_want_getsockopt(struct pt_regs *regs)
{
	return regs_get_kernel_argument(regs, 1) == SOL_TCP &&
	       skex_sockopt_owns(regs_get_kernel_argument(regs, 2), false);
}

static int skex_tcp_setsockopt(struct sock *sk, int level, int optname,
			       sockptr_t optval, unsigned int optlen)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, NULL);
	if (level == SOL_TCP && skex_sockopt_owns(optname, true))
		ret = skex_sockopt_set(sk, optname, optval, optlen);
	else
		ret = tcp_setsockopt_orig(sk, level, optname, optval, optlen);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

static int skex_tcp_getsockopt(struct sock *sk, int level, int optname,
			       char __user *optval, int __user *optlen)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, NULL);
	if (level == SOL_TCP && skex_sockopt_owns(optname, false))
		ret = skex_sockopt_get(sk, optname, optval, optlen);
	else
		ret = tcp_getsockopt_orig(sk, level, optname, optval, optlen);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

static struct skex_hook skex_tcp_hooks[] = {
	SKEX_OBSERVE(inet_csk_complete_hashdance, skex_observe_hashdance),
	SKEX_OBSERVE(inet_csk_reqsk_queue_add, skex_observe_queue_add),
	SKEX_OBSERVE(tcp_v4_destroy_sock, skex_observe_destroy),
	SKEX_WRAP(inet_csk_accept, skex_inet_csk_accept),
	SKEX_WRAP(tcp_sendmsg, skex_tcp_sendmsg),
#if SKEX_HAVE_TCP_SENDPAGE
	SKEX_WRAP(tcp_sendpage, skex_tcp_sendpage),
#endif
	SKEX_WRAP(tcp_recvmsg, skex_tcp_recvmsg),
	SKEX_WRAP(tcp_splice_read, skex_tcp_splice_read),
	{
		.name = "tcp_setsockopt",
		.wrapper = skex_tcp_setsockopt,
		.want = skex_want_setsockopt,
		.orig = (void **)&tcp_setsockopt_orig,
	},
	{
		.name = "tcp_getsockopt",
		.wrapper = skex_tcp_getsockopt,
		.want = skex_want_getsockopt,
		.orig = (void **)&tcp_getsockopt_orig,
	},
};

int skex_tcp_hooks_init(void)
{
	int err;

	err = skex_hook_init();
	if (err)
		return err;
	return skex_hooks_install(skex_tcp_hooks, ARRAY_SIZE(skex_tcp_hooks));
}

void skex_tcp_hooks_exit(void)
{
	skex_hooks_remove(skex_tcp_hooks, ARRAY_SIZE(skex_tcp_hooks));
	skex_calls_drain();
}
