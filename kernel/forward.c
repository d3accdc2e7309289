// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The forwarding engine's control plane (docs/forwarding.md): rules and
 * branches made, edited and deleted under skex_net.config_mutex, the
 * immutable snapshot of each rule (struct skex_fw_tab) built and published
 * with RCU, and rules enabled and disabled. The data path that classifies
 * connections and hands them off is forward_classify.c.
 */
#include "skex.h"
#include "compat.h"
#include "forward.h"
#include "forward_classify.h"

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

/* setsockopt() adds to rules of more branches build their snapshot lazily */
#define SKEX_FW_LAZY_MIN	32

struct workqueue_struct *skex_fw_wq;

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

int skex_fw_seq_cmp(const void *key, const void *elt)
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
	return __skex_fw_rule_commit(rule, SKEX_GFP_CONFIG);
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
void skex_fw_rule_fresh(struct skex_fw_rule *rule)
{
	struct mutex *lock = &rule->fw->sn->config_mutex;

	if (!READ_ONCE(rule->stale) || !mutex_trylock(lock))
		return;
	if (rule->stale && !rule->deleted)
		__skex_fw_rule_commit(rule, GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
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
	if (fw->nrules >= READ_ONCE(fw->sn->max_rules))
		return ERR_PTR(-ENOSPC);
	rule = kzalloc(sizeof(*rule), SKEX_GFP_CONFIG);
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
	err = xa_err(xa_store(&fw->rules, port, rule, SKEX_GFP_CONFIG));
	if (err)
		goto err;
	fw->nrules++;
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

/* Disable @rule; its listener joins @batch (skex_fw_listen_close_batch()). */
static void skex_fw_rule_disable(struct skex_fw_rule *rule,
				 struct list_head *batch)
{
	struct skex_fw_lsn *lsn = rule->lsn;

	skex_fw_assert_locked(rule->fw);
	rule->lsn = NULL;
	rule->enabled = false;
	skex_fw_listen_stop(lsn, batch);
	pr_debug("rule %u disabled\n", rule->port);
}

int skex_fw_rule_enable(struct skex_fw_rule *rule, bool on)
{
	struct skex_fw_lsn *lsn;
	LIST_HEAD(batch);

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
	skex_fw_rule_disable(rule, &batch);
	skex_fw_listen_close_batch(&batch);
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
	skex_fw_rules_delete(&rule, 1);
}

/*
 * skex_fw_rule_delete() of @n rules at once: their listeners close after
 * one grace period, not one each. O(n + their branches).
 */
void skex_fw_rules_delete(struct skex_fw_rule **rules, unsigned int n)
{
	struct skex_fw_branch *b;
	struct skex_fw_rule *rule;
	unsigned int i;
	LIST_HEAD(batch);

	for (i = 0; i < n; i++) {
		rule = rules[i];
		skex_fw_assert_locked(rule->fw);
		if (rule->deleted)
			continue;
		if (rule->enabled)
			skex_fw_rule_disable(rule, &batch);
		rule->deleted = true;
		xa_erase(&rule->fw->rules, rule->port);
		rule->fw->nrules--;
		rule->fw->nbranches -= rule->nbranches;
		list_for_each_entry(b, &rule->branches, node)
			b->rule = NULL;
		/* The classifier goes with the listener: nothing to republish. */
		pr_debug("rule %u deleted\n", rule->port);
		cond_resched();
	}
	skex_fw_listen_close_batch(&batch);
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
	if (rule->nbranches >= SKEX_FW_BRANCHES_MAX ||
	    rule->fw->nbranches >= READ_ONCE(rule->fw->sn->max_branches))
		return ERR_PTR(-ENOSPC);
	b = kzalloc(sizeof(*b), SKEX_GFP_CONFIG);
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
	rule->fw->nbranches++;
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
	rule->fw->nbranches--;
	b->rule = NULL;
	/* The old tab must go: it points to the branch. */
	__skex_fw_rule_commit(rule, GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
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
	rule->fw->nbranches -= rule->nbranches;
	rule->nbranches = 0;
	__skex_fw_rule_commit(rule, GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
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
	if (!refcount_dec_and_test(&b->ref))
		return;
	/* every path takes it off its rule's list first */
	WARN_ON_ONCE(!list_empty(&b->node));
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

	pat = kmalloc(struct_size(pat, data, len), SKEX_GFP_CONFIG);
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
 * branches with one name or condition, -ENOSPC past the namespace's
 * max_branches, -ENOMEM, -ENODEV for a deleted rule.
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
	/* the namespace's limit counts the rule's new branches, not its old */
	if (spec->n > rule->nbranches &&
	    rule->fw->nbranches + (spec->n - rule->nbranches) >
	    READ_ONCE(rule->fw->sn->max_branches))
		return -ENOSPC;

	/* the list's length itself: what is copied must fit */
	list_for_each_entry(b, &rule->branches, node)
		nprev++;
	saved = kmalloc(sizeof(*saved), GFP_KERNEL);
	prev = kvmalloc_array(max(nprev, 1U), sizeof(*prev),
			      GFP_KERNEL_ACCOUNT);
	rp = skex_fw_replacing_alloc(rule, spec);
	if (!saved || !prev || !rp) {
		err = -ENOMEM;
		goto out;
	}

	/* the new rule, in place of the old one's settings */
	skex_fw_rule_save(rule, saved);
	nprev = 0;
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
	rule->fw->nbranches += spec->n;
	rule->fw->nbranches -= rule->nbranches;
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
		rule->fw->nbranches -= spec->n;
		skex_fw_rule_restore(rule, saved);
		rule->fw->nbranches += rule->nbranches;
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

	fw = kzalloc(sizeof(*fw), GFP_KERNEL_ACCOUNT);
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
	struct skex_fw_rule *rule, **rules;
	unsigned int i, n;

	if (!fw)
		return;
	/*
	 * A namespace that is going has no user socket left to hand
	 * connections to; at module unload it is alive and they go to the
	 * default port.
	 */
	WRITE_ONCE(fw->dying, !check_net(sn->net));
	mutex_lock(&sn->config_mutex);
	/* cannot fail (__GFP_NOFAIL); each holds a reference */
	skex_fw_rules_of_type(fw, 0, &rules, &n);
	skex_fw_rules_delete(rules, n);
	for (i = 0; i < n; i++) {
		rule = rules[i];
		/* mkdir-made ones are their directories', which pin the module */
		if (rule->kernel_made) {
			list_for_each_entry_safe(b, tmp, &rule->branches, node) {
				list_del_init(&b->node);
				skex_fw_branch_put(b);
			}
			skex_fw_rule_put(rule);
		}
		skex_fw_rule_put(rule);
		cond_resched();
	}
	kvfree(rules);
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
