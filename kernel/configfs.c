// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The configfs front, acting on the initial network namespace:
 *
 *   /sys/kernel/config/skex/
 *   |-- forward/            forwarding rules, one directory per incoming port
 *   `-- groups/             socket groups, one directory per group id
 *
 * The subsystem is registered last at load and first at unload: it is
 * live the moment it is registered.
 *
 * Objects made through the sockopt front are shown here by the mirror
 * (mirror.c). The engines' fronts (forward_configfs.c, group_configfs.c)
 * share the parsing of the numbered directory names
 * (skex_configfs_parse_name()).
 */
#include "skex.h"
#include "configfs.h"

#include <linux/configfs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>

/* forward/ and groups/: their make and drop come from the fronts */
static struct config_item_type skex_forward_type = {
	.ct_owner = THIS_MODULE,
};

static struct config_item_type skex_groups_type = {
	.ct_owner = THIS_MODULE,
};

static const struct config_item_type skex_root_type = {
	.ct_owner = THIS_MODULE,
};

struct config_group skex_forward_group;	/* forward_configfs.c adds to it */
struct config_group skex_groups_group;	/* group_configfs.c adds to it */

static struct configfs_subsystem skex_subsys = {
	.su_group = {
		.cg_item = {
			.ci_namebuf = "skex",
			.ci_type = &skex_root_type,
		},
	},
};

/**
 * skex_configfs_init - register /sys/kernel/config/skex/
 * @forward_ops: mkdir and rmdir in forward/ (forward_configfs.c)
 * @groups_ops: mkdir and rmdir in groups/ (group_configfs.c)
 *
 * Return: 0 or the error of configfs_register_subsystem().
 */
int skex_configfs_init(struct configfs_group_operations *forward_ops,
		       struct configfs_group_operations *groups_ops)
{
	int err;

	skex_forward_type.ct_group_ops = forward_ops;
	skex_groups_type.ct_group_ops = groups_ops;

	config_group_init(&skex_subsys.su_group);
	mutex_init(&skex_subsys.su_mutex);

	config_group_init_type_name(&skex_forward_group, "forward",
				    &skex_forward_type);
	configfs_add_default_group(&skex_forward_group, &skex_subsys.su_group);
	config_group_init_type_name(&skex_groups_group, "groups",
				    &skex_groups_type);
	configfs_add_default_group(&skex_groups_group, &skex_subsys.su_group);

	err = configfs_register_subsystem(&skex_subsys);
	if (err)
		pr_err("cannot register configfs subsystem: %d\n", err);
	return err;
}

void skex_configfs_exit(void)
{
	configfs_unregister_subsystem(&skex_subsys);
}

/**
 * skex_configfs_parse_name - the number a directory of the tree is named by
 * @name: the directory's name (forward/<port>, groups/<gid>/ports/<port>...)
 * @val: set to the number
 *
 * One directory per number: only 1-65535 written the canonical way.
 *
 * Return: 0 or -EINVAL.
 */
int skex_configfs_parse_name(const char *name, u16 *val)
{
	char buf[8];

	if (kstrtou16(name, 10, val) || !*val)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%u", *val);
	return strcmp(buf, name) ? -EINVAL : 0;
}
