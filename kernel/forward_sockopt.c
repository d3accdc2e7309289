// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The seed's setsockopt() commands of the forward engine.
 */
#include "skex.h"
#include "forward.h"

int skex_fw_setsockopt(struct sock *sk, int optname, sockptr_t optval,
		       unsigned int optlen)
{
	return -EOPNOTSUPP;
}
