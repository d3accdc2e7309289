/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 */
#ifndef _SKEX_FW_H
#define _SKEX_FW_H

#include <linux/configfs.h>
#include <linux/sockptr.h>

struct sock;

/* forward_sockopt.c: the seed's setsockopt() commands */
int skex_fw_setsockopt(struct sock *sk, int optname, sockptr_t optval,
		       unsigned int optlen);

/* forward_configfs.c: mkdir/rmdir under /sys/kernel/config/skex/ */
extern struct configfs_group_operations skex_forward_dir_ops;

#endif /* _SKEX_FW_H */
