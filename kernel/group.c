// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Socket groups, the control plane (docs/groups.md): groups made, edited
 * and deleted, all under skex_net.config_mutex. Each port of a group is
 * published in the port table (port.c), in skex_port.accept_group or
 * skex_port.output_group, where the data path (group_throttle.c) finds it
 * under RCU.
 */
#include "skex.h"
#include "group.h"
#include "group_throttle.h"
#include "hook.h"

#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/xarray.h>

/**
 * struct skex_group_net - the groups of one namespace
 * @groups: struct skex_group by gid (an allocating xarray: the lowest free
 *	gid is found in O(log n)), written under config_mutex
 * @count: how many there are (bounded by skex_net.max_groups)
 */
struct skex_group_net {
	struct xarray groups;
	unsigned int count;
};

static bool skex_type_accept(u16 type)
{
	return type == SKEX_ACCEPT_ABSOLUTE || type == SKEX_ACCEPT_RATIO;
}

bool skex_group_accept_type(u16 type)
{
	return skex_type_accept(type);
}

bool skex_group_type_valid(u16 type)
{
	return type >= SKEX_ACCEPT_ABSOLUTE && type <= SKEX_OUTPUT_ABSOLUTE_FTP;
}

/* The names configfs reads and writes, and /proc shows ("" for none yet). */
const char *const skex_group_type_names[SKEX_GROUP_TYPES] = {
	[0] = "",
	[SKEX_ACCEPT_ABSOLUTE] = "accept_rate",
	[SKEX_ACCEPT_RATIO] = "accept_ratio",
	[SKEX_OUTPUT_ABSOLUTE] = "output_rate",
	[SKEX_OUTPUT_ABSOLUTE_FTP] = "output_rate_ftp",
};

/**
 * skex_group_quota_str - a quota as configfs and /proc read it back
 * @buf: filled, NUL-terminated
 * @len: its size (SKEX_QUOTA_LEN is enough)
 * @type: the group's type
 * @quota: thousandths for the accept types ("12.5", "7"), bytes per
 *	second for the output types
 *
 * Return: the length written.
 */
int skex_group_quota_str(char *buf, size_t len, u16 type, u32 quota)
{
	u32 frac = quota % 1000;
	unsigned int digits = 3;

	if (!skex_type_accept(type))
		return scnprintf(buf, len, "%u", quota);
	while (frac && !(frac % 10)) {
		frac /= 10;
		digits--;
	}
	if (frac)
		return scnprintf(buf, len, "%u.%0*u", quota / 1000, digits,
				 frac);
	return scnprintf(buf, len, "%u", quota / 1000);
}

static struct skex_group_port __rcu **skex_slot(struct skex_port *p, u16 type)
{
	return skex_type_accept(type) ? &p->accept_group : &p->output_group;
}

static atomic_t *skex_kind_count(u16 type)
{
	return skex_type_accept(type) ? &skex_group_nr_accept :
					&skex_group_nr_output;
}

/* ---- configuration ---- */

static struct skex_group_net *skex_gn(struct skex_net *sn)
{
	return sn->groups;
}

static struct skex_group *skex_group_find(struct skex_net *sn, u16 gid)
{
	lockdep_assert_held(&sn->config_mutex);
	return xa_load(&skex_gn(sn)->groups, gid);
}

static struct skex_group_port *skex_group_find_port(struct skex_group *g, u16 port)
{
	struct skex_group_port *gp;

	list_for_each_entry(gp, &g->ports, node)
		if (gp->num == port)
			return gp;
	return NULL;
}

/**
 * skex_group_check - validate a group description
 * @spec: the description
 * @complete: a group made in one go (sockopt), not one being built in
 *	configfs: it needs a type, the right number of ports and quotas
 *
 * Return: 0 or -EINVAL.
 */
int skex_group_check(const struct skex_group_spec *spec, bool complete)
{
	unsigned int i, j;

	if (spec->nports > SKEX_GROUP_PORTS_MAX)
		return -EINVAL;
	if (!spec->type)
		return !complete && !spec->nports ? 0 : -EINVAL;
	if (!skex_group_type_valid(spec->type))
		return -EINVAL;
	if (spec->type != SKEX_ACCEPT_RATIO && spec->nports > 1)
		return -EINVAL;
	if (complete && (!spec->nports ||
			 (spec->type == SKEX_ACCEPT_RATIO && spec->nports < 2)))
		return -EINVAL;

	for (i = 0; i < spec->nports; i++) {
		const struct skex_group_port_spec *ps = &spec->ports[i];

		if (!ps->port || (complete && !ps->set))
			return -EINVAL;
		if (ps->burst < 1 || ps->burst > SKEX_BURST_MAX ||
		    (spec->type != SKEX_ACCEPT_ABSOLUTE &&
		     ps->burst != SKEX_BURST_DEFAULT))
			return -EINVAL;
		if (ps->set && spec->type == SKEX_ACCEPT_RATIO && !ps->quota)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (spec->ports[j].port == ps->port)
				return -EINVAL;
	}
	return 0;
}

/*
 * The demand hooks a group port of @type needs: poll for all, accept for
 * accept groups, the sends for output, the receive for FTP (which learns
 * there which process serves a control connection).
 */
static unsigned int skex_group_hooks(u16 type)
{
	unsigned int mask = BIT(SKEX_DEMAND_GROUPS);

	if (skex_type_accept(type))
		mask |= BIT(SKEX_DEMAND_ACCEPT);
	else
		mask |= BIT(SKEX_DEMAND_OUTPUT);
	if (type == SKEX_OUTPUT_ABSOLUTE_FTP)
		mask |= BIT(SKEX_DEMAND_FTP);
	return mask;
}

/*
 * A port for @g, not published yet. It holds the demand hooks of its type
 * (skex_group_hooks()) from now until it is unpublished or discarded.
 * Return: the port or an ERR_PTR().
 */
static struct skex_group_port *skex_group_port_alloc(struct skex_group *g,
						     struct skex_port *port,
						     u16 type)
{
	struct skex_group_port *gp = kzalloc(sizeof(*gp), SKEX_GFP_CONFIG);
	int err;

	if (!gp)
		return ERR_PTR(-ENOMEM);
	err = skex_hooks_demand_get(skex_group_hooks(type));
	if (err) {
		kfree(gp);
		return ERR_PTR(err);
	}
	gp->group = g;
	gp->port = port;
	gp->num = port->port;
	gp->type = type;
	refcount_set(&gp->ref, 1);
	INIT_LIST_HEAD(&gp->sleepers);
	atomic64_set(&gp->throttled, 0);
	return gp;
}

/* A port skex_group_port_alloc() made that was never published. */
static void skex_group_port_discard(struct skex_group_port *gp)
{
	if (!gp)
		return;
	skex_hooks_demand_put(skex_group_hooks(gp->type));
	kfree(gp);
}

/*
 * Take @gp out of the data path, under the group's lock: no call finds it
 * any more, and calls that hold it go on with the port published in its
 * place (skex_group_port_succeed(): a type change, done under the same
 * lock hold, so that every call finds one port or the other), or through
 * unthrottled if none was. Its sleepers are woken (its pollers are the
 * caller's to wake). It moves to @gone, for skex_group_port_release().
 */
static void skex_group_port_retire(struct skex_net *sn,
				   struct skex_group_port *gp,
				   struct list_head *gone, u64 now)
{
	struct skex_group_port __rcu **slot = skex_slot(gp->port, gp->type);
	struct skex_group_port *cur;

	lockdep_assert_held(&sn->config_mutex);
	lockdep_assert_held(&gp->group->lock);
	cur = rcu_dereference_protected(*slot,
					lockdep_is_held(&sn->config_mutex));
	if (cur == gp)
		RCU_INIT_POINTER(*slot, NULL);
	else if (!WARN_ON_ONCE(!cur || cur->group != gp->group))
		skex_group_port_succeed(gp, cur, now);
	gp->dead = true;
	list_move_tail(&gp->node, gone);
	skex_group_port_wake_sleepers(gp);
}

/* The rest of retiring @gp, unlocked: the group's reference dropped. */
static void skex_group_port_release(struct skex_group_port *gp)
{
	atomic_dec(skex_kind_count(gp->type));
	if (gp->type == SKEX_OUTPUT_ABSOLUTE_FTP) {
		atomic_dec(&skex_group_nr_ftp);
		skex_ftp_forget(gp, NULL);
	}
	skex_port_unuse(gp->port);
	skex_hooks_demand_put(skex_group_hooks(gp->type));
	skex_group_port_put(gp);
}

/* skex_group_port_release() for every port on @gone. */
static void skex_group_ports_release(struct list_head *gone)
{
	struct skex_group_port *gp, *tmp;

	list_for_each_entry_safe(gp, tmp, gone, node) {
		list_del(&gp->node);
		skex_group_port_release(gp);
	}
}

/*
 * What publishing @gp takes, before skex_group_port_publish() makes it
 * visible under the group's lock: nothing of it can fail.
 */
static void skex_group_port_hold(struct skex_group_port *gp)
{
	refcount_inc(&gp->group->ref);
	skex_port_use(gp->port);
	if (gp->type == SKEX_OUTPUT_ABSOLUTE_FTP)
		atomic_inc(&skex_group_nr_ftp);
	atomic_inc(skex_kind_count(gp->type));
}

/* @gp goes into the port table, in place of whatever port was there. */
static void skex_group_port_publish(struct skex_group_port *gp)
{
	lockdep_assert_held(&gp->group->lock);
	list_add_tail(&gp->node, &gp->group->ports);
	rcu_assign_pointer(*skex_slot(gp->port, gp->type), gp);
}

/*
 * Make @g what @spec says, all or nothing: ports that stay keep their
 * state (tokens, pass, counters); a changed type starts afresh, but for an
 * output bucket, which the port of the new type takes over. The new ports
 * are published before the old ones are retired, under one hold of the
 * group's lock: no call finds the port table empty in between.
 */
static int skex_group_apply(struct skex_net *sn, struct skex_group *g,
			    const struct skex_group_spec *spec)
{
	struct skex_group_port **keep, **fresh, *gp, *tmp;
	bool same = g->type == spec->type;
	unsigned int i, n = spec->nports;
	LIST_HEAD(gone);
	u64 now;
	int err = 0;

	lockdep_assert_held(&sn->config_mutex);
	keep = kcalloc(2 * SKEX_GROUP_PORTS_MAX, sizeof(*keep), SKEX_GFP_CONFIG);
	if (!keep)
		return -ENOMEM;
	fresh = keep + SKEX_GROUP_PORTS_MAX;

	list_for_each_entry(gp, &g->ports, node)
		gp->mark = false;
	for (i = 0; i < n; i++) {
		u16 num = spec->ports[i].port;
		struct skex_port *port;
		struct skex_group_port *cur;

		keep[i] = same ? skex_group_find_port(g, num) : NULL;
		if (keep[i]) {
			keep[i]->mark = true;
			continue;
		}
		port = skex_port_get(sn, num, SKEX_GFP_CONFIG);
		if (!port) {
			err = -ENOMEM;
			goto out;
		}
		cur = rcu_dereference_protected(*skex_slot(port, spec->type),
						lockdep_is_held(&sn->config_mutex));
		if (cur && cur->group != g) {
			err = -EEXIST;
			goto out;
		}
		cur = skex_group_port_alloc(g, port, spec->type);
		if (IS_ERR(cur)) {
			err = PTR_ERR(cur);
			goto out;
		}
		fresh[i] = cur;
	}

	/* Nothing can fail from here on. */
	for (i = 0; i < n; i++)
		if (fresh[i])
			skex_group_port_hold(fresh[i]);
	now = ktime_get_ns();
	spin_lock_bh(&g->lock);
	if (!same)
		g->vtime = SKEX_VTIME_INITIAL;
	g->type = spec->type;
	for (i = 0; i < n; i++) {
		gp = keep[i] ? keep[i] : fresh[i];
		skex_group_port_configure(gp, &spec->ports[i], now);
		if (keep[i])
			continue;
		gp->mark = true;
		skex_group_port_publish(gp);
		fresh[i] = NULL;
	}
	list_for_each_entry_safe(gp, tmp, &g->ports, node)
		if (!gp->mark)
			skex_group_port_retire(sn, gp, &gone, now);
	spin_unlock_bh(&g->lock);
	/* the sleepers and pollers of the old ports and of the new */
	skex_group_wake(g);
	skex_group_ports_release(&gone);
out:
	for (i = 0; i < n; i++)
		skex_group_port_discard(fresh[i]);
	kfree(keep);
	return err;
}

static struct skex_group *skex_group_alloc(struct skex_net *sn, u16 gid)
{
	struct skex_group *g = kzalloc(sizeof(*g), SKEX_GFP_CONFIG);

	if (!g)
		return NULL;
	g->sn = sn;
	g->gid = gid;
	refcount_set(&g->ref, 1);
	spin_lock_init(&g->lock);
	INIT_LIST_HEAD(&g->ports);
	hash_init(g->pollers);
	hrtimer_init(&g->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	g->timer.function = skex_group_timer;
	return g;
}

static void skex_group_destroy(struct skex_net *sn, struct skex_group *g)
{
	struct skex_group_port *gp, *tmp;
	struct skex_poller *list;
	LIST_HEAD(gone);

	lockdep_assert_held(&sn->config_mutex);
	xa_erase(&skex_gn(sn)->groups, g->gid);
	skex_gn(sn)->count--;
	spin_lock_bh(&g->lock);
	g->dead = true;
	spin_unlock_bh(&g->lock);
	hrtimer_cancel(&g->timer);
	spin_lock_bh(&g->lock);
	list_for_each_entry_safe(gp, tmp, &g->ports, node)
		skex_group_port_retire(sn, gp, &gone, 0);
	list = skex_pollers_take(g, NULL);
	spin_unlock_bh(&g->lock);
	skex_pollers_release(list);
	skex_group_ports_release(&gone);
	pr_debug("group %u destroyed\n", g->gid);
	skex_group_put(g);
}

/**
 * skex_group_add - make a group
 * @sn: the namespace
 * @gid: the id to use, or 0 to take the lowest free one (written back)
 * @spec: what it is (checked by the caller with skex_group_check())
 *
 * O(log n) in the number of groups of the namespace.
 *
 * Return: 0, -EEXIST (the gid, or a port in a group of that kind), -ENOSPC
 * (no free gid, or the namespace has net.skex.max_groups) or -ENOMEM.
 */
int skex_group_add(struct skex_net *sn, u16 *gid,
		   const struct skex_group_spec *spec)
{
	struct skex_group_net *gn = skex_gn(sn);
	struct skex_group *g;
	u32 id = *gid;
	int err;

	lockdep_assert_held(&sn->config_mutex);
	if (id && xa_load(&gn->groups, id))
		return -EEXIST;
	if (gn->count >= READ_ONCE(sn->max_groups))
		return -ENOSPC;
	g = skex_group_alloc(sn, 0);
	if (!g)
		return -ENOMEM;
	/* readers of the xarray hold config_mutex: none sees it half made */
	if (id)
		err = xa_insert(&gn->groups, id, g, SKEX_GFP_CONFIG);
	else
		err = xa_alloc(&gn->groups, &id, g,
			       XA_LIMIT(1, SKEX_GID_MAX), SKEX_GFP_CONFIG);
	if (err) {
		skex_group_put(g);
		return err == -EBUSY ? (id ? -EEXIST : -ENOSPC) : err;
	}
	g->gid = id;
	err = skex_group_apply(sn, g, spec);
	if (err) {
		xa_erase(&gn->groups, id);
		skex_group_put(g);
		return err;
	}
	gn->count++;
	*gid = id;
	pr_debug("group %u created\n", g->gid);
	return 0;
}

/**
 * skex_group_edit - replace what a group is, at once
 * @sn: the namespace
 * @gid: the group
 * @spec: its new type, ports and quotas (checked by the caller)
 *
 * Return: 0, -ENOENT, -EEXIST or -ENOMEM; nothing changed on error.
 */
int skex_group_edit(struct skex_net *sn, u16 gid,
		    const struct skex_group_spec *spec)
{
	struct skex_group *g = skex_group_find(sn, gid);

	if (!g)
		return -ENOENT;
	return skex_group_apply(sn, g, spec);
}

/**
 * skex_group_del - delete a group and release its sleepers
 * @sn: the namespace
 * @gid: the group
 *
 * Return: 0 or -ENOENT.
 */
int skex_group_del(struct skex_net *sn, u16 gid)
{
	struct skex_group *g = skex_group_find(sn, gid);

	if (!g)
		return -ENOENT;
	skex_group_destroy(sn, g);
	return 0;
}

/**
 * skex_group_del_port - take a port out of a group
 * @sn: the namespace
 * @gid: the group
 * @port: the port
 *
 * The other ports keep their configuration and state. Allocates nothing,
 * so that configfs's rmdir, which cannot fail, never leaves the port in the
 * group.
 *
 * Return: 0 or -ENOENT.
 */
int skex_group_del_port(struct skex_net *sn, u16 gid, u16 port)
{
	struct skex_group *g = skex_group_find(sn, gid);
	struct skex_group_port *gp = g ? skex_group_find_port(g, port) : NULL;
	LIST_HEAD(gone);

	if (!gp)
		return -ENOENT;
	spin_lock_bh(&g->lock);
	skex_group_port_retire(sn, gp, &gone, 0);
	spin_unlock_bh(&g->lock);
	/* as an edit does: the other ports' callers may go on */
	skex_group_wake(g);
	skex_group_ports_release(&gone);
	return 0;
}

/**
 * skex_group_flush - delete every group of a namespace
 * @sn: the namespace
 *
 * O(n): one walk, rescheduling as it goes.
 */
void skex_group_flush(struct skex_net *sn)
{
	struct skex_group *g;
	unsigned long gid;

	lockdep_assert_held(&sn->config_mutex);
	xa_for_each(&skex_gn(sn)->groups, gid, g) {
		skex_group_destroy(sn, g);
		cond_resched();
	}
}

/**
 * skex_group_get - describe a group
 * @sn: the namespace
 * @gid: the group
 * @spec: filled in
 *
 * Return: 0 or -ENOENT.
 */
int skex_group_get(struct skex_net *sn, u16 gid, struct skex_group_spec *spec)
{
	struct skex_group *g = skex_group_find(sn, gid);
	struct skex_group_port *gp;
	unsigned int n = 0;

	if (!g)
		return -ENOENT;
	memset(spec, 0, sizeof(*spec));
	spec->type = g->type;
	list_for_each_entry(gp, &g->ports, node) {
		struct skex_group_port_spec *ps = &spec->ports[n++];

		ps->port = gp->num;
		ps->nonblock = gp->nonblock;
		ps->set = gp->set;
		ps->quota = gp->quota;
		ps->burst = gp->burst;
	}
	spec->nports = n;
	return 0;
}

/**
 * skex_group_throttled - a port's throttled counter
 * @sn: the namespace
 * @gid: the group
 * @port: the port
 * @count: set to the counter
 *
 * Return: 0 or -ENOENT.
 */
int skex_group_throttled(struct skex_net *sn, u16 gid, u16 port, u64 *count)
{
	struct skex_group *g = skex_group_find(sn, gid);
	struct skex_group_port *gp = g ? skex_group_find_port(g, port) : NULL;

	if (!gp)
		return -ENOENT;
	*count = atomic64_read(&gp->throttled);
	return 0;
}

/**
 * skex_group_list - the gids of a namespace, ascending
 * @sn: the namespace
 * @gids: filled with up to @max of them
 * @max: room in @gids
 *
 * Return: how many groups there are (may be more than @max).
 */
int skex_group_list(struct skex_net *sn, u16 *gids, unsigned int max)
{
	struct skex_group *g;
	unsigned long gid;
	unsigned int n = 0;

	lockdep_assert_held(&sn->config_mutex);
	if (!max)
		return skex_gn(sn)->count;
	xa_for_each(&skex_gn(sn)->groups, gid, g) {
		if (n < max)
			gids[n] = g->gid;
		n++;
		if (n >= max)
			break;
	}
	return max(n, skex_gn(sn)->count);
}

int skex_group_net_init(struct skex_net *sn)
{
	struct skex_group_net *gn = kzalloc(sizeof(*gn), GFP_KERNEL_ACCOUNT);

	if (!gn)
		return -ENOMEM;
	xa_init_flags(&gn->groups, XA_FLAGS_ALLOC1);
	sn->groups = gn;
	return 0;
}

/*
 * The namespace goes, or the module: no wrapper runs any more (hook.c
 * drained them at unload; a dying namespace has no sockets left).
 */
void skex_group_net_exit(struct skex_net *sn)
{
	mutex_lock(&sn->config_mutex);
	skex_group_flush(sn);
	mutex_unlock(&sn->config_mutex);
	xa_destroy(&sn->groups->groups);
	kfree(sn->groups);
	sn->groups = NULL;
}
