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
#include <net/sock.h>

/* One command's view of the caller's namespace. */
struct skex_fw_call {
	struct skex_fw_net *fw;
	const struct tcp_fw_user *u;
	u8 *pattern;		/* content branches: copied from the caller */
	struct skex_change *chg;	/* what it changed */
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
	struct in6_addr addr = {}, mask = {};

	switch (u->type) {
	case TCP_DICE_FW:
		return skex_fw_branch_set_chance(b, u->u.dfb_u.redir_chance);
	case TCP_CONTENT_FW:
		return skex_fw_branch_set_pattern(b, c->pattern,
						  u->u.cfb_u.ptn_len);
	default:
		addr.s6_addr32[0] = u->u.afb_u.src.s_addr;
		mask.s6_addr32[0] = u->u.afb_u.src_mask.s_addr;
		return skex_fw_branch_set_source(b, AF_INET, &addr, &mask);
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
	__be32 mask = u->u.afb_u.src_mask.s_addr;

	if (!skex_fw_branch_complete(b) || b->port != skex_fw_so_redir(u))
		return false;
	switch (u->type) {
	case TCP_DICE_FW:
		return b->chance == u->u.dfb_u.redir_chance;
	case TCP_CONTENT_FW:
		return b->pat->len == u->u.cfb_u.ptn_len &&
		       !memcmp(b->pat->data, c->pattern, b->pat->len);
	default:
		return b->family == AF_INET &&
		       b->mask.s6_addr32[0] == mask &&
		       b->addr.s6_addr32[0] == (u->u.afb_u.src.s_addr & mask);
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

	if (optlen < sizeof(u))
		return -EINVAL;
	if (copy_from_sockptr(&u, optval, sizeof(u)))
		return -EFAULT;
	if (u.type < TCP_DICE_FW || u.type > TCP_ADDR_FW)
		return -EINVAL;
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
		err = skex_fw_so_add_branch(&c);
		break;
	case TCP_FW_DEL_BRANCH:
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
