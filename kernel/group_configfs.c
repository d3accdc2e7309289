// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * configfs directories of the group engine, acting on the initial
 * namespace:
 *
 *   /sys/kernel/config/skex/groups/
 *   `-- <gid>/                 mkdir 1-65535: a group without type or ports
 *       |-- type               accept_rate | accept_ratio | output_rate |
 *       |                      output_rate_ftp; only while it has no ports
 *       `-- ports/
 *           `-- <port>/        mkdir 1-65535: the port joins the group
 *               |-- quota      accept types: 12.5 (per second, or a
 *               |              weight; three decimals at most); output
 *               |              types: bytes per second. Nothing is
 *               |              throttled until a quota is written.
 *               |-- burst      accept_rate: connections the bucket
 *               |              holds, 1-65535 (default 1); other types
 *               |              read an empty line and refuse writes
 *               |-- nonblock   0 | 1
 *               `-- throttled  accepts and sends delayed or refused (ro)
 *
 * The directories are a view of the engine (group.c), which holds the
 * truth: every show and store goes to it under config_mutex, and a store
 * that the engine refuses changes nothing.
 *
 * Groups made or changed with setsockopt() in the initial namespace are
 * shown here by the mirror (mirror.c), as ordinary directories a user can
 * rmdir: while it works, the make/drop callbacks see
 * skex_configfs_mirroring() and only adopt or forget directories, leaving
 * the engine alone. Mirrored directories do not pin the module (the drop
 * callbacks hand them to skex_configfs_repin()); mkdir-made ones do.
 */
#include "skex.h"
#include "configfs.h"
#include "group.h"
#include "mirror.h"

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

/**
 * struct skex_cfs_group - groups/<gid>/
 * @group: the directory
 * @ports: its ports/ directory
 * @gid: the group
 * @unpinned: made by the mirror; holds no module reference
 */
struct skex_cfs_group {
	struct config_group group;
	struct config_group ports;
	u16 gid;
	bool unpinned;
};

/**
 * struct skex_cfs_port - groups/<gid>/ports/<port>/
 * @item: the directory
 * @grp: its group directory
 * @port: the port
 * @unpinned: made by the mirror; holds no module reference
 */
struct skex_cfs_port {
	struct config_item item;
	struct skex_cfs_group *grp;
	u16 port;
	bool unpinned;
};

static struct skex_net *skex_cfs_net(void)
{
	return skex_net(&init_net);
}

static struct skex_cfs_group *to_cfs_group(struct config_item *item)
{
	return container_of(to_config_group(item), struct skex_cfs_group,
			    group);
}

static struct skex_cfs_port *to_cfs_port(struct config_item *item)
{
	return container_of(item, struct skex_cfs_port, item);
}

/* ---- engine access ---- */

/* The group's description with port @port; spec is kmalloc()ed. */
static struct skex_group_spec *skex_cfs_spec(struct skex_net *sn, u16 gid,
					     int *err)
{
	struct skex_group_spec *spec = kmalloc(sizeof(*spec), GFP_KERNEL);

	*err = -ENOMEM;
	if (!spec)
		return NULL;
	*err = skex_group_get(sn, gid, spec);
	if (*err) {
		kfree(spec);
		return NULL;
	}
	return spec;
}

static struct skex_group_port_spec *
skex_cfs_spec_port(struct skex_group_spec *spec, u16 port)
{
	unsigned int i;

	for (i = 0; i < spec->nports; i++)
		if (spec->ports[i].port == port)
			return &spec->ports[i];
	return NULL;
}

/*
 * The description of @cp's group, kmalloc()ed, and (*@ps) @cp's port in it;
 * NULL and *@err (-ENOENT: the port is not in the group) if there is none.
 * Under config_mutex.
 */
static struct skex_group_spec *
skex_cfs_port_spec(struct skex_net *sn, struct skex_cfs_port *cp,
		   struct skex_group_port_spec **ps, int *err)
{
	struct skex_group_spec *spec;

	lockdep_assert_held(&sn->config_mutex);
	spec = skex_cfs_spec(sn, cp->grp->gid, err);
	if (!spec)
		return NULL;
	*ps = skex_cfs_spec_port(spec, cp->port);
	if (!*ps) {
		kfree(spec);
		*err = -ENOENT;
		return NULL;
	}
	return spec;
}

/* Check and apply a changed description. Under config_mutex. */
static int skex_cfs_apply(struct skex_net *sn, u16 gid,
			  struct skex_group_spec *spec)
{
	int err;

	lockdep_assert_held(&sn->config_mutex);
	err = skex_group_check(spec, false);
	return err ?: skex_group_edit(sn, gid, spec);
}

/* ---- groups/<gid>/ports/<port>/ ---- */

/*
 * What a store to a port attribute wrote: the text, and the value when the
 * store parsed it before taking the lock.
 */
struct skex_cfs_input {
	const char *page;
	size_t count;
	u32 val;
};

/* A port attribute's show, given its group's description and port. */
typedef ssize_t (*skex_cfs_show_fn)(const struct skex_group_spec *spec,
				    const struct skex_group_port_spec *ps,
				    char *page);

/* A port attribute's store: changes *@ps (0) or refuses (an errno). */
typedef int (*skex_cfs_set_fn)(const struct skex_group_spec *spec,
			       struct skex_group_port_spec *ps,
			       const struct skex_cfs_input *in);

/* Show an attribute of @item's port with @show. */
static ssize_t skex_cfs_port_show(struct config_item *item, char *page,
				  skex_cfs_show_fn show)
{
	struct skex_cfs_port *cp = to_cfs_port(item);
	struct skex_net *sn = skex_cfs_net();
	struct skex_group_port_spec *ps;
	struct skex_group_spec *spec;
	ssize_t ret;
	int err;

	mutex_lock(&sn->config_mutex);
	spec = skex_cfs_port_spec(sn, cp, &ps, &err);
	mutex_unlock(&sn->config_mutex);
	if (!spec)
		return err;
	ret = show(spec, ps, page);
	kfree(spec);
	return ret;
}

/*
 * Change @item's port with @set and apply its group's new description,
 * under config_mutex: 0 or an errno, and nothing changed.
 */
static int skex_cfs_port_store(struct config_item *item, skex_cfs_set_fn set,
			       const struct skex_cfs_input *in)
{
	struct skex_cfs_port *cp = to_cfs_port(item);
	struct skex_net *sn = skex_cfs_net();
	struct skex_group_port_spec *ps;
	struct skex_group_spec *spec;
	int err;

	mutex_lock(&sn->config_mutex);
	spec = skex_cfs_port_spec(sn, cp, &ps, &err);
	if (spec) {
		err = set(spec, ps, in);
		if (!err)
			err = skex_cfs_apply(sn, cp->grp->gid, spec);
		kfree(spec);
	}
	mutex_unlock(&sn->config_mutex);
	return err;
}

/* A refused quota or burst: the kernel log says which, and why. */
static void skex_cfs_port_refused(struct config_item *item, const char *attr,
				  const char *page, size_t count, int err)
{
	struct skex_cfs_port *cp = to_cfs_port(item);

	pr_info_ratelimited("groups/%u/ports/%u/%s: cannot set '%*pE': %d\n",
			    cp->grp->gid, cp->port, attr,
			    skex_configfs_quote(page, count), page, err);
}

static ssize_t skex_cfs_quota_show(const struct skex_group_spec *spec,
				   const struct skex_group_port_spec *ps,
				   char *page)
{
	char buf[SKEX_QUOTA_LEN];

	if (!ps->set)
		return sysfs_emit(page, "\n");
	skex_group_quota_str(buf, sizeof(buf), spec->type, ps->quota);
	return sysfs_emit(page, "%s\n", buf);
}

static ssize_t skex_port_quota_show(struct config_item *item, char *page)
{
	return skex_cfs_port_show(item, page, skex_cfs_quota_show);
}

/* "W", "W." or "W.F" with up to three decimals, in thousandths. */
static int skex_cfs_parse_frac(const char *page, size_t count, u32 *quota)
{
	char buf[16], *dot;
	unsigned int i, frac = 0, scale = 1000;
	u16 whole;
	int err;

	count = skex_configfs_chomp(page, count);
	if (!count || count >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, page, count);
	buf[count] = '\0';

	dot = strchr(buf, '.');
	if (dot) {
		*dot++ = '\0';
		if (strlen(dot) > 3)
			return -EINVAL;
		for (i = 0; dot[i]; i++) {
			if (!isdigit(dot[i]))
				return -EINVAL;
			scale /= 10;
			frac += (dot[i] - '0') * scale;
		}
	}
	if (!isdigit(buf[0]))
		return -EINVAL;
	err = kstrtou16(buf, 10, &whole);
	if (err)
		return err;
	*quota = whole * 1000U + frac;
	return 0;
}

/* The quota's syntax is its group type's. */
static int skex_cfs_quota_set(const struct skex_group_spec *spec,
			      struct skex_group_port_spec *ps,
			      const struct skex_cfs_input *in)
{
	u32 quota;
	int err = -EINVAL;

	if (skex_group_accept_type(spec->type))
		err = skex_cfs_parse_frac(in->page, in->count, &quota);
	else if (isdigit(in->page[0]))
		err = kstrtou32(in->page, 10, &quota);
	if (err)
		return err;
	ps->quota = quota;
	ps->set = true;
	return 0;
}

static ssize_t skex_port_quota_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct skex_cfs_input in = { .page = page, .count = count };
	int err;

	if (skex_configfs_has_nul(page, count))
		return -EINVAL;
	err = skex_cfs_port_store(item, skex_cfs_quota_set, &in);
	if (err)
		skex_cfs_port_refused(item, "quota", page, count, err);
	return err ?: count;
}

static ssize_t skex_cfs_burst_show(const struct skex_group_spec *spec,
				   const struct skex_group_port_spec *ps,
				   char *page)
{
	if (spec->type == SKEX_ACCEPT_ABSOLUTE)
		return sysfs_emit(page, "%u\n", ps->burst);
	return sysfs_emit(page, "\n");
}

static ssize_t skex_port_burst_show(struct config_item *item, char *page)
{
	return skex_cfs_port_show(item, page, skex_cfs_burst_show);
}

/* accept_rate's only */
static int skex_cfs_burst_set(const struct skex_group_spec *spec,
			      struct skex_group_port_spec *ps,
			      const struct skex_cfs_input *in)
{
	if (spec->type != SKEX_ACCEPT_ABSOLUTE)
		return -EINVAL;
	ps->burst = in->val;
	return 0;
}

static ssize_t skex_port_burst_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct skex_cfs_input in = { .page = page, .count = count };
	int err;

	if (skex_configfs_has_nul(page, count) || !isdigit(page[0]))
		return -EINVAL;
	err = kstrtou32(page, 10, &in.val);
	if (!err && (!in.val || in.val > SKEX_BURST_MAX))
		err = -ERANGE;
	if (!err)
		err = skex_cfs_port_store(item, skex_cfs_burst_set, &in);
	if (err)
		skex_cfs_port_refused(item, "burst", page, count, err);
	return err ?: count;
}

static ssize_t skex_cfs_nonblock_show(const struct skex_group_spec *spec,
				      const struct skex_group_port_spec *ps,
				      char *page)
{
	return sysfs_emit(page, "%d\n", ps->nonblock);
}

static ssize_t skex_port_nonblock_show(struct config_item *item, char *page)
{
	return skex_cfs_port_show(item, page, skex_cfs_nonblock_show);
}

static int skex_cfs_nonblock_set(const struct skex_group_spec *spec,
				 struct skex_group_port_spec *ps,
				 const struct skex_cfs_input *in)
{
	ps->nonblock = in->val;
	return 0;
}

static ssize_t skex_port_nonblock_store(struct config_item *item,
					const char *page, size_t count)
{
	struct skex_cfs_input in = { .page = page, .count = count };
	int err;

	if (skex_configfs_has_nul(page, count))
		return -EINVAL;
	err = kstrtou32(page, 10, &in.val);
	if (err || in.val > 1 || !isdigit(page[0]))
		return -EINVAL;
	err = skex_cfs_port_store(item, skex_cfs_nonblock_set, &in);
	return err ?: count;
}

static ssize_t skex_port_throttled_show(struct config_item *item, char *page)
{
	struct skex_cfs_port *cp = to_cfs_port(item);
	struct skex_net *sn = skex_cfs_net();
	u64 count;
	int err;

	mutex_lock(&sn->config_mutex);
	err = skex_group_throttled(sn, cp->grp->gid, cp->port, &count);
	mutex_unlock(&sn->config_mutex);
	return err ?: sysfs_emit(page, "%llu\n", count);
}

CONFIGFS_ATTR(skex_port_, quota);
CONFIGFS_ATTR(skex_port_, burst);
CONFIGFS_ATTR(skex_port_, nonblock);
CONFIGFS_ATTR_RO(skex_port_, throttled);

static struct configfs_attribute *skex_port_attrs[] = {
	&skex_port_attr_quota,
	&skex_port_attr_burst,
	&skex_port_attr_nonblock,
	&skex_port_attr_throttled,
	NULL,
};

static void skex_cfs_port_release(struct config_item *item)
{
	kfree(to_cfs_port(item));
}

static struct configfs_item_operations skex_cfs_port_item_ops = {
	.release = skex_cfs_port_release,
};

static const struct config_item_type skex_cfs_port_type = {
	.ct_item_ops = &skex_cfs_port_item_ops,
	.ct_attrs = skex_port_attrs,
	.ct_owner = THIS_MODULE,
};

/* mkdir groups/<gid>/ports/<port>: the port joins, without a quota yet. */
static struct config_item *skex_cfs_make_port(struct config_group *group,
					      const char *name)
{
	struct skex_cfs_group *cg = container_of(group, struct skex_cfs_group,
						 ports);
	struct skex_net *sn = skex_cfs_net();
	bool mirror = skex_configfs_mirroring();
	struct skex_group_port_spec *ps;
	struct skex_group_spec *spec;
	struct skex_cfs_port *cp;
	u16 port;
	int err;

	err = skex_configfs_parse_name(name, &port);
	if (err)
		return ERR_PTR(err);
	cp = kzalloc(sizeof(*cp), SKEX_GFP_CONFIG);
	if (!cp)
		return ERR_PTR(-ENOMEM);

	mutex_lock(&sn->config_mutex);
	spec = skex_cfs_spec(sn, cg->gid, &err);
	if (!spec)
		goto unlock;
	ps = skex_cfs_spec_port(spec, port);
	if (mirror) {
		/* adopt what the engine has */
		err = ps ? 0 : -ENOENT;
	} else if (ps) {
		err = -EEXIST;
	} else if (!spec->type) {
		pr_info("groups/%u: write a type before adding ports\n",
			cg->gid);
		err = -EINVAL;
	} else if (spec->nports >= SKEX_GROUP_PORTS_MAX) {
		err = -ENOSPC;
	} else {
		ps = &spec->ports[spec->nports++];
		memset(ps, 0, sizeof(*ps));
		ps->port = port;
		ps->burst = SKEX_BURST_DEFAULT;
		err = skex_cfs_apply(sn, cg->gid, spec);
	}
	kfree(spec);
unlock:
	mutex_unlock(&sn->config_mutex);
	if (err) {
		kfree(cp);
		return ERR_PTR(err);
	}

	config_item_init_type_name(&cp->item, name, &skex_cfs_port_type);
	cp->grp = cg;
	cp->port = port;
	cp->unpinned = mirror;
	return &cp->item;
}

static void skex_cfs_drop_port(struct config_group *group,
			       struct config_item *item)
{
	struct skex_cfs_port *cp = to_cfs_port(item);
	struct skex_net *sn = skex_cfs_net();

	/* cannot fail: the port may be gone already (setsockopt) */
	if (!skex_configfs_mirroring()) {
		mutex_lock(&sn->config_mutex);
		skex_group_del_port(sn, cp->grp->gid, cp->port);
		mutex_unlock(&sn->config_mutex);
	}
	skex_configfs_repin(cp->unpinned);
	config_item_put(item);
}

static struct configfs_group_operations skex_cfs_ports_ops = {
	.make_item = skex_cfs_make_port,
	.drop_item = skex_cfs_drop_port,
};

static const struct config_item_type skex_cfs_ports_type = {
	.ct_group_ops = &skex_cfs_ports_ops,
	.ct_owner = THIS_MODULE,
};

/* ---- groups/<gid>/ ---- */

static ssize_t skex_group_type_show(struct config_item *item, char *page)
{
	struct skex_cfs_group *cg = to_cfs_group(item);
	struct skex_net *sn = skex_cfs_net();
	struct skex_group_spec *spec;
	ssize_t ret;
	int err;

	mutex_lock(&sn->config_mutex);
	spec = skex_cfs_spec(sn, cg->gid, &err);
	mutex_unlock(&sn->config_mutex);
	if (!spec)
		return err;
	ret = sysfs_emit(page, "%s\n", skex_group_type_names[spec->type]);
	kfree(spec);
	return ret;
}

static ssize_t skex_group_type_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct skex_cfs_group *cg = to_cfs_group(item);
	struct skex_net *sn = skex_cfs_net();
	struct skex_group_spec *spec;
	int type, err;

	if (skex_configfs_has_nul(page, count))
		return -EINVAL;
	/* "" is what a new group shows; it cannot be written */
	type = sysfs_match_string(skex_group_type_names, page);
	if (type <= 0) {
		pr_info_ratelimited("groups/%u/type: unknown type '%*pE'\n",
				    cg->gid, skex_configfs_quote(page, count),
				    page);
		return -EINVAL;
	}

	mutex_lock(&sn->config_mutex);
	spec = skex_cfs_spec(sn, cg->gid, &err);
	if (spec) {
		if (spec->type == type) {
			err = 0;
		} else if (spec->nports) {
			pr_info("groups/%u/type: remove the ports first\n",
				cg->gid);
			err = -EBUSY;
		} else {
			spec->type = type;
			err = skex_cfs_apply(sn, cg->gid, spec);
		}
		kfree(spec);
	}
	mutex_unlock(&sn->config_mutex);
	return err ?: count;
}

CONFIGFS_ATTR(skex_group_, type);

static struct configfs_attribute *skex_group_attrs[] = {
	&skex_group_attr_type,
	NULL,
};

static void skex_cfs_group_release(struct config_item *item)
{
	kfree(to_cfs_group(item));
}

static struct configfs_item_operations skex_cfs_group_item_ops = {
	.release = skex_cfs_group_release,
};

static const struct config_item_type skex_cfs_group_type = {
	.ct_item_ops = &skex_cfs_group_item_ops,
	.ct_attrs = skex_group_attrs,
	.ct_owner = THIS_MODULE,
};

/* mkdir groups/<gid>: an empty group. */
static struct config_group *skex_cfs_make_group(struct config_group *group,
						const char *name)
{
	struct skex_net *sn = skex_cfs_net();
	bool mirror = skex_configfs_mirroring();
	struct skex_group_spec empty = {};
	struct skex_cfs_group *cg;
	u16 gid;
	int err;

	err = skex_configfs_parse_name(name, &gid);
	if (err)
		return ERR_PTR(err);
	cg = kzalloc(sizeof(*cg), SKEX_GFP_CONFIG);
	if (!cg)
		return ERR_PTR(-ENOMEM);

	mutex_lock(&sn->config_mutex);
	if (mirror)
		err = skex_group_get(sn, gid, &empty);
	else
		err = skex_group_add(sn, &gid, &empty);
	mutex_unlock(&sn->config_mutex);
	if (err) {
		kfree(cg);
		return ERR_PTR(err);
	}

	config_group_init_type_name(&cg->group, name, &skex_cfs_group_type);
	config_group_init_type_name(&cg->ports, "ports", &skex_cfs_ports_type);
	configfs_add_default_group(&cg->ports, &cg->group);
	cg->gid = gid;
	cg->unpinned = mirror;
	return &cg->group;
}

static void skex_cfs_drop_group(struct config_group *group,
				struct config_item *item)
{
	struct skex_cfs_group *cg = to_cfs_group(item);
	struct skex_net *sn = skex_cfs_net();

	if (!skex_configfs_mirroring()) {
		mutex_lock(&sn->config_mutex);
		skex_group_del(sn, cg->gid);
		mutex_unlock(&sn->config_mutex);
	}
	skex_configfs_repin(cg->unpinned);
	config_item_put(item);
}

struct configfs_group_operations skex_group_dir_ops = {
	.make_group = skex_cfs_make_group,
	.drop_item = skex_cfs_drop_group,
};
