// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The setsockopt() commands of the forward engine, on struct tcp_fw_user
 * (uapi/linux/tcp_fw_user.h, docs/sockopt.md, docs/forwarding.md). sockopt.c has checked
 * CAP_NET_ADMIN and that optlen covers the structure. They act on the
 * caller's namespace, each under config_mutex, all or nothing, and say
 * what they changed (struct skex_change): in the initial namespace the
 * dispatcher has the mirror show it in configfs (mirror.c).
 *
 * Fields a command does not use are ignored: existing programs leave them
 * uninitialised.
 */
#include "skex.h"
#include "forward.h"

#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tcp_fw_user.h>
#include <linux/uaccess.h>
#include <net/ipv6.h>
#include <net/sock.h>

/*
 * One command's view of the caller's namespace. The address branches'
 * condition is in @family, @addr and @mask, from struct tcp_fw_user or
 * struct tcp_fw_addr6_user (then @u is made from the latter).
 */
struct skex_fw_call {
	struct skex_fw_net *fw;
	const struct tcp_fw_user *u;
	u8 *pattern;		/* content branches: copied from the caller */
	struct skex_change *chg;	/* what it changed */
	u8 family;
	struct in6_addr addr;
	struct in6_addr mask;
};

/* The command changed @what of rule @port (and branch @branch). */
static void skex_fw_so_changed(struct skex_fw_call *c, int what, u16 port,
			       const char *branch)
{
	c->chg->what = what;
	c->chg->id = port;
	if (branch)
		strscpy(c->chg->name, branch, sizeof(c->chg->name));
}

static int skex_fw_so_rule(struct skex_fw_call *c, struct skex_fw_rule **res)
{
	struct skex_fw_rule *rule;

	if (!c->u->port)	/* never a rule's: a bad value, not a missing rule */
		return -EINVAL;
	rule = skex_fw_rule_find(c->fw, c->u->port);
	if (!rule)
		return -ENOENT;
	if (rule->type != c->u->type)
		return -EINVAL;
	*res = rule;
	return 0;
}

static int skex_fw_so_add_rule(struct skex_fw_call *c)
{
	const struct tcp_fw_user *u = c->u;
	struct skex_fw_rule *rule;
	int err;

	if (!u->port || !u->def_port || u->def_port == u->port)
		return -EINVAL;

	mutex_lock(skex_fw_mutex(c->fw));
	rule = skex_fw_rule_create(c->fw, u->port, true);
	if (IS_ERR(rule)) {
		mutex_unlock(skex_fw_mutex(c->fw));
		return PTR_ERR(rule);
	}
	err = skex_fw_rule_set_type(rule, u->type);
	if (!err)
		err = skex_fw_rule_set_default(rule, u->def_port);
	if (!err)
		err = skex_fw_rule_enable(rule, true);
	if (err)
		skex_fw_rule_delete(rule);
	mutex_unlock(skex_fw_mutex(c->fw));
	if (err) {
		skex_fw_rule_put(rule);		/* the engine's */
		return err;
	}
	skex_fw_so_changed(c, SKEX_CHANGE_RULE, u->port, NULL);
	return 0;
}

/* Sets the branch's condition from the union member of its type. */
static int skex_fw_so_condition(struct skex_fw_call *c,
				struct skex_fw_branch *b)
{
	const struct tcp_fw_user *u = c->u;

	switch (u->type) {
	case TCP_DICE_FW:
		return skex_fw_branch_set_chance(b, u->u.dfb_u.redir_chance);
	case TCP_CONTENT_FW:
		return skex_fw_branch_set_pattern(b, c->pattern,
						  u->u.cfb_u.ptn_len);
	default:
		return skex_fw_branch_set_source(b, c->family, &c->addr,
						 &c->mask);
	}
}

static u16 skex_fw_so_redir(const struct tcp_fw_user *u)
{
	switch (u->type) {
	case TCP_DICE_FW:
		return u->u.dfb_u.redir_port;
	case TCP_CONTENT_FW:
		return u->u.cfb_u.redir_port;
	default:
		return u->u.afb_u.redir_port;
	}
}

/* Take back a branch the command added. Under config_mutex. */
static void skex_fw_so_undo_branch(struct skex_fw_branch *b)
{
	struct skex_fw_rule *rule = b->rule;

	lockdep_assert_held(skex_fw_mutex(rule->fw));

	skex_fw_branch_delete(b);
	/* a failed command leaves no trace, not even a used name */
	if (rule->next_seq == b->seq)
		rule->next_seq--;
	skex_fw_branch_put(b);			/* the engine's */
}

static int skex_fw_so_add_branch(struct skex_fw_call *c)
{
	struct skex_fw_branch *b;
	struct skex_fw_rule *rule;
	char name[SKEX_FW_NAME_MAX];
	u64 seq;
	int err;

	if (!skex_fw_so_redir(c->u))
		return -EINVAL;

	mutex_lock(skex_fw_mutex(c->fw));
	err = skex_fw_so_rule(c, &rule);
	if (err)
		goto unlock;
	/* br<N> after the rule's last branch, past names taken by mkdir */
	seq = rule->next_seq;
	do
		snprintf(name, sizeof(name), "br%llu", ++seq);
	while (skex_fw_branch_find(rule, name));
	b = skex_fw_branch_create(rule, name, true);
	if (IS_ERR(b)) {
		err = PTR_ERR(b);
		goto unlock;
	}
	/* the port last: the branch is used from then on */
	skex_fw_rule_lazy(rule, true);
	err = skex_fw_so_condition(c, b);
	if (!err)
		err = skex_fw_branch_set_port(b, skex_fw_so_redir(c->u));
	skex_fw_rule_lazy(rule, false);
	if (err)
		skex_fw_so_undo_branch(b);
	else
		skex_fw_so_changed(c, SKEX_CHANGE_BRANCH, c->u->port, name);
unlock:
	mutex_unlock(skex_fw_mutex(c->fw));
	return err;
}

/* Whether @b is the branch the caller describes. */
static bool skex_fw_so_same(struct skex_fw_call *c, struct skex_fw_branch *b)
{
	const struct tcp_fw_user *u = c->u;
	unsigned int i;

	if (!skex_fw_branch_complete(b) || b->port != skex_fw_so_redir(u))
		return false;
	switch (u->type) {
	case TCP_DICE_FW:
		return b->chance == u->u.dfb_u.redir_chance;
	case TCP_CONTENT_FW:
		return b->pat->len == u->u.cfb_u.ptn_len &&
		       !memcmp(b->pat->data, c->pattern, b->pat->len);
	default:
		if (b->family != c->family || !ipv6_addr_equal(&b->mask, &c->mask))
			return false;
		for (i = 0; i < 4; i++)
			if (b->addr.s6_addr32[i] !=
			    (c->addr.s6_addr32[i] & c->mask.s6_addr32[i]))
				return false;
		return true;
	}
}

/*
 * Branches that the command took out of the engine, on @list, each with a
 * reference of ours: the references go, the engine's too.
 */
static void skex_fw_so_forget_branches(struct list_head *list)
{
	struct skex_fw_branch *b, *tmp;

	list_for_each_entry_safe(b, tmp, list, node) {
		list_del_init(&b->node);
		if (b->kernel_made)
			skex_fw_branch_put(b);	/* the engine's */
		skex_fw_branch_put(b);		/* ours */
	}
}

/* A reference of ours to each branch on @list. Under config_mutex. */
static void skex_fw_so_hold_branches(struct skex_fw_net *fw,
				     struct list_head *list)
{
	struct skex_fw_branch *b;

	lockdep_assert_held(skex_fw_mutex(fw));

	list_for_each_entry(b, list, node)
		skex_fw_branch_get(b);
}

static int skex_fw_so_del_branch(struct skex_fw_call *c)
{
	struct skex_fw_branch *b, *found = NULL;
	struct skex_fw_rule *rule;
	LIST_HEAD(gone);
	int err;

	mutex_lock(skex_fw_mutex(c->fw));
	err = skex_fw_so_rule(c, &rule);
	if (err)
		goto unlock;
	list_for_each_entry(b, &rule->branches, node) {
		if (skex_fw_so_same(c, b)) {
			found = b;
			break;
		}
	}
	if (found) {
		skex_fw_so_changed(c, SKEX_CHANGE_BRANCH, c->u->port,
				   found->name);
		skex_fw_branch_delete(found);
		list_add(&found->node, &gone);
		skex_fw_so_hold_branches(c->fw, &gone);
	} else {
		err = -ENOENT;
	}
unlock:
	mutex_unlock(skex_fw_mutex(c->fw));

	skex_fw_so_forget_branches(&gone);
	return err;
}

static int skex_fw_so_flush(struct skex_fw_call *c)
{
	struct skex_fw_rule *rule;
	LIST_HEAD(gone);
	int err;

	mutex_lock(skex_fw_mutex(c->fw));
	err = skex_fw_so_rule(c, &rule);
	if (!err) {
		skex_fw_rule_flush(rule, &gone);
		skex_fw_so_hold_branches(c->fw, &gone);
		skex_fw_so_changed(c, SKEX_CHANGE_RULE, c->u->port, NULL);
	}
	mutex_unlock(skex_fw_mutex(c->fw));

	skex_fw_so_forget_branches(&gone);
	return err;
}

static int skex_fw_so_edit(struct skex_fw_call *c)
{
	struct skex_fw_rule *rule;
	int err;

	mutex_lock(skex_fw_mutex(c->fw));
	err = skex_fw_so_rule(c, &rule);
	if (!err)
		err = skex_fw_rule_set_default(rule, c->u->def_port);
	mutex_unlock(skex_fw_mutex(c->fw));
	return err;
}

/*
 * Take @rule out of the engine, with a reference of ours to each of its
 * branches, which stay on its list. Under config_mutex.
 */
static void skex_fw_so_detach_rule(struct skex_fw_rule *rule)
{
	skex_fw_rule_delete(rule);
	skex_fw_so_hold_branches(rule->fw, &rule->branches);
}

/*
 * After skex_fw_so_detach_rule(): its references go, a reference of ours
 * to the rule too.
 */
static void skex_fw_so_forget_rule(struct skex_fw_rule *rule)
{
	skex_fw_so_forget_branches(&rule->branches);
	if (rule->kernel_made)
		skex_fw_rule_put(rule);		/* the engine's */
	skex_fw_rule_put(rule);			/* ours */
}

static int skex_fw_so_del_rule(struct skex_fw_call *c)
{
	struct skex_fw_rule **rules = NULL;
	struct skex_fw_rule *rule;
	unsigned int i, n = 0;
	int err;

	mutex_lock(skex_fw_mutex(c->fw));
	if (c->u->port) {
		err = skex_fw_so_rule(c, &rule);
		if (!err) {
			skex_fw_so_detach_rule(rule);
			skex_fw_rule_get(rule);	/* ours */
			skex_fw_so_changed(c, SKEX_CHANGE_RULE, rule->port,
					   NULL);
		}
		mutex_unlock(skex_fw_mutex(c->fw));
		if (!err)
			skex_fw_so_forget_rule(rule);
		return err;
	}

	/* port 0: every rule of the type, their listeners in one batch */
	err = skex_fw_rules_of_type(c->fw, c->u->type, &rules, &n);
	skex_fw_rules_delete(rules, n);
	for (i = 0; i < n; i++)
		skex_fw_so_hold_branches(c->fw, &rules[i]->branches);
	if (n)
		skex_fw_so_changed(c, SKEX_CHANGE_RULES, 0, NULL);
	mutex_unlock(skex_fw_mutex(c->fw));

	/* with the references skex_fw_rules_of_type() took */
	for (i = 0; i < n; i++) {
		skex_fw_so_forget_rule(rules[i]);
		cond_resched();
	}
	kvfree(rules);
	return err;
}

/* The pattern of a content branch, from the caller's pointer. */
static int skex_fw_so_pattern(struct skex_fw_call *c, sockptr_t optval)
{
	const struct content_fw_branch_user *cfb = &c->u->u.cfb_u;

	if (!cfb->ptn_len || cfb->ptn_len > TCP_FW_PATTERN_MAX)
		return -EINVAL;
	/* a nested pointer is a user pointer; in-kernel callers have none */
	if (sockptr_is_kernel(optval))
		return -EINVAL;
	c->pattern = memdup_user(cfb->pattern, cfb->ptn_len);
	if (IS_ERR(c->pattern)) {
		int err = PTR_ERR(c->pattern);

		c->pattern = NULL;
		return err;
	}
	return 0;
}

/*
 * An IPv6 or v4-mapped source and its mask as the engine takes them:
 * ::ffff:a.b.c.d with a mask of 96 + N bits is a.b.c.d/N.
 */
static int skex_fw_so_source6(struct skex_fw_call *c,
			      const struct in6_addr *src,
			      const struct in6_addr *mask)
{
	memset(&c->addr, 0, sizeof(c->addr));
	memset(&c->mask, 0, sizeof(c->mask));
	if (!ipv6_addr_v4mapped(src)) {
		c->family = AF_INET6;
		c->addr = *src;
		c->mask = *mask;
		return 0;
	}
	if (mask->s6_addr32[0] != U32_MAX || mask->s6_addr32[1] != U32_MAX ||
	    mask->s6_addr32[2] != U32_MAX)
		return -EINVAL;
	c->family = AF_INET;
	c->addr.s6_addr32[0] = src->s6_addr32[3];
	c->mask.s6_addr32[0] = mask->s6_addr32[3];
	return 0;
}

/* TCP_FW_{ADD,DEL}_BRANCH6: @u as the seed's command would have it. */
static int skex_fw_so_addr6(struct skex_fw_call *c, struct tcp_fw_user *u,
			    sockptr_t optval)
{
	struct tcp_fw_addr6_user a;

	if (copy_from_sockptr(&a, optval, sizeof(a)))
		return -EFAULT;
	if (a.type != TCP_ADDR_FW || a.reserved)
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	u->type = a.type;
	u->port = a.port;
	u->u.afb_u.redir_port = a.redir_port;
	return skex_fw_so_source6(c, &a.src, &a.src_mask);
}

/* What TCP_FW_REPLACE_RULE copied from the caller, freed at the end. */
struct skex_fw_so_replace {
	struct tcp_fw_replace_user r;
	struct skex_fw_rule_spec spec;
	struct tcp_fw_branch_user *ub;	/* the caller's branches */
	u8 *delim;
	u8 *patterns;			/* every pattern, one after another */
};

/* @len bytes a nested pointer of the caller's points to. */
static void *skex_fw_so_copy_user(u64 uptr, size_t len)
{
	void *p = kvmalloc(max_t(size_t, len, 1), GFP_KERNEL_ACCOUNT);

	if (!p)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(p, u64_to_user_ptr(uptr), len)) {
		kvfree(p);
		return ERR_PTR(-EFAULT);
	}
	return p;
}

/* A branch name: NUL-terminated, nothing after the NUL but NULs. */
static int skex_fw_so_name(const struct tcp_fw_branch_user *ub, char *name)
{
	size_t len = strnlen(ub->name, sizeof(ub->name));

	if (len == sizeof(ub->name) ||
	    memchr_inv(ub->name + len, 0, sizeof(ub->name) - len))
		return -EINVAL;
	memcpy(name, ub->name, len + 1);
	return 0;
}

/* One branch of the caller's into @bs; unused fields must be 0. */
static int skex_fw_so_branch(struct skex_fw_call *c, u16 type,
			     const struct tcp_fw_branch_user *ub,
			     struct skex_fw_branch_spec *bs)
{
	static const struct in6_addr zero;
	bool addr_set = memcmp(&ub->src, &zero, sizeof(zero)) ||
			memcmp(&ub->src_mask, &zero, sizeof(zero));
	int err;

	err = skex_fw_so_name(ub, bs->name);
	if (err)
		return err;
	if (ub->reserved || (ub->flags & ~TCP_FW_BRANCH_F_ALL))
		return -EINVAL;
	if (type != TCP_DICE_FW && ub->chance)
		return -EINVAL;
	if (type != TCP_CONTENT_FW &&
	    (ub->ptn_len || ub->flags || ub->offset || ub->pattern))
		return -EINVAL;
	if (type != TCP_ADDR_FW && addr_set)
		return -EINVAL;
	bs->port = ub->redir_port;
	bs->chance = ub->chance;
	bs->offset = SKEX_FC_ANY;
	switch (type) {
	case TCP_CONTENT_FW:
		if (!ub->ptn_len || ub->ptn_len > TCP_FW_PATTERN_MAX)
			return -EINVAL;
		if (!(ub->flags & TCP_FW_BRANCH_ANCHORED) && ub->offset)
			return -EINVAL;
		if (ub->offset >= SKEX_FW_WINDOW_MAX)
			return -ERANGE;
		if (ub->flags & TCP_FW_BRANCH_ANCHORED)
			bs->offset = ub->offset;
		bs->len = ub->ptn_len;
		break;
	case TCP_ADDR_FW:
		err = skex_fw_so_source6(c, &ub->src, &ub->src_mask);
		if (err)
			return err;
		bs->family = c->family;
		bs->addr = c->addr;
		bs->mask = c->mask;
		break;
	}
	return 0;
}

/* The content rule's settings of TCP_FW_REPLACE_RULE; else they are 0. */
static int skex_fw_so_replace_limits(struct skex_fw_so_replace *rep)
{
	const struct tcp_fw_replace_user *r = &rep->r;
	struct skex_fw_rule_spec *s = &rep->spec;

	if (r->type != TCP_CONTENT_FW)
		return r->until || r->timeout_ms || r->window ||
		       r->delim_len || r->delim ? -EINVAL : 0;
	s->timeout_ms = r->timeout_ms ?: SKEX_FW_TIMEOUT_DEF;
	s->window = r->window ?: SKEX_FW_WINDOW_DEF;
	switch (r->until) {
	case TCP_FW_UNTIL_PUSH:
		s->until = SKEX_FC_UNTIL_PUSH;
		break;
	case TCP_FW_UNTIL_WINDOW:
		s->until = SKEX_FC_UNTIL_WINDOW;
		break;
	case TCP_FW_UNTIL_DELIM:
		s->until = SKEX_FC_UNTIL_DELIM;
		break;
	default:
		return -EINVAL;
	}
	if (s->until != SKEX_FC_UNTIL_DELIM)
		return r->delim_len || r->delim ? -EINVAL : 0;
	if (!r->delim_len || r->delim_len > TCP_FW_PATTERN_MAX)
		return -EINVAL;
	rep->delim = skex_fw_so_copy_user(r->delim, r->delim_len);
	if (IS_ERR(rep->delim)) {
		int err = PTR_ERR(rep->delim);

		rep->delim = NULL;
		return err;
	}
	s->delim = rep->delim;
	s->delim_len = r->delim_len;
	return 0;
}

/*
 * Copy and check everything TCP_FW_REPLACE_RULE names: the header, the
 * delimiter, the branches and their patterns, each nested pointer with
 * the length the caller gave, all charged to the caller.
 */
static int skex_fw_so_replace_copy(struct skex_fw_call *c,
				   struct skex_fw_so_replace *rep,
				   sockptr_t optval)
{
	const struct tcp_fw_replace_user *r = &rep->r;
	struct skex_fw_rule_spec *s = &rep->spec;
	size_t total = 0;
	unsigned int i;
	int err;

	if (copy_from_sockptr(&rep->r, optval, sizeof(rep->r)))
		return -EFAULT;
	if (r->type < TCP_DICE_FW || r->type > TCP_ADDR_FW || !r->port ||
	    r->reserved)
		return -EINVAL;
	if (r->nbranches > TCP_FW_BRANCHES_MAX)
		return -E2BIG;
	/* nested pointers are user pointers; in-kernel callers have none */
	if (sockptr_is_kernel(optval))
		return -EINVAL;
	s->type = r->type;
	s->def_port = r->def_port;
	s->n = r->nbranches;
	err = skex_fw_so_replace_limits(rep);
	if (err)
		return err;

	rep->ub = skex_fw_so_copy_user(r->branches,
				       array_size(s->n, sizeof(*rep->ub)));
	if (IS_ERR(rep->ub)) {
		err = PTR_ERR(rep->ub);
		rep->ub = NULL;
		return err;
	}
	s->br = kvcalloc(max(s->n, 1U), sizeof(*s->br), GFP_KERNEL_ACCOUNT);
	if (!s->br)
		return -ENOMEM;
	for (i = 0; i < s->n; i++) {
		err = skex_fw_so_branch(c, r->type, &rep->ub[i], &s->br[i]);
		if (err)
			return err;
		total += s->br[i].len;
	}
	if (r->type != TCP_CONTENT_FW)
		return 0;
	rep->patterns = kvmalloc(max_t(size_t, total, 1), GFP_KERNEL_ACCOUNT);
	if (!rep->patterns)
		return -ENOMEM;
	for (i = 0, total = 0; i < s->n; i++) {
		struct skex_fw_branch_spec *bs = &s->br[i];

		if (copy_from_user(rep->patterns + total,
				   u64_to_user_ptr(rep->ub[i].pattern),
				   bs->len))
			return -EFAULT;
		bs->pattern = rep->patterns + total;
		total += bs->len;
	}
	return 0;
}

/*
 * TCP_FW_REPLACE_RULE: the engine swaps the rule in one step; the mirror
 * then shows the rule's branches as they are (initial namespace).
 */
static int skex_fw_so_replace(struct skex_fw_call *c, sockptr_t optval)
{
	struct skex_fw_so_replace *rep;
	struct skex_fw_rule *rule;
	LIST_HEAD(gone);
	int err;

	rep = kzalloc(sizeof(*rep), GFP_KERNEL_ACCOUNT);
	if (!rep)
		return -ENOMEM;
	err = skex_fw_so_replace_copy(c, rep, optval);
	if (err)
		goto out;

	mutex_lock(skex_fw_mutex(c->fw));
	rule = skex_fw_rule_find(c->fw, rep->r.port);
	if (!rule) {
		err = -ENOENT;
	} else {
		err = skex_fw_rule_replace(rule, &rep->spec, &gone);
		skex_fw_so_hold_branches(c->fw, &gone);
	}
	if (!err)
		skex_fw_so_changed(c, SKEX_CHANGE_RULE, rep->r.port, NULL);
	mutex_unlock(skex_fw_mutex(c->fw));
	skex_fw_so_forget_branches(&gone);
out:
	kvfree(rep->patterns);
	kvfree(rep->spec.br);
	kvfree(rep->ub);
	kvfree(rep->delim);
	kfree(rep);
	return err;
}

int skex_fw_setsockopt(struct sock *sk, int optname, sockptr_t optval,
		       unsigned int optlen, struct skex_change *chg)
{
	struct tcp_fw_user u;
	struct skex_fw_call c = {
		.fw = skex_fw_net_of(sock_net(sk)),
		.u = &u,
		.chg = chg,
	};
	int err;

	/* sockopt.c checked optlen against each command's structure */
	if (optname == TCP_FW_REPLACE_RULE)
		return skex_fw_so_replace(&c, optval);
	if (optname == TCP_FW_ADD_BRANCH6 || optname == TCP_FW_DEL_BRANCH6) {
		err = skex_fw_so_addr6(&c, &u, optval);
		if (err)
			return err;
	} else {
		if (optlen < sizeof(u))
			return -EINVAL;
		if (copy_from_sockptr(&u, optval, sizeof(u)))
			return -EFAULT;
		if (u.type < TCP_DICE_FW || u.type > TCP_ADDR_FW)
			return -EINVAL;
		c.family = AF_INET;
		c.addr.s6_addr32[0] = u.u.afb_u.src.s_addr;
		c.mask.s6_addr32[0] = u.u.afb_u.src_mask.s_addr;
	}
	if (u.type == TCP_CONTENT_FW &&
	    (optname == TCP_FW_ADD_BRANCH || optname == TCP_FW_DEL_BRANCH)) {
		err = skex_fw_so_pattern(&c, optval);
		if (err)
			return err;
	}

	switch (optname) {
	case TCP_FW_ADD_RULE:
		err = skex_fw_so_add_rule(&c);
		break;
	case TCP_FW_ADD_BRANCH:
	case TCP_FW_ADD_BRANCH6:
		err = skex_fw_so_add_branch(&c);
		break;
	case TCP_FW_DEL_BRANCH:
	case TCP_FW_DEL_BRANCH6:
		err = skex_fw_so_del_branch(&c);
		break;
	case TCP_FW_FLUSH_BRANCH:
		err = skex_fw_so_flush(&c);
		break;
	case TCP_FW_EDIT_RULE:
		err = skex_fw_so_edit(&c);
		break;
	case TCP_FW_DEL_RULE:
		err = skex_fw_so_del_rule(&c);
		break;
	default:
		err = -ENOPROTOOPT;
		break;
	}
	kfree(c.pattern);
	return err;
}
