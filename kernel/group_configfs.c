// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * configfs directories of the group engine.
 */
#include "skex.h"
#include "group.h"

struct configfs_group_operations skex_group_dir_ops;
