/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Directories the kernel makes and removes in the module's configfs tree,
 * so that objects made through the sockopt front are ordinary directories
 * (configfs.c, "mirror").
 */
#ifndef _SKEX_CONFIGFS_H
#define _SKEX_CONFIGFS_H

#include <linux/types.h>

struct dentry;

bool skex_configfs_mirroring(void);
struct dentry *skex_configfs_child(struct dentry *parent, const char *name);
int skex_configfs_mkdir(struct dentry *parent, const char *name);
int skex_configfs_rmdir(struct dentry *parent, const char *name);
void skex_configfs_repin(bool unpinned);

#endif /* _SKEX_CONFIGFS_H */
