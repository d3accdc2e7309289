/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 */
#ifndef _SKEX_TCP_HOOKS_H
#define _SKEX_TCP_HOOKS_H

int skex_tcp_hooks_init(void);
void skex_tcp_hooks_exit(void);

#endif /* _SKEX_TCP_HOOKS_H */
