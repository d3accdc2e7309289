// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Socket groups: accept rate, accept ratio, output rate (SPEC section 2).
 */
#include "skex.h"
#include "group.h"

int skex_group_net_init(struct skex_net *sn)
{
	return 0;
}

void skex_group_net_exit(struct skex_net *sn)
{
}
