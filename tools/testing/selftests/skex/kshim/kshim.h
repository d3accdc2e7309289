/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel interfaces kernel/forward_content.c uses, for building it
 * in user space (content_unit.c). The headers in kshim/linux/ stand in for
 * the kernel's and include this one.
 */
#ifndef _SKEX_KSHIM_H
#define _SKEX_KSHIM_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef unsigned int gfp_t;

#define GFP_KERNEL		0u
#define __GFP_ACCOUNT		0u
#define U16_MAX			((u16)~0U)
#define U32_MAX			((u32)~0U)

#define min(a, b)		((a) < (b) ? (a) : (b))
#define min_t(t, a, b)		((t)(a) < (t)(b) ? (t)(a) : (t)(b))

#define MAX_ERRNO		4095
#define IS_ERR_VALUE(x)		((unsigned long)(x) >= (unsigned long)-MAX_ERRNO)

static inline void *ERR_PTR(long error)
{
	return (void *)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return IS_ERR_VALUE(ptr);
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return !ptr || IS_ERR_VALUE(ptr);
}

/* counts the allocations still live, to find leaks */
extern long kshim_live;

static inline void *kzalloc(size_t n, gfp_t gfp)
{
	void *p = calloc(1, n);

	(void)gfp;
	if (p)
		kshim_live++;
	return p;
}

static inline void *kvmalloc_array(size_t n, size_t size, gfp_t gfp)
{
	void *p;

	(void)gfp;
	if (size && n > SIZE_MAX / size)
		return NULL;
	p = malloc(n && size ? n * size : 1);
	if (p)
		kshim_live++;
	return p;
}

static inline void kvfree(const void *p)
{
	if (p)
		kshim_live--;
	free((void *)p);
}

#define kfree(p)		kvfree(p)

static inline void sort(void *base, size_t num, size_t size,
			int (*cmp)(const void *, const void *), void *swap)
{
	(void)swap;
	qsort(base, num, size, cmp);
}

static inline int hex_to_bin(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

#define hex_asc_lo(x)		("0123456789abcdef"[(x) & 0x0f])
#define hex_asc_hi(x)		("0123456789abcdef"[((x) & 0xf0) >> 4])

#endif /* _SKEX_KSHIM_H */
