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
 * Mirror: an engine shows an object made through the sockopt front by
 * making its directory with vfs_mkdir() as the kernel
 * (skex_configfs_mkdir()), so that it is an ordinary directory a user can
 * rmdir, and removes it with vfs_rmdir() (skex_configfs_rmdir()) when the
 * sockopt front deletes the object. While it does, the engine's make and
 * drop callbacks see skex_configfs_mirroring() and only adopt or forget an
 * object the engine has. configfs_mkdir() pins the module twice (subsystem
 * and item type) for every directory; a mirrored directory gives those
 * references back at once, so that it does not keep the module from
 * unloading, and takes them again in drop_item (skex_configfs_repin())
 * just before configfs_rmdir() puts them. At unload an engine removes the
 * mirrored directories that are left before the subsystem goes.
 *
 * The engines' fronts (forward_configfs.c, group_configfs.c) share the
 * mirror's helpers and the parsing of the numbered directory names
 * (skex_configfs_parse_name()).
 */
#include "skex.h"
#include "compat.h"
#include "configfs.h"

#include <linux/configfs.h>
#include <linux/cred.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/sched/task.h>
#include <linux/string.h>

/* module references configfs_mkdir() takes: subsystem and item type */
#define SKEX_CONFIGFS_PINS	2

/* One mirror operation at a time; the two below are under it. */
static DEFINE_MUTEX(skex_configfs_dirop_mutex);
static struct task_struct *skex_configfs_syncer;
static bool skex_configfs_making;	/* the operation is a mkdir */

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
struct config_group skex_groups_group;	/* group_configfs.c mirrors into it */

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

/* ---- the mirror ---- */

/**
 * skex_configfs_mirroring - whether a make/drop callback runs for the mirror
 *
 * Return: true inside skex_configfs_mkdir() and skex_configfs_rmdir().
 */
bool skex_configfs_mirroring(void)
{
	return READ_ONCE(skex_configfs_syncer) == current;
}

/**
 * skex_configfs_child - a directory's entry
 * @parent: the directory
 * @name: the entry
 *
 * Return: the entry with a reference (dput() it), or NULL if there is none.
 */
struct dentry *skex_configfs_child(struct dentry *parent, const char *name)
{
	struct dentry *dentry;

	inode_lock(d_inode(parent));
	dentry = lookup_one_len(name, parent, strlen(name));
	inode_unlock(d_inode(parent));
	if (IS_ERR(dentry))
		return NULL;
	if (d_really_is_negative(dentry)) {
		dput(dentry);
		return NULL;
	}
	return dentry;
}

/**
 * skex_configfs_subdir - a directory of a directory's entry
 * @parent: the directory
 * @name: the entry
 * @sub: the directory in it
 *
 * Return: @parent/@name/@sub with a reference (dput() it), or NULL if there
 * is none.
 */
struct dentry *skex_configfs_subdir(struct dentry *parent, const char *name,
				    const char *sub)
{
	struct dentry *dir, *subdir = NULL;

	dir = skex_configfs_child(parent, name);
	if (dir)
		subdir = skex_configfs_child(dir, sub);
	dput(dir);
	return subdir;
}

/* mkdir or rmdir @name in @parent as the kernel. */
static int skex_configfs_dirop(struct dentry *parent, const char *name,
			       bool make)
{
	struct inode *dir = d_inode(parent);
	const struct cred *old = NULL;
	struct dentry *dentry;
	struct cred *cred;
	int err;

	/* Without memory, a removal tries with the caller's credentials. */
	cred = prepare_kernel_cred(&init_task);
	if (!cred && make)
		return -ENOMEM;
	if (cred)
		old = override_creds(cred);
	mutex_lock(&skex_configfs_dirop_mutex);
	skex_configfs_making = make;
	WRITE_ONCE(skex_configfs_syncer, current);

	inode_lock_nested(dir, I_MUTEX_PARENT);
	dentry = lookup_one_len(name, parent, strlen(name));
	if (IS_ERR(dentry)) {
		err = PTR_ERR(dentry);
	} else {
		if (make)
			err = d_really_is_positive(dentry) ? -EEXIST :
			      skex_vfs_mkdir(dir, dentry, 0755);
		else
			err = d_really_is_negative(dentry) ? -ENOENT :
			      skex_vfs_rmdir(dir, dentry);
		dput(dentry);
	}
	inode_unlock(dir);

	WRITE_ONCE(skex_configfs_syncer, NULL);
	mutex_unlock(&skex_configfs_dirop_mutex);
	if (cred) {
		revert_creds(old);
		put_cred(cred);
	}
	return err;
}

/**
 * skex_configfs_mkdir - make a directory of the tree as the kernel
 * @parent: where
 * @name: its name
 *
 * The make callback runs with skex_configfs_mirroring() true and adopts the
 * engine's object; it must note that the item is unpinned, for
 * skex_configfs_repin(). The directory holds no module reference.
 *
 * Return: 0, -EEXIST if there is one, or what configfs_mkdir() failed with.
 */
int skex_configfs_mkdir(struct dentry *parent, const char *name)
{
	int i, err = skex_configfs_dirop(parent, name, true);

	if (!err)
		for (i = 0; i < SKEX_CONFIGFS_PINS; i++)
			module_put(THIS_MODULE);
	return err;
}

/**
 * skex_configfs_rmdir - remove a directory of the tree as the kernel
 * @parent: where
 * @name: its name
 *
 * The drop callback runs with skex_configfs_mirroring() true and only
 * forgets the item: the engine has deleted its object already.
 *
 * Return: 0, -ENOENT if there is none, or what configfs_rmdir() failed with.
 */
int skex_configfs_rmdir(struct dentry *parent, const char *name)
{
	return skex_configfs_dirop(parent, name, false);
}

/**
 * skex_configfs_repin - in drop_item: let a mirrored directory go
 * @unpinned: the item was made by skex_configfs_mkdir()
 *
 * configfs_rmdir() puts the module references configfs_mkdir() took, which
 * skex_configfs_mkdir() gave back: take them again first. A mkdir of the
 * mirror that fails after the make callback drops the item before anything
 * was given back: nothing to take then.
 */
void skex_configfs_repin(bool unpinned)
{
	int i;

	if (!unpinned || (skex_configfs_mirroring() && skex_configfs_making))
		return;
	for (i = 0; i < SKEX_CONFIGFS_PINS; i++)
		__module_get(THIS_MODULE);
}
