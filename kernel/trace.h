/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * skex's trace events, in /sys/kernel/tracing/events/skex/ (docs/groups.md,
 * "Tracing grants"). Defined once, in group_throttle.c
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

/*
 * skex_output - a send on a port of an output group, decided under the
 *	group's lock
 * @gp: the port
 * @w: the call: @w->sk is the socket written to; @w->counted: the quota
 *	held the call back before
 * @now: when the call asked, in ktime_get_ns()'s clock; the event records
 *	the bucket's time, which is the same or, when another call took the
 *	lock first with a later @now, that call's
 * @want: bytes the send asked for
 * @granted: bytes it may send now; 0: it waits until @due
 * @pooled: bytes the grant moved from the bucket to the pool, where the
 *	next sends take them without the lock (the quota does not bind)
 * @unpooled: bytes the bucket took back from the pool since the previous
 *	event of the port (or of the port a type change replaced): what
 *	sends left there or gave back unused
 * @due: when the bucket will hold what the refused send waits for (a
 *	chunk); 0 when granted, U64_MAX when never (quota 0)
 *
 * Sends paid from the pool are not recorded one by one: what they take was
 * recorded as @pooled. In its own clock, what a port's events give out,
 * granted + pooled - unpooled, is at most rate * T + depth over any T
 * (depth: 200 ms of quota): a token bucket's bound, exactly.
 */
TRACE_EVENT(skex_output,
	    TP_PROTO(const struct skex_group_port *gp,
		     const struct skex_wait *w, u64 now, size_t want,
		     size_t granted, u64 pooled, u64 unpooled, u64 due),
	    TP_ARGS(gp, w, now, want, granted, pooled, unpooled, due),
	    TP_STRUCT__entry(__field(u64, at)
			     __field(u64, due)
			     __field(u64, want)
			     __field(u64, granted)
			     __field(u64, pooled)
			     __field(u64, unpooled)
			     __field(u64, left)
			     __field(u32, netns)
			     __field(u16, port)
			     __field(u16, gid)
			     __field(u16, type)
			     __field(u16, local)
			     __field(u16, remote)
			     __field(bool, deep)
			     __field(bool, throttled)),
	    TP_fast_assign(__entry->at = max(now, gp->stamp);
			   __entry->due = due;
			   __entry->want = want;
			   __entry->granted = granted;
			   __entry->pooled = pooled;
			   __entry->unpooled = unpooled;
			   __entry->left = div_u64(gp->level, NSEC_PER_SEC);
			   __entry->netns = sock_net(w->sk)->ns.inum;
			   __entry->port = gp->num;
			   __entry->gid = gp->group->gid;
			   __entry->type = gp->type;
			   __entry->local = inet_sk(w->sk)->inet_num;
			   __entry->remote = ntohs(inet_sk(w->sk)->inet_dport);
			   __entry->deep = now < gp->busy_until;
			   __entry->throttled = w->counted;),
	    TP_printk("netns=%u gid=%u port=%u type=%s local=%u remote=%u at=%llu want=%llu granted=%llu pooled=%llu unpooled=%llu left=%llu due=%llu deep=%d throttled=%d",
		      __entry->netns, __entry->gid, __entry->port,
		      __print_symbolic(__entry->type,
				       { SKEX_OUTPUT_ABSOLUTE, "output_rate" },
				       { SKEX_OUTPUT_ABSOLUTE_FTP,
					 "output_rate_ftp" }),
		      __entry->local, __entry->remote, __entry->at,
		      __entry->want, __entry->granted, __entry->pooled,
		      __entry->unpooled, __entry->left, __entry->due, __entry->deep,
		      __entry->throttled)
);

#endif /* _SKEX_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
