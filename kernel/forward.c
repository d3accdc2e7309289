// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Connection classification and forwarding (docs/forwarding.md).
 *
 * An enabled rule owns a kernel listening socket on its incoming port P
 * (one dual-stack IPv6 socket, IPv4 clients arrive v4-mapped; a plain IPv4
 * socket where IPv6 is unavailable). Its sk_data_ready schedules
 * skex_fw_listen_work(), which takes each established child off the accept
 * queue with reqsk_queue_remove(), classifies it and queues it, with the
 * same request sock, on the accept queue of the listener a SYN to the
 * chosen port would have found (skex_fw_deliver()). The application then
 * accepts it with a plain accept(); every byte the client sent is still in
 * the child's receive queue.
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
 *  - RCU: rule->tab, the immutable snapshot the classifier reads;
 *  - skex_fw_lsn.lock: the list of parked connections of a listener;
 *  - lock_sock(child): a parked child's callbacks and sk_user_data.
 * Work items and timers never take config_mutex, so configuration may
 * wait for them.
 */
#include "skex.h"
#include "compat.h"
#include "forward.h"

#include <linux/bsearch.h>
#include <linux/ctype.h>
#include <linux/in.h>
#include <linux/random.h>
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
#include <net/tcp.h>

#define SKEX_FW_BACKLOG		4096
#define SKEX_FW_BATCH		64
/* parked connections of one listener: at most this many buffer bytes */
#define SKEX_FW_PARK_BYTES	(16 << 20)
/* ... but at least this many (whatever the window), at most this many */
#define SKEX_FW_PARK_MIN	64
#define SKEX_FW_PARK_MAX	4096
/* setsockopt() adds to rules of more branches build their snapshot lazily */
#define SKEX_FW_LAZY_MIN	32

/* Per namespace: the rules by incoming port. Written under config_mutex. */
struct skex_fw_net {
	struct skex_net *sn;
	struct xarray rules;
	bool dying;		/* the namespace is going: reset, don't hand off */
};

/* A branch as the classifier sees it, copied into a tab. */
struct skex_fw_ent {
	struct skex_fw_branch *br;
	struct skex_fw_pat *pat;
	u64 seq;
	u16 port;
	u8 chance;
	u8 family;
	u8 bits;
	bool indexed;		/* in tab->sorted yet: while building */
	u32 offset;
	struct in6_addr addr;
	struct in6_addr mask;
};

/* Address entries sharing one mask, sorted by address in tab->sorted. */
struct skex_fw_level {
	u8 family;
	u8 bits;
	struct in6_addr mask;
	unsigned int first;
	unsigned int count;
};

/*
 * The immutable snapshot of a rule the classifier works from. Rebuilt
 * under config_mutex on every change, published with RCU. @ent holds the
 * complete branches by creation order; @sorted and @levels index the
 * address branches by (family, mask length desc, mask, address); @ports
 * are the ports the rule lists in /proc/net/skex.
 */
struct skex_fw_tab {
	struct rcu_head rcu;
	u64 gen;		/* the rule's tab_gen when built */
	u8 type;
	u16 def_port;
	unsigned long timeout;	/* jiffies */
	u32 window;
	unsigned int n;
	unsigned int nlevels;
	unsigned int nports;
	struct skex_fw_ent *ent;
	struct skex_fw_ent **sorted;
	struct skex_fw_level *levels;
	struct skex_port **ports;
	struct skex_fc *fc;	/* content: the automaton of @ent's patterns */
};

/* The module's listener of an enabled rule. */
struct skex_fw_lsn {
	struct skex_fw_rule *rule;
	struct socket *sock;
	void (*data_ready)(struct sock *sk);	/* stock callbacks */
	void (*state_change)(struct sock *sk);
	struct work_struct work;
	spinlock_t lock;		/* protects the fields below */
	struct list_head parked;
	unsigned int nparked;
	size_t parked_bytes;		/* their buffers */
	bool closing;
	bool throttled;
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

enum skex_fw_queued { SKEX_FW_SKIP, SKEX_FW_QUEUED, SKEX_FW_GONE };

static struct workqueue_struct *skex_fw_wq;

static void skex_fw_listen_ready(struct sock *sk);

struct skex_fw_net *skex_fw_net_of(struct net *net)
{
	return skex_net(net)->fw;
}

struct mutex *skex_fw_mutex(struct skex_fw_net *fw)
{
	return &fw->sn->config_mutex;
}

struct net *skex_fw_netns(struct skex_fw_net *fw)
{
	return fw->sn->net;
}

static void skex_fw_assert_locked(struct skex_fw_net *fw)
{
	lockdep_assert_held(&fw->sn->config_mutex);
}

/* ---- snapshots ---- */

/*
 * The arrays of a snapshot grow with the rule's branches (10,000 and more):
 * kvmalloc()ed, so that the __GFP_NOFAIL commit of a branch's deletion
 * needs no high-order pages (vfree() from the RCU callback is deferred).
 */
static void skex_fw_tab_free(struct skex_fw_tab *tab)
{
	kvfree(tab->ent);
	kvfree(tab->sorted);
	kvfree(tab->levels);
	kvfree(tab->ports);
	skex_fc_free(tab->fc);
	kfree(tab);
}

static void skex_fw_tab_free_rcu(struct rcu_head *head)
{
	skex_fw_tab_free(container_of(head, struct skex_fw_tab, rcu));
}

bool skex_fw_branch_complete(const struct skex_fw_branch *b)
{
	const struct skex_fw_rule *rule = b->rule;

	if (!rule || !b->port)
		return false;
	switch (rule->type) {
	case SKEX_FW_DICE:
		return true;
	case SKEX_FW_CONTENT:
		return !!b->pat;
	case SKEX_FW_ADDR:
		return !!b->family;
	}
	return false;
}

static int skex_fw_ent_cmp(const void *a, const void *b)
{
	const struct skex_fw_ent *x = *(const struct skex_fw_ent **)a;
	const struct skex_fw_ent *y = *(const struct skex_fw_ent **)b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->bits != y->bits)
		return x->bits > y->bits ? -1 : 1;
	c = memcmp(&x->mask, &y->mask, sizeof(x->mask));
	if (c)
		return c;
	return memcmp(&x->addr, &y->addr, sizeof(x->addr));
}

static int skex_fw_seq_cmp(const void *key, const void *elt)
{
	u64 seq = *(const u64 *)key;
	const struct skex_fw_ent *e = elt;

	return seq < e->seq ? -1 : seq > e->seq;
}

/*
 * Put the address entries of @tab in @tab->sorted in the order of @old's,
 * the snapshot it replaces (only an address rule's has @sorted), then those
 * @old did not have. Return: how many were found in @old.
 */
static unsigned int skex_fw_tab_seed(struct skex_fw_tab *tab,
				     const struct skex_fw_tab *old)
{
	struct skex_fw_ent *e;
	unsigned int i, n = 0, seeded;

	for (i = 0; old && old->sorted && i < old->n; i++) {
		e = bsearch(&old->sorted[i]->seq, tab->ent, tab->n,
			    sizeof(*tab->ent), skex_fw_seq_cmp);
		if (e && !e->indexed) {
			e->indexed = true;
			tab->sorted[n++] = e;
		}
	}
	seeded = n;
	for (i = 0; i < tab->n; i++)
		if (!tab->ent[i].indexed)
			tab->sorted[n++] = &tab->ent[i];
	return seeded;
}

/*
 * Insertion sort with a binary search: one pass over entries in order,
 * a search and a move for each one out of place.
 */
static void skex_fw_sort_nearly_sorted(struct skex_fw_ent **v, unsigned int n)
{
	unsigned int i, lo, hi, mid;
	struct skex_fw_ent *e;

	for (i = 1; i < n; i++) {
		e = v[i];
		if (skex_fw_ent_cmp(&v[i - 1], &e) <= 0)
			continue;
		lo = 0;
		hi = i - 1;		/* v[hi] > e */
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (skex_fw_ent_cmp(&v[mid], &e) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		memmove(&v[lo + 1], &v[lo], (i - lo) * sizeof(*v));
		v[lo] = e;
	}
}

/*
 * Index the address entries for the lookup. A rule changes a branch at a
 * time, so the previous snapshot @old is sorted but for what changed:
 * starting from its order leaves the sort little to do, where sorting
 * from scratch on each of n additions made building a rule of n branches
 * cost n^2 log n compares.
 */
static int skex_fw_tab_index(struct skex_fw_tab *tab,
			     const struct skex_fw_tab *old, gfp_t gfp)
{
	struct skex_fw_level *lv = NULL;
	unsigned int i;

	tab->sorted = kvcalloc(tab->n, sizeof(*tab->sorted), gfp);
	tab->levels = kvcalloc(tab->n, sizeof(*tab->levels), gfp);
	if (!tab->sorted || !tab->levels)
		return -ENOMEM;
	if (skex_fw_tab_seed(tab, old))
		skex_fw_sort_nearly_sorted(tab->sorted, tab->n);
	else
		sort(tab->sorted, tab->n, sizeof(*tab->sorted),
		     skex_fw_ent_cmp, NULL);

	for (i = 0; i < tab->n; i++) {
		struct skex_fw_ent *e = tab->sorted[i];

		if (!lv || lv->family != e->family ||
		    memcmp(&lv->mask, &e->mask, sizeof(e->mask))) {
			lv = &tab->levels[tab->nlevels++];
			lv->family = e->family;
			lv->bits = e->bits;
			lv->mask = e->mask;
			lv->first = i;
		}
		lv->count++;
	}
	return 0;
}

static int skex_fw_tab_add_port(struct skex_fw_tab *tab, struct skex_net *sn,
				u16 port, gfp_t gfp)
{
	struct skex_port *p;
	unsigned int i;

	if (!port)
		return 0;
	p = skex_port_get(sn, port, gfp);
	if (!p)
		return -ENOMEM;
	for (i = 0; i < tab->nports; i++)
		if (tab->ports[i] == p)
			return 0;
	tab->ports[tab->nports++] = p;
	return 0;
}

/* The automaton of a content rule's patterns, @tab->ent's order. */
static int skex_fw_tab_compile(struct skex_fw_tab *tab,
			       const struct skex_fw_rule *rule, gfp_t gfp)
{
	struct skex_fc_params params = {
		.window = rule->window,
		.until = rule->until,
		.delim = rule->delim,
		.delim_len = rule->delim_len,
	};
	struct skex_fc_pattern *pats;
	unsigned int i;

	pats = kvmalloc_array(tab->n, sizeof(*pats), gfp);
	if (!pats)
		return -ENOMEM;
	for (i = 0; i < tab->n; i++) {
		pats[i].data = tab->ent[i].pat->data;
		pats[i].len = tab->ent[i].pat->len;
		pats[i].offset = tab->ent[i].offset;
	}
	tab->fc = skex_fc_build(pats, tab->n, &params, gfp);
	kvfree(pats);
	if (IS_ERR(tab->fc)) {
		int err = PTR_ERR(tab->fc);

		tab->fc = NULL;
		return err;
	}
	return 0;
}

static struct skex_fw_tab *skex_fw_tab_build(struct skex_fw_rule *rule,
					     const struct skex_fw_tab *old,
					     gfp_t gfp)
{
	struct skex_net *sn = rule->fw->sn;
	struct skex_fw_branch *b;
	struct skex_fw_tab *tab;
	unsigned int n = 0;
	int err = -ENOMEM;

	tab = kzalloc(sizeof(*tab), gfp);
	if (!tab)
		return NULL;
	tab->type = rule->type;
	tab->def_port = rule->def_port;
	tab->timeout = msecs_to_jiffies(rule->timeout_ms);
	tab->window = rule->window;

	list_for_each_entry(b, &rule->branches, node)
		if (skex_fw_branch_complete(b))
			n++;
	tab->ports = kvcalloc(n + 2, sizeof(*tab->ports), gfp);
	if (!tab->ports)
		goto err;
	if (n) {
		tab->ent = kvcalloc(n, sizeof(*tab->ent), gfp);
		if (!tab->ent)
			goto err;
	}
	list_for_each_entry(b, &rule->branches, node) {
		struct skex_fw_ent *e;

		if (!skex_fw_branch_complete(b))
			continue;
		e = &tab->ent[tab->n++];
		e->br = b;
		e->pat = b->pat;
		e->seq = b->seq;
		e->port = b->port;
		e->chance = b->chance;
		e->family = b->family;
		e->bits = b->bits;
		e->addr = b->addr;
		e->mask = b->mask;
		e->offset = b->offset;
	}
	if (tab->type == SKEX_FW_ADDR && tab->n) {
		err = skex_fw_tab_index(tab, old, gfp);
		if (err)
			goto err;
	}
	if (tab->type == SKEX_FW_CONTENT) {
		err = skex_fw_tab_compile(tab, rule, gfp);
		if (err)
			goto err;
	}
	tab->gen = ++rule->tab_gen;

	err = skex_fw_tab_add_port(tab, sn, rule->port, gfp);
	if (!err)
		err = skex_fw_tab_add_port(tab, sn, rule->def_port, gfp);
	for (n = 0; !err && n < tab->n; n++)
		err = skex_fw_tab_add_port(tab, sn, tab->ent[n].port, gfp);
	if (err)
		goto err;
	return tab;

err:
	skex_fw_tab_free(tab);
	return NULL;
}

static void skex_fw_tab_retire(struct skex_fw_tab *tab)
{
	unsigned int i;

	if (!tab)
		return;
	for (i = 0; i < tab->nports; i++)
		skex_port_unuse(tab->ports[i]);
	call_rcu(&tab->rcu, skex_fw_tab_free_rcu);
}

/*
 * Publish the rule's current settings to the classifier. With @gfp
 * __GFP_NOFAIL it cannot fail: the ports it lists already exist then.
 */
static int __skex_fw_rule_commit(struct skex_fw_rule *rule, gfp_t gfp)
{
	struct skex_fw_tab *tab, *old;
	unsigned int i;

	skex_fw_assert_locked(rule->fw);
	old = rcu_dereference_protected(rule->tab,
					lockdep_is_held(&rule->fw->sn->config_mutex));
	tab = skex_fw_tab_build(rule, old, gfp);
	if (!tab)
		return -ENOMEM;
	for (i = 0; i < tab->nports; i++)
		skex_port_use(tab->ports[i]);
	rcu_assign_pointer(rule->tab, tab);
	WRITE_ONCE(rule->stale, false);
	skex_fw_tab_retire(old);
	return 0;
}

/*
 * Publish the rule, or, while setsockopt() adds a branch to a big rule
 * (@rule->lazy), only mark it stale: the classifier publishes it before
 * it next uses the rule (skex_fw_rule_fresh()), so that a program adding
 * thousands of branches one by one builds the snapshot once, not for
 * each. What is deferred cannot fail (__GFP_NOFAIL), and only branches
 * are added meanwhile: the stale snapshot names nothing that is gone.
 */
static int skex_fw_rule_commit(struct skex_fw_rule *rule)
{
	if (rule->lazy && rule->nbranches > SKEX_FW_LAZY_MIN) {
		WRITE_ONCE(rule->stale, true);
		return 0;
	}
	return __skex_fw_rule_commit(rule, GFP_KERNEL);
}

void skex_fw_rule_lazy(struct skex_fw_rule *rule, bool on)
{
	skex_fw_assert_locked(rule->fw);
	rule->lazy = on;
}

/*
 * Before the classifier reads @rule's snapshot: publish the changes
 * skex_fw_rule_commit() deferred. Never waits for config_mutex (a
 * configuration waiting for the classifier may hold it): if it is taken,
 * the classification uses the snapshot as it is, as it would had it run
 * a moment before the change.
 */
static void skex_fw_rule_fresh(struct skex_fw_rule *rule)
{
	struct mutex *lock = &rule->fw->sn->config_mutex;

	if (!READ_ONCE(rule->stale) || !mutex_trylock(lock))
		return;
	if (rule->stale && !rule->deleted)
		__skex_fw_rule_commit(rule, GFP_KERNEL | __GFP_NOFAIL);
	mutex_unlock(lock);
}

/*
 * Set @field, a setting of @rule or of one of its branches, to @val and
 * publish the rule; if that fails, @field gets its old value back.
 * Evaluates to 0 or the error. Under config_mutex (skex_fw_rule_commit()
 * asserts it).
 */
#define skex_fw_set_commit(rule, field, val) ({				\
	typeof(field) *__field = &(field);				\
	typeof(field) __old = *__field;					\
	int __err;							\
									\
	*__field = (val);						\
	__err = skex_fw_rule_commit(rule);				\
	if (__err)							\
		*__field = __old;					\
	__err;								\
})

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
 * Queue @child on the listener of @port. Under RCU with BHs off and the
 * child's bh lock held, as tcp_v4_rcv() queues a child.
 */
static enum skex_fw_queued skex_fw_queue(struct sock *child,
					 struct request_sock *req, u16 port,
					 atomic64_t *hits)
{
	struct sock *target;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "needs rcu_read_lock()");
	lockdep_assert_in_softirq();
	lockdep_assert_held(&child->sk_lock.slock);
	if (!port)
		return SKEX_FW_SKIP;
	target = skex_fw_lookup(child, port);
	if (!target || target->sk_state != TCP_LISTEN ||
	    sk_acceptq_is_full(target) || skex_fw_is_ours(target))
		return SKEX_FW_SKIP;
	/* An IPv4 socket cannot be accepted from an IPv6 listener. */
	if (child->sk_family != AF_INET6 && target->sk_family == AF_INET6)
		return SKEX_FW_SKIP;

	child->sk_uid = target->sk_uid;
	skex_fw_inherit(child, target);
	if (!inet_csk_reqsk_queue_add(target, req, child))
		return SKEX_FW_GONE;	/* target stopped listening: reset */
	/* counted before the application can see it */
	if (hits)
		atomic64_inc(hits);
	target->sk_data_ready(target);
	return SKEX_FW_QUEUED;
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
 * Hand @child to the listener of @port (the branch with @seq), else to the
 * rule's default port; else reset it. Consumes @req and the child's
 * reference. The child's callbacks must already be the stock ones.
 */
static void skex_fw_deliver(struct skex_fw_rule *rule, struct sock *child,
			    struct request_sock *req, u16 port, u64 seq)
{
	struct skex_fw_net *fw = rule->fw;
	enum skex_fw_queued res = SKEX_FW_SKIP;
	struct skex_fw_tab *tab;

	if (!READ_ONCE(fw->dying) && check_net(sock_net(child)))
		skex_sk_net_refcnt_upgrade(child);

	sock_hold(child);
	rcu_read_lock();
	local_bh_disable();
	bh_lock_sock(child);
	tab = rcu_dereference(rule->tab);
	if (port)
		res = skex_fw_queue(child, req, port, skex_fw_hits(tab, seq));
	if (res == SKEX_FW_SKIP)
		res = skex_fw_queue(child, req, tab->def_port,
				    &rule->default_hits);
	/* counted before the client can see the reset */
	if (res != SKEX_FW_QUEUED)
		atomic64_inc(&rule->dropped);
	if (res == SKEX_FW_SKIP)
		skex_fw_reset(child);
	bh_unlock_sock(child);
	local_bh_enable();
	rcu_read_unlock();

	if (res != SKEX_FW_QUEUED)
		reqsk_put(req);
	sock_put(child);
}

/* Give a child the stock callbacks back. Under lock_sock(child). */
static void skex_fw_child_detach(struct skex_fw_lsn *lsn, struct sock *sk)
{
	sock_owned_by_me(sk);
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_sk_user_data(sk, NULL);
	sk->sk_data_ready = lsn->data_ready;
	sk->sk_state_change = lsn->state_change;
	write_unlock_bh(&sk->sk_callback_lock);
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
 * Feed what arrived beyond the bytes @fc has seen to it, without
 * consuming anything; the end of a segment with PSH ends a write of the
 * client's. Returns the verdict (forward_content.h). Under lock_sock().
 */
static int skex_fw_conn_feed(struct skex_fw_conn *conn, struct sock *sk,
			     const struct skex_fc *fc)
{
	struct skex_fc_state *st = &conn->st;
	u32 seq = tcp_sk(sk)->copied_seq + st->pos;
	int v = st->verdict;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_receive_queue, skb) {
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
		queue_work(skex_fw_wq, &lsn->work);
	}
	if (lsn->closing && !lsn->nparked)
		wake_up(&lsn->idle);
	spin_unlock_bh(&lsn->lock);
}

/* Look at what the client sent so far and decide if we can. */
static void skex_fw_conn_step(struct skex_fw_conn *conn)
{
	struct skex_fw_lsn *lsn = conn->lsn;
	struct skex_fw_rule *rule = lsn->rule;
	const struct skex_fw_ent *e = NULL;
	struct sock *sk = conn->child;
	struct skex_fw_tab *tab;
	int v = SKEX_FC_DEFAULT;
	bool decided, eof;
	u16 port = 0;
	u64 seq = 0;

	/*
	 * skex_fw_conn_park() kicks again once it is done; pairs with its
	 * smp_store_release(): the timer is armed when we see @armed.
	 */
	if (!smp_load_acquire(&conn->armed))
		return;
	skex_fw_rule_fresh(rule);
	lock_sock(sk);
	eof = (sk->sk_shutdown & RCV_SHUTDOWN) ||
	      sk->sk_state != TCP_ESTABLISHED;

	rcu_read_lock();
	tab = rcu_dereference(rule->tab);
	if (!READ_ONCE(conn->force) && tab->type == SKEX_FW_CONTENT) {
		/* a new snapshot: start over, every byte is still queued */
		if (conn->gen != tab->gen) {
			conn->gen = tab->gen;
			skex_fc_start(tab->fc, &conn->st);
		}
		v = skex_fw_conn_feed(conn, sk, tab->fc);
		if (v >= 0)
			e = &tab->ent[v];
	} else if (!READ_ONCE(conn->force)) {
		/* the rule was replaced by one of another type: decide as it */
		e = tab->type == SKEX_FW_DICE ? skex_fw_match_dice(tab) :
		    skex_fw_match_addr(tab, sk);
	}
	if (e) {
		port = e->port;
		seq = e->seq;
	}
	decided = v != SKEX_FC_MORE || eof ||
		  time_after_eq(jiffies, conn->deadline);
	rcu_read_unlock();

	if (!decided) {
		release_sock(sk);
		return;
	}
	conn->done = true;
	skex_fw_child_detach(lsn, sk);
	release_sock(sk);
	timer_delete_sync(&conn->timer);

	skex_fw_deliver(rule, sk, conn->req, port, seq);
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
 * Park a child of a content rule until its first bytes decide. Returns
 * false when it could not be parked (closing, no memory).
 */
static bool skex_fw_conn_park(struct skex_fw_lsn *lsn, struct sock *child,
			      struct request_sock *req, u32 window,
			      unsigned long timeout)
{
	struct skex_fw_conn *conn;

	conn = kzalloc(offsetof(struct skex_fw_conn, st) + SKEX_FC_STATE_MAX,
		       GFP_KERNEL);
	if (!conn)
		return false;
	/* one reference for the parking, one for us until we are done */
	refcount_set(&conn->ref, 2);
	conn->lsn = lsn;
	conn->child = child;
	conn->req = req;
	conn->window = window;
	conn->deadline = jiffies + timeout;
	INIT_WORK(&conn->work, skex_fw_conn_work);
	timer_setup(&conn->timer, skex_fw_conn_timeout, 0);

	spin_lock_bh(&lsn->lock);
	if (lsn->closing) {
		spin_unlock_bh(&lsn->lock);
		kfree(conn);
		return false;
	}
	list_add_tail(&conn->node, &lsn->parked);
	lsn->nparked++;
	lsn->parked_bytes += window;
	spin_unlock_bh(&lsn->lock);

	lock_sock(child);
	write_lock_bh(&child->sk_callback_lock);
	rcu_assign_sk_user_data(child, conn);
	child->sk_data_ready = skex_fw_conn_event;
	child->sk_state_change = skex_fw_conn_event;
	write_unlock_bh(&child->sk_callback_lock);
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
	u16 port = 0;
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
	rcu_read_unlock();

	if (window && skex_fw_conn_park(lsn, child, req, window, timeout))
		return;

	lock_sock(child);
	skex_fw_child_detach(lsn, child);
	release_sock(child);
	skex_fw_deliver(rule, child, req, port, seq);
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

static void skex_fw_listen_work(struct work_struct *work)
{
	struct skex_fw_lsn *lsn = container_of(work, struct skex_fw_lsn, work);
	struct sock *sk = lsn->sock->sk;
	struct request_sock *req;
	unsigned int i;

	for (i = 0; i < SKEX_FW_BATCH; i++) {
		spin_lock_bh(&lsn->lock);
		if (lsn->closing) {
			spin_unlock_bh(&lsn->lock);
			return;
		}
		if (skex_fw_lsn_full(lsn)) {
			/* leave them in the accept queue until some decide */
			lsn->throttled = true;
			spin_unlock_bh(&lsn->lock);
			return;
		}
		spin_unlock_bh(&lsn->lock);

		lock_sock(sk);
		req = NULL;
		if (sk->sk_state == TCP_LISTEN)
			req = reqsk_queue_remove(&inet_csk(sk)->icsk_accept_queue,
						 sk);
		release_sock(sk);
		if (!req)
			return;
		skex_fw_take(lsn, req, false);
	}
	queue_work(skex_fw_wq, work);
}

/*
 * sk_data_ready of the module's listeners, inherited by their children at
 * clone time: a listener has a child to accept; a child not yet taken has
 * no sk_user_data and nothing to do.
 */
static void skex_fw_listen_ready(struct sock *sk)
{
	struct skex_fw_lsn *lsn;

	if (sk->sk_state != TCP_LISTEN)
		return;
	rcu_read_lock();
	lsn = rcu_dereference_sk_user_data(sk);
	if (lsn)
		queue_work(skex_fw_wq, &lsn->work);
	rcu_read_unlock();
}

struct skex_fw_open {
	struct work_struct work;
	struct net *net;
	struct skex_fw_lsn *lsn;
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
 * Runs in a kworker, so that the socket and its children belong to the
 * root cgroup and memcg rather than to whoever configured the rule.
 */
static void skex_fw_open_work(struct work_struct *work)
{
	struct skex_fw_open *op = container_of(work, struct skex_fw_open, work);
	struct skex_fw_lsn *lsn = op->lsn;
	struct socket *sock;
	struct sock *sk;
	int err;

	err = skex_fw_sock_open(op->net, op->port, &sock);
	if (err)
		goto out;
	sk = sock->sk;
	write_lock_bh(&sk->sk_callback_lock);
	lsn->data_ready = sk->sk_data_ready;
	lsn->state_change = sk->sk_state_change;
	__rcu_assign_sk_user_data_with_flags(sk, lsn, SK_USER_DATA_NOCOPY);
	sk->sk_data_ready = skex_fw_listen_ready;
	write_unlock_bh(&sk->sk_callback_lock);
	lsn->sock = sock;

	err = kernel_listen(sock, SKEX_FW_BACKLOG);
	if (err) {
		lsn->sock = NULL;
		sock_release(sock);
		goto out;
	}
	/* No Fast Open: its request socks cannot change listener. */
	lock_sock(sk);
	WRITE_ONCE(inet_csk(sk)->icsk_accept_queue.fastopenq.max_qlen, 0);
	release_sock(sk);
out:
	op->err = err;
}

static struct skex_fw_lsn *skex_fw_listen_open(struct skex_fw_rule *rule)
{
	struct skex_fw_open op = {
		.net = skex_fw_netns(rule->fw),
		.port = rule->port,
	};
	struct skex_fw_lsn *lsn;

	lsn = kzalloc(sizeof(*lsn), GFP_KERNEL);
	if (!lsn)
		return ERR_PTR(-ENOMEM);
	lsn->rule = rule;
	INIT_WORK(&lsn->work, skex_fw_listen_work);
	spin_lock_init(&lsn->lock);
	INIT_LIST_HEAD(&lsn->parked);
	init_waitqueue_head(&lsn->idle);

	op.lsn = lsn;
	INIT_WORK_ONSTACK(&op.work, skex_fw_open_work);
	queue_work(system_unbound_wq, &op.work);
	flush_work(&op.work);
	destroy_work_on_stack(&op.work);
	if (op.err) {
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
 * Stop the listener and hand every connection it holds, queued or
 * parked, to the default port (reset when that fails). Returns when none
 * is left; the socket and @lsn are gone.
 */
static void skex_fw_listen_close(struct skex_fw_lsn *lsn)
{
	struct request_sock *req, *head = NULL, **tail = &head;
	struct sock *sk = lsn->sock->sk;
	struct skex_fw_conn *conn;

	spin_lock_bh(&lsn->lock);
	lsn->closing = true;
	spin_unlock_bh(&lsn->lock);

	/* As __tcp_close() on a listener, keeping its children. */
	lock_sock(sk);
	write_lock_bh(&sk->sk_callback_lock);
	rcu_assign_sk_user_data(sk, NULL);
	sk->sk_data_ready = lsn->data_ready;
	write_unlock_bh(&sk->sk_callback_lock);
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

	/* No callback is still running on another CPU after this. */
	synchronize_rcu();
	cancel_work_sync(&lsn->work);

	while (head) {
		req = head;
		head = req->dl_next;
		req->dl_next = NULL;
		skex_fw_take(lsn, req, true);
	}

	spin_lock_bh(&lsn->lock);
	list_for_each_entry(conn, &lsn->parked, node) {
		WRITE_ONCE(conn->force, true);
		skex_fw_conn_kick(conn);
	}
	spin_unlock_bh(&lsn->lock);
	wait_event(lsn->idle, skex_fw_listen_idle(lsn));

	sock_release(lsn->sock);
	kfree(lsn);
}

/*
 * Have every connection parked on @lsn look at the rule's snapshot again
 * (the rule was replaced): what it received may decide it now.
 */
static void skex_fw_listen_kick(struct skex_fw_lsn *lsn)
{
	struct skex_fw_conn *conn;

	spin_lock_bh(&lsn->lock);
	list_for_each_entry(conn, &lsn->parked, node)
		skex_fw_conn_kick(conn);
	spin_unlock_bh(&lsn->lock);
}

/* ---- rules ---- */

/* A new rule's content settings; a replaced rule's that are not content. */
static void skex_fw_rule_defaults(struct skex_fw_rule *rule)
{
	rule->timeout_ms = SKEX_FW_TIMEOUT_DEF;
	rule->window = SKEX_FW_WINDOW_DEF;
	/*
	 * The seed's "string found in the packet": its rules decide on the
	 * client's first write; the others at the end of HTTP headers
	 * (docs/forwarding.md, "until").
	 */
	if (rule->kernel_made) {
		rule->until = SKEX_FC_UNTIL_PUSH;
		rule->delim_len = 0;
	} else {
		rule->until = SKEX_FC_UNTIL_DELIM;
		rule->delim_len = sizeof(SKEX_FW_UNTIL_DEF) - 1;
		memcpy(rule->delim, SKEX_FW_UNTIL_DEF, rule->delim_len);
	}
}

struct skex_fw_rule *skex_fw_rule_find(struct skex_fw_net *fw, u16 port)
{
	skex_fw_assert_locked(fw);
	return xa_load(&fw->rules, port);
}

/**
 * skex_fw_rule_create - a new, disabled rule without a type
 * @fw: the namespace's rules
 * @port: its incoming port, 1-65535
 * @kernel_made: made through sockopt rather than mkdir
 *
 * Return: the rule, holding one reference for the caller, or an ERR_PTR:
 * -EEXIST when @port already has a rule.
 */
struct skex_fw_rule *skex_fw_rule_create(struct skex_fw_net *fw, u16 port,
					 bool kernel_made)
{
	struct skex_fw_rule *rule;
	int err;

	skex_fw_assert_locked(fw);
	if (!port)
		return ERR_PTR(-EINVAL);
	if (xa_load(&fw->rules, port))
		return ERR_PTR(-EEXIST);
	rule = kzalloc(sizeof(*rule), GFP_KERNEL);
	if (!rule)
		return ERR_PTR(-ENOMEM);
	rule->fw = fw;
	rule->port = port;
	rule->kernel_made = kernel_made;
	skex_fw_rule_defaults(rule);
	INIT_LIST_HEAD(&rule->branches);
	atomic64_set(&rule->default_hits, 0);
	atomic64_set(&rule->dropped, 0);
	refcount_set(&rule->ref, 1);

	err = skex_fw_rule_commit(rule);
	if (err)
		goto err;
	err = xa_err(xa_store(&fw->rules, port, rule, GFP_KERNEL));
	if (err)
		goto err;
	pr_debug("rule %u created\n", port);
	return rule;

err:
	skex_fw_tab_retire(rcu_dereference_protected(rule->tab, true));
	RCU_INIT_POINTER(rule->tab, NULL);
	skex_fw_rule_put(rule);
	return ERR_PTR(err);
}

void skex_fw_rule_get(struct skex_fw_rule *rule)
{
	refcount_inc(&rule->ref);
}

/* The last reference frees the rule; its snapshot goes after readers. */
void skex_fw_rule_put(struct skex_fw_rule *rule)
{
	if (!refcount_dec_and_test(&rule->ref))
		return;
	skex_fw_tab_retire(rcu_dereference_protected(rule->tab, true));
	kfree_rcu(rule, rcu);
}

int skex_fw_rule_enable(struct skex_fw_rule *rule, bool on)
{
	struct skex_fw_lsn *lsn;

	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return -ENODEV;
	if (on == rule->enabled)
		return 0;
	if (on) {
		if (rule->type == SKEX_FW_NONE || !rule->def_port)
			return -EINVAL;
		lsn = skex_fw_listen_open(rule);
		if (IS_ERR(lsn))
			return PTR_ERR(lsn);
		rule->lsn = lsn;
		rule->enabled = true;
		pr_debug("rule %u enabled\n", rule->port);
		return 0;
	}
	lsn = rule->lsn;
	rule->lsn = NULL;
	rule->enabled = false;
	skex_fw_listen_close(lsn);
	pr_debug("rule %u disabled\n", rule->port);
	return 0;
}

/*
 * Take the rule out of its namespace: disabled (its connections go to the
 * default port), unlisted, its branches detached (they stay on its list
 * for the caller to unregister and put). The caller still holds its
 * reference.
 */
void skex_fw_rule_delete(struct skex_fw_rule *rule)
{
	struct skex_fw_branch *b;

	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return;
	skex_fw_rule_enable(rule, false);
	rule->deleted = true;
	xa_erase(&rule->fw->rules, rule->port);
	list_for_each_entry(b, &rule->branches, node)
		b->rule = NULL;
	/* The classifier is gone with the listener: no need to republish. */
	pr_debug("rule %u deleted\n", rule->port);
}

int skex_fw_rule_set_type(struct skex_fw_rule *rule, u8 type)
{
	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return -ENODEV;
	if (type < SKEX_FW_DICE || type > SKEX_FW_ADDR)
		return -EINVAL;
	if (type == rule->type)
		return 0;
	if (rule->enabled || !list_empty(&rule->branches))
		return -EBUSY;
	return skex_fw_set_commit(rule, rule->type, type);
}

int skex_fw_rule_set_default(struct skex_fw_rule *rule, u16 port)
{
	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return -ENODEV;
	if (!port || port == rule->port)
		return -EINVAL;
	return skex_fw_set_commit(rule, rule->def_port, port);
}

/* A content rule's timeout_ms or window (@field): 1 to @max. */
static int skex_fw_rule_set_content(struct skex_fw_rule *rule, u32 *field,
				    u32 val, u32 max)
{
	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return -ENODEV;
	if (rule->type != SKEX_FW_CONTENT)
		return -EINVAL;
	if (!val || val > max)
		return -ERANGE;
	return skex_fw_set_commit(rule, *field, val);
}

int skex_fw_rule_set_timeout(struct skex_fw_rule *rule, u32 ms)
{
	return skex_fw_rule_set_content(rule, &rule->timeout_ms, ms,
					SKEX_FW_TIMEOUT_MAX);
}

int skex_fw_rule_set_window(struct skex_fw_rule *rule, u32 bytes)
{
	return skex_fw_rule_set_content(rule, &rule->window, bytes,
					SKEX_FW_WINDOW_MAX);
}

/* A content rule's end of the first message: @delim for UNTIL_DELIM. */
int skex_fw_rule_set_until(struct skex_fw_rule *rule, enum skex_fc_until until,
			   const u8 *delim, size_t len)
{
	u8 old[SKEX_FW_PATTERN_MAX];
	enum skex_fc_until old_until = rule->until;
	u16 old_len = rule->delim_len;
	int err;

	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return -ENODEV;
	if (rule->type != SKEX_FW_CONTENT)
		return -EINVAL;
	if (until != SKEX_FC_UNTIL_DELIM)
		len = 0;
	else if (!len || len > SKEX_FW_PATTERN_MAX)
		return -EINVAL;
	if (until != SKEX_FC_UNTIL_DELIM && until != SKEX_FC_UNTIL_PUSH &&
	    until != SKEX_FC_UNTIL_WINDOW)
		return -EINVAL;
	memcpy(old, rule->delim, old_len);
	rule->until = until;
	rule->delim_len = len;
	memcpy(rule->delim, delim, len);
	err = skex_fw_rule_commit(rule);
	if (err) {
		rule->until = old_until;
		rule->delim_len = old_len;
		memcpy(rule->delim, old, old_len);
	}
	return err;
}

/**
 * skex_fw_rules_of_type - every rule of a type in a namespace
 * @fw: the namespace's rules
 * @type: the type, 0 for all
 * @rules: set to a kvmalloc()ed array of rules, each with a reference,
 *	for kvfree() (up to 65535 of them: __GFP_NOFAIL needs the vmalloc
 *	fallback)
 * @count: set to its length
 */
int skex_fw_rules_of_type(struct skex_fw_net *fw, u8 type,
			  struct skex_fw_rule ***rules, unsigned int *count)
{
	struct skex_fw_rule *rule, **arr;
	unsigned long port;
	unsigned int n = 0;

	skex_fw_assert_locked(fw);
	xa_for_each(&fw->rules, port, rule)
		if (!type || rule->type == type)
			n++;
	arr = kvcalloc(max(n, 1U), sizeof(*arr), GFP_KERNEL | __GFP_NOFAIL);
	if (!arr)
		return -ENOMEM;
	n = 0;
	xa_for_each(&fw->rules, port, rule) {
		if (type && rule->type != type)
			continue;
		skex_fw_rule_get(rule);
		arr[n++] = rule;
	}
	*rules = arr;
	*count = n;
	return 0;
}

/* ---- branches ---- */

/* N of a name br<N>, the names setsockopt() gives; 0 for other names. */
static u64 skex_fw_branch_number(const char *name)
{
	u64 n;

	if (strncmp(name, "br", 2) || !isdigit(name[2]) ||
	    kstrtou64(name + 2, 10, &n))
		return 0;
	return n;
}

/**
 * skex_fw_branch_create - a new, incomplete branch of a rule
 * @rule: the rule
 * @name: its name (branches/<name>/), unique in the rule
 * @kernel_made: made through sockopt rather than mkdir
 *
 * An incomplete branch (no port or no condition yet) is not used.
 *
 * Return: the branch with one reference for the caller, or an ERR_PTR.
 */
struct skex_fw_branch *skex_fw_branch_create(struct skex_fw_rule *rule,
					     const char *name,
					     bool kernel_made)
{
	struct skex_fw_branch *b;

	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return ERR_PTR(-ENODEV);
	if (rule->type == SKEX_FW_NONE)
		return ERR_PTR(-EINVAL);
	if (!name[0] || strlen(name) >= SKEX_FW_NAME_MAX)
		return ERR_PTR(-EINVAL);
	if (skex_fw_branch_find(rule, name))
		return ERR_PTR(-EEXIST);
	if (rule->nbranches >= SKEX_FW_BRANCHES_MAX)
		return ERR_PTR(-ENOSPC);
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->rule = rule;
	b->seq = ++rule->next_seq;
	rule->name_max = max(rule->name_max, skex_fw_branch_number(name));
	b->offset = SKEX_FC_ANY;
	b->kernel_made = kernel_made;
	atomic64_set(&b->hits, 0);
	refcount_set(&b->ref, 1);
	strscpy(b->name, name, sizeof(b->name));
	list_add_tail(&b->node, &rule->branches);
	rule->nbranches++;
	return b;
}

/*
 * The branch named @name. Names br<N> above every N the rule ever had are
 * free without a look (setsockopt() adding thousands of branches asks for
 * such names); the newest branches are looked at first.
 */
struct skex_fw_branch *skex_fw_branch_find(struct skex_fw_rule *rule,
					   const char *name)
{
	struct skex_fw_branch *b;

	if (skex_fw_branch_number(name) > rule->name_max)
		return NULL;
	list_for_each_entry_reverse(b, &rule->branches, node)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

/* Remove a branch from its rule. The caller still holds its reference. */
void skex_fw_branch_delete(struct skex_fw_branch *b)
{
	struct skex_fw_rule *rule = b->rule;

	if (!rule)
		return;
	skex_fw_assert_locked(rule->fw);
	list_del_init(&b->node);
	rule->nbranches--;
	b->rule = NULL;
	/* The old tab must go: it points to the branch. */
	__skex_fw_rule_commit(rule, GFP_KERNEL | __GFP_NOFAIL);
}

/*
 * Remove every branch of a rule at once; they move to @out, where the
 * caller still holds their references.
 */
void skex_fw_rule_flush(struct skex_fw_rule *rule, struct list_head *out)
{
	struct skex_fw_branch *b;

	skex_fw_assert_locked(rule->fw);
	list_for_each_entry(b, &rule->branches, node)
		b->rule = NULL;
	list_splice_tail_init(&rule->branches, out);
	rule->nbranches = 0;
	__skex_fw_rule_commit(rule, GFP_KERNEL | __GFP_NOFAIL);
}

static void skex_fw_pat_retire(struct skex_fw_pat *pat)
{
	if (pat)
		kfree_rcu(pat, rcu);
}

static void skex_fw_branch_free_rcu(struct rcu_head *head)
{
	struct skex_fw_branch *b = container_of(head, struct skex_fw_branch,
						rcu);

	kfree(b->pat);
	kfree(b);
}

void skex_fw_branch_get(struct skex_fw_branch *b)
{
	refcount_inc(&b->ref);
}

/* The last reference frees the branch after the classifier's readers. */
void skex_fw_branch_put(struct skex_fw_branch *b)
{
	if (refcount_dec_and_test(&b->ref))
		call_rcu(&b->rcu, skex_fw_branch_free_rcu);
}

static int skex_fw_branch_check_rule(struct skex_fw_branch *b, u8 type)
{
	if (!b->rule)
		return -ENODEV;
	skex_fw_assert_locked(b->rule->fw);
	if (type && b->rule->type != type)
		return -EINVAL;
	return 0;
}

int skex_fw_branch_set_port(struct skex_fw_branch *b, u16 port)
{
	int err;

	err = skex_fw_branch_check_rule(b, 0);
	if (err)
		return err;
	if (!port || port == b->rule->port)
		return -EINVAL;
	return skex_fw_set_commit(b->rule, b->port, port);
}

int skex_fw_branch_set_chance(struct skex_fw_branch *b, u32 chance)
{
	struct skex_fw_branch *o;
	u32 sum = chance;
	int err;

	err = skex_fw_branch_check_rule(b, SKEX_FW_DICE);
	if (err)
		return err;
	list_for_each_entry(o, &b->rule->branches, node)
		if (o != b)
			sum += o->chance;
	if (chance > 100 || sum > 100)
		return -EINVAL;
	return skex_fw_set_commit(b->rule, b->chance, chance);
}

static unsigned int skex_fw_mask_bits(const struct in6_addr *mask)
{
	unsigned int i, bits = 0;

	for (i = 0; i < 4; i++)
		bits += hweight32(mask->s6_addr32[i]);
	return bits;
}

/* A mask must be contiguous (a prefix); IPv4 ones live in 4 bytes. */
bool skex_fw_mask_valid(u8 family, const struct in6_addr *mask)
{
	unsigned int i, bits = skex_fw_mask_bits(mask);
	struct in6_addr want = {};

	if (family == AF_INET && bits > 32)
		return false;
	for (i = 0; i < bits; i++)
		want.s6_addr[i / 8] |= 0x80 >> (i % 8);
	return !memcmp(&want, mask, sizeof(want));
}

int skex_fw_branch_set_source(struct skex_fw_branch *b, u8 family,
			      const struct in6_addr *addr,
			      const struct in6_addr *mask)
{
	struct skex_fw_branch *o, saved = {};
	struct in6_addr a;
	unsigned int i;
	int err;

	err = skex_fw_branch_check_rule(b, SKEX_FW_ADDR);
	if (err)
		return err;
	if ((family != AF_INET && family != AF_INET6) ||
	    !skex_fw_mask_valid(family, mask))
		return -EINVAL;
	for (i = 0; i < 4; i++)
		a.s6_addr32[i] = addr->s6_addr32[i] & mask->s6_addr32[i];
	list_for_each_entry(o, &b->rule->branches, node)
		if (o != b && o->family == family &&
		    ipv6_addr_equal(&o->mask, mask) &&
		    ipv6_addr_equal(&o->addr, &a))
			return -EEXIST;

	saved.family = b->family;
	saved.addr = b->addr;
	saved.mask = b->mask;
	saved.bits = b->bits;
	b->family = family;
	b->addr = a;
	b->mask = *mask;
	b->bits = skex_fw_mask_bits(mask);
	err = skex_fw_rule_commit(b->rule);
	if (err) {
		b->family = saved.family;
		b->addr = saved.addr;
		b->mask = saved.mask;
		b->bits = saved.bits;
	}
	return err;
}

/* Whether another branch of @b's rule has this pattern at this offset. */
static bool skex_fw_branch_content_dup(const struct skex_fw_branch *b,
				       const u8 *data, size_t len, u32 offset)
{
	const struct skex_fw_branch *o;

	list_for_each_entry(o, &b->rule->branches, node)
		if (o != b && o->pat && o->offset == offset &&
		    o->pat->len == len && !memcmp(o->pat->data, data, len))
			return true;
	return false;
}

/* SKEX_FC_ANY, or the offset where the pattern must start. */
int skex_fw_branch_set_offset(struct skex_fw_branch *b, u32 offset)
{
	int err;

	err = skex_fw_branch_check_rule(b, SKEX_FW_CONTENT);
	if (err)
		return err;
	if (offset != SKEX_FC_ANY && offset >= SKEX_FW_WINDOW_MAX)
		return -ERANGE;
	if (b->pat && skex_fw_branch_content_dup(b, b->pat->data, b->pat->len,
						 offset))
		return -EEXIST;
	return skex_fw_set_commit(b->rule, b->offset, offset);
}

int skex_fw_branch_set_pattern(struct skex_fw_branch *b, const u8 *data,
			       size_t len)
{
	struct skex_fw_pat *pat, *old = b->pat;
	int err;

	err = skex_fw_branch_check_rule(b, SKEX_FW_CONTENT);
	if (err)
		return err;
	if (!len || len > SKEX_FW_PATTERN_MAX)
		return -EINVAL;
	if (skex_fw_branch_content_dup(b, data, len, b->offset))
		return -EEXIST;

	pat = kmalloc(struct_size(pat, data, len), GFP_KERNEL_ACCOUNT);
	if (!pat)
		return -ENOMEM;
	pat->len = len;
	memcpy(pat->data, data, len);
	b->pat = pat;
	err = skex_fw_rule_commit(b->rule);
	if (err) {
		b->pat = old;
		kfree(pat);
		return err;
	}
	skex_fw_pat_retire(old);
	return 0;
}

/* ---- replacing a rule in one step ---- */

/* Whether two branches of a rule of @type would have the same condition. */
static bool skex_fw_spec_same(u8 type, const struct skex_fw_branch_spec *a,
			      const struct skex_fw_branch_spec *b)
{
	switch (type) {
	case SKEX_FW_ADDR:
		return a->family == b->family &&
		       ipv6_addr_equal(&a->mask, &b->mask) &&
		       ipv6_addr_equal(&a->addr, &b->addr);
	case SKEX_FW_CONTENT:
		return a->offset == b->offset && a->len == b->len &&
		       !memcmp(a->pattern, b->pattern, a->len);
	}
	return false;
}

/* A name configfs can show as branches/<name>/. */
static bool skex_fw_name_valid(const char *name)
{
	return name[0] && strnlen(name, SKEX_FW_NAME_MAX) < SKEX_FW_NAME_MAX &&
	       !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/*
 * Give the branches named "" the names br<N>, N from 1, past the names
 * the others have. Only the named ones can clash: a spec of unnamed
 * branches costs nothing more.
 */
static void skex_fw_spec_names(struct skex_fw_rule_spec *s)
{
	unsigned int i, j, named = 0;
	u64 next = 0;
	bool taken;

	for (i = 0; i < s->n; i++)
		if (s->br[i].name[0])
			named++;
	for (i = 0; i < s->n; i++) {
		if (s->br[i].name[0])
			continue;
		do {
			snprintf(s->br[i].name, SKEX_FW_NAME_MAX, "br%llu",
				 ++next);
			taken = false;
			for (j = 0; named && j < s->n && !taken; j++)
				taken = j != i &&
					!strcmp(s->br[j].name, s->br[i].name);
		} while (taken);
	}
}

/*
 * Everything skex_fw_rule_replace() refuses, before anything changes.
 * Masks the sources.
 */
static int skex_fw_spec_check(const struct skex_fw_rule *rule,
			      struct skex_fw_rule_spec *s)
{
	unsigned int i, j, k, chance = 0;

	if (s->type < SKEX_FW_DICE || s->type > SKEX_FW_ADDR)
		return -EINVAL;
	if (!s->def_port || s->def_port == rule->port)
		return -EINVAL;
	if (s->n > SKEX_FW_BRANCHES_MAX)
		return -E2BIG;
	if (s->type == SKEX_FW_CONTENT) {
		if (s->until == SKEX_FC_UNTIL_DELIM) {
			if (!s->delim_len || s->delim_len > SKEX_FW_PATTERN_MAX)
				return -EINVAL;
		} else if (s->until != SKEX_FC_UNTIL_PUSH &&
			   s->until != SKEX_FC_UNTIL_WINDOW) {
			return -EINVAL;
		}
		if (!s->timeout_ms || s->timeout_ms > SKEX_FW_TIMEOUT_MAX ||
		    !s->window || s->window > SKEX_FW_WINDOW_MAX)
			return -ERANGE;
	}
	for (i = 0; i < s->n; i++) {
		struct skex_fw_branch_spec *b = &s->br[i];

		if (!skex_fw_name_valid(b->name) || !b->port ||
		    b->port == rule->port)
			return -EINVAL;
		switch (s->type) {
		case SKEX_FW_DICE:
			chance += b->chance;
			if (b->chance > 100 || chance > 100)
				return -EINVAL;
			break;
		case SKEX_FW_CONTENT:
			if (!b->len || b->len > SKEX_FW_PATTERN_MAX ||
			    !b->pattern)
				return -EINVAL;
			if (b->offset != SKEX_FC_ANY &&
			    b->offset >= SKEX_FW_WINDOW_MAX)
				return -ERANGE;
			break;
		default:
			if ((b->family != AF_INET && b->family != AF_INET6) ||
			    !skex_fw_mask_valid(b->family, &b->mask))
				return -EINVAL;
			for (k = 0; k < 4; k++)
				b->addr.s6_addr32[k] &= b->mask.s6_addr32[k];
			break;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(s->br[j].name, b->name) ||
			    skex_fw_spec_same(s->type, &s->br[j], b))
				return -EEXIST;
	}
	return 0;
}

/* A branch of the new rule, with what it had before if it is kept. */
struct skex_fw_replacing {
	struct skex_fw_branch *b;
	struct skex_fw_branch old;	/* its settings, for an undo */
	struct skex_fw_pat *pat;	/* content: its new pattern */
};

/* The settings of a rule a replace changes, for an undo. */
struct skex_fw_rule_saved {
	u8 type;
	u16 def_port;
	u32 timeout_ms;
	u32 window;
	enum skex_fc_until until;
	u16 delim_len;
	u8 delim[SKEX_FW_PATTERN_MAX];
	unsigned int nbranches;
	u64 next_seq;
	u64 name_max;
};

static void skex_fw_rule_save(const struct skex_fw_rule *rule,
			      struct skex_fw_rule_saved *sv)
{
	sv->type = rule->type;
	sv->def_port = rule->def_port;
	sv->timeout_ms = rule->timeout_ms;
	sv->window = rule->window;
	sv->until = rule->until;
	sv->delim_len = rule->delim_len;
	memcpy(sv->delim, rule->delim, rule->delim_len);
	sv->nbranches = rule->nbranches;
	sv->next_seq = rule->next_seq;
	sv->name_max = rule->name_max;
}

static void skex_fw_rule_restore(struct skex_fw_rule *rule,
				 const struct skex_fw_rule_saved *sv)
{
	rule->type = sv->type;
	rule->def_port = sv->def_port;
	rule->timeout_ms = sv->timeout_ms;
	rule->window = sv->window;
	rule->until = sv->until;
	rule->delim_len = sv->delim_len;
	memcpy(rule->delim, sv->delim, sv->delim_len);
	rule->nbranches = sv->nbranches;
	rule->next_seq = sv->next_seq;
	rule->name_max = sv->name_max;
}

/* The condition fields of @b; copied back by an undo. */
static void skex_fw_branch_cond_copy(struct skex_fw_branch *to,
				     const struct skex_fw_branch *from)
{
	to->seq = from->seq;
	to->port = from->port;
	to->chance = from->chance;
	to->family = from->family;
	to->bits = from->bits;
	to->addr = from->addr;
	to->mask = from->mask;
	to->pat = from->pat;
	to->offset = from->offset;
}

/* Give @b the settings of @bs in a rule of @type (@pat: content). */
static void skex_fw_branch_from_spec(struct skex_fw_branch *b, u8 type,
				     const struct skex_fw_branch_spec *bs,
				     struct skex_fw_pat *pat)
{
	b->port = bs->port;
	b->chance = type == SKEX_FW_DICE ? bs->chance : 0;
	b->family = type == SKEX_FW_ADDR ? bs->family : 0;
	b->addr = type == SKEX_FW_ADDR ? bs->addr : (struct in6_addr){};
	b->mask = type == SKEX_FW_ADDR ? bs->mask : (struct in6_addr){};
	b->bits = skex_fw_mask_bits(&b->mask);
	b->pat = pat;
	b->offset = type == SKEX_FW_CONTENT ? bs->offset : SKEX_FC_ANY;
}

/*
 * Allocate what the new rule needs before anything changes: a branch for
 * each name the rule does not have, a pattern for each content branch,
 * charged to the caller's memory cgroup. Returns the array, n entries.
 */
static struct skex_fw_replacing *
skex_fw_replacing_alloc(struct skex_fw_rule *rule,
			struct skex_fw_rule_spec *s)
{
	struct skex_fw_replacing *rp;
	unsigned int i;

	rp = kvcalloc(max(s->n, 1U), sizeof(*rp), GFP_KERNEL_ACCOUNT);
	if (!rp)
		return NULL;
	for (i = 0; i < s->n; i++) {
		struct skex_fw_branch_spec *bs = &s->br[i];
		struct skex_fw_branch *b = skex_fw_branch_find(rule, bs->name);

		bs->made = !b;
		if (!b) {
			b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
			if (!b)
				goto err;
			b->kernel_made = true;
			atomic64_set(&b->hits, 0);
			refcount_set(&b->ref, 1);
			strscpy(b->name, bs->name, sizeof(b->name));
			INIT_LIST_HEAD(&b->node);
		}
		rp[i].b = b;
		if (s->type != SKEX_FW_CONTENT)
			continue;
		rp[i].pat = kmalloc(struct_size(rp[i].pat, data, bs->len),
				    GFP_KERNEL_ACCOUNT);
		if (!rp[i].pat)
			goto err;
		rp[i].pat->len = bs->len;
		memcpy(rp[i].pat->data, bs->pattern, bs->len);
	}
	return rp;

err:
	for (i = 0; i < s->n; i++) {
		kfree(rp[i].pat);
		if (s->br[i].made)
			kfree(rp[i].b);
	}
	kvfree(rp);
	return NULL;
}

/**
 * skex_fw_rule_replace - make a rule what @spec says, in one step
 * @rule: the rule (any state; it stays enabled or disabled)
 * @spec: its new type, default port, content settings and every branch;
 *	the branches named "" get names (br<N>), and each says whether it is
 *	new (@made: the engine holds its reference, it needs a directory)
 * @gone: the branches the new rule does not keep are moved here, detached,
 *	each with the references it had (the engine's if @kernel_made)
 *
 * A branch of @spec named as one of the rule's keeps that branch and its
 * hit counter; the rule keeps its listener, its counters and its
 * directory. The new snapshot is built aside and published with one RCU
 * pointer swap: a classification in progress finishes on the snapshot it
 * read, a parked connection of a content rule looks again (from its
 * first byte; a rule no longer content decides it at once). Everything is
 * checked first; a failure changes nothing.
 *
 * Return: 0, -EINVAL/-ERANGE/-E2BIG for a bad @spec, -EEXIST for two
 * branches with one name or condition, -ENOMEM, -ENODEV for a deleted
 * rule.
 */
int skex_fw_rule_replace(struct skex_fw_rule *rule,
			 struct skex_fw_rule_spec *spec, struct list_head *gone)
{
	struct skex_fw_branch *b, **prev = NULL;
	struct skex_fw_rule_saved *saved;
	struct skex_fw_replacing *rp;
	unsigned int i, nprev = 0;
	int err;

	skex_fw_assert_locked(rule->fw);
	if (rule->deleted)
		return -ENODEV;
	skex_fw_spec_names(spec);
	err = skex_fw_spec_check(rule, spec);
	if (err)
		return err;

	saved = kmalloc(sizeof(*saved), GFP_KERNEL);
	prev = kvmalloc_array(max(rule->nbranches, 1U), sizeof(*prev),
			      GFP_KERNEL_ACCOUNT);
	rp = skex_fw_replacing_alloc(rule, spec);
	if (!saved || !prev || !rp) {
		err = -ENOMEM;
		goto out;
	}

	/* the new rule, in place of the old one's settings */
	skex_fw_rule_save(rule, saved);
	list_for_each_entry(b, &rule->branches, node)
		prev[nprev++] = b;
	INIT_LIST_HEAD(&rule->branches);
	for (i = 0; i < nprev; i++)
		INIT_LIST_HEAD(&prev[i]->node);
	rule->type = spec->type;
	rule->def_port = spec->def_port;
	if (spec->type == SKEX_FW_CONTENT) {
		rule->timeout_ms = spec->timeout_ms;
		rule->window = spec->window;
		rule->until = spec->until;
		rule->delim_len = spec->until == SKEX_FC_UNTIL_DELIM ?
				  spec->delim_len : 0;
		memcpy(rule->delim, spec->delim, rule->delim_len);
	} else {
		skex_fw_rule_defaults(rule);
	}
	for (i = 0; i < spec->n; i++) {
		b = rp[i].b;
		skex_fw_branch_cond_copy(&rp[i].old, b);
		skex_fw_branch_from_spec(b, spec->type, &spec->br[i],
					 rp[i].pat);
		/* creation order is the new order: ties, and the tab's search */
		b->seq = ++rule->next_seq;
		b->rule = rule;
		list_add_tail(&b->node, &rule->branches);
		rule->name_max = max(rule->name_max,
				     skex_fw_branch_number(b->name));
	}
	rule->nbranches = spec->n;

	err = __skex_fw_rule_commit(rule, GFP_KERNEL_ACCOUNT);
	if (err) {
		/* nothing was published: the old settings and list back */
		for (i = 0; i < spec->n; i++) {
			b = rp[i].b;
			list_del_init(&b->node);
			skex_fw_branch_cond_copy(b, &rp[i].old);
		}
		for (i = 0; i < nprev; i++)
			list_add_tail(&prev[i]->node, &rule->branches);
		skex_fw_rule_restore(rule, saved);
		for (i = 0; i < spec->n; i++) {
			kfree(rp[i].pat);
			if (spec->br[i].made)
				kfree(rp[i].b);
			else
				rp[i].b->rule = rule;
		}
		goto out;
	}

	/* published: the old patterns and the branches not kept go */
	for (i = 0; i < spec->n; i++)
		skex_fw_pat_retire(rp[i].old.pat);
	for (i = 0; i < nprev; i++) {
		b = prev[i];
		if (!list_empty(&b->node))
			continue;	/* kept: on the rule's list again */
		b->rule = NULL;
		list_add_tail(&b->node, gone);
	}
	if (rule->lsn)
		skex_fw_listen_kick(rule->lsn);
	pr_debug("rule %u replaced: %u branches\n", rule->port, spec->n);

out:
	kvfree(rp);
	kvfree(prev);
	kfree(saved);
	return err;
}

/* ---- namespaces and module ---- */

int skex_forward_net_init(struct skex_net *sn)
{
	struct skex_fw_net *fw;

	fw = kzalloc(sizeof(*fw), GFP_KERNEL);
	if (!fw)
		return -ENOMEM;
	fw->sn = sn;
	xa_init(&fw->rules);
	sn->fw = fw;
	return 0;
}

void skex_forward_net_exit(struct skex_net *sn)
{
	struct skex_fw_net *fw = sn->fw;
	struct skex_fw_branch *b, *tmp;
	struct skex_fw_rule *rule;
	unsigned long port;

	if (!fw)
		return;
	/*
	 * A namespace that is going has no user socket left to hand
	 * connections to; at module unload it is alive and they go to the
	 * default port.
	 */
	WRITE_ONCE(fw->dying, !check_net(sn->net));
	mutex_lock(&sn->config_mutex);
	xa_for_each(&fw->rules, port, rule) {
		skex_fw_rule_delete(rule);
		/* mkdir-made ones are their directories', which pin the module */
		if (!rule->kernel_made)
			continue;
		list_for_each_entry_safe(b, tmp, &rule->branches, node) {
			list_del_init(&b->node);
			skex_fw_branch_put(b);
		}
		skex_fw_rule_put(rule);
	}
	mutex_unlock(&sn->config_mutex);
	xa_destroy(&fw->rules);
	sn->fw = NULL;
	kfree(fw);
}

int skex_forward_init(void)
{
	skex_fw_wq = alloc_workqueue("skex_fw", WQ_UNBOUND, 0);
	return skex_fw_wq ? 0 : -ENOMEM;
}

void skex_forward_exit(void)
{
	destroy_workqueue(skex_fw_wq);
	/* pending call_rcu() callbacks are module text */
	rcu_barrier();
}
