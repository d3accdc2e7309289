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
 * was accepted from. Client sockets are never in the table and are not
 * counted.
 *
 * Bytes are not counted on the data path at all: TCP already numbers
 * them. The application has read every byte up to tp->copied_seq and
 * written every byte up to tp->write_seq, whichever call moved them (read,
 * recvmsg, splice, sendfile, io_uring, zero-copy ...). Each connection
 * remembers where its last count stopped; folding it adds the difference
 * to its port's totals. A connection is folded whenever its port is read,
 * every SKEX_FOLD_INTERVAL (so that a 32-bit sequence number cannot wrap
 * between two folds) and a last time when the application closes it or
 * shuts down its sending side, before the FIN takes a sequence number of
 * its own (a FIN received is discounted when the application consumes it).
 *
 * Locking: the connection table is an rhashtable (RCU readers, internal
 * bucket locks). Ports (port.c) are never removed before their namespace
 * goes; their accept counters are per-cpu,
 * their byte totals and the list of connections folded into them are
 * under skex_port.lock. A connection's port is changed only under the lock
 * of the port it leaves (skex_conn_lock()).
 */
#include "skex.h"
#include "netmeter.h"

#include <linux/hash.h>
#include <linux/percpu.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include <net/inet_hashtables.h>
#include <net/tcp.h>

/**
 * struct skex_conn - an accepted or acceptable TCP connection
 * @node: in skex_conns
 * @sk: the connection's socket, the key
 * @sn: its namespace's state
 * @port: the port it counts for; RCU-protected, changed only under the
 *	lock of the port it leaves
 * @live: in @port->conns while @listed
 * @ready_ns: when it was queued for accept, 0 if unknown
 * @copied_seq: tp->copied_seq when it was last folded (@port->lock)
 * @write_seq: tp->write_seq when it was last folded (@port->lock)
 * @listed: in @port->conns, its bytes counted (@port->lock)
 * @closed: the application closed it: never listed again (@port->lock)
 * @fin_in: the FIN received has been discounted (@port->lock)
 * @wr_done: the application can write no more (@port->lock)
 * @flags: SKEX_CONN_ACCEPTED once it has been counted as accepted
 * @rcu: frees it after readers are gone
 */
struct skex_conn {
	struct rhash_head node;
	const struct sock *sk;
	struct skex_net *sn;
	struct skex_port __rcu *port;
	struct list_head live;
	u64 ready_ns;
	u32 copied_seq;
	u32 write_seq;
	bool listed;
	bool closed;
	bool fin_in;
	bool wr_done;
	unsigned long flags;
	struct rcu_head rcu;
};

#define SKEX_CONN_ACCEPTED	0

/* 4 GiB per connection and interval would wrap a sequence number. */
#define SKEX_FOLD_INTERVAL	(HZ / 10)
/* Connections folded per hold of a port's lock, or per RCU section. */
#define SKEX_FOLD_BATCH		64

/*
 * The key is a pointer: hashed by one multiplication and compared as one
 * word, inline. rhashtable's defaults for an 8-byte key call out to jhash2()
 * and to memcmp(), which the kernel has for x86-64 only as a byte loop, and
 * the send wrappers look a connection up on every call: even
 * jhash_2words() was half of a lookup. The key is an address the slab
 * allocator chose, not one a user can aim at a bucket.
 */
static inline u32 skex_conn_hash(const void *data, u32 len, u32 seed)
{
	unsigned long key = (unsigned long)*(const struct sock * const *)data;

	return hash_long(key ^ seed, 32);
}

static inline int skex_conn_cmp(struct rhashtable_compare_arg *arg,
				const void *obj)
{
	const struct skex_conn *conn = obj;

	return conn->sk != *(const struct sock * const *)arg->key;
}

static const struct rhashtable_params skex_conn_params = {
	.key_len = sizeof(const struct sock *),
	.key_offset = offsetof(struct skex_conn, sk),
	.head_offset = offsetof(struct skex_conn, node),
	/* no obj_hashfn: rhashtable_lookup_get_insert_fast() forbids one */
	.hashfn = skex_conn_hash,
	.obj_cmpfn = skex_conn_cmp,
	.automatic_shrinking = true,
	/*
	 * A server's connections come and go by the handful: below this the
	 * table would grow and shrink all the time (0.2% of nginx's
	 * connection rate in the bench). 256 buckets are 2 KB.
	 */
	.min_size = 256,
};

static struct rhashtable skex_conns;

static void skex_fold_all(struct work_struct *work);
static DECLARE_DELAYED_WORK(skex_fold_work, skex_fold_all);

/*
 * Set by skex_netmeter_stop() before the hooks go: from then on a socket
 * can be freed without skex_nm_destroyed(), so folds no longer read them.
 */
static bool skex_nm_stopped;

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
 * Lock the port @conn counts for and return it. Under rcu_read_lock();
 * the port is stable while its lock is held.
 */
static struct skex_port *skex_conn_lock(struct skex_conn *conn)
{
	struct skex_port *port;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "needs rcu_read_lock()");
	for (;;) {
		port = rcu_dereference(conn->port);
		spin_lock_bh(&port->lock);
		if (port == rcu_access_pointer(conn->port))
			return port;
		spin_unlock_bh(&port->lock);
	}
}

/*
 * Add what the application read and wrote on @conn since the last fold to
 * @port, which is locked. A connection in use that was never counted as
 * accepted came out of an accept() that had begun before the module was
 * loaded: it is counted now, without a delay.
 */
static void skex_conn_fold(struct skex_conn *conn, struct skex_port *port)
{
	const struct sock *sk = conn->sk;
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 seq, delta;

	lockdep_assert_held(&port->lock);
	if (unlikely(READ_ONCE(skex_nm_stopped)))
		return;
	if (unlikely(!test_bit(SKEX_CONN_ACCEPTED, &conn->flags)) &&
	    READ_ONCE(sk->sk_socket) &&
	    !test_and_set_bit(SKEX_CONN_ACCEPTED, &conn->flags))
		this_cpu_inc(port->stats->conns);

	seq = READ_ONCE(tp->copied_seq);
	delta = seq - conn->copied_seq;
	/*
	 * A FIN takes a sequence number: once it has been consumed, copied_seq
	 * is rcv_nxt. Read after copied_seq: a FIN consumed is a FIN received,
	 * so SOCK_DONE is set and rcv_nxt is final.
	 */
	smp_rmb();
	if (delta && !conn->fin_in && sock_flag(sk, SOCK_DONE) &&
	    seq == READ_ONCE(tp->rcv_nxt)) {
		conn->fin_in = true;
		delta--;
	}
	port->bytes_in += delta;
	conn->copied_seq = seq;

	if (conn->wr_done)
		return;
	seq = READ_ONCE(tp->write_seq);
	port->bytes_out += seq - conn->write_seq;
	conn->write_seq = seq;
}

/*
 * Count @conn's bytes on its port from where the socket is now, unless
 * they are counted already or no more. Under rcu_read_lock().
 */
static void skex_conn_list(struct skex_conn *conn)
{
	const struct tcp_sock *tp = tcp_sk(conn->sk);
	struct skex_port *port = skex_conn_lock(conn);

	if (!conn->closed && !conn->listed) {
		conn->copied_seq = READ_ONCE(tp->copied_seq);
		conn->write_seq = READ_ONCE(tp->write_seq);
		list_add_tail(&conn->live, &port->conns);
		conn->listed = true;
	}
	spin_unlock_bh(&port->lock);
	if (!delayed_work_pending(&skex_fold_work))
		schedule_delayed_work(&skex_fold_work, SKEX_FOLD_INTERVAL);
}

/*
 * @conn now counts for @port. It moves before the application has used it
 * (queued on another listener, accepted from one of another port), so it
 * has no bytes to carry over. Under rcu_read_lock().
 */
static void skex_conn_move(struct skex_conn *conn, struct skex_port *port)
{
	struct skex_port *old = skex_conn_lock(conn);

	if (old == port) {
		spin_unlock_bh(&old->lock);
		return;
	}
	if (conn->listed) {
		skex_conn_fold(conn, old);
		list_del(&conn->live);
		conn->listed = false;
	}
	rcu_assign_pointer(conn->port, port);
	spin_unlock_bh(&old->lock);
	skex_conn_list(conn);
}

/* Stop counting @conn's bytes, after a last fold if @fold. */
static void skex_conn_unlist(struct skex_conn *conn, bool fold)
{
	struct skex_port *port = skex_conn_lock(conn);

	if (conn->listed) {
		if (fold)
			skex_conn_fold(conn, port);
		list_del(&conn->live);
		conn->listed = false;
	}
	conn->closed = true;
	spin_unlock_bh(&port->lock);
}

static struct skex_conn *skex_conn_new(struct sock *child, struct skex_net *sn,
				       struct skex_port *port)
{
	struct skex_conn *conn = kzalloc(sizeof(*conn), GFP_ATOMIC);

	if (!conn)
		return NULL;
	conn->sk = child;
	conn->sn = sn;
	RCU_INIT_POINTER(conn->port, port);
	INIT_LIST_HEAD(&conn->live);
	return conn;
}

/*
 * Insert @conn for its socket and start counting it; if the socket is
 * already there, @conn is freed and the existing entry, if any, returned.
 */
static struct skex_conn *skex_conn_insert(struct skex_conn *conn)
{
	struct skex_conn *old;

	old = rhashtable_lookup_get_insert_fast(&skex_conns, &conn->node,
						skex_conn_params);
	if (old) {
		kfree(conn);
		return IS_ERR(old) ? NULL : old;
	}
	skex_conn_list(conn);
	return conn;
}

/*
 * inet_csk_reqsk_queue_add() is about to queue @child on @listener: the
 * handshake is complete. Runs in softirq context.
 */
void skex_nm_queued(struct sock *listener, struct sock *child)
{
	struct skex_net *sn = skex_net(sock_net(listener));
	struct skex_port *port;
	struct skex_conn *conn;

	if (listener->sk_protocol != IPPROTO_TCP)
		return;

	rcu_read_lock();
	port = skex_listener_port(listener, GFP_ATOMIC);
	if (!port)
		goto out;

	/* Moved between listeners (forwarding, migration): keep the time. */
	conn = skex_conn_find(child);
	if (!conn) {
		conn = skex_conn_new(child, sn, port);
		if (!conn)
			goto out;
		conn->ready_ns = ktime_get_ns();
		/* listed on @port, unless it was there already */
		conn = skex_conn_insert(conn);
	}
	if (conn && rcu_access_pointer(conn->port) != port)
		skex_conn_move(conn, port);
out:
	rcu_read_unlock();
}

/*
 * accept() hands @child, a TCP connection, to the socket it returns
 * (security_sock_graft()). Process context.
 */
void skex_nm_accepted(struct sock *child)
{
	struct skex_conn *conn;
	struct skex_port *port;
	u64 delay = 0;

	rcu_read_lock();
	conn = skex_conn_find(child);
	if (!conn) {
		/*
		 * Queued before the module was loaded: count it, delay unknown,
		 * for its local port, that of the listener it came from (the
		 * module was not there to forward it).
		 */
		port = skex_port_get(skex_net(sock_net(child)),
				     inet_sk(child)->inet_num, GFP_ATOMIC);
		if (!port)
			goto out;
		conn = skex_conn_new(child, skex_net(sock_net(child)), port);
		if (conn)
			conn = skex_conn_insert(conn);
		if (!conn) {
			this_cpu_inc(port->stats->conns);
			goto out;
		}
	}
	if (test_and_set_bit(SKEX_CONN_ACCEPTED, &conn->flags))
		goto out;
	if (conn->ready_ns)
		delay = ktime_get_ns() - conn->ready_ns;
	/* Where it was queued: it moves no more once the application has it. */
	port = rcu_dereference(conn->port);
	this_cpu_inc(port->stats->conns);
	this_cpu_add(port->stats->delay_ns, delay);
out:
	rcu_read_unlock();
}

/*
 * The application closes @sk (tcp_close, tcp_disconnect): count its bytes
 * a last time, before a FIN or a disconnect moves the sequence numbers.
 */
void skex_nm_closed(struct sock *sk)
{
	struct skex_conn *conn;

	rcu_read_lock();
	conn = skex_conn_find(sk);
	if (conn)
		skex_conn_unlist(conn, true);
	rcu_read_unlock();
}

/* shutdown(@how) of @sk, with the socket locked: SEND_SHUTDOWN ends writes. */
void skex_nm_shutdown(struct sock *sk, int how)
{
	struct skex_conn *conn;
	struct skex_port *port;

	if (!(how & SEND_SHUTDOWN))
		return;
	rcu_read_lock();
	conn = skex_conn_find(sk);
	if (conn) {
		port = skex_conn_lock(conn);
		if (conn->listed && !conn->wr_done) {
			skex_conn_fold(conn, port);
			conn->wr_done = true;
		}
		spin_unlock_bh(&port->lock);
	}
	rcu_read_unlock();
}

static void skex_conn_forget(struct skex_conn *conn)
{
	skex_conn_unlist(conn, false);
	if (!rhashtable_remove_fast(&skex_conns, &conn->node, skex_conn_params))
		kfree_rcu(conn, rcu);
}

/*
 * A TCP socket is being destroyed. Any context. One the application had
 * has been closed already; one it never had has nothing to count.
 */
void skex_nm_destroyed(struct sock *sk)
{
	struct skex_conn *conn;

	rcu_read_lock();
	conn = skex_conn_find(sk);
	if (conn)
		skex_conn_forget(conn);
	rcu_read_unlock();
}

/* The port @sk counts for, or NULL. Call under rcu_read_lock(). */
struct skex_port *skex_nm_conn_port(const struct sock *sk)
{
	struct skex_conn *conn = skex_conn_find(sk);

	return conn ? rcu_dereference(conn->port) : NULL;
}

/*
 * Call @fn for every connection in the table, under RCU. One that moves in
 * a resize may be seen twice or not at all.
 */
static void skex_conns_walk(void (*fn)(struct skex_conn *conn, void *arg),
			    void *arg)
{
	struct rhashtable_iter iter;
	struct skex_conn *conn;

	unsigned int n = 0;

	might_sleep();
	rhashtable_walk_enter(&skex_conns, &iter);
	rhashtable_walk_start(&iter);
	while ((conn = rhashtable_walk_next(&iter))) {
		if (IS_ERR(conn))
			continue;
		fn(conn, arg);
		if (++n % SKEX_FOLD_BATCH)
			continue;
		/* a table of any size: one batch per RCU section */
		rhashtable_walk_stop(&iter);
		cond_resched();
		rhashtable_walk_start(&iter);
	}
	rhashtable_walk_stop(&iter);
	rhashtable_walk_exit(&iter);
}

/* Folding twice is harmless: the second finds nothing new. */
static void skex_conn_fold_one(struct skex_conn *conn, void *arg)
{
	struct skex_port *port = skex_conn_lock(conn);

	if (conn->listed)
		skex_conn_fold(conn, port);
	spin_unlock_bh(&port->lock);
}

/* Fold every connection, so that no sequence number wraps unnoticed. */
static void skex_fold_all(struct work_struct *work)
{
	skex_conns_walk(skex_conn_fold_one, NULL);
	if (atomic_read(&skex_conns.nelems))
		schedule_delayed_work(&skex_fold_work, SKEX_FOLD_INTERVAL);
}

/*
 * The counters of @p into @st, its connections folded first (a fold also
 * counts a connection accepted before the load). They are folded
 * SKEX_FOLD_BATCH at a time, bottom halves enabled in between, so that a
 * port with many connections holds off neither softirqs nor this port's
 * data path for long: the ones to fold wait on a list of this call's own,
 * under @p->lock like @p->conns (a connection that leaves meanwhile is
 * taken off it; one listed meanwhile has nothing to fold yet), and all go
 * back to @p->conns at the end.
 */
static void skex_port_sum(struct skex_port *p, struct skex_port_stat *st)
{
	struct skex_conn *conn;
	LIST_HEAD(todo);
	LIST_HEAD(done);
	int cpu, n;

	spin_lock_bh(&p->lock);
	list_splice_init(&p->conns, &todo);
	while (!list_empty(&todo)) {
		for (n = 0; n < SKEX_FOLD_BATCH && !list_empty(&todo); n++) {
			conn = list_first_entry(&todo, struct skex_conn, live);
			skex_conn_fold(conn, p);
			list_move_tail(&conn->live, &done);
		}
		if (list_empty(&todo))
			break;
		spin_unlock_bh(&p->lock);
		spin_lock_bh(&p->lock);
	}
	list_splice(&done, &p->conns);
	st->bytes_in = p->bytes_in;
	st->bytes_out = p->bytes_out;
	spin_unlock_bh(&p->lock);

	for_each_possible_cpu(cpu) {
		const struct skex_port_pcpu *c = per_cpu_ptr(p->stats, cpu);

		st->conns += READ_ONCE(c->conns);
		st->delay_ns += READ_ONCE(c->delay_ns);
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

	/*
	 * Ports stay until their namespace goes, and the caller holds it:
	 * RCU only for the lookup, so that each port's sum may reschedule.
	 */
	for (i = 0; i < out; i++) {
		rcu_read_lock();
		p = skex_port_find(sn, list.stats[i].port);
		rcu_read_unlock();
		if (p)
			skex_port_sum(p, &list.stats[i]);
		cond_resched();
	}

	*stats = list.stats;
	*count = out;
	return 0;
}

int skex_netmeter_net_init(struct skex_net *sn)
{
	skex_ports_init(sn);
	return 0;
}

static void skex_conn_purge_one(struct skex_conn *conn, void *sn)
{
	if (conn->sn == sn)
		skex_conn_forget(conn);
}

void skex_netmeter_net_exit(struct skex_net *sn)
{
	/* Forget connections that still point into @sn; normally none. */
	skex_conns_walk(skex_conn_purge_one, sn);
	/* Hooks may still be looking at ports they found under RCU. */
	synchronize_rcu();
	skex_ports_free(sn);
}

int skex_netmeter_init(void)
{
	return rhashtable_init(&skex_conns, &skex_conn_params);
}

static void skex_conn_free(void *ptr, void *arg)
{
	kfree(ptr);
}

/*
 * Before the hooks go: stop reading the sockets of the connections left in
 * the table. Every fold runs under RCU (and @port->lock): after the grace
 * period, none that missed skex_nm_stopped is still reading one. The
 * counters freeze where they are.
 */
void skex_netmeter_stop(void)
{
	WRITE_ONCE(skex_nm_stopped, true);
	synchronize_rcu();
	cancel_delayed_work_sync(&skex_fold_work);
}

/* After the hooks are gone and every namespace has been torn down. */
void skex_netmeter_exit(void)
{
	cancel_delayed_work_sync(&skex_fold_work);
	rhashtable_free_and_destroy(&skex_conns, skex_conn_free, NULL);
	rcu_barrier();
}
