// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The mirror (docs/configfs.md): the objects of the initial namespace's
 * engines, forwarding rules with their branches and socket groups with
 * their ports, shown as directories of the configfs tree whichever front
 * made them.
 *
 * One trigger: the setsockopt() dispatcher (sockopt.c) calls
 * skex_mirror_end() after each command of the initial namespace, with what
 * the command changed (struct skex_change); skex_mirror_begin() before it
 * makes the command and its pass one step. Module
 * load shows what there is (skex_mirror_start()), unload removes what is
 * left (skex_mirror_stop()). A change made through configfs needs no
 * mirror: its directory is the change.
 *
 * One pass per change: the engine's objects under the changed key (a
 * branch, a rule, a group, or every rule or group) are compared with the
 * directories configfs has there, and what is missing is made and what
 * is gone removed, as the kernel, with vfs_mkdir() and vfs_rmdir(), so that
 * they are ordinary directories a user can rmdir. The make and drop
 * callbacks of the fronts see skex_configfs_mirroring() then and only
 * adopt an engine's object or forget a deleted one.
 *
 * One behaviour on failure: the engine holds the truth and the command
 * stands. A directory that cannot be made or removed is logged, and the
 * next pass over its key makes or removes it.
 *
 * configfs_mkdir() pins the module twice (subsystem and item type) for
 * every directory; a mirrored directory gives those references back at
 * once, so that it does not keep the module from unloading, and takes
 * them again in drop_item (skex_configfs_repin()) just before
 * configfs_rmdir() puts them.
 *
 * Cost: a change costs what it changed, not what there is. A branch is
 * one mkdir or rmdir; a rule or group is compared with the directories
 * of that one object only, read from the dcache (configfs keeps every
 * directory there), and names are looked up in the dcache alone, never
 * by configfs_lookup()'s walk over all the siblings. What is left is
 * configfs's own: its mkdir compares the new name with every sibling
 * (configfs_dirent_exists()), so making n directories in one directory
 * costs n^2/2 string compares, whoever makes them.
 *
 * Locking: skex_mirror_mutex, then the VFS and configfs locks, under
 * which the fronts' callbacks take config_mutex. The mirror reads the
 * engines under config_mutex and the tree under the directory's inode
 * lock, each taken alone.
 */
#include "skex.h"
#include "compat.h"
#include "configfs.h"
#include "forward.h"
#include "group.h"
#include "mirror.h"

#include <linux/bitmap.h>
#include <linux/configfs.h>
#include <linux/cred.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>

/* module references configfs_mkdir() takes: subsystem and item type */
#define SKEX_CONFIGFS_PINS	2

/* The name of a directory: a branch's or a number. */
struct skex_mirror_name {
	char s[SKEX_CHANGE_NAME_MAX];
};

/* One pass at a time; what follows is under it. */
static DEFINE_MUTEX(skex_mirror_mutex);
static struct task_struct *skex_mirror_task;	/* the pass runs in it */
static bool skex_mirror_making;			/* the dirop is a mkdir */
static const struct cred *skex_mirror_cred;	/* the kernel's, kept */
static bool skex_mirror_on;			/* between start and stop */

/**
 * skex_configfs_mirroring - whether a make/drop callback runs for the mirror
 *
 * Return: true inside a pass of the mirror.
 */
bool skex_configfs_mirroring(void)
{
	return READ_ONCE(skex_mirror_task) == current;
}

/**
 * skex_configfs_repin - in drop_item: let a mirrored directory go
 * @unpinned: the item was made by the mirror
 *
 * configfs_rmdir() puts the module references configfs_mkdir() took, which
 * the mirror gave back: take them again first. A mkdir of the mirror that
 * fails after the make callback drops the item before anything was given
 * back: nothing to take then.
 */
void skex_configfs_repin(bool unpinned)
{
	int i;

	if (!unpinned || (skex_configfs_mirroring() && skex_mirror_making))
		return;
	for (i = 0; i < SKEX_CONFIGFS_PINS; i++)
		__module_get(THIS_MODULE);
}

/*
 * configfs keeps every directory in the dcache (it pins their dentries;
 * its lookup finds attributes only), so a directory is looked up there
 * alone, in the parent's hash chain: a lookup that misses the dcache
 * would walk all the siblings (configfs_lookup()), for nothing. The
 * caller holds the parent's inode lock. Return: the entry with a
 * reference (dput() it; negative if the name is not in the dcache but
 * @make), NULL if there is none, or an error.
 */
static struct dentry *skex_mirror_lookup(struct dentry *parent,
					 const char *name, bool make)
{
	struct dentry *dentry;

	dentry = try_lookup_one_len(name, parent, strlen(name));
	if (dentry || !make)
		return dentry;
	/* the negative entry configfs_lookup() would add, as configfs does */
	dentry = d_alloc_name(parent, name);
	if (!dentry)
		return ERR_PTR(-ENOMEM);
	d_add(dentry, NULL);
	return dentry;
}

/* A directory's entry with a reference (dput() it), or NULL. */
static struct dentry *skex_mirror_child(struct dentry *parent,
					const char *name)
{
	struct dentry *dentry;

	if (!parent)
		return NULL;
	inode_lock_shared(d_inode(parent));
	dentry = skex_mirror_lookup(parent, name, false);
	inode_unlock_shared(d_inode(parent));
	if (IS_ERR_OR_NULL(dentry))
		return NULL;
	if (!d_is_dir(dentry)) {
		dput(dentry);
		return NULL;
	}
	return dentry;
}

/*
 * mkdir (@make) or rmdir @name in @parent as the kernel; the caller holds
 * the parent's inode lock. One that is there already, or gone already,
 * is no failure; another is logged. Return: 0 or the error.
 */
static int skex_mirror_dirop_locked(struct dentry *parent, const char *name,
				    bool make)
{
	struct inode *dir = d_inode(parent);
	struct dentry *dentry;
	int i, err;

	lockdep_assert_held(&skex_mirror_mutex);
	/* without memory for the credentials, a removal tries all the same */
	if (make && !skex_mirror_cred)
		return -ENOMEM;
	skex_mirror_making = make;
	dentry = skex_mirror_lookup(parent, name, make);
	if (!dentry) {
		err = -ENOENT;
	} else if (IS_ERR(dentry)) {
		err = PTR_ERR(dentry);
	} else {
		if (make && d_really_is_positive(dentry)) {
			err = -EEXIST;
		} else if (make) {
			/* see skex_mirror_stop() */
			dont_mount(dentry);
			err = skex_vfs_mkdir(dir, dentry, 0755);
		} else {
			err = d_really_is_negative(dentry) ? -ENOENT :
			      skex_vfs_rmdir(dir, dentry);
		}
		dput(dentry);
	}

	if (make && !err)
		for (i = 0; i < SKEX_CONFIGFS_PINS; i++)
			module_put(THIS_MODULE);
	/* there already, gone already, or its object went meanwhile */
	if (err == -EEXIST || err == -ENOENT)
		return 0;
	if (err)
		pr_warn("%pd/%s: cannot %s: %d\n", parent, name,
			make ? "show" : "remove", err);
	return err;
}

/* skex_mirror_dirop_locked() with the parent's lock taken here. */
static int skex_mirror_dirop(struct dentry *parent, const char *name,
			     bool make)
{
	int err;

	inode_lock_nested(d_inode(parent), I_MUTEX_PARENT);
	err = skex_mirror_dirop_locked(parent, name, make);
	inode_unlock(d_inode(parent));
	return err;
}

static int skex_mirror_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct skex_mirror_name *)a)->s,
		      ((const struct skex_mirror_name *)b)->s);
}

/*
 * The names of the directories in @dir, in *@names (kvfree() it), from
 * the dcache, where configfs keeps every directory: the cost is @dir's
 * own entries, whatever the rest of the tree. The caller holds @dir's
 * inode lock (directories come and go under it). Return: how many or
 * -ENOMEM.
 */
static int skex_mirror_listdir(struct dentry *dir,
			       struct skex_mirror_name **names)
{
	struct skex_mirror_name *v;
	unsigned int n = 0, max = 0;
	struct dentry *child;

	*names = NULL;
	spin_lock(&dir->d_lock);
	skex_for_each_child(child, dir)
		max++;
	spin_unlock(&dir->d_lock);
	v = kvcalloc(max ?: 1, sizeof(*v), GFP_KERNEL);
	if (!v)
		return -ENOMEM;
	spin_lock(&dir->d_lock);
	skex_for_each_child(child, dir) {
		if (n >= max)
			break;
		spin_lock_nested(&child->d_lock, DENTRY_D_LOCK_NESTED);
		if (simple_positive(child) && d_is_dir(child))
			strscpy(v[n++].s, child->d_name.name, sizeof(v->s));
		spin_unlock(&child->d_lock);
	}
	spin_unlock(&dir->d_lock);
	*names = v;
	return n;
}

/*
 * Make the directories in @dir what @want says: remove those of @have it
 * does not name, then make those it names that @have has not. Under
 * @dir's inode lock.
 */
static void skex_mirror_diff(struct dentry *dir,
			     struct skex_mirror_name *want, unsigned int nwant,
			     struct skex_mirror_name *have, unsigned int nhave)
{
	unsigned int i, j;

	sort(want, nwant, sizeof(*want), skex_mirror_name_cmp, NULL);
	sort(have, nhave, sizeof(*have), skex_mirror_name_cmp, NULL);
	for (i = 0, j = 0; j < nhave; j++) {
		while (i < nwant && strcmp(want[i].s, have[j].s) < 0)
			i++;
		if (i >= nwant || strcmp(want[i].s, have[j].s))
			skex_mirror_dirop_locked(dir, have[j].s, false);
	}
	for (i = 0, j = 0; i < nwant; i++) {
		while (j < nhave && strcmp(have[j].s, want[i].s) < 0)
			j++;
		if (j >= nhave || strcmp(have[j].s, want[i].s))
			skex_mirror_dirop_locked(dir, want[i].s, true);
	}
}

/*
 * What the engine has of object @id: the names of the directories in its
 * sub-directory in *@names (kvfree() it; @names NULL: only whether it
 * exists). Return: how many, -ENOENT if there is no such object (or no
 * @sn), or -ENOMEM.
 */
typedef int (*skex_mirror_want_t)(struct skex_net *sn, u16 id,
				  struct skex_mirror_name **names);

/*
 * Show object @id of @root and the directories in its @sub as @want
 * says; if there is no such object, its directory goes, its @sub first.
 *
 * A directory made with mkdir holds its object in the engine: removing it
 * as the mirror (which only forgets the object) while the object is
 * still there would free it under the engine. So a directory is removed
 * only on what the engine says under the lock of the directory it is in,
 * held from that reading to the rmdir: no mkdir can come in between. A
 * directory made in excess does no harm (its make callback finds no
 * object: ENOENT).
 */
static void skex_mirror_object(struct skex_net *sn, struct config_group *root,
			       u16 id, const char *sub, skex_mirror_want_t want)
{
	struct dentry *rdir = root->cg_item.ci_dentry;
	struct skex_mirror_name *w = NULL, *have = NULL;
	struct dentry *odir, *sdir = NULL;
	int nwant, nhave;
	char name[8];

	snprintf(name, sizeof(name), "%u", id);
	nwant = want(sn, id, NULL);
	odir = skex_mirror_child(rdir, name);
	if (nwant >= 0 && !odir) {
		if (skex_mirror_dirop(rdir, name, true))
			return;
		odir = skex_mirror_child(rdir, name);
	}
	if (!odir)
		return;
	sdir = skex_mirror_child(odir, sub);
	dput(odir);
	if (sdir) {
		inode_lock_nested(d_inode(sdir), I_MUTEX_PARENT);
		nwant = want(sn, id, &w);
		nhave = nwant == -ENOMEM ? 0 : skex_mirror_listdir(sdir, &have);
		if (nwant == -ENOMEM || nhave < 0)
			pr_warn("%pd/%s: cannot mirror: %d\n", rdir, name,
				-ENOMEM);
		else
			skex_mirror_diff(sdir, w, max(nwant, 0), have, nhave);
		inode_unlock(d_inode(sdir));
		dput(sdir);
		kvfree(have);
		kvfree(w);
	}
	if (nwant != -ENOENT)
		return;
	inode_lock_nested(d_inode(rdir), I_MUTEX_PARENT);
	if (want(sn, id, NULL) == -ENOENT)
		skex_mirror_dirop_locked(rdir, name, false);
	inode_unlock(d_inode(rdir));
}

/* ---- forwarding rules ---- */

/* skex_mirror_want_t of rules: the names of rule @port's branches. */
static int skex_mirror_branches(struct skex_net *sn, u16 port,
				struct skex_mirror_name **names)
{
	struct skex_fw_branch *b;
	struct skex_fw_rule *rule;
	int n = -ENOENT;

	BUILD_BUG_ON(sizeof((*names)->s) < SKEX_FW_NAME_MAX);
	if (names)
		*names = NULL;
	if (!sn)
		return n;
	mutex_lock(&sn->config_mutex);
	rule = skex_fw_rule_find(sn->fw, port);
	if (rule && !names) {
		n = rule->nbranches;
	} else if (rule) {
		unsigned int cap = rule->nbranches ?: 1;

		*names = kvcalloc(cap, sizeof(**names), GFP_KERNEL);
		n = *names ? 0 : -ENOMEM;
		list_for_each_entry(b, &rule->branches, node) {
			/* the count is the list's length: never write past it */
			if (!*names || WARN_ON_ONCE(n >= cap))
				break;
			strscpy((*names)[n++].s, b->name, sizeof((*names)->s));
		}
	}
	mutex_unlock(&sn->config_mutex);
	return n;
}

/* forward/<port>/ and its branches as the engine has them. */
static void skex_mirror_rule(struct skex_net *sn, u16 port)
{
	skex_mirror_object(sn, &skex_forward_group, port, "branches",
			   skex_mirror_branches);
}

/* Whether rule @port has a branch @branch. */
static bool skex_mirror_branch_exists(struct skex_net *sn, u16 port,
				      const char *branch)
{
	struct skex_fw_rule *rule;
	bool exists;

	mutex_lock(&sn->config_mutex);
	rule = skex_fw_rule_find(sn->fw, port);
	exists = rule && skex_fw_branch_find(rule, branch);
	mutex_unlock(&sn->config_mutex);
	return exists;
}

/* forward/<port>/branches/<branch>/ as the engine has it. */
static void skex_mirror_branch(struct skex_net *sn, u16 port,
			       const char *branch)
{
	struct dentry *forward = skex_forward_group.cg_item.ci_dentry;
	struct dentry *rdir, *bdir;
	char name[8];

	snprintf(name, sizeof(name), "%u", port);
	rdir = skex_mirror_child(forward, name);
	bdir = skex_mirror_child(rdir, "branches");
	dput(rdir);
	if (!bdir) {
		/* the rule is not shown yet */
		if (skex_mirror_branch_exists(sn, port, branch))
			skex_mirror_rule(sn, port);
		return;
	}
	/* read and acted on under the lock (skex_mirror_object()) */
	inode_lock_nested(d_inode(bdir), I_MUTEX_PARENT);
	skex_mirror_dirop_locked(bdir, branch,
				 skex_mirror_branch_exists(sn, port, branch));
	inode_unlock(d_inode(bdir));
	dput(bdir);
}

/*
 * Every key of @root that configfs shows, with those set in @keys
 * already (a bitmap of 65536): the union, in @keys.
 */
static void skex_mirror_shown_keys(struct config_group *root,
				   unsigned long *keys)
{
	struct dentry *dir = root->cg_item.ci_dentry;
	struct skex_mirror_name *have;
	int i, n;
	u16 key;

	inode_lock_shared(d_inode(dir));
	n = skex_mirror_listdir(dir, &have);
	inode_unlock_shared(d_inode(dir));
	for (i = 0; i < n; i++)
		if (!kstrtou16(have[i].s, 10, &key))
			__set_bit(key, keys);
	kvfree(have);
}

/* Every rule; @sn NULL: none any more (unload). */
static void skex_mirror_rules(struct skex_net *sn)
{
	struct skex_fw_rule **rules = NULL;
	unsigned int i, n = 0;
	unsigned long *keys;
	unsigned long port;

	keys = bitmap_zalloc(65536, GFP_KERNEL);
	if (!keys) {
		pr_warn("forward: cannot mirror: %d\n", -ENOMEM);
		return;
	}
	if (sn) {
		mutex_lock(&sn->config_mutex);
		if (skex_fw_rules_of_type(sn->fw, 0, &rules, &n))
			n = 0;
		for (i = 0; i < n; i++)
			__set_bit(rules[i]->port, keys);
		mutex_unlock(&sn->config_mutex);
		for (i = 0; i < n; i++)
			skex_fw_rule_put(rules[i]);
		kvfree(rules);
	}
	skex_mirror_shown_keys(&skex_forward_group, keys);
	for_each_set_bit(port, keys, 65536) {
		skex_mirror_rule(sn, port);
		cond_resched();
	}
	bitmap_free(keys);
}

/* ---- socket groups ---- */

/* skex_mirror_want_t of groups: the ports of group @gid. */
static int skex_mirror_ports(struct skex_net *sn, u16 gid,
			     struct skex_mirror_name **names)
{
	struct skex_group_spec *spec;
	int i, n = -ENOENT;

	if (names)
		*names = NULL;
	if (!sn)
		return n;
	spec = kmalloc(sizeof(*spec), GFP_KERNEL);
	if (!spec)
		return -ENOMEM;
	mutex_lock(&sn->config_mutex);
	if (!skex_group_get(sn, gid, spec))
		n = spec->nports;
	mutex_unlock(&sn->config_mutex);
	if (n >= 0 && names) {
		*names = kcalloc(n ?: 1, sizeof(**names), GFP_KERNEL);
		for (i = 0; *names && i < n; i++)
			snprintf((*names)[i].s, sizeof((*names)->s), "%u",
				 spec->ports[i].port);
		if (!*names)
			n = -ENOMEM;
	}
	kfree(spec);
	return n;
}

/* groups/<gid>/ and its ports as the engine has them. */
static void skex_mirror_group(struct skex_net *sn, u16 gid)
{
	skex_mirror_object(sn, &skex_groups_group, gid, "ports",
			   skex_mirror_ports);
}

/* Every group; @sn NULL: none any more (unload). */
static void skex_mirror_groups(struct skex_net *sn)
{
	unsigned long *keys;
	unsigned long gid;
	u16 *gids = NULL;
	int i, n = 0;

	keys = bitmap_zalloc(65536, GFP_KERNEL);
	if (sn)
		gids = kvcalloc(SKEX_GID_MAX + 1, sizeof(*gids), GFP_KERNEL);
	if (!keys || (sn && !gids)) {
		pr_warn("groups: cannot mirror: %d\n", -ENOMEM);
		goto out;
	}
	if (sn) {
		mutex_lock(&sn->config_mutex);
		n = min(skex_group_list(sn, gids, SKEX_GID_MAX + 1),
			SKEX_GID_MAX + 1);
		mutex_unlock(&sn->config_mutex);
	}
	for (i = 0; i < n; i++)
		__set_bit(gids[i], keys);
	skex_mirror_shown_keys(&skex_groups_group, keys);
	for_each_set_bit(gid, keys, 65536) {
		skex_mirror_group(sn, gid);
		cond_resched();
	}
out:
	kvfree(gids);
	bitmap_free(keys);
}

/* ---- passes ---- */

/* One pass over what @chg names, as the kernel; @sn NULL: remove. */
static void skex_mirror_pass(struct skex_net *sn,
			     const struct skex_change *chg)
{
	const struct cred *old = NULL;

	lockdep_assert_held(&skex_mirror_mutex);
	/* made once (not per pass), until stop */
	if (!skex_mirror_cred)
		skex_mirror_cred = prepare_kernel_cred(&init_task);
	if (skex_mirror_cred)
		old = override_creds(skex_mirror_cred);
	WRITE_ONCE(skex_mirror_task, current);

	switch (chg->what) {
	case SKEX_CHANGE_NONE:
		break;
	case SKEX_CHANGE_RULE:
		skex_mirror_rule(sn, chg->id);
		break;
	case SKEX_CHANGE_BRANCH:
		skex_mirror_branch(sn, chg->id, chg->name);
		break;
	case SKEX_CHANGE_RULES:
		skex_mirror_rules(sn);
		break;
	case SKEX_CHANGE_GROUP:
		skex_mirror_group(sn, chg->id);
		break;
	case SKEX_CHANGE_GROUPS:
		skex_mirror_groups(sn);
		break;
	}

	WRITE_ONCE(skex_mirror_task, NULL);
	if (old)
		revert_creds(old);
}

/**
 * skex_mirror_begin - a setsockopt() command of @sn is about to run
 * @sn: its namespace (nothing is done unless it is the initial one)
 *
 * A command of the initial namespace and its mirror pass go under
 * skex_mirror_mutex together: otherwise another command could come
 * between this one and its pass, which would then see the engine after
 * both — a rule deleted and made again by another process, say, whose
 * directory would go on holding the deleted one. Called by the dispatcher
 * without config_mutex; skex_mirror_end() follows.
 */
void skex_mirror_begin(struct skex_net *sn)
{
	lockdep_assert_not_held(&sn->config_mutex);
	if (net_eq(sn->net, &init_net))
		mutex_lock(&skex_mirror_mutex);
}

/**
 * skex_mirror_end - show what the command changed
 * @sn: as for skex_mirror_begin()
 * @chg: what it changed (SKEX_CHANGE_NONE when it failed)
 */
void skex_mirror_end(struct skex_net *sn, const struct skex_change *chg)
{
	lockdep_assert_not_held(&sn->config_mutex);
	if (!net_eq(sn->net, &init_net))
		return;
	if (skex_mirror_on && chg->what != SKEX_CHANGE_NONE)
		skex_mirror_pass(sn, chg);
	mutex_unlock(&skex_mirror_mutex);
}

/*
 * The configfs subsystem came up (module load): show what setsockopt()
 * made before, and mirror from now on.
 */
void skex_mirror_start(void)
{
	const struct skex_change rules = { .what = SKEX_CHANGE_RULES };
	const struct skex_change groups = { .what = SKEX_CHANGE_GROUPS };
	struct skex_net *sn = skex_net(&init_net);

	mutex_lock(&skex_mirror_mutex);
	skex_mirror_on = true;
	skex_mirror_pass(sn, &rules);
	skex_mirror_pass(sn, &groups);
	mutex_unlock(&skex_mirror_mutex);
}

/*
 * The subsystem is about to go (module unload): only directories the
 * mirror made can be left (any other pins the module); remove them and
 * mirror nothing any more. The engines' objects stay for the namespace's
 * exit. Their removal cannot fail: the kernel's credentials pass every
 * permission check, their dentries are in the dcache, and nothing can be
 * mounted on them (dont_mount() as they are made), which would make
 * vfs_rmdir() fail with EBUSY and leave a directory whose item operations
 * are this module's text behind it.
 */
void skex_mirror_stop(void)
{
	const struct skex_change rules = { .what = SKEX_CHANGE_RULES };
	const struct skex_change groups = { .what = SKEX_CHANGE_GROUPS };

	mutex_lock(&skex_mirror_mutex);
	skex_mirror_pass(NULL, &rules);
	skex_mirror_pass(NULL, &groups);
	skex_mirror_on = false;
	if (skex_mirror_cred)
		put_cred(skex_mirror_cred);
	skex_mirror_cred = NULL;
	mutex_unlock(&skex_mirror_mutex);
}
