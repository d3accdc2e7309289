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
 *   accept() returns  security_sock_graft        (observed)  netmeter
 *   close, shutdown   tcp_close, tcp_disconnect,
 *                     tcp_shutdown               (observed)  netmeter
 *   socket gone       tcp_v4_destroy_sock (v4+v6, observed)  netmeter, groups
 *   control           tcp_setsockopt, tcp_getsockopt         sockopt.c
 *
 * and, only while socket groups of a kind exist (demand hooks, see hook.c):
 *
 *   accept()          inet_csk_accept (filtered)             accept groups
 *   write paths       tcp_sendmsg    (filtered),
 *                     tcp_sendpage   (filtered, 6.1)         output groups
 *   read path         tcp_recvmsg                            FTP output groups
 *   poll()            tcp_poll       (filtered)              groups
 *
 * The netmeter needs nothing on the data path: it reads the byte counts
 * off TCP's sequence numbers (netmeter.c).
 *
 * Every wrapper brackets its work with skex_call_enter()/skex_call_exit()
 * so that unloading can wait for it (hook.c). Socket groups (group.c) may
 * make accept() and the sends wait: they sleep on sk_sleep() of the socket
 * given to skex_call_enter(), so that skex_calls_drain() reaches them.
 */
#include "skex.h"
#include "compat.h"
#include "group_throttle.h"
#include "hook.h"
#include "netmeter.h"
#include "tcp_hooks.h"

#include <linux/uio.h>
#include <net/tcp.h>

SKEX_ORIG(inet_csk_accept);
SKEX_ORIG(tcp_sendmsg);
SKEX_ORIG(tcp_recvmsg);
SKEX_ORIG(tcp_setsockopt);
SKEX_ORIG(tcp_getsockopt);
SKEX_ORIG(tcp_poll);
#if SKEX_HAVE_TCP_SENDPAGE
SKEX_ORIG(tcp_sendpage);
#endif

/* inet_csk_reqsk_queue_add(sk, req, child): fast open, migration, skex */
static void skex_observe_queue_add(struct ftrace_regs *fregs)
{
	skex_nm_queued((struct sock *)skex_ftrace_arg(fregs, 0),
		       (struct sock *)skex_ftrace_arg(fregs, 2));
}

/*
 * inet_csk_complete_hashdance(sk, child, req, own_req): the end of every
 * regular handshake; the compiler may inline the queue_add it calls.
 */
static void skex_observe_hashdance(struct ftrace_regs *fregs)
{
	if (skex_ftrace_arg(fregs, 3) & 0xff)
		skex_nm_queued((struct sock *)skex_ftrace_arg(fregs, 0),
			       (struct sock *)skex_ftrace_arg(fregs, 1));
}

/*
 * security_sock_graft(sk, parent): accept() (inet_accept()) hands a
 * connection to the socket it returns. The other callers graft other
 * protocols.
 */
static void skex_observe_graft(struct ftrace_regs *fregs)
{
	struct sock *sk = (struct sock *)skex_ftrace_arg(fregs, 0);

	if (sk->sk_protocol == IPPROTO_TCP && sk->sk_type == SOCK_STREAM)
		skex_nm_accepted(sk);
}

/* tcp_close(sk, timeout) and tcp_disconnect(sk, flags) */
static void skex_observe_close(struct ftrace_regs *fregs)
{
	skex_nm_closed((struct sock *)skex_ftrace_arg(fregs, 0));
}

/* tcp_shutdown(sk, how) */
static void skex_observe_shutdown(struct ftrace_regs *fregs)
{
	skex_nm_shutdown((struct sock *)skex_ftrace_arg(fregs, 0),
			 skex_ftrace_arg(fregs, 1));
}

static void skex_observe_destroy(struct ftrace_regs *fregs)
{
	struct sock *sk = (struct sock *)skex_ftrace_arg(fregs, 0);

	skex_group_destroyed(sk);
	skex_nm_destroyed(sk);
}

/* accept() on a listener of a port in an accept group. */
static struct sock *skex_accept_throttled(struct skex_group_port *gp,
					  struct sock *sk,
					  struct skex_accept_args *a)
{
	struct sock *child = NULL;
	struct skex_wait w;
	int ret;

	skex_wait_init(&w, sk,
		       sock_rcvtimeo(sk, skex_accept_flags(a) & O_NONBLOCK));
	for (;;) {
		ret = skex_group_accept_wait(&gp, &w);
		if (ret < 0) {
			skex_accept_set_err(a, ret);
			break;
		}
		if (!ret) {
			child = skex_accept_call(skex_orig_inet_csk_accept, sk, a,
						 false);
			break;
		}
		/* Granted: take what is queued, without waiting. */
		child = skex_accept_call(skex_orig_inet_csk_accept, sk, a, true);
		skex_group_accept_done(gp, &w, !!child);
		if (child || skex_accept_err(a) != -EAGAIN)
			break;
	}
	skex_group_port_put(gp);
	return child;
}

/* In place of inet_csk_accept(), through skex_inet_csk_accept() below. */
static struct sock *skex_accept(struct sock *sk, struct skex_accept_args *a)
{
	struct skex_call call;
	struct skex_group_port *gp;
	struct sock *child;

	skex_call_enter(&call, sk);
	gp = skex_group_accept_port(sk);
	if (gp)
		child = skex_accept_throttled(gp, sk, a);
	else
		child = skex_accept_call(skex_orig_inet_csk_accept, sk, a, false);
	skex_call_exit(&call);
	if (!child)
		skex_accept_set_err(a, skex_call_ret(skex_accept_err(a)));
	return child;
}

/* inet_csk_accept(sk, ...): listeners of a port in an accept group */
static void *skex_want_accept(const struct skex_hook *hook,
			      struct ftrace_regs *fregs)
{
	const struct sock *sk = (const struct sock *)skex_ftrace_arg(fregs, 0);

	return skex_group_accept_wanted(sk) ? hook->wrapper : NULL;
}

/* skex_accept() with the kernel's prototype of inet_csk_accept(). */
#if !SKEX_HAVE_PROTO_ACCEPT_ARG
static struct sock *skex_inet_csk_accept(struct sock *sk, int flags, int *err,
					 bool kern)
{
	struct skex_accept_args a = { .flags = flags, .err = err, .kern = kern };

	return skex_accept(sk, &a);
}
#else
static struct sock *skex_inet_csk_accept(struct sock *sk,
					 struct proto_accept_arg *arg)
{
	struct skex_accept_args a = { .arg = arg };

	return skex_accept(sk, &a);
}
#endif

/*
 * The original sent @ret (bytes or an error) of a piece of @n bytes the
 * quota allowed: refund what it did not send, add what it did to *@done.
 * Returns whether to send the next piece.
 */
static bool skex_output_sent(struct skex_group_port *gp, long n, int ret,
			     size_t *done)
{
	if (ret < n)
		skex_group_output_refund(gp, n - max(ret, 0));
	if (ret <= 0)
		return false;
	*done += ret;
	return ret >= n;
}

/*
 * A send covered by an output group: in pieces the quota allows, each
 * handed to the original with the message truncated to it. MSG_EOR (the
 * end of a record: TCP appends nothing to the segment that carries it)
 * goes with the last piece only. Returns the bytes sent if any, else the
 * error.
 */
static int skex_sendmsg_throttled(struct skex_group_port *gp, struct sock *sk,
				  struct msghdr *msg, size_t size)
{
	unsigned int eor = msg->msg_flags & MSG_EOR;
	struct skex_wait w;
	size_t done = 0;
	int ret = 0;

	skex_wait_init(&w, sk, sock_sndtimeo(sk, msg->msg_flags & MSG_DONTWAIT));
	while (done < size) {
		size_t before = iov_iter_count(&msg->msg_iter);
		long n = skex_group_output_take(&gp, &w, size - done);

		if (n < 0) {
			ret = n;
			break;
		}
		iov_iter_truncate(&msg->msg_iter, n);
		msg->msg_flags &= ~MSG_EOR;
		if (done + n == size)
			msg->msg_flags |= eor;
		ret = skex_orig_tcp_sendmsg(sk, msg, n);
		iov_iter_reexpand(&msg->msg_iter, before - max(ret, 0));
		if (!skex_output_sent(gp, n, ret, &done))
			break;
	}
	msg->msg_flags |= eor;
	skex_group_port_put(gp);
	return done ? done : ret;
}

/* What the original did not send of a send the pool paid for goes back. */
static void skex_send_paid_done(struct sock *sk, size_t size, int ret)
{
	size_t sent = max(ret, 0);

	if (sent < size)
		skex_group_output_giveback(sk, size - sent);
}

/* A send its group's pool paid for at the call site (skex_want_send()). */
static int skex_tcp_sendmsg_paid(struct sock *sk, struct msghdr *msg,
				 size_t size)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, sk);
	ret = skex_orig_tcp_sendmsg(sk, msg, size);
	skex_send_paid_done(sk, size, ret);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

/* A send an output group may hold back. */
static int skex_tcp_sendmsg(struct sock *sk, struct msghdr *msg, size_t size)
{
	struct skex_call call;
	struct skex_group_port *gp;
	int ret;

	skex_call_enter(&call, sk);
	gp = skex_group_output_port(sk);
	if (gp)
		ret = skex_sendmsg_throttled(gp, sk, msg, size);
	else
		ret = skex_orig_tcp_sendmsg(sk, msg, size);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

/*
 * The wrapper of a send: none when no group covers it, @paid when its
 * pool paid (skex_group_send_route()), else @wait.
 */
static void *skex_want_send(struct sock *sk, size_t size, void *paid,
			    void *wait)
{
	switch (skex_group_send_route(sk, size)) {
	case SKEX_SEND_PAID:
		return paid;
	case SKEX_SEND_WAIT:
		return wait;
	default:
		return NULL;
	}
}

/* tcp_sendmsg(sk, msg, size) */
static void *skex_want_sendmsg(const struct skex_hook *hook,
			       struct ftrace_regs *fregs)
{
	return skex_want_send((struct sock *)skex_ftrace_arg(fregs, 0),
			      skex_ftrace_arg(fregs, 2), skex_tcp_sendmsg_paid,
			      hook->wrapper);
}

#if SKEX_HAVE_TCP_SENDPAGE
/*
 * sendfile() and splice() to a socket covered by an output group (6.1), in
 * pieces like skex_sendmsg_throttled().
 */
static int skex_sendpage_throttled(struct skex_group_port *gp, struct sock *sk,
				   struct page *page, int offset, size_t size,
				   int flags)
{
	struct skex_wait w;
	size_t done = 0;
	int ret = 0;

	skex_wait_init(&w, sk, sock_sndtimeo(sk, flags & MSG_DONTWAIT));
	while (done < size) {
		long n = skex_group_output_take(&gp, &w, size - done);

		if (n < 0) {
			ret = n;
			break;
		}
		ret = skex_orig_tcp_sendpage(sk, page, offset + done, n,
					     done + n < size ? flags & ~MSG_EOR :
					     flags);
		if (!skex_output_sent(gp, n, ret, &done))
			break;
	}
	skex_group_port_put(gp);
	return done ? done : ret;
}

static int skex_tcp_sendpage_paid(struct sock *sk, struct page *page,
				  int offset, size_t size, int flags)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, sk);
	ret = skex_orig_tcp_sendpage(sk, page, offset, size, flags);
	skex_send_paid_done(sk, size, ret);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

static int skex_tcp_sendpage(struct sock *sk, struct page *page, int offset,
			     size_t size, int flags)
{
	struct skex_call call;
	struct skex_group_port *gp;
	int ret;

	skex_call_enter(&call, sk);
	gp = skex_group_output_port(sk);
	if (gp)
		ret = skex_sendpage_throttled(gp, sk, page, offset, size,
					      flags);
	else
		ret = skex_orig_tcp_sendpage(sk, page, offset, size, flags);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

/* tcp_sendpage(sk, page, offset, size, flags) */
static void *skex_want_sendpage(const struct skex_hook *hook,
				struct ftrace_regs *fregs)
{
	return skex_want_send((struct sock *)skex_ftrace_arg(fregs, 0),
			      skex_ftrace_arg(fregs, 3), skex_tcp_sendpage_paid,
			      hook->wrapper);
}
#endif

static int skex_tcp_recvmsg(struct sock *sk, struct msghdr *msg, size_t len,
			    int flags, int *addr_len)
{
	struct skex_call call;
	int ret;

	skex_call_enter(&call, sk);
	skex_group_received(sk);
	ret = skex_orig_tcp_recvmsg(sk, msg, len, flags, addr_len);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

static __poll_t skex_tcp_poll(struct file *file, struct socket *sock,
			      poll_table *wait)
{
	struct skex_call call;
	__poll_t mask;

	skex_call_enter_nosleep(&call);
	mask = skex_orig_tcp_poll(file, sock, wait);
	if (mask & (EPOLLIN | EPOLLOUT))
		mask = skex_group_poll(sock->sk, mask);
	skex_call_exit(&call);
	return mask;
}

/* tcp_poll(file, sock, wait): sockets a group may hold back */
static void *skex_want_poll(const struct skex_hook *hook,
			    struct ftrace_regs *fregs)
{
	const struct socket *sock;

	sock = (const struct socket *)skex_ftrace_arg(fregs, 1);
	return skex_group_poll_wanted(sock->sk) ? hook->wrapper : NULL;
}

/* tcp_[gs]etsockopt(sk, level, optname, ...): only skex's own names. */
static void *skex_want_setsockopt(const struct skex_hook *hook,
				  struct ftrace_regs *fregs)
{
	/* int arguments: the upper halves of their registers are undefined */
	if ((int)skex_ftrace_arg(fregs, 1) == SOL_TCP &&
	    skex_sockopt_owns((int)skex_ftrace_arg(fregs, 2), true))
		return hook->wrapper;
	return NULL;
}

static void *skex_want_getsockopt(const struct skex_hook *hook,
				  struct ftrace_regs *fregs)
{
	if ((int)skex_ftrace_arg(fregs, 1) == SOL_TCP &&
	    skex_sockopt_owns((int)skex_ftrace_arg(fregs, 2), false))
		return hook->wrapper;
	return NULL;
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
		ret = skex_orig_tcp_setsockopt(sk, level, optname, optval, optlen);
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
		ret = skex_orig_tcp_getsockopt(sk, level, optname, optval, optlen);
	skex_call_exit(&call);
	return skex_call_ret(ret);
}

static struct skex_hook skex_tcp_hooks[] = {
	SKEX_OBSERVE(inet_csk_complete_hashdance, skex_observe_hashdance),
	SKEX_OBSERVE(inet_csk_reqsk_queue_add, skex_observe_queue_add),
	SKEX_OBSERVE(tcp_close, skex_observe_close),
	SKEX_OBSERVE(tcp_disconnect, skex_observe_close),
	SKEX_OBSERVE(tcp_shutdown, skex_observe_shutdown),
	SKEX_OBSERVE(tcp_v4_destroy_sock, skex_observe_destroy),
	SKEX_OBSERVE(security_sock_graft, skex_observe_graft),
	SKEX_WRAP_WANT(inet_csk_accept, skex_inet_csk_accept, skex_want_accept,
		       SKEX_DEMAND_ACCEPT, SKEX_SK_ARG0),
	SKEX_WRAP_WANT(tcp_sendmsg, skex_tcp_sendmsg, skex_want_sendmsg,
		       SKEX_DEMAND_OUTPUT, SKEX_SK_ARG0),
#if SKEX_HAVE_TCP_SENDPAGE
	SKEX_WRAP_WANT(tcp_sendpage, skex_tcp_sendpage, skex_want_sendpage,
		       SKEX_DEMAND_OUTPUT, SKEX_SK_ARG0),
#endif
	SKEX_WRAP_DEMAND(tcp_recvmsg, skex_tcp_recvmsg, SKEX_DEMAND_FTP,
			 SKEX_SK_ARG0),
	SKEX_WRAP_WANT(tcp_poll, skex_tcp_poll, skex_want_poll,
		       SKEX_DEMAND_GROUPS, SKEX_SK_SOCK1),
	/* always: the sockopt front */
	SKEX_WRAP_WANT(tcp_setsockopt, skex_tcp_setsockopt, skex_want_setsockopt,
		       0, SKEX_SK_NONE),
	SKEX_WRAP_WANT(tcp_getsockopt, skex_tcp_getsockopt, skex_want_getsockopt,
		       0, SKEX_SK_NONE),
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
