// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * configfs directories of the forward engine, for the initial namespace:
 *
 *   /sys/kernel/config/skex/forward/
 *   `-- <port>/                 a rule; mkdir makes it disabled, no type
 *       |-- type                address | content | dice (not while enabled
 *       |                       or while it has branches)
 *       |-- default_port        1-65535
 *       |-- enable              0 | 1; 1 opens the listener (EADDRINUSE)
 *       |-- timeout_ms          content only, 1-3600000 (default 1000)
 *       |-- window              content only, 1-65536 (default 2048)
 *       |-- until               content only: push | window | a delimiter
 *       |                       as escaped text (default \r\n\r\n)
 *       |-- default_hits        ro: connections handed to default_port
 *       |-- dropped             ro: connections reset
 *       `-- branches/
 *           `-- <name>/         a branch; used once port and its condition
 *               |               are set
 *               |-- port        1-65535
 *               |-- source      address only: 10.0.0.0/8, 10.0.0.0/255.0.0.0,
 *               |               fd00::/64; a bare address is a host
 *               |-- pattern     content only: 1-256 bytes
 *               |-- offset      content only: any | 0-65535 (default any)
 *               |-- chance      dice only: 0-100, all branches sum <= 100
 *               `-- hits        ro: connections handed to port
 *
 * Each directory is an item of ours holding a reference on an engine
 * object (forward.h): mkdir makes the rule or branch in make_group, rmdir
 * deletes it (a rule's branches go first, as configfs wants), and the
 * item's release drops the reference.
 *
 * Rules and branches made through setsockopt() in the initial namespace
 * are shown here by the mirror (mirror.c), as ordinary directories a user
 * can rmdir: while it works, the make and drop callbacks only adopt or
 * forget the engine's objects (skex_configfs_mirroring()). Mirrored
 * directories do not pin the module (skex_configfs_repin()).
 *
 * Locking: configfs calls us with its own locks held (directory inode,
 * subsystem mutex) and we take config_mutex inside them.
 */
#include "skex.h"
#include "configfs.h"
#include "forward.h"
#include "mirror.h"

#include <linux/ctype.h>
#include <linux/inet.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <net/ipv6.h>

static const char * const skex_fw_type_names[] = {
	[SKEX_FW_NONE] = "none",
	[SKEX_FW_DICE] = "dice",
	[SKEX_FW_CONTENT] = "content",
	[SKEX_FW_ADDR] = "address",
};

static struct mutex *skex_fw_cfs_config_mutex(void)
{
	return &skex_net(&init_net)->config_mutex;
}

/*
 * The directory of a rule (forward/<port>/, with branches/) and of a
 * branch: each holds a reference on its engine object, dropped when
 * configfs releases the item. @unpinned: made by the mirror.
 */
struct skex_fw_cfs_rule {
	struct config_group group;
	struct config_group branches_group;
	struct skex_fw_rule *rule;
	bool unpinned;
};

struct skex_fw_cfs_branch {
	struct config_group group;
	struct skex_fw_branch *branch;
	bool unpinned;
};

static struct skex_fw_cfs_rule *to_cfs_rule(struct config_item *item)
{
	return container_of(to_config_group(item), struct skex_fw_cfs_rule,
			    group);
}

static struct skex_fw_cfs_branch *to_cfs_branch(struct config_item *item)
{
	return container_of(to_config_group(item), struct skex_fw_cfs_branch,
			    group);
}

static struct skex_fw_rule *to_rule(struct config_item *item)
{
	return to_cfs_rule(item)->rule;
}

static struct skex_fw_branch *to_branch(struct config_item *item)
{
	return to_cfs_branch(item)->branch;
}

/*
 * Stores one unsigned field of a rule or branch (@obj) under config_mutex:
 * parsed as a @type, set with @set.
 */
#define SKEX_FW_STORE(obj, name, type, set)				\
static ssize_t skex_fw_##obj##_##name##_store(struct config_item *item,	\
					      const char *page,		\
					      size_t count)		\
{									\
	type val;							\
	int err;							\
									\
	if (skex_configfs_has_nul(page, count))				\
		return -EINVAL;						\
	err = kstrto##type(page, 10, &val);				\
	if (err)							\
		return err;						\
	mutex_lock(skex_fw_cfs_config_mutex());				\
	err = set(to_##obj(item), val);					\
	mutex_unlock(skex_fw_cfs_config_mutex());			\
	return err ? err : count;					\
}

/* ---- forward/<port>/ ---- */

static ssize_t skex_fw_rule_type_show(struct config_item *item, char *page)
{
	struct skex_fw_rule *rule = to_rule(item);
	ssize_t ret;

	mutex_lock(skex_fw_cfs_config_mutex());
	ret = sysfs_emit(page, "%s\n", skex_fw_type_names[rule->type]);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return ret;
}

static ssize_t skex_fw_rule_type_store(struct config_item *item,
				       const char *page, size_t count)
{
	struct skex_fw_rule *rule = to_rule(item);
	int type, err;

	if (skex_configfs_has_nul(page, count))
		return -EINVAL;
	/* "none" is what a new rule shows; it cannot be written */
	type = sysfs_match_string(skex_fw_type_names, page);
	if (type <= SKEX_FW_NONE) {
		pr_info_ratelimited("forward/%u/type: unknown type '%*pE'\n",
				    rule->port, skex_configfs_quote(page, count),
				    page);
		return -EINVAL;
	}
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_rule_set_type(rule, type);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

/* Shows one unsigned field of a rule under config_mutex. */
#define SKEX_FW_RULE_SHOW(name, expr)					\
static ssize_t skex_fw_rule_##name##_show(struct config_item *item,	\
					  char *page)			\
{									\
	struct skex_fw_rule *rule = to_rule(item);			\
	ssize_t ret;							\
									\
	mutex_lock(skex_fw_cfs_config_mutex());				\
	ret = sysfs_emit(page, "%llu\n", (unsigned long long)(expr));	\
	mutex_unlock(skex_fw_cfs_config_mutex());			\
	return ret;							\
}

SKEX_FW_RULE_SHOW(default_port, rule->def_port)
SKEX_FW_RULE_SHOW(enable, rule->enabled)
SKEX_FW_RULE_SHOW(timeout_ms, rule->timeout_ms)
SKEX_FW_RULE_SHOW(window, rule->window)
SKEX_FW_RULE_SHOW(default_hits, atomic64_read(&rule->default_hits))
SKEX_FW_RULE_SHOW(dropped, atomic64_read(&rule->dropped))

SKEX_FW_STORE(rule, default_port, u16, skex_fw_rule_set_default)
SKEX_FW_STORE(rule, timeout_ms, u32, skex_fw_rule_set_timeout)
SKEX_FW_STORE(rule, window, u32, skex_fw_rule_set_window)

static ssize_t skex_fw_rule_until_show(struct config_item *item, char *page)
{
	struct skex_fw_rule *rule = to_rule(item);
	ssize_t ret;

	mutex_lock(skex_fw_cfs_config_mutex());
	switch (rule->until) {
	case SKEX_FC_UNTIL_PUSH:
		ret = sysfs_emit(page, "push\n");
		break;
	case SKEX_FC_UNTIL_WINDOW:
		ret = sysfs_emit(page, "window\n");
		break;
	default:
		/* at most 4 characters a byte: fits in the page */
		ret = skex_fc_escape(rule->delim, rule->delim_len, page,
				     PAGE_SIZE - 1);
		page[ret++] = '\n';
		break;
	}
	mutex_unlock(skex_fw_cfs_config_mutex());
	return ret;
}

/* push, window, or a delimiter: escaped text (\r \n \t \0 \\ \xHH) */
static ssize_t skex_fw_rule_until_store(struct config_item *item,
					const char *page, size_t count)
{
	struct skex_fw_rule *rule = to_rule(item);
	size_t len = skex_configfs_chomp(page, count);
	enum skex_fc_until until = SKEX_FC_UNTIL_DELIM;
	u8 delim[SKEX_FW_PATTERN_MAX];
	int n = 0, err;

	if (sysfs_streq(page, "push")) {
		until = SKEX_FC_UNTIL_PUSH;
	} else if (sysfs_streq(page, "window")) {
		until = SKEX_FC_UNTIL_WINDOW;
	} else {
		n = skex_fc_unescape(page, len, delim, sizeof(delim));
		if (n < 0) {
			pr_info_ratelimited("forward/%u/until: bad delimiter '%*pE'\n",
					    rule->port,
					    skex_configfs_quote(page, count),
					    page);
			return n;
		}
	}
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_rule_set_until(rule, until, delim, n);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

static ssize_t skex_fw_rule_enable_store(struct config_item *item,
					 const char *page, size_t count)
{
	struct skex_fw_rule *rule = to_rule(item);
	u8 on;
	int err;

	if (skex_configfs_has_nul(page, count))
		return -EINVAL;
	err = kstrtou8(page, 10, &on);
	if (err)
		return err;
	if (on > 1)
		return -EINVAL;
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_rule_enable(rule, on);
	mutex_unlock(skex_fw_cfs_config_mutex());
	if (err)
		pr_info("forward/%u/enable: cannot set: %d\n", rule->port, err);
	return err ? err : count;
}

CONFIGFS_ATTR(skex_fw_rule_, type);
CONFIGFS_ATTR(skex_fw_rule_, default_port);
CONFIGFS_ATTR(skex_fw_rule_, enable);
CONFIGFS_ATTR(skex_fw_rule_, timeout_ms);
CONFIGFS_ATTR(skex_fw_rule_, window);
CONFIGFS_ATTR(skex_fw_rule_, until);
CONFIGFS_ATTR_RO(skex_fw_rule_, default_hits);
CONFIGFS_ATTR_RO(skex_fw_rule_, dropped);

static struct configfs_attribute *skex_fw_rule_attrs[] = {
	&skex_fw_rule_attr_type,
	&skex_fw_rule_attr_default_port,
	&skex_fw_rule_attr_enable,
	&skex_fw_rule_attr_timeout_ms,
	&skex_fw_rule_attr_window,
	&skex_fw_rule_attr_until,
	&skex_fw_rule_attr_default_hits,
	&skex_fw_rule_attr_dropped,
	NULL,
};

static void skex_fw_rule_item_release(struct config_item *item)
{
	struct skex_fw_cfs_rule *cr = to_cfs_rule(item);

	skex_fw_rule_put(cr->rule);
	kfree(cr);
}

static struct configfs_item_operations skex_fw_rule_item_ops = {
	.release = skex_fw_rule_item_release,
};

static const struct config_item_type skex_fw_rule_type = {
	.ct_item_ops = &skex_fw_rule_item_ops,
	.ct_attrs = skex_fw_rule_attrs,
	.ct_owner = THIS_MODULE,
};

/* ---- forward/<port>/branches/<name>/ ---- */

static ssize_t skex_fw_branch_emit_port(struct skex_fw_branch *b, char *page)
{
	return sysfs_emit(page, "%u\n", b->port);
}

static ssize_t skex_fw_branch_emit_chance(struct skex_fw_branch *b,
					  char *page)
{
	return sysfs_emit(page, "%u\n", b->chance);
}

static ssize_t skex_fw_branch_emit_hits(struct skex_fw_branch *b, char *page)
{
	return sysfs_emit(page, "%llu\n",
			  (unsigned long long)atomic64_read(&b->hits));
}

/* The bytes as written, binary-safe, and a newline. */
static ssize_t skex_fw_branch_emit_pattern(struct skex_fw_branch *b,
					   char *page)
{
	if (!b->pat)
		return sysfs_emit(page, "\n");
	memcpy(page, b->pat->data, b->pat->len);
	page[b->pat->len] = '\n';
	return b->pat->len + 1;
}

/* any, or the offset where the pattern must start */
static ssize_t skex_fw_branch_emit_offset(struct skex_fw_branch *b,
					  char *page)
{
	if (b->offset == SKEX_FC_ANY)
		return sysfs_emit(page, "any\n");
	return sysfs_emit(page, "%u\n", b->offset);
}

static ssize_t skex_fw_branch_emit_source(struct skex_fw_branch *b,
					  char *page)
{
	if (b->family == AF_INET6)
		return sysfs_emit(page, "%pI6c/%u\n", &b->addr, b->bits);
	if (b->family != AF_INET)
		return sysfs_emit(page, "\n");
	return sysfs_emit(page, "%pI4/%u\n", &b->addr.s6_addr32[0], b->bits);
}

#define SKEX_FW_BRANCH_SHOW(name)					\
static ssize_t skex_fw_branch_##name##_show(struct config_item *item,	\
					    char *page)			\
{									\
	ssize_t ret;							\
									\
	mutex_lock(skex_fw_cfs_config_mutex());				\
	ret = skex_fw_branch_emit_##name(to_branch(item), page);		\
	mutex_unlock(skex_fw_cfs_config_mutex());			\
	return ret;							\
}

SKEX_FW_BRANCH_SHOW(port)
SKEX_FW_BRANCH_SHOW(source)
SKEX_FW_BRANCH_SHOW(pattern)
SKEX_FW_BRANCH_SHOW(chance)
SKEX_FW_BRANCH_SHOW(offset)
SKEX_FW_BRANCH_SHOW(hits)

SKEX_FW_STORE(branch, port, u16, skex_fw_branch_set_port)
SKEX_FW_STORE(branch, chance, u32, skex_fw_branch_set_chance)

static ssize_t skex_fw_branch_offset_store(struct config_item *item,
					   const char *page, size_t count)
{
	u32 offset = SKEX_FC_ANY;
	int err;

	if (!sysfs_streq(page, "any")) {
		err = kstrtou32(page, 10, &offset);
		if (err)
			return err;
		if (offset == SKEX_FC_ANY)
			return -ERANGE;
	}
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_branch_set_offset(to_branch(item), offset);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

static ssize_t skex_fw_branch_pattern_store(struct config_item *item,
					    const char *page, size_t count)
{
	int err;

	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_branch_set_pattern(to_branch(item), page,
					 skex_configfs_chomp(page, count));
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

/* "a.b.c.d/len", "a.b.c.d/m.m.m.m", "v6/len" or a bare address. */
static int skex_fw_parse_source(const char *page, size_t count, u8 *family,
				struct in6_addr *addr, struct in6_addr *mask)
{
	char buf[INET6_ADDRSTRLEN + 1 + INET_ADDRSTRLEN + 1];
	const char *end;
	char *slash;
	unsigned int i, bits;
	size_t len = skex_configfs_chomp(page, count);

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, page, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';

	memset(addr, 0, sizeof(*addr));
	memset(mask, 0, sizeof(*mask));
	/* *end: in4_pton() also stops at a ':' ("10.0.0.1:80") */
	if (in4_pton(buf, -1, (u8 *)&addr->s6_addr32[0], '\0', &end) &&
	    !*end) {
		*family = AF_INET;
		bits = 32;
		if (slash && strchr(slash, '.')) {
			if (!in4_pton(slash, -1, (u8 *)&mask->s6_addr32[0],
				      '\0', &end) || *end)
				return -EINVAL;
			return skex_fw_mask_valid(AF_INET, mask) ? 0 : -EINVAL;
		}
	} else if (in6_pton(buf, -1, addr->s6_addr, '\0', &end) && !*end) {
		*family = AF_INET6;
		bits = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		unsigned int max = bits;

		if (!isdigit(*slash) || kstrtouint(slash, 10, &bits) ||
		    bits > max)
			return -EINVAL;
	}
	for (i = 0; i < bits; i++)
		mask->s6_addr[i / 8] |= 0x80 >> (i % 8);
	return 0;
}

static ssize_t skex_fw_branch_source_store(struct config_item *item,
					   const char *page, size_t count)
{
	struct skex_fw_branch *b = to_branch(item);
	struct in6_addr addr, mask;
	u8 family;
	int err;

	if (skex_configfs_has_nul(page, count))
		return -EINVAL;
	err = skex_fw_parse_source(page, count, &family, &addr, &mask);
	if (err) {
		pr_info_ratelimited("branch %s: bad source '%*pE'\n",
				    config_item_name(item),
				    skex_configfs_quote(page, count), page);
		return err;
	}
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_branch_set_source(b, family, &addr, &mask);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

CONFIGFS_ATTR(skex_fw_branch_, port);
CONFIGFS_ATTR(skex_fw_branch_, source);
CONFIGFS_ATTR(skex_fw_branch_, pattern);
CONFIGFS_ATTR(skex_fw_branch_, chance);
CONFIGFS_ATTR(skex_fw_branch_, offset);
CONFIGFS_ATTR_RO(skex_fw_branch_, hits);

static struct configfs_attribute *skex_fw_branch_attrs[] = {
	&skex_fw_branch_attr_port,
	&skex_fw_branch_attr_source,
	&skex_fw_branch_attr_pattern,
	&skex_fw_branch_attr_chance,
	&skex_fw_branch_attr_offset,
	&skex_fw_branch_attr_hits,
	NULL,
};

static void skex_fw_branch_item_release(struct config_item *item)
{
	struct skex_fw_cfs_branch *cb = to_cfs_branch(item);

	skex_fw_branch_put(cb->branch);
	kfree(cb);
}

static struct configfs_item_operations skex_fw_branch_item_ops = {
	.release = skex_fw_branch_item_release,
};

static const struct config_item_type skex_fw_branch_type = {
	.ct_item_ops = &skex_fw_branch_item_ops,
	.ct_attrs = skex_fw_branch_attrs,
	.ct_owner = THIS_MODULE,
};

/* mkdir branches/<name>: a new branch, or the mirror adopts one. */
static struct config_group *skex_fw_branch_make(struct config_group *group,
						const char *name)
{
	struct skex_fw_rule *rule = container_of(group, struct skex_fw_cfs_rule,
						 branches_group)->rule;
	bool mirror = skex_configfs_mirroring();
	struct skex_fw_cfs_branch *cb;
	struct skex_fw_branch *b;

	cb = kzalloc(sizeof(*cb), SKEX_GFP_CONFIG);
	if (!cb)
		return ERR_PTR(-ENOMEM);
	mutex_lock(skex_fw_cfs_config_mutex());
	if (!mirror) {
		b = skex_fw_branch_create(rule, name, false);
	} else {
		b = rule->deleted ? NULL : skex_fw_branch_find(rule, name);
		if (b)
			skex_fw_branch_get(b);
		else
			b = ERR_PTR(-ENOENT);
	}
	mutex_unlock(skex_fw_cfs_config_mutex());
	if (IS_ERR(b)) {
		kfree(cb);
		return ERR_CAST(b);
	}
	cb->branch = b;		/* the reference of the directory */
	cb->unpinned = mirror;
	config_group_init_type_name(&cb->group, name, &skex_fw_branch_type);
	return &cb->group;
}

/* rmdir deletes the branch; the mirror only forgets a deleted one. */
static void skex_fw_branch_drop(struct config_group *group,
				struct config_item *item)
{
	struct skex_fw_cfs_branch *cb = to_cfs_branch(item);
	struct skex_fw_branch *b = cb->branch;
	bool mine = false;

	if (!skex_configfs_mirroring()) {
		mutex_lock(skex_fw_cfs_config_mutex());
		mine = b->rule;
		skex_fw_branch_delete(b);
		mutex_unlock(skex_fw_cfs_config_mutex());
	}
	if (mine && b->kernel_made)
		skex_fw_branch_put(b);		/* the engine's */
	skex_configfs_repin(cb->unpinned);
	config_item_put(item);
}

static struct configfs_group_operations skex_fw_branches_ops = {
	.make_group = skex_fw_branch_make,
	.drop_item = skex_fw_branch_drop,
};

static const struct config_item_type skex_fw_branches_type = {
	.ct_group_ops = &skex_fw_branches_ops,
	.ct_owner = THIS_MODULE,
};

/* ---- forward/ ---- */

/* mkdir forward/<port>: a new rule, or the mirror adopts one. */
static struct config_group *skex_fw_rule_make(struct config_group *group,
					      const char *name)
{
	struct skex_fw_net *fw = skex_fw_net_of(&init_net);
	bool mirror = skex_configfs_mirroring();
	struct skex_fw_cfs_rule *cr;
	struct skex_fw_rule *rule;
	u16 port;

	if (skex_configfs_parse_name(name, &port))
		return ERR_PTR(-EINVAL);
	cr = kzalloc(sizeof(*cr), SKEX_GFP_CONFIG);
	if (!cr)
		return ERR_PTR(-ENOMEM);

	mutex_lock(skex_fw_mutex(fw));
	if (!mirror) {
		rule = skex_fw_rule_create(fw, port, false);
	} else {
		rule = skex_fw_rule_find(fw, port);
		if (rule)
			skex_fw_rule_get(rule);
		else
			rule = ERR_PTR(-ENOENT);
	}
	mutex_unlock(skex_fw_mutex(fw));
	if (IS_ERR(rule)) {
		kfree(cr);
		return ERR_CAST(rule);
	}
	cr->rule = rule;	/* the reference of the directory */
	cr->unpinned = mirror;
	config_group_init_type_name(&cr->group, name, &skex_fw_rule_type);
	config_group_init_type_name(&cr->branches_group, "branches",
				    &skex_fw_branches_type);
	configfs_add_default_group(&cr->branches_group, &cr->group);
	return &cr->group;
}

/*
 * rmdir deletes the rule; the mirror only forgets a deleted one. configfs
 * removed the branches' directories first, and their branches with them.
 */
static void skex_fw_rule_drop(struct config_group *group,
			      struct config_item *item)
{
	struct skex_fw_cfs_rule *cr = to_cfs_rule(item);
	struct skex_fw_rule *rule = cr->rule;
	struct skex_fw_branch *b, *tmp;
	bool mine = false;
	LIST_HEAD(gone);

	if (!skex_configfs_mirroring()) {
		mutex_lock(skex_fw_cfs_config_mutex());
		mine = !rule->deleted;
		skex_fw_rule_delete(rule);
		/* added by setsockopt() and not mirrored yet: no directory */
		if (mine)
			list_splice_init(&rule->branches, &gone);
		mutex_unlock(skex_fw_cfs_config_mutex());
	}
	list_for_each_entry_safe(b, tmp, &gone, node) {
		list_del_init(&b->node);
		if (b->kernel_made)
			skex_fw_branch_put(b);	/* the engine's */
	}
	if (mine && rule->kernel_made)
		skex_fw_rule_put(rule);		/* the engine's */
	skex_configfs_repin(cr->unpinned);
	config_item_put(item);
}

struct configfs_group_operations skex_forward_dir_ops = {
	.make_group = skex_fw_rule_make,
	.drop_item = skex_fw_rule_drop,
};
