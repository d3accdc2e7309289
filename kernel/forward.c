// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Connection classification and forwarding (SPEC section 1).
 */
#include "skex.h"
#include "forward.h"

int skex_forward_net_init(struct skex_net *sn)
{
	return 0;
}

void skex_forward_net_exit(struct skex_net *sn)
{
}
