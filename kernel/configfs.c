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
 */
#include "skex.h"
#include "forward.h"
#include "group.h"

#include <linux/configfs.h>
#include <linux/module.h>

static const struct config_item_type skex_forward_type = {
	.ct_group_ops = &skex_forward_dir_ops,
	.ct_owner = THIS_MODULE,
};

static const struct config_item_type skex_groups_type = {
	.ct_group_ops = &skex_group_dir_ops,
	.ct_owner = THIS_MODULE,
};

static const struct config_item_type skex_root_type = {
	.ct_owner = THIS_MODULE,
};

struct config_group skex_forward_group;	/* forward_configfs.c adds to it */
struct config_group skex_groups_group;	/* group_configfs.c mirrors into it */

static struct configfs_subsystem skex_subsys = {
	.su_group = {
		.cg_item = {
			.ci_namebuf = "skex",
			.ci_type = &skex_root_type,
		},
	},
};

int skex_configfs_init(void)
{
	int err;

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
