/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Socket groups, the data path (group_throttle.c): what the TCP wrappers
 * call, and the objects it shares with the control plane (group.c).
 */
#ifndef _SKEX_GROUP_THROTTLE_H
#define _SKEX_GROUP_THROTTLE_H

#include <linux/atomic.h>
#include <linux/hashtable.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>

struct sock;
struct skex_net;
struct skex_port;
struct skex_poller;
struct skex_group_port_spec;

/*
 * accept_ratio virtual time only grows, by up to SKEX_STRIDE a grant: past
 * SKEX_VTIME_REBASE every pass is rebased to it (skex_ratio_rebase()), long
 * before a u64 could wrap. A group starts just short of that, as jiffies
 * start just short of wrapping, so that the rebase runs in every ratio
 * group's first few dozen accepts, not once in a blue moon.
 */
#define SKEX_VTIME_REBASE	BIT_ULL(62)
#define SKEX_VTIME_INITIAL	(SKEX_VTIME_REBASE - BIT_ULL(36))

/*
 * struct skex_group - one socket group
 * @sn: its namespace
 * @gid: its id
 * @type: SKEX_* type, 0 while a configfs group has none
 * @ref: the namespace list holds one, each port one
 * @lock: protects what follows and the runtime fields of the ports
 * @ports: struct skex_group_port (written under config_mutex and @lock)
 * @dead: deleted; no timer may be armed any more
 * @vtime: accept_ratio virtual time (pass of the latest grant)
 * @timer: wakes the pollers when the quota allows again
 * @pollers: struct skex_poller by socket
 */
struct skex_group {
	struct skex_net *sn;
	u16 gid;
	u16 type;
	refcount_t ref;
	spinlock_t lock;	/* see above */
	struct list_head ports;
	bool dead;
	u64 vtime;
	struct hrtimer timer;
	DECLARE_HASHTABLE(pollers, 6);
	struct rcu_head rcu;
};

/*
 * struct skex_group_port - one port of a group
 * @node: in skex_group.ports
 * @group: the group (holds a reference)
 * @port: the netmeter port it is published in
 * @ref: publication holds one, every call that uses it one
 * @type: the group type it was made for (fixed)
 * @num: the port number
 * @nonblock, @set, @quota, @burst: configuration (skex_group_port_spec)
 * @dead: unpublished; calls that still hold it go on with @next, or
 *	through unthrottled when there is none
 * @next: the port that took its place in the port table when its group's
 *	type changed (holds a reference), or NULL; set with @dead
 * @mark: scratch of skex_group_apply()
 * @rate: token rate per second (bytes, or thousandths of connections)
 * @level, @depth, @quantum: token bucket, in tokens * NSEC_PER_SEC;
 *	@quantum is what poll wants and the least a send waits for (one
 *	connection for accept_rate)
 * @chunk: what a writer held back waits for (tokens * NSEC_PER_SEC): a
 *	quantum, or up to two at low rates, so that a slow sender is not
 *	woken for a few kilobytes at a time
 * @pool: output: whole bytes taken out of @level while the quota does
 *	not bind, which sends take without the lock (skex_output_fast());
 *	they go back into @level whenever the bucket is filled, so that
 *	@level + @pool is the bucket
 * @unpooled: output: what fills put back from @pool into @level since the
 *	last trace event skex_output, of this port or of the one of the
 *	other output type it took over from (tokens * NSEC_PER_SEC)
 * @stamp: time of @level
 * @due: accept_rate: when the token an acceptor or a poller was refused
 *	(and told to wait for) is there (skex_bucket_take_late()), or 0
 * @busy_until: the bucket may fill to @depth until then, else @quantum
 *	(see SKEX_BUSY_NS)
 * @slack: of a wait for the bucket (SKEX_SLACK_NS); read without the lock
 * @stride, @pass: accept_ratio scheduling
 * @backlog: accept_ratio: connections seen waiting at the last attempt
 * @active_until: accept_ratio: someone accepted here recently
 * @nsleepers, @npollers: callers waiting, sockets listed for a wake-up
 * @sleepers: struct skex_sleeper of blocked callers
 * @throttled: accepts and sends delayed or refused by the quota
 * @ftp_dead: no more FTP process marks may point here (skex_ftp_lock)
 * @rcu: frees it
 */
struct skex_group_port {
	struct list_head node;
	struct skex_group *group;
	struct skex_port *port;
	refcount_t ref;
	u16 type;
	u16 num;
	bool nonblock;
	bool set;
	u32 quota;
	u32 burst;
	bool dead;
	bool mark;
	struct skex_group_port *next;
	u64 rate;
	u64 level;
	u64 depth;
	u64 quantum;
	u64 chunk;
	atomic64_t pool;
	u64 unpooled;
	u64 stamp;
	u64 due;
	u64 busy_until;
	u64 slack;
	u64 stride;
	u64 pass;
	u32 backlog;
	u64 active_until;
	unsigned int nsleepers;
	unsigned int npollers;
	struct list_head sleepers;
	atomic64_t throttled;
	bool ftp_dead;
	struct rcu_head rcu;
};

/* The data path, called from the TCP wrappers (tcp_hooks.c) */
extern atomic_t skex_group_nr_accept;
extern atomic_t skex_group_nr_output;
extern atomic_t skex_group_nr_ftp;

/*
 * struct skex_wait - the state of one throttled call
 * @sk: the socket the call sleeps on (sk_sleep(sk))
 * @deadline: end of SO_RCVTIMEO/SO_SNDTIMEO in ns, when not @forever
 * @forever: no timeout
 * @nonblock: never sleep
 * @counted: the call was counted in the port's throttled counter
 * @charge: what the latest accept grant took from the quota
 * @granted: when the latest accept grant was given, in the quota's clock
 * @left: what an accept_rate bucket held after it (trace events only)
 */
struct skex_wait {
	struct sock *sk;
	u64 deadline;
	bool forever;
	bool nonblock;
	bool counted;
	u64 charge;
	u64 granted;
	u64 left;
};

void skex_wait_init(struct skex_wait *w, struct sock *sk, long timeo);
void skex_group_port_put(struct skex_group_port *gp);

bool skex_group_accept_wanted(const struct sock *listener);
struct skex_group_port *skex_group_accept_port(struct sock *listener);
int skex_group_accept_wait(struct skex_group_port **gpp, struct skex_wait *w);
void skex_group_accept_done(struct skex_group_port *gp, struct skex_wait *w,
			    bool accepted);

enum skex_send_route {
	SKEX_SEND_DIRECT,	/* the original, unchanged */
	SKEX_SEND_PAID,		/* the pool paid: the original, then giveback */
	SKEX_SEND_WAIT,		/* the throttled path */
};

enum skex_send_route skex_group_send_route(const struct sock *sk,
					   size_t size);
void skex_group_output_giveback(const struct sock *sk, size_t unused);
struct skex_group_port *skex_group_output_port(struct sock *sk);
long skex_group_output_take(struct skex_group_port **gpp, struct skex_wait *w,
			    size_t want);
void skex_group_output_refund(struct skex_group_port *gp, size_t unused);

bool skex_group_poll_wanted(const struct sock *sk);
__poll_t skex_group_poll(struct sock *sk, __poll_t mask);
void skex_group_received(struct sock *sk);
void skex_group_destroyed(struct sock *sk);

/* group_throttle.c: for the control plane (group.c) */
void skex_group_put(struct skex_group *g);
void skex_group_port_configure(struct skex_group_port *gp,
			       const struct skex_group_port_spec *ps,
			       u64 now);
void skex_group_port_wake_sleepers(struct skex_group_port *gp);
void skex_group_port_succeed(struct skex_group_port *old,
			     struct skex_group_port *gp, u64 now);
struct skex_poller *skex_pollers_take(struct skex_group *g,
				      struct skex_group_port *gp);
void skex_pollers_release(struct skex_poller *list);
enum hrtimer_restart skex_group_timer(struct hrtimer *timer);
void skex_group_wake(struct skex_group *g);
void skex_ftp_forget(struct skex_group_port *gp, const struct sock *ctrl);

#endif /* _SKEX_GROUP_THROTTLE_H */
