// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Connection classification and hand-off, the forwarding engine's data
 * path. Its control plane (rules, branches, snapshots, enabling) is
 * forward.c.
 *
 *
 * An enabled rule owns a kernel listening socket on its incoming port P
 * (one dual-stack IPv6 socket, IPv4 clients arrive v4-mapped; a plain IPv4
 * socket where IPv6 is unavailable). A child is classified and queued,
 * with the same request sock, on the accept queue of the listener a SYN to
 * the chosen port would have found (skex_fw_deliver()). The application
 * then accepts it with a plain accept(); every byte the client sent is
 * still in the child's receive queue.
 *
 * Most children are handed over by the softirq that makes them ready,
 * while they wait in the module listener's accept queue (skex_fw_fast()):
 * a dice or address rule's when the handshake completes (the children
 * inherit the listener's sk_state_change), a content rule's when its first
 * segment decides (and its sk_data_ready). Any other child, and any that
 * cannot be handed over there, is taken off the queue by
 * skex_fw_listen_work(), scheduled by the listener's sk_data_ready: at
 * once for dice and address rules, 20 ms later for content rules, whose
 * children wait for bytes anyway.
 *
 * Dice and address rules decide at once. A content rule parks the child
 * (struct skex_fw_conn): the child's sk_data_ready/sk_state_change kick a
 * work item that feeds the bytes that arrived since its last look, read in
 * the receive queue without consuming them, to the snapshot's automaton
 * (forward_content.c), telling it of each segment with PSH; a timer fires
 * at `timeout_ms`. The decision falls when the automaton has one (a match,
 * or the default when no branch can match any more, the first message is
 * complete or `window` bytes arrived), at the client's FIN or at the
 * timeout.
 *
 * Before a child leaves the module, its callbacks are those of a stock
 * socket, its sk_user_data is cleared and it holds a namespace reference
 * like any user socket: nothing of the module stays behind.
 *
 * Locking:
 *  - skex_net.config_mutex: rules, branches, settings, enabling;
 *  - RCU: rule->tab, the immutable snapshot the classifier reads; and the
 *    module listener and its skex_fw_lsn in the softirq: a listener that
 *    closes sets @closing and leaves the listening hash, then waits for a
 *    grace period before it touches its accept queue;
 *  - skex_fw_lsn.lock: the list of parked connections of a listener;
 *  - lock_sock(child): a parked child's callbacks and sk_user_data;
 *  - bh_lock_sock(child), held by the softirq: a child's hand-off from
 *    there, then the accept queues' locks (the module listener's, the
 *    target's).
 * Work items and timers never take config_mutex, so configuration may
 * wait for them.
 */
#include "skex.h"
#include "compat.h"
#include "forward.h"
#include "forward_classify.h"
#include "netmeter.h"

#include <linux/bpf-cgroup.h>
#include <linux/bsearch.h>
#include <linux/cgroup.h>
#include <linux/ctype.h>
#include <linux/in.h>
#include <linux/memcontrol.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timer.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/inet_connection_sock.h>
#include <net/inet_hashtables.h>
#include <net/inet6_hashtables.h>
#include <net/ipv6.h>
#include <net/request_sock.h>
#include <net/sock.h>
#include <net/sock_reuseport.h>
#include <net/transp_v6.h>
#include <net/tcp.h>

#define SKEX_FW_BACKLOG		4096
#define SKEX_FW_BATCH		64
/* parked connections of one listener: at most this many buffer bytes */
#define SKEX_FW_PARK_BYTES	(16 << 20)
/* ... but at least this many (whatever the window), at most this many */
#define SKEX_FW_PARK_MIN	64
#define SKEX_FW_PARK_MAX	4096

/*
 * The module's listener of an enabled rule. @memcg is the memory cgroup of
 * the task that enabled it: the socket and the parked connections, made
 * by kworkers, are charged to it. @batch and @taken: while it closes.
 */
struct skex_fw_lsn {
	struct skex_fw_rule *rule;
	struct socket *sock;
	struct mem_cgroup *memcg;
	struct list_head batch;
	struct request_sock *taken;
	/* a connection's room kept for the next child: listen work only */
	struct skex_fw_conn *spare;
	void (*data_ready)(struct sock *sk);	/* stock callbacks */
	void (*state_change)(struct sock *sk);
	struct delayed_work work;
	spinlock_t lock;		/* protects the fields below */
	struct list_head parked;
	unsigned int nparked;
	size_t parked_bytes;		/* their buffers */
	bool closing;
	bool throttled;
	/* taken off the queue as it closed: to hand off after the parked */
	struct request_sock *late;
	struct request_sock **late_tail;
	wait_queue_head_t idle;
};

/* A child of a content rule waiting for its decision. */
struct skex_fw_conn {
	refcount_t ref;
	struct list_head node;		/* lsn->parked, under lsn->lock */
	struct skex_fw_lsn *lsn;
	struct sock *child;
	struct request_sock *req;
	struct work_struct work;
	struct timer_list timer;
	unsigned long deadline;
	bool armed;			/* parked: the work may decide */
	bool force;			/* decide now: default port */
	bool done;			/* only the work item touches it */
	u32 window;			/* when parked: its share of the limit */
	struct rcu_head rcu;
	u64 gen;			/* the snapshot @st follows */
	struct skex_fc_state st;	/* last: SKEX_FC_STATE_MAX bytes */
};

static void skex_fw_listen_ready(struct sock *sk);
static void skex_fw_child_state(struct sock *sk);

/* ---- classification ---- */

static int skex_fw_addr_cmp(const void *key, const void *elt)
{
	const struct skex_fw_ent *e = *(const struct skex_fw_ent **)elt;

	return memcmp(key, &e->addr, sizeof(e->addr));
}

static void skex_fw_client_addr(const struct sock *sk, u8 *family,
				struct in6_addr *a)
{
	memset(a, 0, sizeof(*a));
#if IS_ENABLED(CONFIG_IPV6)
	if (sk->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&sk->sk_v6_daddr)) {
		*family = AF_INET6;
		*a = sk->sk_v6_daddr;
		return;
	}
#endif
	*family = AF_INET;
	a->s6_addr32[0] = inet_sk(sk)->inet_daddr;
}

/* Longest mask wins, then the oldest branch. Under RCU. */
static const struct skex_fw_ent *
skex_fw_match_addr(const struct skex_fw_tab *tab, const struct sock *sk)
{
	const struct skex_fw_ent *best = NULL;
	struct skex_fw_ent **found;
	struct in6_addr a, m;
	unsigned int i, j;
	u8 family;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "needs rcu_read_lock()");

	skex_fw_client_addr(sk, &family, &a);
	for (i = 0; i < tab->nlevels; i++) {
		const struct skex_fw_level *lv = &tab->levels[i];

		if (lv->family != family)
			continue;
		if (best && lv->bits < best->bits)
			break;
		for (j = 0; j < 4; j++)
			m.s6_addr32[j] = a.s6_addr32[j] & lv->mask.s6_addr32[j];
		found = bsearch(&m, tab->sorted + lv->first, lv->count,
				sizeof(*tab->sorted), skex_fw_addr_cmp);
		if (found && (!best || (*found)->seq < best->seq))
			best = *found;
	}
	return best;
}

static const struct skex_fw_ent *
skex_fw_match_dice(const struct skex_fw_tab *tab)
{
	u32 r = get_random_u32_below(100), sum = 0;
	unsigned int i;

	for (i = 0; i < tab->n; i++) {
		sum += tab->ent[i].chance;
		if (r < sum)
			return &tab->ent[i];
	}
	return NULL;
}

/* The hit counter of the branch with @seq, NULL if it is gone. */
static atomic64_t *skex_fw_hits(const struct skex_fw_tab *tab, u64 seq)
{
	const struct skex_fw_ent *e;

	e = bsearch(&seq, tab->ent, tab->n, sizeof(*tab->ent),
		    skex_fw_seq_cmp);
	return e ? &e->br->hits : NULL;
}

/* ---- hand-off ---- */

static bool skex_fw_is_ours(const struct sock *sk)
{
	return READ_ONCE(sk->sk_data_ready) == skex_fw_listen_ready;
}

/* The listener a SYN from the child's client to @port would find. */
static struct sock *skex_fw_lookup(struct sock *child, u16 port)
{
	struct net *net = sock_net(child);
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	int dif = READ_ONCE(child->sk_rx_dst_ifindex);

#if IS_ENABLED(CONFIG_IPV6)
	if (child->sk_family == AF_INET6 &&
	    !ipv6_addr_v4mapped(&child->sk_v6_daddr))
		return inet6_lookup_listener(net, h, NULL, 0,
					     &child->sk_v6_daddr,
					     inet_sk(child)->inet_dport,
					     &child->sk_v6_rcv_saddr, port,
					     dif, 0);
#endif
	return __inet_lookup_listener(net, h, NULL, 0,
				      inet_sk(child)->inet_daddr,
				      inet_sk(child)->inet_dport,
				      inet_sk(child)->inet_rcv_saddr, port,
				      dif, 0);
}

/*
 * Give @child what it would have inherited from @target had the target
 * accepted its SYN: the socket options a server sets on its listener for
 * its connections. It was cloned from the module's listener, which has the
 * defaults. Options negotiated in the handshake (MSS, window scaling) and
 * the congestion control stay as they were. Under the child's bh lock.
 */
static void skex_fw_inherit(struct sock *child, const struct sock *target)
{
	const struct inet_connection_sock *ticsk = inet_csk(target);
	const struct tcp_sock *ttp = tcp_sk(target);
	struct tcp_sock *tp = tcp_sk(child);
	u8 locks = target->sk_userlocks &
		   (SOCK_SNDBUF_LOCK | SOCK_RCVBUF_LOCK);
	bool keep = sock_flag(target, SOCK_KEEPOPEN);

	child->sk_userlocks |= locks;
	if (locks & SOCK_SNDBUF_LOCK)
		WRITE_ONCE(child->sk_sndbuf, READ_ONCE(target->sk_sndbuf));
	if (locks & SOCK_RCVBUF_LOCK)
		WRITE_ONCE(child->sk_rcvbuf, READ_ONCE(target->sk_rcvbuf));
	WRITE_ONCE(child->sk_mark, READ_ONCE(target->sk_mark));
	WRITE_ONCE(child->sk_rcvlowat, READ_ONCE(target->sk_rcvlowat));
	WRITE_ONCE(child->sk_rcvtimeo, READ_ONCE(target->sk_rcvtimeo));
	WRITE_ONCE(child->sk_sndtimeo, READ_ONCE(target->sk_sndtimeo));
	WRITE_ONCE(child->sk_lingertime, READ_ONCE(target->sk_lingertime));
	sock_valbool_flag(child, SOCK_LINGER, sock_flag(target, SOCK_LINGER));
	sock_valbool_flag(child, SOCK_URGINLINE,
			  sock_flag(target, SOCK_URGINLINE));
	inet_sk(child)->tos = READ_ONCE(inet_sk(target)->tos);
#if IS_ENABLED(CONFIG_IPV6)
	if (child->sk_family == AF_INET6 && target->sk_family == AF_INET6)
		inet6_sk(child)->tclass = READ_ONCE(inet6_sk(target)->tclass);
#endif

	tp->nonagle = ttp->nonagle;
	WRITE_ONCE(tp->keepalive_time, READ_ONCE(ttp->keepalive_time));
	WRITE_ONCE(tp->keepalive_intvl, READ_ONCE(ttp->keepalive_intvl));
	WRITE_ONCE(tp->keepalive_probes, READ_ONCE(ttp->keepalive_probes));
	WRITE_ONCE(tp->linger2, READ_ONCE(ttp->linger2));
	WRITE_ONCE(tp->notsent_lowat, READ_ONCE(ttp->notsent_lowat));
	WRITE_ONCE(inet_csk(child)->icsk_user_timeout,
		   READ_ONCE(ticsk->icsk_user_timeout));
	if (keep && !sock_flag(child, SOCK_KEEPOPEN))
		inet_csk_reset_keepalive_timer(child, keepalive_time_when(tp));
	else if (!keep && sock_flag(child, SOCK_KEEPOPEN))
		inet_csk_delete_keepalive_timer(child);
	sock_valbool_flag(child, SOCK_KEEPOPEN, keep);
}

/*
 * Whether @target has a policy that a connection it did not answer itself
 * would bypass: TCP-MD5 or TCP-AO keys (the session would not be
 * authenticated), a socket filter or a reuseport BPF program (neither saw
 * the SYN). Such a target is refused, as a missing one. Under RCU.
 */
static bool skex_fw_target_refused(const struct sock *target)
{
	const struct sock_reuseport *reuse;
#ifdef CONFIG_TCP_MD5SIG
	const struct tcp_md5sig_info *md5;

	md5 = rcu_dereference(tcp_sk(target)->md5sig_info);
	if (md5 && !hlist_empty(&md5->head))
		return true;
#endif
#ifdef CONFIG_TCP_AO
	if (rcu_access_pointer(tcp_sk(target)->ao_info))
		return true;
#endif
	if (rcu_access_pointer(target->sk_filter))
		return true;
	reuse = rcu_dereference(target->sk_reuseport_cb);
	return reuse && rcu_access_pointer(reuse->prog);
}

/*
 * Give @child the cgroup (v2, and the v1 net_cls/net_prio ids) of @target,
 * as sk_clone_lock() gives a child its listener's: cgroup-BPF programs and
 * `socket cgroupv2` matches see it as the target's connection. It was the
 * module listener's, made by a kworker (the root cgroup).
 */
static void skex_fw_take_cgroup(struct sock *child, struct sock *target)
{
#ifdef CONFIG_SOCK_CGROUP_DATA
	struct sock_cgroup_data *skcd = &child->sk_cgrp_data;
	struct cgroup *old = sock_cgroup_ptr(skcd);
	struct cgroup *cgrp = sock_cgroup_ptr(&target->sk_cgrp_data);

	if (cgrp != old && cgrp) {
		/* as cgroup_sk_clone() */
		cgroup_get(cgrp);
		cgroup_bpf_get(cgrp);
		/* readers in softirq: the old one is freed after RCU */
		WRITE_ONCE(skcd->cgroup, cgrp);
		if (old) {
			/* as cgroup_sk_free() */
			cgroup_bpf_put(old);
			cgroup_put(old);
		}
	}
#ifdef CONFIG_CGROUP_NET_CLASSID
	sock_cgroup_set_classid(skcd,
				sock_cgroup_classid(&target->sk_cgrp_data));
#endif
#ifdef CONFIG_CGROUP_NET_PRIO
	sock_cgroup_set_prioidx(skcd,
				sock_cgroup_prioidx(&target->sk_cgrp_data));
#endif
#endif
}

/* ipv4_specific, which 6.12 no longer exports: see skex_fw_open_work() */
static const struct inet_connection_sock_af_ops *skex_fw_v4_ops;

/*
 * Whether @child, an IPv4 client's child of the dual-stack module listener
 * (a v4-mapped tcp6 socket), can become the plain IPv4 socket an AF_INET
 * listener's own child would be (skex_fw_to_inet()).
 */
static bool skex_fw_can_inet(const struct sock *child)
{
#if IS_ENABLED(CONFIG_IPV6)
	return child->sk_prot == &tcpv6_prot && !ipv6_only_sock(child) &&
	       ipv6_addr_v4mapped(&child->sk_v6_daddr) &&
	       READ_ONCE(skex_fw_v4_ops);
#else
	return false;
#endif
}

/*
 * Make @child an IPv4 socket, as IPV6_ADDRFORM does: an AF_INET listener
 * grafts it on an AF_INET socket (inet_stream_ops: inet_release, not
 * inet6_release), where a v4-mapped tcp6 socket would keep IPv6 state the
 * release never frees (an IPv6 anycast address joined on it stays on the
 * device). The child is fresh from tcp_v6_syn_recv_sock(): no IPv6 option,
 * flow label, multicast or anycast membership to free, its MSS already
 * for IPv4 headers; the struct sock stays in the tcp6 slab
 * (sk_prot_creator). Under the child's bh lock, before it is queued.
 */
static void skex_fw_to_inet(struct sock *child)
{
	struct net *net = sock_net(child);

	sock_prot_inuse_add(net, child->sk_prot, -1);
	sock_prot_inuse_add(net, &tcp_prot, 1);
	WRITE_ONCE(child->sk_prot, &tcp_prot);
	WRITE_ONCE(inet_csk(child)->icsk_af_ops, READ_ONCE(skex_fw_v4_ops));
	WRITE_ONCE(child->sk_family, AF_INET);
}

/*
 * inet_csk_reqsk_queue_add(), but a target that stopped listening since
 * the lookup is only refused (the caller tries the default port) instead
 * of resetting the child; the family change for an AF_INET target, and
 * the namespace reference (@net_ref) of a user socket, are made only once
 * the queueing cannot fail.
 */
static bool skex_fw_queue_add(struct sock *target, struct request_sock *req,
			      struct sock *child, bool to_inet, bool net_ref)
{
	struct request_sock_queue *queue = &inet_csk(target)->icsk_accept_queue;

	spin_lock(&queue->rskq_lock);
	if (unlikely(target->sk_state != TCP_LISTEN)) {
		spin_unlock(&queue->rskq_lock);
		return false;
	}
	if (to_inet)
		skex_fw_to_inet(child);
	if (net_ref)
		skex_sk_net_refcnt_upgrade(child);
	req->sk = child;
	req->dl_next = NULL;
	if (!queue->rskq_accept_head)
		WRITE_ONCE(queue->rskq_accept_head, req);
	else
		queue->rskq_accept_tail->dl_next = req;
	queue->rskq_accept_tail = req;
	sk_acceptq_added(target);
	spin_unlock(&queue->rskq_lock);
	return true;
}

/*
 * Queue @child on the listener of @port; @net_ref: take the namespace
 * reference of a user socket there (skex_fw_fast()). Under RCU with BHs
 * off and the child's bh lock held, as tcp_v4_rcv() queues a child.
 */
static bool skex_fw_queue(struct sock *child, struct request_sock *req,
			  u16 port, atomic64_t *hits, bool net_ref)
{
	struct sock *target;
	bool to_inet;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "needs rcu_read_lock()");
	lockdep_assert_in_softirq();
	lockdep_assert_held(&child->sk_lock.slock);
	if (!port)
		return false;
	target = skex_fw_lookup(child, port);
	if (!target || target->sk_state != TCP_LISTEN ||
	    sk_acceptq_is_full(target) || skex_fw_is_ours(target) ||
	    skex_fw_target_refused(target))
		return false;
	/* An IPv4 socket cannot be accepted from an IPv6 listener. */
	if (child->sk_family != AF_INET6 && target->sk_family == AF_INET6)
		return false;
	to_inet = child->sk_family == AF_INET6 && target->sk_family == AF_INET;
	if (to_inet && !skex_fw_can_inet(child))
		return false;

	child->sk_uid = target->sk_uid;
	skex_fw_inherit(child, target);
	skex_fw_take_cgroup(child, target);
	/* netmeter counts it for the target, as inet_csk_reqsk_queue_add() */
	skex_nm_queued(target, child);
	if (!skex_fw_queue_add(target, req, child, to_inet, net_ref))
		return false;	/* it stopped listening: try the next */
	/* counted before the application can see it */
	if (hits)
		atomic64_inc(hits);
	target->sk_data_ready(target);
	return true;
}

/* As inet_child_forget(): reset the child and let it go. */
static void skex_fw_reset(struct sock *child)
{
	child->sk_prot->disconnect(child, O_NONBLOCK);
	sock_orphan(child);
	this_cpu_inc(*child->sk_prot->orphan_count);
	inet_csk_destroy_sock(child);
}

/*
 * Hand @child to the listener of @port (the branch with @seq), else to
 * @def_port, the default port of the snapshot that decided (a replace in
 * between does not change a decision); else reset it. Consumes @req and
 * the child's reference. The child's callbacks must already be the stock
 * ones.
 */
static void skex_fw_deliver(struct skex_fw_rule *rule, struct sock *child,
			    struct request_sock *req, u16 port, u64 seq,
			    u16 def_port)
{
	struct skex_fw_net *fw = rule->fw;
	struct skex_fw_tab *tab;
	bool queued = false;

	if (!READ_ONCE(fw->dying) && check_net(sock_net(child)))
		skex_sk_net_refcnt_upgrade(child);

	sock_hold(child);
	rcu_read_lock();
	local_bh_disable();
	bh_lock_sock(child);
	tab = rcu_dereference(rule->tab);
	if (port)
		queued = skex_fw_queue(child, req, port, skex_fw_hits(tab, seq),
				       false);
	if (!queued)
		queued = skex_fw_queue(child, req, def_port,
				       &rule->default_hits, false);
	if (!queued) {
		/* counted before the client can see the reset */
		atomic64_inc(&rule->dropped);
		skex_fw_reset(child);
	}
	bh_unlock_sock(child);
	local_bh_enable();
	rcu_read_unlock();

	if (!queued)
		reqsk_put(req);
	sock_put(child);
}

/*
 * Set a child's sk_user_data and the callbacks that go with it, under its
 * callback lock: the softirq (skex_fw_fast()) or the child's owner.
 */
static void skex_fw_child_hook(struct sock *sk, void *data,
			       void (*data_ready)(struct sock *sk),
			       void (*state_change)(struct sock *sk))
{
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_sk_user_data(sk, data);
	sk->sk_data_ready = data_ready;
	sk->sk_state_change = state_change;
	write_unlock_bh(&sk->sk_callback_lock);
}

/* Give a child the stock callbacks back. Under lock_sock(child). */
static void skex_fw_child_detach(struct skex_fw_lsn *lsn, struct sock *sk)
{
	sock_owned_by_me(sk);
	skex_fw_child_hook(sk, NULL, lsn->data_ready, lsn->state_change);
	sk->sk_kern_sock = 0;
}

/* ---- parked connections (content rules) ---- */

static void skex_fw_conn_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct skex_fw_conn, rcu));
}

static void skex_fw_conn_put(struct skex_fw_conn *conn)
{
	if (refcount_dec_and_test(&conn->ref))
		call_rcu(&conn->rcu, skex_fw_conn_free_rcu);
}

static void skex_fw_conn_kick(struct skex_fw_conn *conn)
{
	if (refcount_inc_not_zero(&conn->ref) &&
	    !queue_work(skex_fw_wq, &conn->work))
		skex_fw_conn_put(conn);
}

static void skex_fw_conn_event(struct sock *sk)
{
	struct skex_fw_conn *conn;

	rcu_read_lock();
	conn = rcu_dereference_sk_user_data(sk);
	if (conn)
		skex_fw_conn_kick(conn);
	rcu_read_unlock();
}

static void skex_fw_conn_timeout(struct timer_list *t)
{
	struct skex_fw_conn *conn = from_timer(conn, t, timer);

	skex_fw_conn_kick(conn);
}

/*
 * Feed what arrived beyond the bytes @st has seen to @fc, without
 * consuming anything; the end of a segment with PSH ends a write of the
 * client's. Returns the verdict (forward_content.h). Under lock_sock(), or
 * the bh lock of a socket no user owns.
 *
 * The bytes not seen yet are at the tail of the receive queue: the walk
 * starts from the last segment that begins at or before them, found
 * from the tail, so a client that trickles bytes (a segment each, which
 * TCP often cannot coalesce: over loopback the last one is still a clone
 * of the sender's) costs O(bytes) in all, not a walk over every segment
 * so far for each new one.
 */
static int skex_fw_feed(struct skex_fc_state *st, struct sock *sk,
			const struct skex_fc *fc)
{
	u32 seq = tcp_sk(sk)->copied_seq + st->pos;
	struct sk_buff *skb, *from = NULL;
	int v = st->verdict;

	skb_queue_reverse_walk(&sk->sk_receive_queue, skb) {
		from = skb;
		if (!after(TCP_SKB_CB(skb)->seq, seq))
			break;
	}
	if (!from)
		return v;
	skb = from;
	skb_queue_walk_from(&sk->sk_receive_queue, skb) {
		u32 off;

		if (v != SKEX_FC_MORE)
			break;
		if (before(seq, TCP_SKB_CB(skb)->seq))
			break;		/* a hole: cannot happen in order */
		off = seq - TCP_SKB_CB(skb)->seq;
		if (off >= skb->len)
			continue;
		while (off < skb->len && v == SKEX_FC_MORE) {
			u8 buf[256];
			u32 n = min_t(u32, skb->len - off, sizeof(buf));
			const u8 *p = skb_header_pointer(skb, off, n, buf);

			if (!p)
				return v;
			v = skex_fc_feed(fc, st, p, n);
			off += n;
			seq += n;
		}
		if (v == SKEX_FC_MORE &&
		    (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_PSH))
			v = skex_fc_push(fc, st);
	}
	return v;
}

static void skex_fw_conn_unlink(struct skex_fw_conn *conn)
{
	struct skex_fw_lsn *lsn = conn->lsn;

	spin_lock_bh(&lsn->lock);
	list_del(&conn->node);
	lsn->nparked--;
	lsn->parked_bytes -= conn->window;
	if (lsn->throttled && !lsn->closing) {
		lsn->throttled = false;
		mod_delayed_work(skex_fw_wq, &lsn->work, 0);
	}
	if (lsn->closing && !lsn->nparked)
		wake_up(&lsn->idle);
	spin_unlock_bh(&lsn->lock);
}

/*
 * Whether what @conn's client sent so far decides (or its time is up), and
 * then for the port of which branch (@port 0: the default port, @def_port
 * of the snapshot that decided). Under lock_sock() of the child.
 */
static bool skex_fw_conn_decide(struct skex_fw_conn *conn, u16 *port,
				u64 *seq, u16 *def_port)
{
	const struct skex_fw_ent *e = NULL;
	struct sock *sk = conn->child;
	struct skex_fw_tab *tab;
	int v = SKEX_FC_DEFAULT;
	bool eof;

	sock_owned_by_me(sk);
	eof = (sk->sk_shutdown & RCV_SHUTDOWN) ||
	      sk->sk_state != TCP_ESTABLISHED;

	rcu_read_lock();
	tab = rcu_dereference(conn->lsn->rule->tab);
	if (!READ_ONCE(conn->force) && tab->type == SKEX_FW_CONTENT) {
		/* a new snapshot: start over, every byte is still queued */
		if (conn->gen != tab->gen) {
			conn->gen = tab->gen;
			skex_fc_start(tab->fc, &conn->st);
		}
		v = skex_fw_feed(&conn->st, sk, tab->fc);
		if (v >= 0)
			e = &tab->ent[v];
	} else if (!READ_ONCE(conn->force)) {
		/* the rule was replaced by one of another type: decide as it */
		e = tab->type == SKEX_FW_DICE ? skex_fw_match_dice(tab) :
		    skex_fw_match_addr(tab, sk);
	}
	*port = e ? e->port : 0;
	*seq = e ? e->seq : 0;
	*def_port = tab->def_port;	/* the decision's snapshot's */
	rcu_read_unlock();

	return v != SKEX_FC_MORE || eof ||
	       time_after_eq(jiffies, conn->deadline);
}

/* Look at what the client sent so far and decide if we can. */
static void skex_fw_conn_step(struct skex_fw_conn *conn)
{
	struct skex_fw_lsn *lsn = conn->lsn;
	struct skex_fw_rule *rule = lsn->rule;
	struct sock *sk = conn->child;
	u16 port, def_port;
	u64 seq;

	/*
	 * skex_fw_conn_park() kicks again once it is done; pairs with its
	 * smp_store_release(): the timer is armed when we see @armed.
	 */
	if (!smp_load_acquire(&conn->armed))
		return;
	skex_fw_rule_fresh(rule);
	lock_sock(sk);
	if (!skex_fw_conn_decide(conn, &port, &seq, &def_port)) {
		release_sock(sk);
		return;
	}
	conn->done = true;
	skex_fw_child_detach(lsn, sk);
	release_sock(sk);
	timer_delete_sync(&conn->timer);

	skex_fw_deliver(rule, sk, conn->req, port, seq, def_port);
	skex_fw_conn_unlink(conn);
	skex_fw_conn_put(conn);		/* the parking reference */
}

static void skex_fw_conn_work(struct work_struct *work)
{
	struct skex_fw_conn *conn = container_of(work, struct skex_fw_conn,
						 work);

	if (!conn->done)
		skex_fw_conn_step(conn);
	skex_fw_conn_put(conn);
}

/*
 * Park a child of a content rule until its first bytes decide, or hand it
 * over now if they already do; when the listener is closing, leave it to
 * skex_fw_listen_finish(). Returns false when it could do none of these (no
 * memory).
 */
static bool skex_fw_conn_park(struct skex_fw_lsn *lsn, struct sock *child,
			      struct request_sock *req, u32 window,
			      unsigned long timeout)
{
	struct skex_fw_conn *conn = lsn->spare;
	u16 port, def_port;
	u64 seq;

	/*
	 * The room of a connection decided at once is kept for the next one:
	 * most are, and then nothing is allocated per connection. Only the
	 * listen work parks, one child at a time.
	 */
	lsn->spare = NULL;
	if (!conn) {
		conn = kmalloc(offsetof(struct skex_fw_conn, st) +
			       SKEX_FC_STATE_MAX, GFP_KERNEL_ACCOUNT);
		if (!conn)
			return false;
	}
	/* @gen 0 is no snapshot's: @st is started at the first look */
	memset(conn, 0, offsetof(struct skex_fw_conn, st));
	/* one reference for the parking, one for us until we are done */
	refcount_set(&conn->ref, 2);
	conn->lsn = lsn;
	conn->child = child;
	conn->req = req;
	conn->window = window;
	conn->deadline = jiffies + timeout;
	INIT_WORK(&conn->work, skex_fw_conn_work);
	timer_setup(&conn->timer, skex_fw_conn_timeout, 0);

	/*
	 * Most clients send their first message right after the handshake:
	 * when what is queued already decides, hand the child over at once,
	 * without parking it (no list, callbacks, timer or work).
	 */
	lock_sock(child);
	if (skex_fw_conn_decide(conn, &port, &seq, &def_port)) {
		skex_fw_child_detach(lsn, child);
		release_sock(child);
		lsn->spare = conn;
		skex_fw_deliver(lsn->rule, child, req, port, seq, def_port);
		return true;
	}
	release_sock(child);

	spin_lock_bh(&lsn->lock);
	if (lsn->closing) {
		/*
		 * Newer than every parked one: skex_fw_listen_finish() hands
		 * it off after them, not this work ahead of them.
		 */
		req->dl_next = NULL;
		*lsn->late_tail = req;
		lsn->late_tail = &req->dl_next;
		spin_unlock_bh(&lsn->lock);
		lsn->spare = conn;
		return true;
	}
	list_add_tail(&conn->node, &lsn->parked);
	lsn->nparked++;
	lsn->parked_bytes += window;
	spin_unlock_bh(&lsn->lock);

	lock_sock(child);
	skex_fw_child_hook(child, conn, skex_fw_conn_event, skex_fw_conn_event);
	release_sock(child);

	/*
	 * Events and a closing listener may kick the work before this point:
	 * it waits for @armed, so that the timer is never armed after the
	 * work deleted it.
	 */
	mod_timer(&conn->timer, conn->deadline);
	/* pairs with smp_load_acquire() in skex_fw_conn_step() */
	smp_store_release(&conn->armed, true);
	skex_fw_conn_kick(conn);
	skex_fw_conn_put(conn);
	return true;
}

/* ---- the module's listeners ---- */

/* A child taken off the listener: classify it now or park it. */
static void skex_fw_take(struct skex_fw_lsn *lsn, struct request_sock *req,
			 bool closing)
{
	struct skex_fw_rule *rule = lsn->rule;
	struct sock *child = req->sk;
	const struct skex_fw_ent *e = NULL;
	unsigned long timeout = 0;
	struct skex_fw_tab *tab;
	u32 window = 0;
	u16 port = 0, def_port;
	u64 seq = 0;

	if (!closing)
		skex_fw_rule_fresh(rule);
	rcu_read_lock();
	tab = rcu_dereference(rule->tab);
	if (!closing) {
		switch (tab->type) {
		case SKEX_FW_DICE:
			e = skex_fw_match_dice(tab);
			break;
		case SKEX_FW_ADDR:
			e = skex_fw_match_addr(tab, child);
			break;
		case SKEX_FW_CONTENT:
			window = tab->window;
			timeout = tab->timeout;
			break;
		}
	}
	if (e) {
		port = e->port;
		seq = e->seq;
	}
	def_port = tab->def_port;	/* the decision's snapshot's */
	rcu_read_unlock();

	if (window && skex_fw_conn_park(lsn, child, req, window, timeout))
		return;

	lock_sock(child);
	skex_fw_child_detach(lsn, child);
	release_sock(child);
	skex_fw_deliver(rule, child, req, port, seq, def_port);
}

/*
 * Whether @lsn may park no more: its parked connections may hold
 * SKEX_FW_PARK_BYTES in their receive queues, a window each (a window
 * edited since counts at the size each was parked with). Under @lsn->lock.
 */
static bool skex_fw_lsn_full(const struct skex_fw_lsn *lsn)
{
	lockdep_assert_held(&lsn->lock);
	return lsn->nparked >= SKEX_FW_PARK_MAX ||
	       (lsn->nparked >= SKEX_FW_PARK_MIN &&
		lsn->parked_bytes >= SKEX_FW_PARK_BYTES);
}

/* Up to SKEX_FW_BATCH children; false when the queue is done with. */
static bool skex_fw_listen_batch(struct skex_fw_lsn *lsn)
{
	struct sock *sk = lsn->sock->sk;
	struct request_sock *req;
	unsigned int i;

	for (i = 0; i < SKEX_FW_BATCH; i++) {
		spin_lock_bh(&lsn->lock);
		if (lsn->closing) {
			spin_unlock_bh(&lsn->lock);
			return false;
		}
		if (skex_fw_lsn_full(lsn)) {
			/* leave them in the accept queue until some decide */
			lsn->throttled = true;
			spin_unlock_bh(&lsn->lock);
			return false;
		}
		spin_unlock_bh(&lsn->lock);

		lock_sock(sk);
		req = NULL;
		if (sk->sk_state == TCP_LISTEN)
			req = reqsk_queue_remove(&inet_csk(sk)->icsk_accept_queue,
						 sk);
		release_sock(sk);
		if (!req)
			return false;
		skex_fw_take(lsn, req, false);
	}
	return true;
}

static void skex_fw_listen_work(struct work_struct *work)
{
	struct skex_fw_lsn *lsn = container_of(to_delayed_work(work),
					       struct skex_fw_lsn, work);
	struct mem_cgroup *old;
	bool more;

	/* parked connections are the configuring cgroup's memory */
	old = set_active_memcg(lsn->memcg);
	more = skex_fw_listen_batch(lsn);
	set_active_memcg(old);
	if (more)
		mod_delayed_work(skex_fw_wq, &lsn->work, 0);
}

/* ---- hand-off from the softirq ---- */

/*
 * How long a content rule's children wait in the module listener's accept
 * queue before the listen work takes (and parks) them: their first
 * segment, which most clients send right after the handshake, is usually
 * there before, and then the softirq hands them over (skex_fw_fast()). A
 * child taken later decides no later: it waits for bytes either way.
 */
#define SKEX_FW_PARK_DELAY_MS	20

/* How far into the module listener's accept queue the softirq looks. */
#define SKEX_FW_FAST_WALK	16

/* The content automaton's state for skex_fw_fast(), which runs with BHs off. */
struct skex_fw_fast_room {
	u32 words[DIV_ROUND_UP(SKEX_FC_STATE_MAX, sizeof(u32))];
};

static DEFINE_PER_CPU(struct skex_fw_fast_room, skex_fw_fast_room);

/*
 * Have the listen work take what waits in @lsk's accept queue: at once, or
 * SKEX_FW_PARK_DELAY_MS later for a content rule. Under RCU.
 */
static void skex_fw_listen_schedule(struct skex_fw_lsn *lsn, struct sock *lsk)
{
	const struct skex_fw_tab *tab = rcu_dereference(lsn->rule->tab);

	if (!reqsk_queue_empty(&inet_csk(lsk)->icsk_accept_queue))
		queue_delayed_work(skex_fw_wq, &lsn->work,
				   tab->type == SKEX_FW_CONTENT ?
				   msecs_to_jiffies(SKEX_FW_PARK_DELAY_MS) : 0);
}

/* sock_def_wakeup(), which is static: the module listeners' own */
static void (*skex_fw_stock_state_change)(struct sock *sk);

/*
 * Take @child's request sock off @lsk's accept queue, if it is among the
 * first SKEX_FW_FAST_WALK there. With BHs off.
 */
static struct request_sock *skex_fw_unqueue(struct sock *lsk,
					    struct sock *child)
{
	struct request_sock_queue *queue = &inet_csk(lsk)->icsk_accept_queue;
	struct request_sock *req, *prev = NULL;
	unsigned int i = 0;

	spin_lock(&queue->rskq_lock);
	for (req = queue->rskq_accept_head; req; req = req->dl_next) {
		if (req->sk == child || ++i == SKEX_FW_FAST_WALK)
			break;
		prev = req;
	}
	if (req && req->sk == child) {
		if (prev)
			prev->dl_next = req->dl_next;
		else
			WRITE_ONCE(queue->rskq_accept_head, req->dl_next);
		if (queue->rskq_accept_tail == req)
			queue->rskq_accept_tail = prev;
		req->dl_next = NULL;
		sk_acceptq_removed(lsk);
	} else {
		req = NULL;
	}
	spin_unlock(&queue->rskq_lock);
	return req;
}

/* Put @req back at the head of @lsk's accept queue. With BHs off. */
static void skex_fw_requeue(struct sock *lsk, struct request_sock *req)
{
	struct request_sock_queue *queue = &inet_csk(lsk)->icsk_accept_queue;

	spin_lock(&queue->rskq_lock);
	req->dl_next = queue->rskq_accept_head;
	WRITE_ONCE(queue->rskq_accept_head, req);
	if (!queue->rskq_accept_tail)
		queue->rskq_accept_tail = req;
	sk_acceptq_added(lsk);
	spin_unlock(&queue->rskq_lock);
}

/*
 * What @child's rule decides for it in the softirq: @data false, its
 * handshake just completed (dice and address rules); true, its first
 * segment just arrived (content rules, when that segment decides).
 * Returns false when the listen work is to decide.
 */
static bool skex_fw_fast_decide(struct skex_fw_lsn *lsn, struct sock *child,
				const struct skex_fw_tab *tab, bool data,
				const struct skex_fw_ent **e)
{
	struct skex_fc_state *st;
	int v;

	switch (tab->type) {
	case SKEX_FW_DICE:
		if (data)
			return false;
		*e = skex_fw_match_dice(tab);
		return true;
	case SKEX_FW_ADDR:
		if (data)
			return false;
		*e = skex_fw_match_addr(tab, child);
		return true;
	case SKEX_FW_CONTENT:
		/* its first segment, fed from the start (skex_fw_fast()) */
		if (!data)
			return false;
		st = (struct skex_fc_state *)this_cpu_ptr(&skex_fw_fast_room)->words;
		skex_fc_start(tab->fc, st);
		v = skex_fw_feed(st, child, tab->fc);
		if (v == SKEX_FC_MORE) {
			/* take it now: it is one that waits */
			mod_delayed_work(skex_fw_wq, &lsn->work, 0);
			return false;
		}
		*e = v >= 0 ? &tab->ent[v] : NULL;
		return true;
	}
	return false;
}

/*
 * Hand @child, still in its module listener's accept queue, to its target
 * from the softirq that made it ready (skex_fw_fast_decide()): no work
 * item, and the application is woken at once. With the child's bh lock
 * held by the softirq (tcp_child_process(), tcp_v4_rcv()), under RCU.
 * Returns whether it did; if not, the child stays queued for the listen
 * work, as it was.
 */
static bool skex_fw_fast(struct sock *child, bool data)
{
	const struct skex_fw_ent *e = NULL;
	struct skex_fw_rule *rule;
	struct skex_fw_lsn *lsn;
	struct request_sock *req;
	struct skex_fw_tab *tab;
	struct sock *lsk;
	bool net_ref, queued;
	u8 kern;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "needs rcu_read_lock()");
	/*
	 * The namespace reference tracker allocates with GFP_KERNEL; a user
	 * owning the child (it was taken) runs this from release_sock().
	 */
	if (IS_ENABLED(CONFIG_NET_NS_REFCNT_TRACKER) || !in_softirq() ||
	    sock_owned_by_user(child) || child->sk_state != TCP_ESTABLISHED)
		return false;
	lockdep_assert_held(&child->sk_lock.slock);
	/*
	 * Only the first segment is fed from the start: the ones after it
	 * go to the parked connection's incremental feed.
	 */
	if (data && skb_queue_len(&child->sk_receive_queue) != 1)
		return false;

	/* the listener is in the listening hash until it closes */
	lsk = skex_fw_lookup(child, inet_sk(child)->inet_num);
	if (!lsk || !skex_fw_is_ours(lsk))
		return false;
	lsn = rcu_dereference_sk_user_data(lsk);
	if (!lsn || READ_ONCE(lsn->closing) || READ_ONCE(lsn->rule->stale))
		return false;
	rule = lsn->rule;
	tab = rcu_dereference(rule->tab);
	if (!skex_fw_fast_decide(lsn, child, tab, data, &e))
		return false;
	req = skex_fw_unqueue(lsk, child);
	if (!req)
		return false;

	/*
	 * The callbacks of a stock socket before anyone else can see it
	 * (the child's bh lock stands for lock_sock() here).
	 */
	kern = child->sk_kern_sock;
	skex_fw_child_hook(child, NULL, lsn->data_ready, lsn->state_change);
	child->sk_kern_sock = 0;
	net_ref = !READ_ONCE(rule->fw->dying) && check_net(sock_net(child));
	queued = (e && skex_fw_queue(child, req, e->port, &e->br->hits,
				     net_ref)) ||
		 skex_fw_queue(child, req, tab->def_port, &rule->default_hits,
			       net_ref);
	if (!queued) {
		/* the listen work resets it (or finds a listener by then) */
		skex_fw_child_hook(child, NULL, skex_fw_listen_ready,
				   skex_fw_child_state);
		child->sk_kern_sock = kern;
		skex_fw_requeue(lsk, req);
		mod_delayed_work(skex_fw_wq, &lsn->work, 0);
		return false;
	}
	/*
	 * The work scheduled for this child when it was queued has nothing
	 * left to take: no run for nothing. A child queued meanwhile, whose
	 * scheduling the cancel may undo, is seen by the second look.
	 */
	if (reqsk_queue_empty(&inet_csk(lsk)->icsk_accept_queue) &&
	    cancel_delayed_work(&lsn->work))
		skex_fw_listen_schedule(lsn, lsk);
	return true;
}

/*
 * sk_state_change of the module's listeners, inherited by their children
 * at clone time: a child just established may be handed over at once.
 */
static void skex_fw_child_state(struct sock *sk)
{
	READ_ONCE(skex_fw_stock_state_change)(sk);
	if (sk->sk_state == TCP_ESTABLISHED) {
		rcu_read_lock();
		skex_fw_fast(sk, false);
		rcu_read_unlock();
	}
}

/*
 * sk_data_ready of the module's listeners, inherited by their children at
 * clone time: a listener has a child to accept (the listen work takes
 * it); a child not yet taken has its first bytes, which may decide.
 */
static void skex_fw_listen_ready(struct sock *sk)
{
	struct skex_fw_lsn *lsn;

	rcu_read_lock();
	if (sk->sk_state != TCP_LISTEN) {
		skex_fw_fast(sk, true);
	} else {
		/* nothing when the softirq handed the child over already */
		lsn = rcu_dereference_sk_user_data(sk);
		if (lsn)
			skex_fw_listen_schedule(lsn, sk);
	}
	rcu_read_unlock();
}

/*
 * Room the configuring task reserves in its memory cgroup for the
 * listener, which a kworker makes with GFP_KERNEL (struct sock, socket
 * inode, security blob): freed just before, so that a cgroup at its
 * memory.max fails the call with ENOMEM in the task rather than making
 * the kworker's allocations call the cgroup's OOM killer.
 */
#define SKEX_FW_OPEN_RESERVE	SZ_16K

struct skex_fw_open {
	struct work_struct work;
	struct net *net;
	struct skex_fw_lsn *lsn;
	void *reserve;
	u16 port;
	int err;
};

static int skex_fw_sock_open(struct net *net, u16 port, struct socket **res)
{
	struct sockaddr_storage ss = {};
	struct socket *sock;
	int addrlen, err;

#if IS_ENABLED(CONFIG_IPV6)
	err = sock_create_kern(net, AF_INET6, SOCK_STREAM, IPPROTO_TCP, &sock);
	if (!err) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		int zero = 0;

		err = sock->ops->setsockopt(sock, SOL_IPV6, IPV6_V6ONLY,
					    KERNEL_SOCKPTR(&zero),
					    sizeof(zero));
		if (err) {
			sock_release(sock);
			return err;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		addrlen = sizeof(*sin6);
		goto bind;
	}
	if (err != -EAFNOSUPPORT)
		return err;
#endif
	err = sock_create_kern(net, AF_INET, SOCK_STREAM, IPPROTO_TCP, &sock);
	if (err)
		return err;
	((struct sockaddr_in *)&ss)->sin_family = AF_INET;
	((struct sockaddr_in *)&ss)->sin_port = htons(port);
	addrlen = sizeof(struct sockaddr_in);
bind:
	/* as servers do: rebind while connections it handed off live on */
	sock_set_reuseaddr(sock->sk);
	err = kernel_bind(sock, (struct sockaddr *)&ss, addrlen);
	if (err) {
		sock_release(sock);
		return err;
	}
	*res = sock;
	return 0;
}

/*
 * As inet_listen(), without ever enabling Fast Open on the socket: with
 * net.ipv4.tcp_fastopen including 0x400 (Fast Open on every listener
 * without a socket option), inet_listen() would let a SYN with data make
 * a child in SYN_RECV before it could be turned off, whose request sock
 * stays tied to this listener's Fast Open queue and cannot be handed off.
 */
static int skex_fw_sock_listen(struct sock *sk, int backlog)
{
	int err;

	lock_sock(sk);
	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	err = inet_csk_listen_start(sk);
	if (!err)
		tcp_call_bpf(sk, BPF_SOCK_OPS_TCP_LISTEN_CB, 0, NULL);
	release_sock(sk);
	return err;
}

/*
 * Learn the af_ops of a plain IPv4 TCP socket (ipv4_specific), which
 * skex_fw_to_inet() gives a child that becomes IPv4: from a socket made
 * for it. Without it, such children are not handed to AF_INET listeners.
 */
static void skex_fw_get_v4_ops(struct net *net)
{
	struct socket *sock;

	if (sock_create_kern(net, AF_INET, SOCK_STREAM, IPPROTO_TCP, &sock))
		return;
	WRITE_ONCE(skex_fw_v4_ops, inet_csk(sock->sk)->icsk_af_ops);
	sock_release(sock);
}

/*
 * Runs in a kworker, so that the socket and its children belong to the
 * root cgroup rather than to whoever configured the rule (cgroup-BPF, the
 * task's LSM context); its memory (struct sock, the socket inode) is
 * charged to the configuring task's memory cgroup.
 */
static void skex_fw_open_work(struct work_struct *work)
{
	struct skex_fw_open *op = container_of(work, struct skex_fw_open, work);
	struct skex_fw_lsn *lsn = op->lsn;
	struct mem_cgroup *old;
	struct socket *sock;
	struct sock *sk;
	int err;

	old = set_active_memcg(lsn->memcg);
	kvfree(op->reserve);
	op->reserve = NULL;
	err = skex_fw_sock_open(op->net, op->port, &sock);
	set_active_memcg(old);
	if (err)
		goto out;
	sk = sock->sk;
	write_lock_bh(&sk->sk_callback_lock);
	lsn->data_ready = sk->sk_data_ready;
	lsn->state_change = sk->sk_state_change;
	WRITE_ONCE(skex_fw_stock_state_change, sk->sk_state_change);
	__rcu_assign_sk_user_data_with_flags(sk, lsn, SK_USER_DATA_NOCOPY);
	sk->sk_data_ready = skex_fw_listen_ready;
	sk->sk_state_change = skex_fw_child_state;
	write_unlock_bh(&sk->sk_callback_lock);
	lsn->sock = sock;

	err = skex_fw_sock_listen(sk, SKEX_FW_BACKLOG);
	if (err) {
		lsn->sock = NULL;
		sock_release(sock);
		goto out;
	}
	if (!READ_ONCE(skex_fw_v4_ops))
		skex_fw_get_v4_ops(op->net);
out:
	op->err = err;
}

struct skex_fw_lsn *skex_fw_listen_open(struct skex_fw_rule *rule)
{
	struct skex_fw_open op = {
		.net = skex_fw_netns(rule->fw),
		.port = rule->port,
	};
	struct skex_fw_lsn *lsn;

	lsn = kzalloc(sizeof(*lsn), SKEX_GFP_CONFIG);
	if (!lsn)
		return ERR_PTR(-ENOMEM);
	op.reserve = kvmalloc(SKEX_FW_OPEN_RESERVE, SKEX_GFP_CONFIG);
	if (!op.reserve) {
		kfree(lsn);
		return ERR_PTR(-ENOMEM);
	}
	lsn->rule = rule;
	lsn->memcg = get_mem_cgroup_from_mm(current->mm);
	INIT_LIST_HEAD(&lsn->batch);
	INIT_DELAYED_WORK(&lsn->work, skex_fw_listen_work);
	spin_lock_init(&lsn->lock);
	INIT_LIST_HEAD(&lsn->parked);
	init_waitqueue_head(&lsn->idle);
	lsn->late_tail = &lsn->late;

	op.lsn = lsn;
	INIT_WORK_ONSTACK(&op.work, skex_fw_open_work);
	queue_work(system_unbound_wq, &op.work);
	flush_work(&op.work);
	destroy_work_on_stack(&op.work);
	if (op.err) {
		mem_cgroup_put(lsn->memcg);
		kfree(lsn);
		return ERR_PTR(op.err);
	}
	return lsn;
}

static bool skex_fw_listen_idle(struct skex_fw_lsn *lsn)
{
	bool idle;

	spin_lock_bh(&lsn->lock);
	idle = !lsn->nparked;
	spin_unlock_bh(&lsn->lock);
	return idle;
}

/*
 * How long a closing listener lets the handshakes it answered finish: the
 * client's ACK is a round trip away (200 ms when the client delays it, as
 * Linux does with TCP_DEFER_ACCEPT set on the connecting socket).
 */
#define SKEX_FW_DRAIN		(HZ / 2)

/*
 * Closing listeners goes in steps, so that closing many waits for one
 * grace period and one drain, not one each: skex_fw_listen_stop() takes
 * each off the network (no new SYN finds it) and onto @batch;
 * skex_fw_listen_close_batch() waits for the callbacks once, lets the
 * handshakes in progress finish (up to SKEX_FW_DRAIN), closes, and hands
 * every connection the listeners hold, queued or parked, to the default
 * port (reset when that fails).
 */
void skex_fw_listen_stop(struct skex_fw_lsn *lsn, struct list_head *batch)
{
	struct sock *sk = lsn->sock->sk;

	/* skex_fw_fast() reads it without the lock: see the grace period */
	spin_lock_bh(&lsn->lock);
	WRITE_ONCE(lsn->closing, true);
	spin_unlock_bh(&lsn->lock);

	lock_sock(sk);
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_sk_user_data(sk, NULL);
	sk->sk_data_ready = lsn->data_ready;
	sk->sk_state_change = lsn->state_change;
	write_unlock_bh(&sk->sk_callback_lock);
	/*
	 * Still TCP_LISTEN but out of the listening hash: a SYN finds no
	 * listener, while the request socks it answered (in the established
	 * hash, tied to it) still complete into its accept queue.
	 */
	if (sk->sk_state == TCP_LISTEN)
		sk->sk_prot->unhash(sk);
	release_sock(sk);
	list_add_tail(&lsn->batch, batch);
}

/*
 * Wait until no listener of @batch has a handshake in progress, or
 * SKEX_FW_DRAIN has passed; not in a namespace that is going (no client
 * can answer there).
 */
static void skex_fw_listen_drain(struct list_head *batch)
{
	unsigned long deadline = jiffies + SKEX_FW_DRAIN;
	struct skex_fw_lsn *lsn;
	struct sock *sk;

	list_for_each_entry(lsn, batch, batch) {
		sk = lsn->sock->sk;
		if (READ_ONCE(lsn->rule->fw->dying))
			continue;
		while (inet_csk_reqsk_queue_len(sk) &&
		       time_before(jiffies, deadline))
			schedule_timeout_uninterruptible(1);
	}
}

/* As __tcp_close() on a listener, keeping its children. */
static void skex_fw_listen_shut(struct skex_fw_lsn *lsn)
{
	struct request_sock *req, **tail = &lsn->taken;
	struct sock *sk = lsn->sock->sk;

	lock_sock(sk);
	if (sk->sk_state == TCP_LISTEN) {
		tcp_set_state(sk, TCP_CLOSE);
		while ((req = reqsk_queue_remove(&inet_csk(sk)->icsk_accept_queue,
						 sk))) {
			req->dl_next = NULL;
			*tail = req;
			tail = &req->dl_next;
		}
		inet_csk_listen_stop(sk);
	}
	release_sock(sk);
}

/* The oldest parked connection of @lsn, with a reference, or NULL. */
static struct skex_fw_conn *skex_fw_lsn_first(struct skex_fw_lsn *lsn)
{
	struct skex_fw_conn *conn;

	spin_lock_bh(&lsn->lock);
	conn = list_first_entry_or_null(&lsn->parked, struct skex_fw_conn,
					node);
	/* listed: the parking reference is still held */
	if (conn)
		refcount_inc(&conn->ref);
	spin_unlock_bh(&lsn->lock);
	return conn;
}

/* After the grace period: the connections of one stopped listener. */
static void skex_fw_listen_finish(struct skex_fw_lsn *lsn)
{
	struct request_sock *req;
	struct skex_fw_conn *conn;

	cancel_delayed_work_sync(&lsn->work);

	/*
	 * To the default port in the order they arrived, as a listener's own
	 * accept queue gives them (a server of one connection at a time, or
	 * clients taking turns, depend on it): the parked ones first, oldest
	 * first, each handed off before the next is forced (their work items
	 * would run on several CPUs at once), then those the listen work
	 * took as @closing was set, then those still queued. Every parked
	 * one is armed: the listen work is done, and nothing queues it again
	 * once @closing is set.
	 */
	while ((conn = skex_fw_lsn_first(lsn))) {
		WRITE_ONCE(conn->force, true);
		skex_fw_conn_kick(conn);
		/* waits for a run that saw @force: it decides and unlinks */
		flush_work(&conn->work);
		skex_fw_conn_put(conn);
	}

	spin_lock_bh(&lsn->lock);
	*lsn->late_tail = lsn->taken;
	lsn->taken = lsn->late;
	lsn->late = NULL;
	lsn->late_tail = &lsn->late;
	spin_unlock_bh(&lsn->lock);
	while (lsn->taken) {
		req = lsn->taken;
		lsn->taken = req->dl_next;
		req->dl_next = NULL;
		skex_fw_take(lsn, req, true);
	}
	wait_event(lsn->idle, skex_fw_listen_idle(lsn));

	sock_release(lsn->sock);
	mem_cgroup_put(lsn->memcg);
	kfree(lsn->spare);
	kfree(lsn);
}

/* Returns when every listener of @batch and its connections are gone. */
void skex_fw_listen_close_batch(struct list_head *batch)
{
	struct skex_fw_lsn *lsn, *tmp;

	if (list_empty(batch))
		return;
	/* No callback is still running on another CPU after this. */
	synchronize_rcu();
	skex_fw_listen_drain(batch);
	list_for_each_entry_safe(lsn, tmp, batch, batch) {
		list_del(&lsn->batch);
		skex_fw_listen_shut(lsn);
		skex_fw_listen_finish(lsn);
		cond_resched();
	}
}

/*
 * Have every connection parked on @lsn look at the rule's snapshot again
 * (the rule was replaced): what it received may decide it now.
 */
void skex_fw_listen_kick(struct skex_fw_lsn *lsn)
{
	struct skex_fw_conn *conn;

	spin_lock_bh(&lsn->lock);
	list_for_each_entry(conn, &lsn->parked, node)
		skex_fw_conn_kick(conn);
	spin_unlock_bh(&lsn->lock);
}
