// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The matcher of content rules: SPEC section 1, content. The branch whose
 * pattern completes a match earliest in the client's bytes wins (ties: the
 * lower index, the older branch); the default wins as soon as no branch can
 * match any more — every anchored pattern diverged and none is unanchored —
 * or the client's first message is complete (until: PSH or a delimiter),
 * at the latest after `window` bytes. (Half-close and timeout are the
 * caller's.)
 *
 * The automaton, built once per rule snapshot:
 *  - the unanchored patterns and the delimiter in one Aho-Corasick trie
 *    (node 0 its root, with a table of its 256 children): each node knows
 *    the lowest pattern index ending there or at a node on its failure
 *    chain (@out) and whether the delimiter does (@delim);
 *  - the anchored patterns in one plain trie per distinct offset ("group"),
 *    groups sorted by offset; a group is matched byte by byte from its
 *    offset until it diverges or reaches a leaf.
 * Children are kept as byte-sorted edges, contiguous per node. Nodes are
 * at most 1 + groups + the patterns' bytes + the delimiter's: with 4096
 * patterns of 256 bytes, 1M nodes of 12 bytes plus 5 bytes of edge each
 * (about 17 MB, charged to the configuring task's memory cgroup).
 *
 * Cost per connection: each byte is examined once, in one step of the
 * trie, whose failure steps are paid for by the steps down (at most two
 * transitions per byte over the stream), whatever the segmentation;
 * anchored groups add one step per byte per overlapping group (one when
 * all patterns share an offset) and only within offset + 256. State:
 * struct skex_fc_state plus 4 bytes per slot (at most 256 slots).
 */
#include "forward_content.h"

#include <linux/err.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>

#define SKEX_FC_NONE		U16_MAX		/* no pattern ends here */
#define SKEX_FC_NOPARENT	U32_MAX		/* the root of a trie */
/* above this many edges a node's children are binary-searched */
#define SKEX_FC_LINEAR		8

struct skex_fc_node {
	u32 edge;		/* first edge in @ebyte/@enext */
	u32 fail;		/* unanchored trie: the failure link */
	u16 out;		/* lowest pattern index ending here */
	u16 nedge : 15;		/* children, at most 256 */
	u16 delim : 1;		/* the delimiter ends here */
};

struct skex_fc {
	u32 window;
	enum skex_fc_until until;
	bool any;		/* unanchored patterns exist */
	bool ac;		/* run the unanchored trie (patterns or delim) */
	u32 nnodes;
	u32 ngroups;
	u32 nslots;
	struct skex_fc_node *node;
	u8 *ebyte;
	u32 *enext;
	u32 *goff;		/* group offsets, ascending */
	u32 *groot;		/* group trie roots */
	u32 root[256];		/* children of node 0, 0: none */
};

/* A pattern being placed in the tries: sorted by group, then bytes. */
struct skex_fc_item {
	u64 key;		/* 0: unanchored trie; else offset + 1 */
	const u8 *data;
	u16 len;
	u16 idx;		/* pattern index, SKEX_FC_NONE: the delimiter */
};

static int skex_fc_item_cmp(const void *a, const void *b)
{
	const struct skex_fc_item *x = a, *y = b;
	int c;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	c = memcmp(x->data, y->data, min(x->len, y->len));
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The child of node @v on byte @c, 0 if none (node 0 is nobody's child). */
static inline u32 skex_fc_child(const struct skex_fc *fc, u32 v, u8 c)
{
	const struct skex_fc_node *nd = &fc->node[v];
	const u8 *b = fc->ebyte + nd->edge;
	unsigned int lo = 0, hi = nd->nedge;

	if (!v)
		return fc->root[c];
	if (hi <= SKEX_FC_LINEAR) {
		for (; lo < hi; lo++)
			if (b[lo] == c)
				return fc->enext[nd->edge + lo];
		return 0;
	}
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (b[mid] == c)
			return fc->enext[nd->edge + mid];
		if (b[mid] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void skex_fc_free(struct skex_fc *fc)
{
	if (IS_ERR_OR_NULL(fc))
		return;
	kvfree(fc->node);
	kvfree(fc->ebyte);
	kvfree(fc->enext);
	kvfree(fc->goff);
	kvfree(fc->groot);
	kfree(fc);
}

size_t skex_fc_mem(const struct skex_fc *fc)
{
	return sizeof(*fc) +
	       (size_t)fc->nnodes * (sizeof(*fc->node) + sizeof(*fc->ebyte) +
				     sizeof(*fc->enext)) +
	       (size_t)fc->ngroups * (sizeof(*fc->goff) + sizeof(*fc->groot));
}

/*
 * Make the nodes of the sorted @items: one root per trie, then each
 * item's path, sharing the prefix it has with the item before it in the
 * same trie. Nodes are made depth first in byte order, so a node's
 * children are made in byte order too. @parent and @byte (per node) are
 * for skex_fc_link().
 */
static void skex_fc_place(struct skex_fc *fc, const struct skex_fc_item *items,
			  unsigned int nitems, u32 *parent, u8 *byte)
{
	u32 path[SKEX_FC_PATTERN_MAX + 1];
	const struct skex_fc_item *prev = NULL;
	unsigned int i, d;
	u32 g = 0;

	fc->nnodes = 1;			/* node 0: the unanchored trie's root */
	path[0] = 0;
	for (i = 0; i < nitems; i++) {
		const struct skex_fc_item *it = &items[i];
		struct skex_fc_node *nd;
		unsigned int lcp = 0;

		if (it->key && (!prev || prev->key != it->key)) {
			/* a new anchored group and its root */
			fc->goff[g] = it->key - 1;
			fc->groot[g++] = fc->nnodes;
			parent[fc->nnodes] = SKEX_FC_NOPARENT;
			path[0] = fc->nnodes++;
			prev = NULL;
		}
		if (prev)
			while (lcp < prev->len && lcp < it->len &&
			       prev->data[lcp] == it->data[lcp])
				lcp++;
		for (d = lcp; d < it->len; d++) {
			parent[fc->nnodes] = path[d];
			byte[fc->nnodes] = it->data[d];
			path[d + 1] = fc->nnodes++;
		}
		nd = &fc->node[path[it->len]];
		if (it->idx == SKEX_FC_NONE)
			nd->delim = 1;
		else if (it->idx < nd->out)
			nd->out = it->idx;
		prev = it;
	}
}

/*
 * Lay out each node's children as contiguous edges, in byte order. The
 * nodes' @fail serves as their fill cursor meanwhile.
 */
static void skex_fc_link(struct skex_fc *fc, const u32 *parent, const u8 *byte)
{
	u32 v, e = 0;

	for (v = 1; v < fc->nnodes; v++)
		if (parent[v] != SKEX_FC_NOPARENT)
			fc->node[parent[v]].nedge++;
	for (v = 0; v < fc->nnodes; v++) {
		fc->node[v].edge = e;
		fc->node[v].fail = e;
		e += fc->node[v].nedge;
	}
	for (v = 1; v < fc->nnodes; v++) {
		u32 p = parent[v];

		if (p == SKEX_FC_NOPARENT)
			continue;
		fc->ebyte[fc->node[p].fail] = byte[v];
		fc->enext[fc->node[p].fail++] = v;
		if (!p)
			fc->root[byte[v]] = v;
	}
	for (v = 0; v < fc->nnodes; v++)
		fc->node[v].fail = 0;
}

/*
 * Failure links of the unanchored trie, breadth first so that a node's
 * link is known before its children's; @out and @delim take in what ends
 * at the link (a pattern that is a suffix of this path ends here too).
 */
static void skex_fc_fail(struct skex_fc *fc, u32 *queue)
{
	u32 head = 0, tail = 0;

	queue[tail++] = 0;
	while (head < tail) {
		u32 u = queue[head++];
		struct skex_fc_node *nu = &fc->node[u];
		u32 k;

		for (k = 0; k < nu->nedge; k++) {
			u32 v = fc->enext[nu->edge + k];
			struct skex_fc_node *nv = &fc->node[v];
			u8 c = fc->ebyte[nu->edge + k];
			u32 f = u, t = 0;

			while (f) {
				f = fc->node[f].fail;
				t = skex_fc_child(fc, f, c);
				if (t)
					break;
			}
			nv->fail = t;
			if (fc->node[t].out < nv->out)
				nv->out = fc->node[t].out;
			nv->delim |= fc->node[t].delim;
			queue[tail++] = v;
		}
	}
}

/*
 * Build the automaton of @n patterns (index = priority, creation order)
 * and @params. Anchored patterns that end beyond the window can never
 * match and are left out. May sleep (@gfp: GFP_KERNEL, maybe with
 * __GFP_NOFAIL); memory is charged to the caller's memory cgroup.
 */
struct skex_fc *skex_fc_build(const struct skex_fc_pattern *pats,
			      unsigned int n,
			      const struct skex_fc_params *params, gfp_t gfp)
{
	struct skex_fc_item *items = NULL;
	unsigned int i, nitems = 0;
	size_t bytes = 0;
	struct skex_fc *fc;
	u32 *parent = NULL;
	u8 *byte = NULL;
	int err = -ENOMEM;
	u32 v;

	gfp |= __GFP_ACCOUNT;
	if (n > SKEX_FC_PATTERNS_MAX || !params->window)
		return ERR_PTR(-EINVAL);
	if (params->until == SKEX_FC_UNTIL_DELIM &&
	    (!params->delim_len || params->delim_len > SKEX_FC_PATTERN_MAX))
		return ERR_PTR(-EINVAL);
	fc = kzalloc(sizeof(*fc), gfp);
	if (!fc)
		return ERR_PTR(-ENOMEM);
	fc->window = params->window;
	fc->until = params->until;

	items = kvmalloc_array(n + 1, sizeof(*items), gfp);
	if (!items)
		goto fail;
	for (i = 0; i < n; i++) {
		const struct skex_fc_pattern *p = &pats[i];
		struct skex_fc_item *it = &items[nitems];

		err = -EINVAL;
		if (!p->len || p->len > SKEX_FC_PATTERN_MAX)
			goto fail;
		if (p->offset != SKEX_FC_ANY &&
		    (u64)p->offset + p->len > fc->window)
			continue;	/* cannot match */
		it->key = p->offset == SKEX_FC_ANY ? 0 : (u64)p->offset + 1;
		it->data = p->data;
		it->len = p->len;
		it->idx = i;
		if (!it->key)
			fc->any = true;
		bytes += p->len;
		nitems++;
	}
	if (params->until == SKEX_FC_UNTIL_DELIM) {
		items[nitems].key = 0;
		items[nitems].data = params->delim;
		items[nitems].len = params->delim_len;
		items[nitems++].idx = SKEX_FC_NONE;
		bytes += params->delim_len;
	}
	fc->ac = fc->any || params->until == SKEX_FC_UNTIL_DELIM;
	sort(items, nitems, sizeof(*items), skex_fc_item_cmp, NULL);
	for (i = 0; i < nitems; i++)
		if (items[i].key && (!i || items[i - 1].key != items[i].key))
			fc->ngroups++;
	fc->nslots = min_t(u32, fc->ngroups, SKEX_FC_SLOTS_MAX);

	/* upper bound of the nodes: the roots and one per byte */
	err = -ENOMEM;
	v = 1 + fc->ngroups + bytes;
	fc->node = kvmalloc_array(v, sizeof(*fc->node), gfp);
	fc->ebyte = kvmalloc_array(v, sizeof(*fc->ebyte), gfp);
	fc->enext = kvmalloc_array(v, sizeof(*fc->enext), gfp);
	fc->goff = kvmalloc_array(fc->ngroups, sizeof(*fc->goff), gfp);
	fc->groot = kvmalloc_array(fc->ngroups, sizeof(*fc->groot), gfp);
	parent = kvmalloc_array(v, sizeof(*parent), gfp);
	byte = kvmalloc_array(v, sizeof(*byte), gfp);
	if (!fc->node || !fc->ebyte || !fc->enext || !fc->goff ||
	    !fc->groot || !parent || !byte)
		goto fail;
	for (i = 0; i < v; i++)
		fc->node[i] = (struct skex_fc_node){ .out = SKEX_FC_NONE };

	skex_fc_place(fc, items, nitems, parent, byte);
	/* @items point into @pats: done with them */
	kvfree(items);
	items = NULL;
	skex_fc_link(fc, parent, byte);
	kvfree(byte);
	byte = NULL;
	if (fc->ac)
		skex_fc_fail(fc, parent /* reused as queue */);
	kvfree(parent);
	return fc;

fail:
	kvfree(parent);
	kvfree(byte);
	kvfree(items);
	skex_fc_free(fc);
	return ERR_PTR(err);
}

size_t skex_fc_state_size(const struct skex_fc *fc)
{
	return sizeof(struct skex_fc_state) + fc->nslots * sizeof(u32);
}

/* Starts @st: SKEX_FC_DEFAULT at once if no pattern can ever match. */
int skex_fc_start(const struct skex_fc *fc, struct skex_fc_state *st)
{
	memset(st, 0, skex_fc_state_size(fc));
	st->alive = fc->ngroups;
	st->verdict = SKEX_FC_MORE;
	if (!fc->any && !st->alive)
		st->verdict = SKEX_FC_DEFAULT;
	return st->verdict;
}

/* Step the anchored groups over byte @c at st->pos: the best pattern ending. */
static u16 skex_fc_anchored(const struct skex_fc *fc, struct skex_fc_state *st,
			    u8 c)
{
	u16 best = SKEX_FC_NONE;
	u32 g;

	while (st->gnext < fc->ngroups && fc->goff[st->gnext] == st->pos) {
		st->slot[st->gnext % fc->nslots] = fc->groot[st->gnext];
		st->gnext++;
	}
	for (g = st->glo; g < st->gnext; g++) {
		u32 *s = &st->slot[g % fc->nslots];
		u32 t;

		if (!*s)
			continue;
		t = skex_fc_child(fc, *s, c);
		if (t && fc->node[t].out < best)
			best = fc->node[t].out;
		if (!t || !fc->node[t].nedge) {
			t = 0;			/* diverged or complete */
			st->alive--;
		}
		*s = t;
	}
	while (st->glo < st->gnext && !st->slot[st->glo % fc->nslots])
		st->glo++;
	return best;
}

/*
 * Examine the next @len bytes of the client's stream. Returns the
 * verdict; bytes after a decision are not looked at.
 */
int skex_fc_feed(const struct skex_fc *fc, struct skex_fc_state *st,
		 const u8 *buf, size_t len)
{
	const bool delim = fc->until == SKEX_FC_UNTIL_DELIM;
	size_t i;

	for (i = 0; i < len && st->verdict == SKEX_FC_MORE; i++) {
		u16 best = SKEX_FC_NONE;
		bool end = false;
		u8 c = buf[i];

		if (fc->ac) {
			u32 v = st->node, t;

			for (;;) {
				t = skex_fc_child(fc, v, c);
				if (t || !v)
					break;
				v = fc->node[v].fail;
			}
			st->node = t;
			best = fc->node[t].out;
			end = delim && fc->node[t].delim;
		}
		if (st->glo < st->gnext || st->gnext < fc->ngroups) {
			u16 a = skex_fc_anchored(fc, st, c);

			if (a < best)
				best = a;
		}
		st->pos++;
		if (best != SKEX_FC_NONE)
			st->verdict = best;
		else if (end || st->pos >= fc->window ||
			 (!fc->any && !st->alive))
			st->verdict = SKEX_FC_DEFAULT;
	}
	return st->verdict;
}

/* The bytes fed so far end a segment with PSH: a write of the client's. */
int skex_fc_push(const struct skex_fc *fc, struct skex_fc_state *st)
{
	if (st->verdict == SKEX_FC_MORE && fc->until == SKEX_FC_UNTIL_PUSH &&
	    st->pos)
		st->verdict = SKEX_FC_DEFAULT;
	return st->verdict;
}

/*
 * Escaped text to bytes: `\r \n \t \0 \\ \xHH`, other bytes as they are.
 * Returns the length, -EINVAL for a bad escape or nothing at all, -ERANGE
 * when more than @cap bytes would result.
 */
int skex_fc_unescape(const char *text, size_t len, u8 *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		u8 c = text[i];

		if (c == '\\') {
			if (++i == len)
				return -EINVAL;
			switch (text[i]) {
			case 'r':
				c = '\r';
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case '0':
				c = 0;
				break;
			case '\\':
				c = '\\';
				break;
			case 'x': {
				int h, l;

				if (len - i < 3)
					return -EINVAL;
				h = hex_to_bin(text[i + 1]);
				l = hex_to_bin(text[i + 2]);
				if (h < 0 || l < 0)
					return -EINVAL;
				c = h << 4 | l;
				i += 2;
				break;
			}
			default:
				return -EINVAL;
			}
		}
		if (n == cap)
			return -ERANGE;
		out[n++] = c;
	}
	if (!n)
		return -EINVAL;
	return n;
}

/*
 * Bytes to escaped text that skex_fc_unescape() reads back. Writes at most
 * @cap bytes and a NUL; returns the length it needed (without the NUL).
 */
size_t skex_fc_escape(const u8 *data, size_t len, char *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		char e[4];
		size_t k, m;
		u8 c = data[i];

		if (c == '\r' || c == '\n' || c == '\t' || c == '\\') {
			e[0] = '\\';
			e[1] = c == '\r' ? 'r' : c == '\n' ? 'n' :
			       c == '\t' ? 't' : '\\';
			m = 2;
		} else if (c < 0x20 || c > 0x7e) {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex_asc_hi(c);
			e[3] = hex_asc_lo(c);
			m = 4;
		} else {
			e[0] = c;
			m = 1;
		}
		for (k = 0; k < m; k++, n++)
			if (n + 1 < cap)
				out[n] = e[k];
	}
	if (cap)
		out[min(n, cap - 1)] = 0;
	return n;
}
