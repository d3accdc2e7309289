// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Socket groups, the data path: what the TCP wrappers (tcp_hooks.c) call
 * on accept, send, receive and poll. The control plane that makes, edits
 * and deletes groups and publishes their ports is group.c.
 *
 * A group (struct skex_group) lists ports (struct skex_group_port). Each port
 * of a group is published in the port table (port.c), in
 * skex_port.accept_group or skex_port.output_group, where the TCP wrappers
 * find it under RCU with one lookup; nothing applies when the pointer is
 * NULL, and when no group of a kind exists at all the wrappers do not even
 * look (skex_group_nr_accept, skex_group_nr_output).
 *
 *   accept_rate      a token bucket of depth burst connections (default
 *                    one), in thousandths of a connection: over any T at
 *                    most rate * T + burst accepts succeed. It fills up to
 *                    its depth whether or not anyone waits, so a late
 *                    caller finds what accrued meanwhile; a sleeper that
 *                    runs late takes its token as of when it was due
 *                    (skex_bucket_take_late()). A token is
 *                    reserved before the original accept runs and refunded
 *                    if it returns none.
 *   accept_ratio     stride scheduling: a grant advances the port's pass by
 *                    1/weight; a port may accept when no other active port
 *                    (connections waiting and someone accepting) has a
 *                    smaller pass. A port that becomes active again starts
 *                    at the group's virtual time, so idling banks no credit.
 *   output_rate      a token bucket in bytes: a send waits for 50 ms worth
 *                    (or all it has, if less) and is clamped to the tokens
 *                    there are. While the quota holds senders back the
 *                    bucket is 200 ms deep, so that a writer woken late,
 *                    or slow between its sends, catches up; idle, it
 *                    keeps 50 ms worth: no burst.
 *   output_rate_ftp  as output_rate; in addition every process (tgid) that
 *                    reads or writes a control connection accepted on the
 *                    port is charged for all its TCP output in the port's
 *                    namespace until that connection is destroyed.
 *
 * Waiting. A blocking caller sleeps in the wrapper, interruptibly, on
 * sk_sleep() of its socket (so that skex_calls_drain() reaches it at
 * unload), listed in its port's sleepers so that edits and deletes wake
 * it. A non-blocking caller that is refused, or a poll that hides
 * readiness, lists the socket as a poller (holding a reference) and arms
 * the group's timer for when the quota allows again: the timer wakes
 * sk_sleep() of every poller with the event it waits for, which is what
 * poll, select and epoll (edge-triggered too) need.
 *
 * Locking: configuration under skex_net.config_mutex; the runtime state
 * of a group and of its ports under skex_group.lock (taken with _bh: the
 * timer runs in softirq context). Ports and groups are freed after an RCU
 * grace period once their reference count drops to zero; a group's timer
 * is cancelled before it can go.
 */
#include "skex.h"
#include "group.h"
#include "group_throttle.h"
#include "netmeter.h"

#include <linux/hashtable.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/math64.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#define CREATE_TRACE_POINTS
#include "trace.h"

/* thousandths of a connection per connection */
#define SKEX_CONN		1000ULL
/* a ratio port counts as accepting for this long after each attempt */
#define SKEX_RATIO_IDLE_NS	(100 * NSEC_PER_MSEC)
/* stride of a port of weight 1/1000 */
#define SKEX_STRIDE		BIT_ULL(42)
/*
 * A poller waiting for a quota of 0 is woken this often all the same, so
 * that one which stopped polling (or closed its socket) is let go.
 */
#define SKEX_RECHECK_NS		NSEC_PER_SEC
/* SO_RCVTIMEO/SO_SNDTIMEO beyond this (146 years) never expire */
#define SKEX_TIMEO_MAX		(U64_MAX / 4 / TICK_NSEC)
/*
 * An output port throttled this recently may fill its bucket to its full
 * depth (200 ms of quota), so that a writer woken late gets its due. A
 * send that gets all it asked for with nobody else waiting keeps it so for
 * the next 200 ms, the time the bucket takes to fill, and no longer
 * (skex_output_idle()): a writer slow between its sends loses nothing, one
 * that pauses gets no burst.
 */
#define SKEX_BUSY_NS		NSEC_PER_SEC
/*
 * Slack of the sleeps and of the group timer: SKEX_SLACK_NS, and for a
 * bucket at most 2^-SKEX_SLACK_SHIFT of the time its quantum takes to
 * fill, since the time a waiter wakes up late is lost to the quota (but
 * an accept_rate sleeper's, skex_bucket_take_late()): the slack costs a
 * rate 0.4% at most (output_rate: 50 us of a 50 ms quantum, 0.1%)
 */
#define SKEX_SLACK_NS		(50 * NSEC_PER_USEC)
/*
 * Output: a writer held back waits for this much (bytes) when a quantum
 * (50 ms of quota) is less, up to two quanta: every wake-up costs the
 * sender about as much CPU as sending a few kilobytes, and a 100 KB/s
 * sender woken for every 5 KB burnt 2.4 times tc's CPU per MB.
 */
#define SKEX_CHUNK		16384
/* a poll reports a writable socket without the lock from this much pool */
#define SKEX_POOL_POLL		65536
#define SKEX_SLACK_SHIFT	8

atomic_t skex_group_nr_accept = ATOMIC_INIT(0);
atomic_t skex_group_nr_output = ATOMIC_INIT(0);
atomic_t skex_group_nr_ftp = ATOMIC_INIT(0);

/* A blocked caller, on its stack; listed in skex_group_port.sleepers. */
struct skex_sleeper {
	struct list_head node;
	struct sock *sk;
	struct wait_queue_entry wait;
	bool listed;
	bool queued;
};

/* A socket to wake when the quota allows; holds a reference on it. */
struct skex_poller {
	struct hlist_node node;
	struct sock *sk;
	struct skex_group_port *gp;
	struct skex_poller *next;
};

/*
 * A process serving an FTP control connection: its TCP output in the
 * control connection's namespace @sn counts for @gp (of @sn), and its
 * output in other namespaces does not: a namespace's FTP groups charge
 * nothing to another's. Found by namespace and tgid under RCU; written
 * under skex_ftp_lock. Marks are removed when the control connection is
 * destroyed or @gp unpublished.
 */
struct skex_ftp_proc {
	struct hlist_node node;
	const struct skex_net *sn;
	pid_t tgid;
	u64 start;
	struct skex_group_port *gp;
	const struct sock *ctrl;
	struct rcu_head rcu;
};

static DEFINE_HASHTABLE(skex_ftp_procs, 8);
static DEFINE_SPINLOCK(skex_ftp_lock);	/* writers of skex_ftp_procs */

/* ---- reference counting ---- */

void skex_group_put(struct skex_group *g)
{
	if (refcount_dec_and_test(&g->ref))
		kfree_rcu(g, rcu);
}

/* Iterative: the chain of successors (@next) may be long. */
void skex_group_port_put(struct skex_group_port *gp)
{
	struct skex_group_port *next;

	while (gp && refcount_dec_and_test(&gp->ref)) {
		next = gp->next;
		skex_group_put(gp->group);
		kfree_rcu(gp, rcu);
		gp = next;
	}
}

static struct skex_group_port *skex_group_port_tryget(struct skex_group_port *gp)
{
	if (gp && READ_ONCE(gp->set) && refcount_inc_not_zero(&gp->ref))
		return gp;
	return NULL;
}

/* ---- token buckets ---- */

/*
 * Bring @gp's bucket to @now. Under the group's lock. An output bucket is
 * only deep while the quota holds someone back (tokens a late waker finds
 * are its due); an idle one keeps one quantum, so that no burst follows.
 * An accept_rate bucket fills to its burst in any case.
 */
static void skex_bucket_fill(struct skex_group_port *gp, u64 now)
{
	u64 dt = now > gp->stamp ? now - gp->stamp : 0;
	u64 cap = gp->type == SKEX_ACCEPT_ABSOLUTE || now < gp->busy_until ?
		  gp->depth : gp->quantum;
	u64 room, was, pool = 0;

	if (atomic64_read(&gp->pool))
		pool = atomic64_xchg(&gp->pool, 0);

	/* what refunds added may overflow the bucket, as refunds did */
	if (pool) {
		was = gp->level;
		gp->level = min(gp->level + pool * NSEC_PER_SEC, gp->depth);
		gp->unpooled += gp->level - was;
	}
	gp->stamp = max(now, gp->stamp);
	cap = min(cap, gp->depth);
	if (!gp->rate || gp->level >= cap)
		return;
	room = cap - gp->level;
	if (dt > div64_u64(room, gp->rate))
		gp->level = cap;
	else
		gp->level += dt * gp->rate;
}

/* The quota held a caller of @gp back at @now. */
static void skex_bucket_busy(struct skex_group_port *gp, u64 now)
{
	gp->busy_until = now + SKEX_BUSY_NS;
}

/* When the bucket will hold @need (tokens * NSEC_PER_SEC); U64_MAX: never. */
static u64 skex_bucket_when(const struct skex_group_port *gp, u64 need)
{
	if (gp->level >= need)
		return gp->stamp;
	if (!gp->rate || need > gp->depth)
		return U64_MAX;
	return gp->stamp + div64_u64(need - gp->level + gp->rate - 1, gp->rate);
}

/*
 * Take a token for an acceptor that was refused and told to wait for the
 * token due at @gp->due, and runs at @now: as of then, if nothing moved the
 * bucket since, up to a quarter of the token interval late. A bucket one
 * token deep was full meanwhile, and would have lost the latency of whoever
 * accepts, a sleeper woken late or a poller (whose poll leaves the bucket
 * alone, see skex_accept_grant()) that calls accept() once it runs: a late
 * wake-up loses no token. Counted by when accept() returns, an interval
 * holds a quarter of a token more than rate * T + burst, and more where the
 * acceptor's wait for the CPU after its grant varies by more than that; in
 * the bucket's clock (trace event skex_accept) the grants are still exactly
 * a token bucket's. Takes the token, and notes it in @w->charge and
 * @w->granted (when it was due), if it was there. Under the group's lock.
 */
static bool skex_bucket_take_late(struct skex_group_port *gp,
				  struct skex_wait *w, u64 now)
{
	u64 late;

	if (!gp->due || gp->stamp > gp->due || now <= gp->due || !gp->rate)
		return false;
	late = min(now - gp->due, div64_u64(gp->quantum, 4 * gp->rate));
	skex_bucket_fill(gp, now - late);
	if (gp->level < gp->quantum)
		return false;
	gp->level -= gp->quantum;
	w->charge = gp->quantum;
	w->granted = now - late;
	w->left = gp->level;
	skex_bucket_fill(gp, now);
	gp->due = 0;
	return true;
}

/**
 * skex_group_port_succeed - a port takes another's place
 * @old: a port retired by a type change of its group (being marked dead)
 * @gp: the port of the new type published in @old's place in the port table
 * @now: the time
 *
 * Calls that hold @old go on with @gp (skex_group_follow()). Between the two
 * output types the bucket is handed on, so that a type change lets no
 * burst through; between the accept types, whose quotas mean different
 * things, @gp starts afresh. Under the group's lock.
 */
void skex_group_port_succeed(struct skex_group_port *old,
			     struct skex_group_port *gp, u64 now)
{
	refcount_inc(&gp->ref);
	old->next = gp;
	if (skex_group_accept_type(old->type) ||
	    skex_group_accept_type(gp->type) || !old->set || !gp->set)
		return;
	skex_bucket_fill(old, now);
	gp->level = min(old->level, gp->depth);
	gp->busy_until = old->busy_until;
	/* what the fills took back from the pool: @gp's next event tells it */
	gp->unpooled += old->unpooled;
	old->unpooled = 0;
}

/*
 * *@gpp was retired by a type change of its group: go on with the port
 * that took its place, leaving @s's place in line on the old one. Under
 * the group's lock (both ports are of the group). Return: whether it moved.
 */
static bool skex_group_follow(struct skex_group_port **gpp,
			      struct skex_sleeper *s)
{
	struct skex_group_port *gp = *gpp;

	if (!gp->dead || !gp->next)
		return false;
	if (s->listed) {
		list_del(&s->node);
		gp->nsleepers--;
		s->listed = false;
	}
	refcount_inc(&gp->next->ref);
	*gpp = gp->next;
	/* not the last reference to the group: @gp->next holds one */
	skex_group_port_put(gp);
	return true;
}

/* Apply a port's configuration; under the group's lock. */
void skex_group_port_configure(struct skex_group_port *gp,
			       const struct skex_group_port_spec *ps,
			       u64 now)
{
	bool was_set = gp->set;
	u64 bytes, slack;

	gp->nonblock = ps->nonblock;
	if (!ps->set) {
		gp->burst = ps->burst;
		WRITE_ONCE(gp->set, false);
		atomic64_set(&gp->pool, 0);
		return;
	}
	if (was_set && gp->quota == ps->quota && gp->burst == ps->burst)
		return;
	if (was_set)
		skex_bucket_fill(gp, now);
	gp->quota = ps->quota;
	gp->burst = ps->burst;
	gp->stamp = now;
	switch (gp->type) {
	case SKEX_ACCEPT_ABSOLUTE:
		gp->rate = ps->quota;
		gp->depth = gp->rate ? gp->burst * SKEX_CONN * NSEC_PER_SEC : 0;
		gp->quantum = SKEX_CONN * NSEC_PER_SEC;
		break;
	case SKEX_ACCEPT_RATIO:
		gp->stride = div_u64(SKEX_STRIDE, max(ps->quota, 1U));
		break;
	default:
		/* a quota of 0: an empty bucket that never holds a quantum */
		gp->rate = ps->quota;
		bytes = max_t(u64, gp->rate / 20, 1);
		gp->quantum = bytes * NSEC_PER_SEC;
		gp->depth = gp->rate ? 4 * gp->quantum : 0;
		/* 50 ms of quota; at low rates up to 100 ms, SKEX_CHUNK */
		gp->chunk = gp->quantum;
		if (gp->rate >= 20)
			gp->chunk = clamp_t(u64, SKEX_CHUNK * NSEC_PER_SEC,
					    gp->quantum, 2 * gp->quantum);
		break;
	}
	slack = SKEX_SLACK_NS;
	if (gp->rate)
		slack = min(slack, div64_u64(gp->quantum, gp->rate) >>
				   SKEX_SLACK_SHIFT);
	WRITE_ONCE(gp->slack, slack);
	/* A new output bucket starts with one quantum: no first burst. */
	if (!was_set) {
		atomic64_set(&gp->pool, 0);
		gp->level = min(gp->quantum, gp->depth);
	} else {
		gp->level = min(gp->level, gp->depth);
	}
	WRITE_ONCE(gp->set, true);
}

/* ---- waking ---- */

static void skex_sk_wake(struct sock *sk)
{
	__poll_t key = sk->sk_state == TCP_LISTEN ?
		       EPOLLIN | EPOLLRDNORM :
		       EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(sk->sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_interruptible_poll(&wq->wait, key);
	rcu_read_unlock();
}

/* Wake the blocked callers of @gp. Under the group's lock. */
void skex_group_port_wake_sleepers(struct skex_group_port *gp)
{
	struct skex_sleeper *s;

	list_for_each_entry(s, &gp->sleepers, node)
		wake_up_interruptible_all(sk_sleep(s->sk));
}

/*
 * Take the pollers of @g (of @gp only, unless NULL) off the list; under
 * the group's lock. The caller wakes them with skex_pollers_release().
 */
struct skex_poller *skex_pollers_take(struct skex_group *g,
				      struct skex_group_port *gp)
{
	struct skex_poller *p, *list = NULL;
	struct hlist_node *tmp;
	unsigned int bkt;

	hash_for_each_safe(g->pollers, bkt, tmp, p, node) {
		if (gp && p->gp != gp)
			continue;
		hash_del(&p->node);
		p->gp->npollers--;
		p->next = list;
		list = p;
	}
	return list;
}

void skex_pollers_release(struct skex_poller *list)
{
	struct skex_poller *p;

	while (list) {
		p = list;
		list = p->next;
		skex_sk_wake(p->sk);
		sock_put(p->sk);
		kfree(p);
	}
}

/*
 * List @sk for a wake-up when the quota allows. Under the group's lock.
 * Returns 1 if it was not listed yet, 0 if it was (or the port is going),
 * -ENOMEM if it could not be: then nothing will wake it.
 */
static int skex_poller_add(struct skex_group_port *gp, struct sock *sk)
{
	struct skex_group *g = gp->group;
	struct skex_poller *p;

	if (g->dead || gp->dead)
		return 0;
	hash_for_each_possible(g->pollers, p, node, (unsigned long)sk)
		if (p->sk == sk)
			return 0;
	p = kmalloc(sizeof(*p), GFP_ATOMIC);
	if (!p)
		return -ENOMEM;
	sock_hold(sk);
	p->sk = sk;
	p->gp = gp;
	gp->npollers++;
	hash_add(g->pollers, &p->node, (unsigned long)sk);
	return 1;
}

/*
 * Make the timer fire at @when at the latest, @slack later at most; when
 * the quota will never allow (U64_MAX), in SKEX_RECHECK_NS. Under the
 * group's lock.
 */
static void skex_group_arm(struct skex_group *g, u64 when, u64 slack)
{
	ktime_t t;

	if (g->dead)
		return;
	if (when == U64_MAX) {
		when = ktime_get_ns() + SKEX_RECHECK_NS;
		slack = SKEX_RECHECK_NS / 10;
	}
	t = ns_to_ktime(when);
	if (hrtimer_is_queued(&g->timer) &&
	    !ktime_before(t, hrtimer_get_expires(&g->timer)))
		return;
	hrtimer_start_range_ns(&g->timer, t, slack, HRTIMER_MODE_ABS_SOFT);
}

/*
 * A call or a poll is refused: list @sk for a wake-up when the quota
 * allows, at @until. Under the group's lock. Returns skex_poller_add()'s
 * answer; on -ENOMEM nothing will wake @sk, so it must not be told to
 * wait: a refused call wakes it itself (skex_sk_wake(), unlocked), so that
 * an edge-triggered poller asks again, and poll reports it ready.
 */
static int skex_poller_wait(struct skex_group_port *gp, struct sock *sk,
			    u64 until)
{
	int listed = skex_poller_add(gp, sk);

	if (listed >= 0)
		skex_group_arm(gp->group, until, gp->slack);
	return listed;
}

enum hrtimer_restart skex_group_timer(struct hrtimer *timer)
{
	struct skex_group *g = container_of(timer, struct skex_group, timer);
	struct skex_poller *list;

	spin_lock_bh(&g->lock);
	list = skex_pollers_take(g, NULL);
	spin_unlock_bh(&g->lock);
	skex_pollers_release(list);
	return HRTIMER_NORESTART;
}

/* Wake every sleeper and poller of @g: the quota may allow more now. */
void skex_group_wake(struct skex_group *g)
{
	struct skex_poller *list;
	struct skex_group_port *gp;

	spin_lock_bh(&g->lock);
	list_for_each_entry(gp, &g->ports, node)
		skex_group_port_wake_sleepers(gp);
	list = skex_pollers_take(g, NULL);
	spin_unlock_bh(&g->lock);
	skex_pollers_release(list);
}

static void skex_count(struct skex_group_port *gp, struct skex_wait *w)
{
	if (!w->counted) {
		w->counted = true;
		atomic64_inc(&gp->throttled);
	}
}

/* ---- sleeping ---- */

void skex_wait_init(struct skex_wait *w, struct sock *sk, long timeo)
{
	w->sk = sk;
	w->counted = false;
	w->nonblock = !timeo;
	w->forever = timeo == MAX_SCHEDULE_TIMEOUT;
	/* jiffies_to_nsecs() would wrap past 71 minutes */
	w->deadline = w->forever || (u64)timeo > SKEX_TIMEO_MAX ? U64_MAX :
		      ktime_get_ns() + jiffies64_to_nsecs(timeo);
	w->charge = 0;
	w->granted = 0;
	w->left = 0;
}

static void skex_sleeper_init(struct skex_sleeper *s, struct sock *sk)
{
	s->sk = sk;
	s->listed = false;
	s->queued = false;
	init_waitqueue_func_entry(&s->wait, woken_wake_function);
	s->wait.private = current;
}

/* List @s on @gp; under the group's lock. */
static void skex_sleeper_list(struct skex_group_port *gp, struct skex_sleeper *s)
{
	list_add_tail(&s->node, &gp->sleepers);
	gp->nsleepers++;
	s->listed = true;
}

/* Whether @s waited longest on @gp. Under the group's lock. */
static bool skex_sleeper_first(struct skex_group_port *gp,
			       struct skex_sleeper *s)
{
	return list_first_entry(&gp->sleepers, struct skex_sleeper, node) == s;
}

/* Leave @gp's sleepers; the next in line may take its turn. */
static void skex_sleeper_unlist(struct skex_group_port *gp, struct skex_sleeper *s)
{
	struct skex_sleeper *next;

	if (s->listed) {
		spin_lock_bh(&gp->group->lock);
		list_del(&s->node);
		gp->nsleepers--;
		next = list_first_entry_or_null(&gp->sleepers,
						struct skex_sleeper, node);
		if (next)
			wake_up_interruptible_all(sk_sleep(next->sk));
		spin_unlock_bh(&gp->group->lock);
	}
	if (s->queued)
		remove_wait_queue(sk_sleep(s->sk), &s->wait);
}

/*
 * Sleep on sk_sleep() until woken, @until (ns, U64_MAX: no limit; @slack
 * later at most) or the caller's timeout. The first call only queues the
 * sleeper (the caller listed it on its port already) and returns, so that
 * the caller checks its condition again with the wait entry in place: no
 * lost wake-up.
 * Returns 0 to check again, or the errno to fail with.
 */
static int skex_sleep(struct skex_sleeper *s, struct skex_wait *w, u64 until,
		      u64 slack)
{
	u64 now = ktime_get_ns();
	ktime_t t;

	if (!s->queued) {
		s->queued = true;
		add_wait_queue(sk_sleep(s->sk), &s->wait);
		return 0;
	}
	if (signal_pending(current))
		return w->forever ? -ERESTARTSYS : -EINTR;
	if (now >= w->deadline)
		return -EAGAIN;
	until = min(until, w->deadline);

	set_current_state(TASK_INTERRUPTIBLE);
	if (!(s->wait.flags & WQ_FLAG_WOKEN)) {
		if (until == U64_MAX) {
			schedule();
		} else {
			t = ns_to_ktime(until);
			schedule_hrtimeout_range(&t, slack, HRTIMER_MODE_ABS);
		}
	}
	__set_current_state(TASK_RUNNING);
	/* as wait_woken(): pairs with the barrier in woken_wake_function() */
	smp_store_mb(s->wait.flags, s->wait.flags & ~WQ_FLAG_WOKEN);
	return 0;
}

/* ---- accept ---- */

static bool skex_ratio_active(const struct skex_group_port *gp, u64 now)
{
	return gp->backlog &&
	       (gp->nsleepers || gp->npollers || now < gp->active_until);
}

/*
 * Move the origin of @g's virtual time to its present: a pass behind it
 * (a port idle since) becomes 0, and is raised to the virtual time when
 * the port is active again anyway. Under the group's lock.
 */
static void skex_ratio_rebase(struct skex_group *g)
{
	struct skex_group_port *gp;
	u64 base = g->vtime;

	list_for_each_entry(gp, &g->ports, node)
		gp->pass = gp->pass > base ? gp->pass - base : 0;
	g->vtime = 0;
}

/*
 * Someone wants to accept on ratio port @gp, @backlog connections wait:
 * note the activity, and tell whether the port's turn has come.
 */
static bool skex_ratio_turn(struct skex_group_port *gp, u32 backlog, u64 now)
{
	struct skex_group *g = gp->group;
	struct skex_group_port *o;

	if (!skex_ratio_active(gp, now))
		gp->pass = max(gp->pass, g->vtime);
	gp->backlog = backlog;
	gp->active_until = now + SKEX_RATIO_IDLE_NS;
	list_for_each_entry(o, &g->ports, node)
		if (o != gp && o->set && !o->dead &&
		    skex_ratio_active(o, now) && o->pass < gp->pass)
			return false;
	return true;
}

/*
 * Whether an accept may go now; takes the grant if @w (and notes in
 * @w->charge what to give back if the accept finds nothing). Otherwise sets
 * *@until to when it is worth trying again. Under the group's lock.
 */
static bool skex_accept_grant(struct skex_group_port *gp, struct sock *listener,
			      u64 now, struct skex_wait *w, u64 *until)
{
	struct skex_group *g = gp->group;

	if (gp->type == SKEX_ACCEPT_RATIO) {
		if (!skex_ratio_turn(gp, READ_ONCE(listener->sk_ack_backlog),
				     now)) {
			*until = now + SKEX_RATIO_IDLE_NS;
			return false;
		}
		if (w) {
			g->vtime = max(g->vtime, gp->pass);
			gp->pass += gp->stride;
			w->charge = gp->stride;
			w->granted = now;
			if (g->vtime >= SKEX_VTIME_REBASE)
				skex_ratio_rebase(g);
		}
		return true;
	}

	if (w) {
		if (skex_bucket_take_late(gp, w, now))
			return true;
		skex_bucket_fill(gp, now);
		if (gp->level >= gp->quantum) {
			gp->level -= gp->quantum;
			w->charge = gp->quantum;
			w->granted = now;
			w->left = gp->level;
			return true;
		}
	}
	/*
	 * A poll reads the bucket without filling it, so that the accept() it
	 * announces can still take the token as of when it was due
	 * (skex_bucket_take_late()).
	 */
	*until = skex_bucket_when(gp, gp->quantum);
	if (!w && *until <= now)
		return true;
	/* the token it is told to wait for */
	gp->due = *until != U64_MAX ? *until : 0;
	return false;
}

/* The accept group port of @listener. Under rcu_read_lock(). */
static struct skex_group_port *
skex_accept_gport_rcu(const struct sock *listener)
{
	struct skex_port *port;

	if (listener->sk_protocol != IPPROTO_TCP)
		return NULL;
	port = skex_port_find(skex_net(sock_net(listener)),
			      inet_sk(listener)->inet_num);
	return port ? rcu_dereference(port->accept_group) : NULL;
}

/**
 * skex_group_accept_port - the accept group port of a listener
 * @listener: the socket accept() was called on
 *
 * Return: the group port, with a reference, or NULL when nothing applies.
 */
struct skex_group_port *skex_group_accept_port(struct sock *listener)
{
	struct skex_group_port *gp;

	if (!atomic_read(&skex_group_nr_accept))
		return NULL;
	rcu_read_lock();
	gp = skex_group_port_tryget(skex_accept_gport_rcu(listener));
	rcu_read_unlock();
	return gp;
}

/**
 * skex_group_accept_wanted - whether an accept needs its wrapper
 * @listener: the socket accept() was called on
 *
 * Called atomically at the entry of inet_csk_accept(), which runs
 * unchanged when this says no: on a listener of a port no accept group
 * covers. Every accept of every process comes here while any accept group
 * exists.
 *
 * Return: whether to redirect the accept to the wrapper.
 */
bool skex_group_accept_wanted(const struct sock *listener)
{
	bool want;

	if (!atomic_read(&skex_group_nr_accept))
		return false;
	rcu_read_lock();
	want = !!skex_accept_gport_rcu(listener);
	rcu_read_unlock();
	return want;
}

/**
 * skex_group_accept_wait - wait until an accept may go
 * @gpp: the listener's group port (a reference); replaced by the port
 *	that took its place if a type change of the group retires it
 * @w: the call; @w->sk is the listener
 *
 * Waits (unless non-blocking) for a connection to be queued and for the
 * quota to allow it.
 *
 * Return: 1: granted, call the original without blocking and report with
 * skex_group_accept_done(); 0: nothing to throttle (the group went or the
 * socket stopped listening), call the original as it was called; or a
 * negative errno to fail with.
 */
int skex_group_accept_wait(struct skex_group_port **gpp, struct skex_wait *w)
{
	struct skex_group_port *gp = *gpp;
	struct skex_group *g = gp->group;
	struct sock *sk = w->sk;
	struct skex_sleeper s;
	bool wait, idle, kick;
	u64 now, until;
	int ret;

	skex_sleeper_init(&s, sk);
	for (;;) {
		now = ktime_get_ns();
		until = U64_MAX;
		idle = false;
		wait = false;
		kick = false;
		ret = -EAGAIN;

		spin_lock_bh(&g->lock);
		if (skex_group_follow(gpp, &s)) {
			gp = *gpp;
			spin_unlock_bh(&g->lock);
			continue;
		}
		if (gp->dead || !gp->set || sk->sk_state != TCP_LISTEN) {
			ret = 0;
		} else if (reqsk_queue_empty(&inet_csk(sk)->icsk_accept_queue)) {
			/* No longer holds the other ports of a ratio back. */
			if (gp->type == SKEX_ACCEPT_RATIO && gp->backlog) {
				gp->backlog = 0;
				idle = true;
			}
			wait = !w->nonblock;
		} else if (skex_accept_grant(gp, sk, now, w, &until)) {
			ret = 1;
		} else {
			skex_count(gp, w);
			wait = !w->nonblock && !gp->nonblock;
			kick = !wait && skex_poller_wait(gp, sk, until) < 0;
		}
		if (wait && !s.listed)
			skex_sleeper_list(gp, &s);
		spin_unlock_bh(&g->lock);
		if (idle)
			skex_group_wake(g);
		if (kick)
			skex_sk_wake(sk);
		if (!wait)
			break;
		ret = skex_sleep(&s, w, until, READ_ONCE(gp->slack));
		if (ret)
			break;
	}
	skex_sleeper_unlist(gp, &s);
	return ret;
}

/**
 * skex_group_accept_done - the original accept ran after a grant
 * @gp: the listener's group port
 * @w: the call; @w->sk is the listener
 * @accepted: whether it returned a connection; if not, the grant
 *	(@w->charge, whatever the quota is now) is given back
 */
void skex_group_accept_done(struct skex_group_port *gp, struct skex_wait *w,
			    bool accepted)
{
	struct skex_group *g = gp->group;

	trace_skex_accept(gp, w, accepted);
	/* accept_rate: the token is spent, nothing to note */
	if (accepted && gp->type == SKEX_ACCEPT_ABSOLUTE)
		return;
	spin_lock_bh(&g->lock);
	if (gp->type == SKEX_ACCEPT_RATIO) {
		if (accepted)
			gp->backlog = READ_ONCE(w->sk->sk_ack_backlog);
		else	/* after a rebase, the pass may be below the charge */
			gp->pass -= min(gp->pass, w->charge);
	} else if (!accepted) {
		gp->level = min(gp->level + w->charge, gp->depth);
	}
	spin_unlock_bh(&g->lock);
	/* Another port's turn may have come. */
	if (accepted && gp->type == SKEX_ACCEPT_RATIO)
		skex_group_wake(g);
}

/* ---- output ---- */

/* The key of the marks of the current process in namespace @sn. */
static unsigned long skex_ftp_key(const struct skex_net *sn)
{
	return (unsigned long)sn ^ current->tgid;
}

/*
 * The FTP group port whose quota covers the current process's output in
 * namespace @sn, or NULL.
 */
static struct skex_group_port *skex_ftp_find(const struct skex_net *sn)
{
	u64 start = current->group_leader->start_time;
	pid_t tgid = current->tgid;
	struct skex_ftp_proc *p;

	hash_for_each_possible_rcu(skex_ftp_procs, p, node, skex_ftp_key(sn))
		if (p->sn == sn && p->tgid == tgid && p->start == start)
			return READ_ONCE(p->gp);
	return NULL;
}

static void skex_ftp_free(struct skex_ftp_proc *p)
{
	hash_del_rcu(&p->node);
	kfree_rcu(p, rcu);
}

/*
 * The current process serves control connection @sk of FTP port @gp: it
 * replaces the process's mark in @gp's namespace, if any.
 */
static void skex_ftp_mark(struct skex_group_port *gp, const struct sock *sk)
{
	u64 start = current->group_leader->start_time;
	const struct skex_net *sn = gp->group->sn;
	unsigned long key = skex_ftp_key(sn);
	pid_t tgid = current->tgid;
	struct skex_ftp_proc *p, *n;
	struct hlist_node *tmp;

	hash_for_each_possible_rcu(skex_ftp_procs, p, node, key)
		if (p->sn == sn && p->tgid == tgid && p->start == start &&
		    p->ctrl == sk && p->gp == gp)
			return;

	n = kmalloc(sizeof(*n), GFP_ATOMIC);
	if (!n)
		return;
	n->sn = sn;
	n->tgid = tgid;
	n->start = start;
	n->gp = gp;
	n->ctrl = sk;

	spin_lock_bh(&skex_ftp_lock);
	if (gp->ftp_dead) {
		spin_unlock_bh(&skex_ftp_lock);
		kfree(n);
		return;
	}
	hash_for_each_possible_safe(skex_ftp_procs, p, tmp, node, key)
		if (p->sn == sn && p->tgid == tgid)
			skex_ftp_free(p);
	hash_add_rcu(skex_ftp_procs, &n->node, key);
	spin_unlock_bh(&skex_ftp_lock);
}

/* Forget the marks of @gp (when @ctrl is NULL) or of control socket @ctrl. */
void skex_ftp_forget(struct skex_group_port *gp, const struct sock *ctrl)
{
	struct skex_ftp_proc *p;
	struct hlist_node *tmp;
	unsigned int bkt;

	spin_lock_bh(&skex_ftp_lock);
	if (!ctrl)
		gp->ftp_dead = true;
	hash_for_each_safe(skex_ftp_procs, bkt, tmp, p, node)
		if (ctrl ? p->ctrl == ctrl : p->gp == gp)
			skex_ftp_free(p);
	spin_unlock_bh(&skex_ftp_lock);
}

/* The output group port of connection @sk. Under rcu_read_lock(). */
static struct skex_group_port *skex_output_gport_rcu(const struct sock *sk)
{
	struct skex_port *port = skex_nm_conn_port(sk);

	return port ? rcu_dereference(port->output_group) : NULL;
}

/**
 * skex_group_output_port - the output group port that covers a send
 * @sk: the socket written to
 *
 * That of the port @sk was accepted from; else, for any TCP socket of
 * user space, that of an FTP group of @sk's namespace whose control
 * connection the current process serves. A kernel socket (no file: NFS, nbd, CIFS) written from
 * the process is not charged: its callers do not expect to wait.
 *
 * Return: the group port, with a reference, or NULL when nothing applies.
 */
struct skex_group_port *skex_group_output_port(struct sock *sk)
{
	struct skex_group_port *gp;

	if (!atomic_read(&skex_group_nr_output))
		return NULL;
	rcu_read_lock();
	gp = skex_output_gport_rcu(sk);
	if (gp && gp->type == SKEX_OUTPUT_ABSOLUTE_FTP)
		skex_ftp_mark(gp, sk);
	if (!gp && atomic_read(&skex_group_nr_ftp) && sk->sk_socket &&
	    sk->sk_socket->file)
		gp = skex_ftp_find(skex_net(sock_net(sk)));
	gp = skex_group_port_tryget(gp);
	rcu_read_unlock();
	return gp;
}

/*
 * If @sk is a control connection of an FTP group: the current process,
 * which reads it, serves it, or (@gone) it is destroyed and ends its
 * session.
 */
static void skex_ftp_control(struct sock *sk, bool gone)
{
	struct skex_group_port *gp;

	if (!atomic_read(&skex_group_nr_ftp))
		return;
	rcu_read_lock();
	gp = skex_output_gport_rcu(sk);
	if (gp && gp->type == SKEX_OUTPUT_ABSOLUTE_FTP) {
		if (gone)
			skex_ftp_forget(gp, sk);
		else
			skex_ftp_mark(gp, sk);
	}
	rcu_read_unlock();
}

/* An FTP process reads its control connection: it is serving it. */
void skex_group_received(struct sock *sk)
{
	skex_ftp_control(sk, false);
}

/* A TCP socket is destroyed: a control connection ends its session. */
void skex_group_destroyed(struct sock *sk)
{
	skex_ftp_control(sk, true);
}

/*
 * Tokens for up to @want bytes: how many may go now (at least the
 * quantum, or all of @want if less), or 0 and *@until. A writer that has
 * to wait waits for a whole chunk even if it wants less, so that the
 * page-sized sends of splice and sendfile do not wake it for each page,
 * nor a slow quota for every few kilobytes. While the quota has held
 * writers back, the next grant waits for the chunk too.
 */
static size_t skex_output_grant(struct skex_group_port *gp, u64 now,
				size_t want, u64 *until)
{
	u64 chunk = now < gp->busy_until ? gp->chunk : gp->quantum;
	u64 need = min_t(u64, want, div_u64(chunk, NSEC_PER_SEC));
	u64 avail;

	skex_bucket_fill(gp, now);
	avail = div_u64(gp->level, NSEC_PER_SEC);
	if (!avail || avail < need) {
		*until = skex_bucket_when(gp, gp->chunk);
		return 0;
	}
	avail = min_t(u64, avail, want);
	gp->level -= avail * NSEC_PER_SEC;
	return avail;
}

/*
 * A send got all it asked for and nobody waits: the quota does not bind
 * now. What the bucket holds goes to the pool, where the next sends take
 * it without the lock. Under the group's lock.
 */
static u64 skex_output_pool(struct skex_group_port *gp)
{
	u64 bytes = div_u64(gp->level, NSEC_PER_SEC);

	if (bytes) {
		gp->level -= bytes * NSEC_PER_SEC;
		atomic64_add(bytes, &gp->pool);
	}
	return bytes;
}

/*
 * A send got all it asked for at @now with nobody else waiting: the quota
 * does not hold the port back this instant. If it did recently, a writer
 * that sends again within the time the bucket takes to fill was slow, not
 * idle (short of CPU, on a slow kernel, or sendfile reading its next
 * pages), and finds the tokens of the whole gap, as a writer woken late
 * does; one that sends again later has paused, and finds one quantum (no
 * burst). What the bucket holds goes to the pool: returns how much. Under
 * the group's lock.
 */
static u64 skex_output_idle(struct skex_group_port *gp, u64 now)
{
	if (now < gp->busy_until && gp->rate)
		gp->busy_until = now + div64_u64(gp->depth, gp->rate);
	return skex_output_pool(gp);
}

/*
 * Trace event skex_output for a send decided at @now (see kernel/trace.h);
 * what fills put back from the pool since the last one goes with it. Under
 * the group's lock.
 */
static void skex_output_trace(struct skex_group_port *gp, struct skex_wait *w,
			      u64 now, size_t want, size_t granted, u64 pooled,
			      u64 due)
{
	u64 unpooled = div_u64(gp->unpooled, NSEC_PER_SEC);

	gp->unpooled -= unpooled * NSEC_PER_SEC;
	trace_skex_output(gp, w, now, want, granted, pooled, unpooled, due);
}

/*
 * The lock-free path of a send: all of @want from the pool, or 0. The
 * pool holds tokens only while nobody waits (skex_output_pool()), and
 * whoever has to wait empties it (skex_bucket_fill()).
 */
static long skex_output_fast(struct skex_group_port *gp, size_t want)
{
	s64 have = atomic64_read(&gp->pool);

	do {
		if (have <= 0 || (u64)have < want)
			return 0;
	} while (!atomic64_try_cmpxchg(&gp->pool, &have, have - want));
	return want;
}

/*
 * Whether a send would get what skex_output_grant() wants for it now (the
 * quantum, or the chunk while writers are held back); else *@until it
 * does.
 */
static bool skex_output_ready(struct skex_group_port *gp, u64 now, u64 *until)
{
	u64 need = now < gp->busy_until ? gp->chunk : gp->quantum;

	skex_bucket_fill(gp, now);
	if (gp->level >= need)
		return true;
	skex_bucket_busy(gp, now);
	*until = skex_bucket_when(gp, gp->chunk);
	return false;
}

/*
 * The quota holds a writer of @sk back: send what it queued with MSG_MORE
 * (splice and sendfile pass it for all but their last page) instead of
 * keeping it corked while the writer waits, unless the application corked
 * the socket itself. Takes the socket lock: not under the group's.
 */
static void skex_output_push(struct sock *sk)
{
	/*
	 * A bit-field and the queue, read without the lock: at worst one push
	 * too many, or none for data another thread is queueing right now
	 * (its own send pushes it). Nothing queued: no socket lock to take.
	 */
	if (sk->sk_protocol == IPPROTO_TCP &&
	    !skb_queue_empty_lockless(&sk->sk_write_queue) &&
	    !(tcp_sk(sk)->nonagle & TCP_NAGLE_CORK))
		tcp_sock_set_cork(sk, false);
}

/**
 * skex_group_send_route - how a send goes, decided at its call site
 * @sk: the socket written to
 * @size: bytes to send
 *
 * Called atomically at the entry of the send (tcp_sendmsg(), 6.1's
 * tcp_sendpage()): every send of every process comes here while any output
 * group exists. A send no group covers runs unchanged. A connection whose
 * output group does not bind takes the tokens for the whole send from its
 * port's pool, without the group's lock and without a reference on the
 * port, which the original's sleeps would hold: a send the quota lets
 * through costs one lookup and one atomic operation.
 *
 * Return: SKEX_SEND_DIRECT: nothing covers the send; SKEX_SEND_PAID: the
 * pool paid for @size bytes, and the wrapper gives back what the original
 * does not send (skex_group_output_giveback()); SKEX_SEND_WAIT: the
 * wrapper takes the throttled path (skex_group_output_port(),
 * skex_group_output_take()): the pool is short, or an FTP group may cover
 * the send.
 */
enum skex_send_route skex_group_send_route(const struct sock *sk,
					   size_t size)
{
	struct skex_group_port *gp;
	enum skex_send_route route;

	if (!size || !atomic_read(&skex_group_nr_output))
		return SKEX_SEND_DIRECT;
	rcu_read_lock();
	gp = skex_output_gport_rcu(sk);
	if (!gp)
		/* an FTP group covers sockets by process */
		route = atomic_read(&skex_group_nr_ftp) ? SKEX_SEND_WAIT :
							  SKEX_SEND_DIRECT;
	else if (READ_ONCE(gp->set) && gp->type != SKEX_OUTPUT_ABSOLUTE_FTP &&
		 skex_output_fast(gp, size))
		route = SKEX_SEND_PAID;
	else
		route = SKEX_SEND_WAIT;
	rcu_read_unlock();
	return route;
}

/**
 * skex_group_output_giveback - the tokens of a paid send it did not use
 * @sk: the socket written to
 * @unused: bytes paid for but not sent
 *
 * They go back to the pool of the port that covers @sk now. The group may
 * have gone since the send was paid, and another port taken its place,
 * even at the same address: the tokens then go to the successor, as a
 * retired port's sleepers go to it (skex_group_follow()).
 */
void skex_group_output_giveback(const struct sock *sk, size_t unused)
{
	struct skex_group_port *gp;

	rcu_read_lock();
	gp = skex_output_gport_rcu(sk);
	if (gp)
		atomic64_add(unused, &gp->pool);
	rcu_read_unlock();
}

/**
 * skex_group_output_take - tokens for a send
 * @gpp: the group port covering the send (a reference); replaced by the
 *	port that took its place if a type change of the group retires it
 * @w: the call; @w->sk is the socket written to
 * @want: bytes the caller has to send
 *
 * Blocks (unless non-blocking) until the quota allows some.
 *
 * Return: the bytes that may go now (the caller hands back what it did not
 * send with skex_group_output_refund(), to *@gpp), or a negative errno.
 */
long skex_group_output_take(struct skex_group_port **gpp, struct skex_wait *w,
			    size_t want)
{
	struct skex_group_port *gp = *gpp;
	struct skex_group *g = gp->group;
	struct skex_sleeper s;
	u64 now, until, pooled;
	bool blocking, kick;
	long ret;

	ret = skex_output_fast(gp, want);
	if (ret)
		return ret;
	skex_sleeper_init(&s, w->sk);
	for (;;) {
		now = ktime_get_ns();
		until = U64_MAX;

		spin_lock_bh(&g->lock);
		if (skex_group_follow(gpp, &s)) {
			gp = *gpp;
			spin_unlock_bh(&g->lock);
			continue;
		}
		if (gp->dead || !gp->set) {
			spin_unlock_bh(&g->lock);
			ret = want;
			break;
		}
		/* blocked writers take their turns, longest waiting first */
		blocking = !w->nonblock && !gp->nonblock;
		if (blocking && gp->nsleepers &&
		    !(s.listed && skex_sleeper_first(gp, &s))) {
			skex_count(gp, w);
			if (!s.listed)
				skex_sleeper_list(gp, &s);
			spin_unlock_bh(&g->lock);
			if (!s.queued)
				skex_output_push(w->sk);
			ret = skex_sleep(&s, w, U64_MAX, 0);
			if (ret)
				break;
			continue;
		}
		ret = skex_output_grant(gp, now, want, &until);
		if (ret) {
			pooled = 0;
			if (ret < want) {
				skex_count(gp, w);
				skex_bucket_busy(gp, now);
			} else if (gp->nsleepers == s.listed && !gp->npollers) {
				pooled = skex_output_idle(gp, now);
			}
			skex_output_trace(gp, w, now, want, ret, pooled, 0);
			spin_unlock_bh(&g->lock);
			break;
		}
		skex_count(gp, w);
		skex_bucket_busy(gp, now);
		skex_output_trace(gp, w, now, want, 0, 0, until);
		if (!blocking) {
			kick = skex_poller_wait(gp, w->sk, until) < 0;
			spin_unlock_bh(&g->lock);
			if (kick)
				skex_sk_wake(w->sk);
			skex_output_push(w->sk);
			ret = -EAGAIN;
			break;
		}
		if (!s.listed)
			skex_sleeper_list(gp, &s);
		spin_unlock_bh(&g->lock);
		if (!s.queued)
			skex_output_push(w->sk);
		ret = skex_sleep(&s, w, until, READ_ONCE(gp->slack));
		if (ret)
			break;
	}
	skex_sleeper_unlist(gp, &s);
	return ret;
}

/**
 * skex_group_output_refund - give back tokens a send did not use
 * @gp: the group port
 * @unused: bytes granted but not sent
 */
void skex_group_output_refund(struct skex_group_port *gp, size_t unused)
{
	/* into the pool: the next fill puts it back into the bucket */
	atomic64_add(unused, &gp->pool);
}

/*
 * Tokens in the pool: the quota does not bind, a send gets them without
 * the lock, and a poll reports the socket writable as tcp_poll() does. One
 * that wants more than the pool holds and is refused empties it, so that
 * the next poll asks the bucket.
 */
static bool skex_output_pool_covers(const struct skex_group_port *gp)
{
	return atomic64_read(&gp->pool) >=
	       min_t(u64, div_u64(READ_ONCE(gp->chunk), NSEC_PER_SEC),
		     SKEX_POOL_POLL);
}

/**
 * skex_group_poll_wanted - whether a poll needs skex_group_poll()
 * @sk: the socket polled
 *
 * Called atomically at the entry of tcp_poll(), which runs unchanged when
 * this says no: for a socket no group covers (a client's, one of a port
 * without groups), and for a connection whose output group's pool holds
 * what skex_group_poll() would let through without the lock. Every
 * socket of every process goes through here while any group exists.
 *
 * Return: whether to redirect the poll to the wrapper.
 */
bool skex_group_poll_wanted(const struct sock *sk)
{
	struct skex_group_port *gp;
	bool want;

	if (sk->sk_state == TCP_LISTEN)
		return skex_group_accept_wanted(sk);
	if (!atomic_read(&skex_group_nr_output))
		return false;
	/* an FTP group covers sockets by process: skex_group_output_port() */
	if (atomic_read(&skex_group_nr_ftp))
		return true;
	rcu_read_lock();
	gp = skex_output_gport_rcu(sk);
	want = gp && !skex_output_pool_covers(gp);
	rcu_read_unlock();
	return want;
}

/**
 * skex_group_poll - what poll may report for a socket
 * @sk: the socket
 * @mask: what tcp_poll() reports
 *
 * Hides EPOLLIN of a listener whose accepts the quota refuses now, and
 * EPOLLOUT of a connection whose sends it refuses, and lists the socket
 * for a wake-up when that changes.
 *
 * Return: @mask, maybe without those events.
 */
__poll_t skex_group_poll(struct sock *sk, __poll_t mask)
{
	bool listener = sk->sk_state == TCP_LISTEN;
	struct skex_group_port *gp;
	struct skex_group *g;
	u64 now, until = U64_MAX;
	bool ready;
	int listed;

	if (listener ? !(mask & EPOLLIN) : !(mask & EPOLLOUT))
		return mask;
	gp = listener ? skex_group_accept_port(sk) : skex_group_output_port(sk);
	if (!gp)
		return mask;

	g = gp->group;
	if (!listener && skex_output_pool_covers(gp)) {
		skex_group_port_put(gp);
		return mask;
	}
	now = ktime_get_ns();
	spin_lock_bh(&g->lock);
	if (gp->dead || !gp->set)
		ready = true;
	else if (listener)
		ready = skex_accept_grant(gp, sk, now, NULL, &until);
	else
		ready = skex_output_ready(gp, now, &until);
	/* Only a socket listed for a wake-up may be told to wait for one. */
	if (!ready) {
		listed = skex_poller_wait(gp, sk, until);
		ready = listed < 0;
	}
	if (!ready) {
		/* a poller kept waiting counts once per wake-up */
		if (listed)
			atomic64_inc(&gp->throttled);
		if (listener)
			mask &= ~(EPOLLIN | EPOLLRDNORM);
		else
			mask &= ~(EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND);
	}
	spin_unlock_bh(&g->lock);
	skex_group_port_put(gp);
	return mask;
}
