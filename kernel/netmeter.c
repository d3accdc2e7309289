// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Netmeter: per-port counters of accepted connections, accept delay and
 * application bytes, and the connection table they are attributed with.
 *
 * A connection is tracked from the moment its handshake completes and it
 * is queued on a listener (skex_nm_queued) until the TCP socket is
 * destroyed (skex_nm_destroyed). It belongs to the port of the listener it
 * was accepted from. Bytes are counted per call on the send and receive
 * paths; client sockets are never in the table and are not counted.
 *
 * Locking: the connection table is an rhashtable (RCU readers, internal
 * bucket locks). Ports are created under skex_net.ports_lock and never
 * removed before their namespace goes; their counters are per-cpu.
 */
#include "skex.h"
#include "netmeter.h"

#include <linux/percpu.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <net/inet_hashtables.h>
#include <net/tcp.h>

/**
 * struct skex_conn - an accepted or acceptable TCP connection
 * @node: in skex_conns
 * @sk: the connection's socket, the key
 * @sn: its namespace's state
 * @port: the port it counts for; RCU-protected, rewritten at accept
 * @ready_ns: when it was queued for accept, 0 if unknown
 * @flags: SKEX_CONN_ACCEPTED once it has been counted as accepted
 * @rcu: frees it after readers are gone
 */
struct skex_conn {
	struct rhash_head node;
	const struct sock *sk;
	struct skex_net *sn;
	struct skex_port __rcu *port;
	u64 ready_ns;
	unsigned long flags;
	struct rcu_head rcu;
};

#define SKEX_CONN_ACCEPTED	0

static const struct rhashtable_params skex_conn_params = {
	.key_len = sizeof(const struct sock *),
	.key_offset = offsetof(struct skex_conn, sk),
	.head_offset = offsetof(struct skex_conn, node),
	.automatic_shrinking = true,
};

static struct rhashtable skex_conns;

struct skex_port *skex_port_find(struct skex_net *sn, u16 port)
{
	struct skex_port_chunk *chunk;

	chunk = rcu_dereference_check(sn->chunks[port / SKEX_PORT_CHUNK],
				      lockdep_is_held(&sn->ports_lock));
	if (!chunk)
		return NULL;
	return rcu_dereference_check(chunk->port[port % SKEX_PORT_CHUNK],
				     lockdep_is_held(&sn->ports_lock));
}

static void skex_port_free(struct skex_port *p)
{
	free_percpu(p->stats);
	kfree(p);
}

/**
 * skex_port_get - find or create a port
 * @sn: the namespace's state
 * @port: the port number
 * @gfp: allocation flags for the caller's context
 *
 * Callable from any context with a matching @gfp. The caller must be in an
 * RCU read-side section, or hold a reference on the namespace; the port
 * stays valid as long as the namespace.
 */
struct skex_port *skex_port_get(struct skex_net *sn, u16 port, gfp_t gfp)
{
	struct skex_port_chunk *chunk, *new_chunk = NULL;
	struct skex_port *p, *new_port;
	unsigned long flags;

	p = skex_port_find(sn, port);
	if (p)
		return p;

	new_port = kzalloc(sizeof(*new_port), gfp);
	if (!new_port)
		return NULL;
	new_port->port = port;
	new_port->stats = alloc_percpu_gfp(struct skex_port_pcpu, gfp);
	if (!new_port->stats)
		goto err_port;
	if (!rcu_access_pointer(sn->chunks[port / SKEX_PORT_CHUNK])) {
		new_chunk = kzalloc(sizeof(*new_chunk), gfp);
		if (!new_chunk)
			goto err_stats;
	}

	spin_lock_irqsave(&sn->ports_lock, flags);
	p = skex_port_find(sn, port);
	if (p)
		goto unlock;
	chunk = rcu_dereference_protected(sn->chunks[port / SKEX_PORT_CHUNK],
					  lockdep_is_held(&sn->ports_lock));
	if (!chunk) {
		chunk = new_chunk;
		new_chunk = NULL;
		rcu_assign_pointer(sn->chunks[port / SKEX_PORT_CHUNK], chunk);
	}
	rcu_assign_pointer(chunk->port[port % SKEX_PORT_CHUNK], new_port);
	p = new_port;
	new_port = NULL;
unlock:
	spin_unlock_irqrestore(&sn->ports_lock, flags);
	kfree(new_chunk);
	if (new_port)
		skex_port_free(new_port);
	return p;

err_stats:
	free_percpu(new_port->stats);
err_port:
	kfree(new_port);
	return NULL;
}

/* A rule or group starts or stops listing the port in /proc/net/skex. */
void skex_port_use(struct skex_port *p)
{
	atomic_inc(&p->users);
}

void skex_port_unuse(struct skex_port *p)
{
	atomic_dec(&p->users);
}

static struct skex_conn *skex_conn_find(const struct sock *sk)
{
	return rhashtable_lookup(&skex_conns, &sk, skex_conn_params);
}

static struct skex_port *skex_listener_port(struct sock *listener, gfp_t gfp)
{
	return skex_port_get(skex_net(sock_net(listener)),
			     inet_sk(listener)->inet_num, gfp);
}

/*
 * inet_csk_reqsk_queue_add() is about to queue @child on @listener: the
 * handshake is complete. Runs in softirq context.
 */
void skex_nm_queued(struct sock *listener, struct sock *child)
{
	struct skex_port *port;
	struct skex_conn *conn, *old;

	if (listener->sk_protocol != IPPROTO_TCP)
		return;

	rcu_read_lock();
	port = skex_listener_port(listener, GFP_ATOMIC);
	if (!port)
		goto out;

	/* Moved between listeners (reuseport migration): keep the time. */
	conn = skex_conn_find(child);
	if (conn) {
		rcu_assign_pointer(conn->port, port);
		goto out;
	}

	conn = kzalloc(sizeof(*conn), GFP_ATOMIC);
	if (!conn)
		goto out;
	conn->sk = child;
	conn->sn = skex_net(sock_net(listener));
	RCU_INIT_POINTER(conn->port, port);
	conn->ready_ns = ktime_get_ns();
	old = rhashtable_lookup_get_insert_fast(&skex_conns, &conn->node,
						skex_conn_params);
	if (old) {
		kfree(conn);
		if (!IS_ERR(old))
			rcu_assign_pointer(old->port, port);
	}
out:
	rcu_read_unlock();
}

/* accept() on @listener is returning @child. Process context. */
void skex_nm_accepted(struct sock *listener, struct sock *child)
{
	struct skex_port_pcpu __percpu *stats;
	struct skex_conn *conn, *old;
	struct skex_port *port;
	u64 delay = 0;

	rcu_read_lock();
	port = skex_listener_port(listener, GFP_ATOMIC);
	if (!port)
		goto out;
	stats = port->stats;

	conn = skex_conn_find(child);
	if (conn) {
		rcu_assign_pointer(conn->port, port);
		if (test_and_set_bit(SKEX_CONN_ACCEPTED, &conn->flags))
			goto out;
		if (conn->ready_ns)
			delay = ktime_get_ns() - conn->ready_ns;
		goto count;
	}

	/* Queued before the module was loaded: count it, delay unknown. */
	conn = kzalloc(sizeof(*conn), GFP_ATOMIC);
	if (conn) {
		conn->sk = child;
		conn->sn = skex_net(sock_net(listener));
		RCU_INIT_POINTER(conn->port, port);
		conn->flags = BIT(SKEX_CONN_ACCEPTED);
		old = rhashtable_lookup_get_insert_fast(&skex_conns,
							&conn->node,
							skex_conn_params);
		if (old)
			kfree(conn);
	}
count:
	this_cpu_inc(stats->conns);
	this_cpu_add(stats->delay_ns, delay);
out:
	rcu_read_unlock();
}

/* A TCP socket is being destroyed. Any context. */
void skex_nm_destroyed(struct sock *sk)
{
	struct skex_conn *conn;

	rcu_read_lock();
	conn = skex_conn_find(sk);
	if (conn && !rhashtable_remove_fast(&skex_conns, &conn->node,
					    skex_conn_params))
		kfree_rcu(conn, rcu);
	rcu_read_unlock();
}

/* The port @sk counts for, or NULL. Call under rcu_read_lock(). */
struct skex_port *skex_nm_conn_port(const struct sock *sk)
{
	struct skex_conn *conn = skex_conn_find(sk);

	return conn ? rcu_dereference(conn->port) : NULL;
}

/*
 * The application moved @bytes on @sk. A connection that was queued with
 * the module loaded but is used before it was counted as accepted came out
 * of an accept() that had begun before the module was loaded: count it now,
 * without a delay.
 */
static void skex_nm_used(struct sock *sk, long bytes, bool out)
{
	struct skex_conn *conn;
	struct skex_port *port;

	rcu_read_lock();
	conn = skex_conn_find(sk);
	if (!conn)
		goto unlock;
	port = rcu_dereference(conn->port);
	if (unlikely(!test_bit(SKEX_CONN_ACCEPTED, &conn->flags)) &&
	    !test_and_set_bit(SKEX_CONN_ACCEPTED, &conn->flags))
		this_cpu_inc(port->stats->conns);
	if (out)
		this_cpu_add(port->stats->bytes_out, bytes);
	else
		this_cpu_add(port->stats->bytes_in, bytes);
unlock:
	rcu_read_unlock();
}

void skex_nm_sent(struct sock *sk, long bytes)
{
	skex_nm_used(sk, bytes, true);
}

void skex_nm_received(struct sock *sk, long bytes)
{
	skex_nm_used(sk, bytes, false);
}

static void skex_port_sum(struct skex_port *p, struct skex_port_stat *st)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct skex_port_pcpu *c = per_cpu_ptr(p->stats, cpu);

		st->conns += READ_ONCE(c->conns);
		st->delay_ns += READ_ONCE(c->delay_ns);
		st->bytes_in += READ_ONCE(c->bytes_in);
		st->bytes_out += READ_ONCE(c->bytes_out);
	}
}

/*
 * Calls @walk->fn for every TCP listener of @net, IPv4 and IPv6, under RCU.
 * Listeners opened before the module was loaded are found too.
 */
struct skex_listener_walk {
	void (*fn)(struct sock *sk, void *arg);
	void *arg;
};

static void skex_walk_listeners(struct net *net,
				const struct skex_listener_walk *walk)
{
	struct inet_hashinfo *h = net->ipv4.tcp_death_row.hashinfo;
	struct hlist_nulls_node *node;
	struct sock *sk;
	unsigned int i;

	rcu_read_lock();
	for (i = 0; i <= h->lhash2_mask; i++) {
		struct inet_listen_hashbucket *ilb2 = &h->lhash2[i];

		sk_nulls_for_each_rcu(sk, node, &ilb2->nulls_head)
			if (net_eq(sock_net(sk), net))
				walk->fn(sk, walk->arg);
	}
	rcu_read_unlock();
}

static void skex_stat_listener(struct sock *sk, void *arg)
{
	struct skex_port_stat *st = arg;

	if (inet_sk(sk)->inet_num != st->port)
		return;
	st->listeners++;
	st->waiting += READ_ONCE(sk->sk_ack_backlog);
}

/**
 * skex_port_stat - the counters of one port
 * @net: the namespace
 * @port: the port number
 * @st: filled with the counters
 *
 * Return: 0, or -ENOENT when nothing listens on @port and no rule or group
 * uses it.
 */
int skex_port_stat(struct net *net, u16 port, struct skex_port_stat *st)
{
	struct skex_port *p;

	memset(st, 0, sizeof(*st));
	if (!port)
		return -ENOENT;
	st->port = port;
	skex_walk_listeners(net, &(struct skex_listener_walk) {
		.fn = skex_stat_listener, .arg = st });

	rcu_read_lock();
	p = skex_port_find(skex_net(net), port);
	if (p && (st->listeners || atomic_read(&p->users)))
		skex_port_sum(p, st);
	rcu_read_unlock();

	return st->listeners || (p && atomic_read(&p->users)) ? 0 : -ENOENT;
}

struct skex_port_list {
	struct skex_port_stat *stats;
	size_t count;
	size_t size;
	size_t wanted;
};

static void skex_list_add(struct skex_port_list *list, u16 port,
			  u32 listeners, u32 waiting)
{
	struct skex_port_stat *st;

	if (list->wanted++ >= list->size)
		return;
	st = &list->stats[list->count++];
	memset(st, 0, sizeof(*st));
	st->port = port;
	st->listeners = listeners;
	st->waiting = waiting;
}

static void skex_list_listener(struct sock *sk, void *arg)
{
	skex_list_add(arg, inet_sk(sk)->inet_num, 1,
		      READ_ONCE(sk->sk_ack_backlog));
}

static int skex_stat_cmp(const void *a, const void *b)
{
	const struct skex_port_stat *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

static void skex_list_used_ports(struct skex_net *sn,
				 struct skex_port_list *list)
{
	struct skex_port_chunk *chunk;
	struct skex_port *p;
	unsigned int i, j;

	rcu_read_lock();
	for (i = 0; i < SKEX_PORT_CHUNKS; i++) {
		chunk = rcu_dereference(sn->chunks[i]);
		if (!chunk)
			continue;
		for (j = 0; j < SKEX_PORT_CHUNK; j++) {
			p = rcu_dereference(chunk->port[j]);
			if (p && atomic_read(&p->users))
				skex_list_add(list, p->port, 0, 0);
		}
	}
	rcu_read_unlock();
}

/**
 * skex_port_stats - the counters of every port /proc/net/skex lists
 * @net: the namespace
 * @stats: set to a kvmalloc()ed array, sorted by port, to be kvfree()d
 * @count: set to its length
 */
int skex_port_stats(struct net *net, struct skex_port_stat **stats,
		    size_t *count)
{
	struct skex_net *sn = skex_net(net);
	struct skex_port_list list = { .size = 64 };
	struct skex_port *p;
	size_t i, out;

	for (;;) {
		list.stats = kvmalloc_array(list.size, sizeof(*list.stats),
					    GFP_KERNEL);
		if (!list.stats)
			return -ENOMEM;
		list.count = 0;
		list.wanted = 0;
		skex_walk_listeners(net, &(struct skex_listener_walk) {
			.fn = skex_list_listener, .arg = &list });
		skex_list_used_ports(sn, &list);
		if (list.wanted <= list.size)
			break;
		kvfree(list.stats);
		list.size = list.wanted + 64;
	}

	sort(list.stats, list.count, sizeof(*list.stats), skex_stat_cmp, NULL);

	/* Merge the entries of each port, then add its counters. */
	out = 0;
	for (i = 0; i < list.count; i++) {
		struct skex_port_stat *st = &list.stats[i];

		if (out && list.stats[out - 1].port == st->port) {
			list.stats[out - 1].listeners += st->listeners;
			list.stats[out - 1].waiting += st->waiting;
			continue;
		}
		list.stats[out++] = *st;
	}

	rcu_read_lock();
	for (i = 0; i < out; i++) {
		p = skex_port_find(sn, list.stats[i].port);
		if (p)
			skex_port_sum(p, &list.stats[i]);
	}
	rcu_read_unlock();

	*stats = list.stats;
	*count = out;
	return 0;
}

int skex_netmeter_net_init(struct skex_net *sn)
{
	spin_lock_init(&sn->ports_lock);
	return 0;
}

/* Forget connections that still point into @sn; normally there are none. */
static void skex_conns_purge(struct skex_net *sn)
{
	struct rhashtable_iter iter;
	struct skex_conn *conn;

	rhashtable_walk_enter(&skex_conns, &iter);
	rhashtable_walk_start(&iter);
	while ((conn = rhashtable_walk_next(&iter))) {
		if (IS_ERR(conn))
			continue;
		if (conn->sn == sn &&
		    !rhashtable_remove_fast(&skex_conns, &conn->node,
					    skex_conn_params))
			kfree_rcu(conn, rcu);
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
}

void skex_netmeter_net_exit(struct skex_net *sn)
{
	struct skex_port_chunk *chunk;
	struct skex_port *p;
	unsigned int i, j;

	skex_conns_purge(sn);
	/* Hooks may still be looking at ports they found under RCU. */
	synchronize_rcu();

	for (i = 0; i < SKEX_PORT_CHUNKS; i++) {
		chunk = rcu_dereference_protected(sn->chunks[i], true);
		if (!chunk)
			continue;
		for (j = 0; j < SKEX_PORT_CHUNK; j++) {
			p = rcu_dereference_protected(chunk->port[j], true);
			if (p)
				skex_port_free(p);
		}
		kfree(chunk);
	}
}

int skex_netmeter_init(void)
{
	return rhashtable_init(&skex_conns, &skex_conn_params);
}

static void skex_conn_free(void *ptr, void *arg)
{
	kfree(ptr);
}

/* After the hooks are gone and every namespace has been torn down. */
void skex_netmeter_exit(void)
{
	rhashtable_free_and_destroy(&skex_conns, skex_conn_free, NULL);
	rcu_barrier();
}
