// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The seed's setsockopt() commands of the group engine.
 */
#include "skex.h"
#include "group.h"

int skex_group_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			  unsigned int optlen)
{
	return -EOPNOTSUPP;
}
