// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * configfs directories of the forward engine.
 */
#include "skex.h"
#include "forward.h"

struct configfs_group_operations skex_forward_dir_ops;
