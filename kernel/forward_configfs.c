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
 *       |-- default_hits        ro: connections handed to default_port
 *       |-- dropped             ro: connections reset
 *       `-- branches/
 *           `-- <name>/         a branch; used once port and its condition
 *               |               are set
 *               |-- port        1-65535
 *               |-- source      address only: 10.0.0.0/8, 10.0.0.0/255.0.0.0,
 *               |               fd00::/64; a bare address is a host
 *               |-- pattern     content only: 1-256 bytes
 *               |-- chance      dice only: 0-100, all branches sum <= 100
 *               `-- hits        ro: connections handed to port
 *
 * Rules and branches made through setsockopt() in the initial namespace
 * appear here too: the kernel registers their directories. configfs does
 * not let rmdir remove a directory the kernel made (EPERM), nor can the
 * kernel remove one a user made, so each object is deleted through the
 * front that made it, and a rule only when all its branches can be:
 * setsockopt() refuses with EBUSY to delete what mkdir made, and rmdir of
 * a rule made by mkdir fails with EBUSY while it holds branches added by
 * setsockopt() (configfs_depend_item()). Everything else works across
 * the fronts: branches of either kind in rules of either kind, and every
 * attribute read and written through configfs.
 *
 * Locking: configfs calls us with its own locks held (directory inode,
 * subsystem mutex) and we take config_mutex inside them. The setsockopt()
 * front registers and unregisters directories under skex_fw_cfs_mutex,
 * never under config_mutex.
 */
#include "skex.h"
#include "forward.h"

#include <linux/ctype.h>
#include <linux/inet.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <net/ipv6.h>

/* Serialises kernel-made directories; @skex_fw_cfs_on is under it. */
static DEFINE_MUTEX(skex_fw_cfs_mutex);
static bool skex_fw_cfs_on;

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

static struct skex_fw_rule *to_rule(struct config_item *item)
{
	return container_of(to_config_group(item), struct skex_fw_rule, group);
}

static struct skex_fw_branch *to_branch(struct config_item *item)
{
	return container_of(to_config_group(item), struct skex_fw_branch,
			    group);
}

/* Drops the one trailing newline echo(1) adds. */
static size_t skex_fw_chomp(const char *page, size_t count)
{
	if (count && page[count - 1] == '\n')
		count--;
	return count;
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

	for (type = SKEX_FW_DICE; type <= SKEX_FW_ADDR; type++)
		if (sysfs_streq(page, skex_fw_type_names[type]))
			break;
	if (type > SKEX_FW_ADDR) {
		pr_err("forward/%u/type: unknown type '%.*s'\n", rule->port,
		       (int)skex_fw_chomp(page, count), page);
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

static ssize_t skex_fw_rule_default_port_store(struct config_item *item,
					       const char *page, size_t count)
{
	struct skex_fw_rule *rule = to_rule(item);
	u16 port;
	int err;

	err = kstrtou16(page, 10, &port);
	if (err)
		return err;
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_rule_set_default(rule, port);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

static ssize_t skex_fw_rule_enable_store(struct config_item *item,
					 const char *page, size_t count)
{
	struct skex_fw_rule *rule = to_rule(item);
	u8 on;
	int err;

	err = kstrtou8(page, 10, &on);
	if (err)
		return err;
	if (on > 1)
		return -EINVAL;
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_rule_enable(rule, on);
	mutex_unlock(skex_fw_cfs_config_mutex());
	if (err)
		pr_err("forward/%u/enable: %d\n", rule->port, err);
	return err ? err : count;
}

static ssize_t skex_fw_rule_timeout_ms_store(struct config_item *item,
					     const char *page, size_t count)
{
	struct skex_fw_rule *rule = to_rule(item);
	u32 ms;
	int err;

	err = kstrtou32(page, 10, &ms);
	if (err)
		return err;
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_rule_set_timeout(rule, ms);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

static ssize_t skex_fw_rule_window_store(struct config_item *item,
					 const char *page, size_t count)
{
	struct skex_fw_rule *rule = to_rule(item);
	u32 bytes;
	int err;

	err = kstrtou32(page, 10, &bytes);
	if (err)
		return err;
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_rule_set_window(rule, bytes);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

CONFIGFS_ATTR(skex_fw_rule_, type);
CONFIGFS_ATTR(skex_fw_rule_, default_port);
CONFIGFS_ATTR(skex_fw_rule_, enable);
CONFIGFS_ATTR(skex_fw_rule_, timeout_ms);
CONFIGFS_ATTR(skex_fw_rule_, window);
CONFIGFS_ATTR_RO(skex_fw_rule_, default_hits);
CONFIGFS_ATTR_RO(skex_fw_rule_, dropped);

static struct configfs_attribute *skex_fw_rule_attrs[] = {
	&skex_fw_rule_attr_type,
	&skex_fw_rule_attr_default_port,
	&skex_fw_rule_attr_enable,
	&skex_fw_rule_attr_timeout_ms,
	&skex_fw_rule_attr_window,
	&skex_fw_rule_attr_default_hits,
	&skex_fw_rule_attr_dropped,
	NULL,
};

static void skex_fw_rule_item_release(struct config_item *item)
{
	skex_fw_rule_release(to_rule(item));
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

static ssize_t skex_fw_branch_show_locked(struct skex_fw_branch *b,
					  const char *what, char *page)
{
	if (!strcmp(what, "port"))
		return sysfs_emit(page, "%u\n", b->port);
	if (!strcmp(what, "chance"))
		return sysfs_emit(page, "%u\n", b->chance);
	if (!strcmp(what, "hits"))
		return sysfs_emit(page, "%llu\n",
				  (unsigned long long)atomic64_read(&b->hits));
	if (!strcmp(what, "pattern")) {
		if (!b->pat)
			return sysfs_emit(page, "\n");
		memcpy(page, b->pat->data, b->pat->len);
		page[b->pat->len] = '\n';
		return b->pat->len + 1;
	}
	/* source */
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
	ret = skex_fw_branch_show_locked(to_branch(item), #name, page);	\
	mutex_unlock(skex_fw_cfs_config_mutex());			\
	return ret;							\
}

SKEX_FW_BRANCH_SHOW(port)
SKEX_FW_BRANCH_SHOW(source)
SKEX_FW_BRANCH_SHOW(pattern)
SKEX_FW_BRANCH_SHOW(chance)
SKEX_FW_BRANCH_SHOW(hits)

static ssize_t skex_fw_branch_port_store(struct config_item *item,
					 const char *page, size_t count)
{
	u16 port;
	int err;

	err = kstrtou16(page, 10, &port);
	if (err)
		return err;
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_branch_set_port(to_branch(item), port);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

static ssize_t skex_fw_branch_chance_store(struct config_item *item,
					   const char *page, size_t count)
{
	u32 chance;
	int err;

	err = kstrtou32(page, 10, &chance);
	if (err)
		return err;
	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_branch_set_chance(to_branch(item), chance);
	mutex_unlock(skex_fw_cfs_config_mutex());
	return err ? err : count;
}

static ssize_t skex_fw_branch_pattern_store(struct config_item *item,
					    const char *page, size_t count)
{
	int err;

	mutex_lock(skex_fw_cfs_config_mutex());
	err = skex_fw_branch_set_pattern(to_branch(item), page,
					 skex_fw_chomp(page, count));
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
	size_t len = skex_fw_chomp(page, count);

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, page, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';

	memset(addr, 0, sizeof(*addr));
	memset(mask, 0, sizeof(*mask));
	if (in4_pton(buf, -1, (u8 *)&addr->s6_addr32[0], '\0', &end)) {
		*family = AF_INET;
		bits = 32;
		if (slash && strchr(slash, '.')) {
			if (!in4_pton(slash, -1, (u8 *)&mask->s6_addr32[0],
				      '\0', &end))
				return -EINVAL;
			return skex_fw_mask_valid(AF_INET, mask) ? 0 : -EINVAL;
		}
	} else if (in6_pton(buf, -1, addr->s6_addr, '\0', &end)) {
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

	err = skex_fw_parse_source(page, count, &family, &addr, &mask);
	if (err) {
		pr_err("branch %s: bad source '%.*s'\n",
		       config_item_name(item), (int)skex_fw_chomp(page, count),
		       page);
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
CONFIGFS_ATTR_RO(skex_fw_branch_, hits);

static struct configfs_attribute *skex_fw_branch_attrs[] = {
	&skex_fw_branch_attr_port,
	&skex_fw_branch_attr_source,
	&skex_fw_branch_attr_pattern,
	&skex_fw_branch_attr_chance,
	&skex_fw_branch_attr_hits,
	NULL,
};

static void skex_fw_branch_item_release(struct config_item *item)
{
	skex_fw_branch_release(to_branch(item));
}

static struct configfs_item_operations skex_fw_branch_item_ops = {
	.release = skex_fw_branch_item_release,
};

static const struct config_item_type skex_fw_branch_type = {
	.ct_item_ops = &skex_fw_branch_item_ops,
	.ct_attrs = skex_fw_branch_attrs,
	.ct_owner = THIS_MODULE,
};

static struct config_group *skex_fw_branch_make(struct config_group *group,
						const char *name)
{
	struct skex_fw_rule *rule = container_of(group, struct skex_fw_rule,
						 branches_group);
	struct skex_fw_branch *b;

	mutex_lock(skex_fw_cfs_config_mutex());
	b = skex_fw_branch_create(rule, name, false);
	mutex_unlock(skex_fw_cfs_config_mutex());
	if (IS_ERR(b))
		return ERR_CAST(b);
	return &b->group;
}

static void skex_fw_branch_drop(struct config_group *group,
				struct config_item *item)
{
	mutex_lock(skex_fw_cfs_config_mutex());
	skex_fw_branch_delete(to_branch(item));
	mutex_unlock(skex_fw_cfs_config_mutex());
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

static struct config_group *skex_fw_rule_make(struct config_group *group,
					      const char *name)
{
	struct skex_fw_net *fw = skex_fw_net_of(&init_net);
	struct skex_fw_rule *rule;
	char canon[8];
	u16 port;

	/* one directory per port: only the canonical spelling */
	if (kstrtou16(name, 10, &port) || !port)
		return ERR_PTR(-EINVAL);
	snprintf(canon, sizeof(canon), "%u", port);
	if (strcmp(canon, name))
		return ERR_PTR(-EINVAL);

	mutex_lock(skex_fw_mutex(fw));
	rule = skex_fw_rule_create(fw, port, false);
	mutex_unlock(skex_fw_mutex(fw));
	if (IS_ERR(rule))
		return ERR_CAST(rule);
	return &rule->group;
}

static void skex_fw_rule_drop(struct config_group *group,
			      struct config_item *item)
{
	mutex_lock(skex_fw_cfs_config_mutex());
	skex_fw_rule_delete(to_rule(item));
	mutex_unlock(skex_fw_cfs_config_mutex());
	config_item_put(item);
}

struct configfs_group_operations skex_forward_dir_ops = {
	.make_group = skex_fw_rule_make,
	.drop_item = skex_fw_rule_drop,
};

/* ---- for the engine and the setsockopt() front ---- */

void skex_fw_cfs_init_rule(struct skex_fw_rule *rule)
{
	char name[8];

	snprintf(name, sizeof(name), "%u", rule->port);
	config_group_init_type_name(&rule->group, name, &skex_fw_rule_type);
	config_group_init_type_name(&rule->branches_group, "branches",
				    &skex_fw_branches_type);
	configfs_add_default_group(&rule->branches_group, &rule->group);
}

void skex_fw_cfs_init_branch(struct skex_fw_branch *b, const char *name)
{
	config_group_init_type_name(&b->group, name, &skex_fw_branch_type);
}

void skex_fw_cfs_lock(void)
{
	mutex_lock(&skex_fw_cfs_mutex);
}

void skex_fw_cfs_unlock(void)
{
	mutex_unlock(&skex_fw_cfs_mutex);
}

/* Under skex_fw_cfs_lock(), not config_mutex. */
int skex_fw_cfs_register_rule(struct skex_fw_rule *rule)
{
	int err;

	lockdep_assert_held(&skex_fw_cfs_mutex);
	if (!skex_fw_cfs_on || rule->registered)
		return 0;
	err = configfs_register_group(&skex_forward_group, &rule->group);
	if (!err)
		rule->registered = true;
	return err;
}

int skex_fw_cfs_register_branch(struct skex_fw_branch *b)
{
	struct skex_fw_rule *rule = b->rule;
	int err;

	lockdep_assert_held(&skex_fw_cfs_mutex);
	/* under a rule's directory: one mkdir made or one we registered */
	if (!skex_fw_cfs_on || b->registered || !rule ||
	    (rule->kernel_made && !rule->registered))
		return 0;
	err = configfs_register_group(&rule->branches_group, &b->group);
	if (!err)
		b->registered = true;
	return err;
}

void skex_fw_cfs_unregister_branch(struct skex_fw_branch *b)
{
	lockdep_assert_held(&skex_fw_cfs_mutex);
	if (!b->registered)
		return;
	configfs_unregister_group(&b->group);
	b->registered = false;
}

/*
 * A rule made by mkdir that holds branches made by setsockopt() must not
 * be removed by rmdir: configfs would not unlink them. One pin per such
 * branch.
 */
int skex_fw_cfs_pin_rule(struct skex_fw_rule *rule)
{
	int err;

	lockdep_assert_held(&skex_fw_cfs_mutex);
	if (!skex_fw_cfs_on || rule->kernel_made)
		return 0;
	if (rule->pins) {
		rule->pins++;
		return 0;
	}
	err = configfs_depend_item(rule->group.cg_subsys,
				   &rule->group.cg_item);
	if (!err)
		rule->pins = 1;
	return err;
}

void skex_fw_cfs_unpin_rule(struct skex_fw_rule *rule)
{
	lockdep_assert_held(&skex_fw_cfs_mutex);
	if (!rule->pins || --rule->pins)
		return;
	configfs_undepend_item(&rule->group.cg_item);
}

/* The rule's registered branches first: they hang below it. */
void skex_fw_cfs_unregister_rule(struct skex_fw_rule *rule)
{
	struct skex_fw_branch *b;

	lockdep_assert_held(&skex_fw_cfs_mutex);
	if (!rule->registered)
		return;
	list_for_each_entry(b, &rule->branches, node)
		skex_fw_cfs_unregister_branch(b);
	configfs_unregister_group(&rule->group);
	rule->registered = false;
}

/*
 * The configfs subsystem came up (module load): show the kernel-made
 * rules of the initial namespace that exist already.
 */
void skex_forward_configfs_start(void)
{
	struct skex_fw_net *fw = skex_fw_net_of(&init_net);
	struct skex_fw_rule **rules;
	struct skex_fw_branch *b;
	unsigned int i, n;

	skex_fw_cfs_lock();
	skex_fw_cfs_on = true;
	mutex_lock(skex_fw_mutex(fw));
	i = skex_fw_rules_of_type(fw, 0, &rules, &n);
	mutex_unlock(skex_fw_mutex(fw));
	if (i) {
		skex_fw_cfs_unlock();
		return;
	}
	for (i = 0; i < n; i++) {
		if (rules[i]->kernel_made &&
		    !skex_fw_cfs_register_rule(rules[i]))
			list_for_each_entry(b, &rules[i]->branches, node)
				skex_fw_cfs_register_branch(b);
		skex_fw_rule_put(rules[i]);
	}
	skex_fw_cfs_unlock();
	kfree(rules);
}

/* The subsystem is about to go (module unload): take our directories. */
void skex_forward_configfs_stop(void)
{
	struct skex_fw_net *fw = skex_fw_net_of(&init_net);
	struct skex_fw_rule **rules = NULL;
	unsigned int i, n = 0;

	skex_fw_cfs_lock();
	skex_fw_cfs_on = false;
	mutex_lock(skex_fw_mutex(fw));
	if (skex_fw_rules_of_type(fw, 0, &rules, &n))
		n = 0;
	mutex_unlock(skex_fw_mutex(fw));
	for (i = 0; i < n; i++) {
		skex_fw_cfs_unregister_rule(rules[i]);
		skex_fw_rule_put(rules[i]);
	}
	skex_fw_cfs_unlock();
	kfree(rules);
}
