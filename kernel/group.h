/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 */
#ifndef _SKEX_GROUP_H
#define _SKEX_GROUP_H

#include <linux/configfs.h>
#include <linux/sockptr.h>

struct sock;

/* group_sockopt.c: the seed's setsockopt() commands */
int skex_group_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			  unsigned int optlen);

/* group_configfs.c: mkdir/rmdir under /sys/kernel/config/skex/ */
extern struct configfs_group_operations skex_group_dir_ops;

#endif /* _SKEX_GROUP_H */
