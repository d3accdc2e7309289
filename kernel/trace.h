/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * skex's trace events, in /sys/kernel/tracing/events/skex/ (docs/groups.md,
 * "Tracing accept grants"). Defined once, in group_throttle.c
 * (CREATE_TRACE_POINTS).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM skex

#if !defined(_SKEX_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _SKEX_TRACE_H

#include <linux/tracepoint.h>
#include <net/inet_sock.h>
#include <net/net_namespace.h>

#include <linux/socket_ex_user.h>

#include "group_throttle.h"

/*
 * skex_accept - an accept() on a port of an accept group was granted
 * @gp: the port
 * @w: the call: @w->sk is the listener; @w->granted when the quota gave
 *	it, in ktime_get_ns()'s clock (an accept_rate sleeper woken late: when
 *	its token was due, at most a quarter of the token interval earlier);
 *	@w->left, accept_rate: what the bucket held after it (tokens *
 *	NSEC_PER_SEC, in thousandths); @w->counted: the quota held the call
 *	back before
 * @accepted: whether the accept returned a connection; if not, the grant
 *	was given back
 *
 * In its own clock, the granted times of an accept_rate port are a token
 * bucket's exactly: over any T at most rate * T + burst; when accept()
 * returns, later, depends on the CPU the acceptor gets.
 */
TRACE_EVENT(skex_accept,
	    TP_PROTO(const struct skex_group_port *gp,
		     const struct skex_wait *w, bool accepted),
	    TP_ARGS(gp, w, accepted),
	    TP_STRUCT__entry(__field(u64, granted)
			     __field(s64, left)
			     __field(u32, netns)
			     __field(u16, port)
			     __field(u16, gid)
			     __field(u16, type)
			     __field(bool, throttled)
			     __field(bool, accepted)),
	    TP_fast_assign(__entry->granted = w->granted;
			   __entry->left = gp->type == SKEX_ACCEPT_ABSOLUTE ?
				(s64)div_u64(w->left, NSEC_PER_SEC) : -1;
			   __entry->netns = sock_net(w->sk)->ns.inum;
			   __entry->port = gp->num;
			   __entry->gid = gp->group->gid;
			   __entry->type = gp->type;
			   __entry->throttled = w->counted;
			   __entry->accepted = accepted;),
	    TP_printk("netns=%u gid=%u port=%u type=%s granted=%llu left=%lld throttled=%d accepted=%d",
		      __entry->netns, __entry->gid, __entry->port,
		      __print_symbolic(__entry->type,
				       { SKEX_ACCEPT_ABSOLUTE, "accept_rate" },
				       { SKEX_ACCEPT_RATIO, "accept_ratio" }),
		      __entry->granted, __entry->left, __entry->throttled,
		      __entry->accepted)
);

#endif /* _SKEX_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
