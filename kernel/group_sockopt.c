// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The setsockopt() commands of the group engine (docs/groups.md,
 * docs/sockopt.md, uapi/linux/socket_ex_user.h):
 *
 *   TCP_SKEX_ADD_GROUP   struct sock_group_user; the gid is chosen here (the
 *                        lowest free one) and written back to the caller
 *   TCP_SKEX_EDIT_GROUP  struct sock_group_user with gid: new type, ports
 *                        and quotas, at once
 *   TCP_SKEX_DEL_GROUP   int gid
 *   TCP_SKEX_FLUSH_LIST  int, ignored: every group of the namespace
 *
 * sockopt.c checked CAP_NET_ADMIN and the least optlen. The nested socks
 * array is copied with a bound; everything is checked before the engine
 * changes anything. Each command says what it changed (struct
 * skex_change): in the initial namespace the dispatcher has the mirror
 * show it in configfs (mirror.c).
 */
#include "skex.h"
#include "group.h"

#include <linux/slab.h>
#include <linux/string.h>
#include <net/sock.h>

/* A user's struct sock_group_user and its socks array, checked. */
static int skex_group_from_user(sockptr_t optval, struct sock_group_user *sgu,
				struct skex_group_spec *spec)
{
	struct sock_ex_user *socks;
	unsigned int i;
	int err;

	if (sockptr_is_kernel(optval))
		return -EINVAL;
	if (copy_from_sockptr(sgu, optval, sizeof(*sgu)))
		return -EFAULT;
	if (!skex_group_type_valid(sgu->type) || !sgu->sock_cnt ||
	    sgu->sock_cnt > SKEX_GROUP_PORTS_MAX)
		return -EINVAL;

	socks = memdup_user((const void __user *)(unsigned long)sgu->socks,
			    array_size(sgu->sock_cnt, sizeof(*socks)));
	if (IS_ERR(socks))
		return PTR_ERR(socks);

	memset(spec, 0, sizeof(*spec));
	spec->type = sgu->type;
	spec->nports = sgu->sock_cnt;
	err = 0;
	for (i = 0; i < sgu->sock_cnt; i++) {
		struct skex_group_port_spec *ps = &spec->ports[i];
		const struct sock_ex_user *se = &socks[i];

		ps->port = se->port;
		ps->nonblock = !!se->nonblock;
		ps->set = true;
		if (skex_group_accept_type(sgu->type)) {
			if (se->quota.frac.frac > 999) {
				err = -EINVAL;
				break;
			}
			ps->quota = se->quota.frac.whole * 1000U +
				    se->quota.frac.frac;
		} else {
			ps->quota = se->quota.integer;
		}
	}
	kfree(socks);
	return err ?: skex_group_check(spec, true);
}

/* The command changed group @gid, or every group (0). */
static void skex_group_changed(struct skex_change *chg, u16 gid)
{
	chg->what = gid ? SKEX_CHANGE_GROUP : SKEX_CHANGE_GROUPS;
	chg->id = gid;
}

static int skex_group_sockopt_add(struct sock *sk, sockptr_t optval,
				  struct skex_change *chg)
{
	const size_t gid_off = offsetof(struct sock_group_user, gid);
	struct skex_net *sn = skex_net(sock_net(sk));
	struct skex_group_spec *spec;
	struct sock_group_user sgu;
	u16 gid = 0;
	int err;

	spec = kmalloc(sizeof(*spec), GFP_KERNEL);
	if (!spec)
		return -ENOMEM;
	err = skex_group_from_user(optval, &sgu, spec);
	/* The gid is written back: make sure that can work first. */
	if (!err && copy_to_sockptr_offset(optval, gid_off, &sgu.gid,
					   sizeof(sgu.gid)))
		err = -EFAULT;
	if (err)
		goto out;

	mutex_lock(&sn->config_mutex);
	err = skex_group_add(sn, &gid, spec);
	if (!err && copy_to_sockptr_offset(optval, gid_off, &gid,
					   sizeof(gid))) {
		skex_group_del(sn, gid);
		err = -EFAULT;
	}
	mutex_unlock(&sn->config_mutex);
	if (!err)
		skex_group_changed(chg, gid);
out:
	kfree(spec);
	return err;
}

static int skex_group_sockopt_edit(struct sock *sk, sockptr_t optval,
				   struct skex_change *chg)
{
	struct skex_net *sn = skex_net(sock_net(sk));
	struct skex_group_spec *spec;
	struct sock_group_user sgu;
	int err;

	spec = kmalloc(sizeof(*spec), GFP_KERNEL);
	if (!spec)
		return -ENOMEM;
	err = skex_group_from_user(optval, &sgu, spec);
	if (err)
		goto out;

	mutex_lock(&sn->config_mutex);
	err = sgu.gid ? skex_group_edit(sn, sgu.gid, spec) : -ENOENT;
	mutex_unlock(&sn->config_mutex);
	if (!err)
		skex_group_changed(chg, sgu.gid);
out:
	kfree(spec);
	return err;
}

static int skex_group_sockopt_del(struct sock *sk, sockptr_t optval,
				  struct skex_change *chg)
{
	struct skex_net *sn = skex_net(sock_net(sk));
	int gid, err;

	if (copy_from_sockptr(&gid, optval, sizeof(gid)))
		return -EFAULT;
	if (gid < 1 || gid > SKEX_GID_MAX)
		return -ENOENT;

	mutex_lock(&sn->config_mutex);
	err = skex_group_del(sn, gid);
	mutex_unlock(&sn->config_mutex);
	if (!err)
		skex_group_changed(chg, gid);
	return err;
}

static int skex_group_sockopt_flush(struct sock *sk, sockptr_t optval,
				    struct skex_change *chg)
{
	struct skex_net *sn = skex_net(sock_net(sk));
	int ignored;

	/* ignored, but an argument that faults fails like any other */
	if (copy_from_sockptr(&ignored, optval, sizeof(ignored)))
		return -EFAULT;
	mutex_lock(&sn->config_mutex);
	skex_group_flush(sn);
	mutex_unlock(&sn->config_mutex);
	skex_group_changed(chg, 0);
	return 0;
}

int skex_group_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			  unsigned int optlen, struct skex_change *chg)
{
	switch (optname) {
	case TCP_SKEX_ADD_GROUP:
		return skex_group_sockopt_add(sk, optval, chg);
	case TCP_SKEX_EDIT_GROUP:
		return skex_group_sockopt_edit(sk, optval, chg);
	case TCP_SKEX_DEL_GROUP:
		return skex_group_sockopt_del(sk, optval, chg);
	case TCP_SKEX_FLUSH_LIST:
		return skex_group_sockopt_flush(sk, optval, chg);
	}
	return -ENOPROTOOPT;
}
