/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The mirror (mirror.c): engine objects of the initial namespace shown as
 * configfs directories, whichever front made them.
 */
#ifndef _SKEX_MIRROR_H
#define _SKEX_MIRROR_H

#include <linux/types.h>

struct skex_net;
struct skex_change;

/* for the dispatcher (sockopt.c) and the module (main.c) */
void skex_mirror_begin(struct skex_net *sn);
void skex_mirror_end(struct skex_net *sn, const struct skex_change *chg);
void skex_mirror_start(void);
void skex_mirror_stop(void);

/* for the make and drop callbacks of the configfs fronts */
bool skex_configfs_mirroring(void);
void skex_configfs_repin(bool unpinned);

#endif /* _SKEX_MIRROR_H */
