/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * What the engines' configfs fronts (forward_configfs.c, group_configfs.c)
 * and the mirror (mirror.c) share of the tree (configfs.c).
 */
#ifndef _SKEX_CONFIGFS_H
#define _SKEX_CONFIGFS_H

#include <linux/configfs.h>
#include <linux/minmax.h>
#include <linux/string.h>
#include <linux/types.h>

/* Drops the one trailing newline echo(1) adds to what a store gets. */
static inline size_t skex_configfs_chomp(const char *page, size_t count)
{
	if (count && page[count - 1] == '\n')
		count--;
	return count;
}

/*
 * A text value holds no NUL: configfs ends the page with one after @count
 * bytes, so one inside them would silently cut the value short ("10\0junk"
 * read as 10). Every store but a binary-safe pattern refuses it (EINVAL).
 */
static inline bool skex_configfs_has_nul(const char *page, size_t count)
{
	return memchr(page, '\0', count);
}

/*
 * How much of a refused value a log message quotes ("%*pE": escaped, so
 * that control bytes reach the log as text; the messages are
 * rate-limited).
 */
static inline int skex_configfs_quote(const char *page, size_t count)
{
	return min_t(size_t, skex_configfs_chomp(page, count), 32);
}

/* mkdir and rmdir in forward/ and groups/, for skex_configfs_init() */
extern struct configfs_group_operations skex_forward_dir_ops;
extern struct configfs_group_operations skex_group_dir_ops;

/* configfs.c: forward/ and groups/, which the fronts fill */
extern struct config_group skex_forward_group;
extern struct config_group skex_groups_group;

int skex_configfs_parse_name(const char *name, u16 *val);

#endif /* _SKEX_CONFIGFS_H */
