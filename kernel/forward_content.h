/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The matcher of content rules (SPEC section 1, content): one automaton per
 * rule snapshot, fed with each connection's bytes as they arrive, that
 * says which branch wins or that the default does, as soon as that is
 * certain.
 *
 * Built once with the snapshot (skex_fc_build(), may sleep), immutable
 * after, freed with the snapshot (skex_fc_free()). Each connection keeps a
 * struct skex_fc_state of skex_fc_state_size() bytes, started with
 * skex_fc_start() and fed with skex_fc_feed(); a PSH that ends one of the
 * client's writes is told with skex_fc_push(). None of these sleeps,
 * allocates or takes a lock; several connections may use one automaton at
 * once.
 *
 * A verdict is SKEX_FC_MORE (undecided), SKEX_FC_DEFAULT, or the index of
 * the winning pattern in the array given to skex_fc_build() (the array is
 * in creation order: a lower index wins a tie). Once decided, a state
 * keeps its verdict.
 *
 * Also here: the escaped text of a delimiter (`\r\n\r\n`) both ways.
 */
#ifndef _SKEX_FORWARD_CONTENT_H
#define _SKEX_FORWARD_CONTENT_H

#include <linux/types.h>

#define SKEX_FC_PATTERN_MAX	256		/* bytes, patterns and delimiter */
#define SKEX_FC_PATTERNS_MAX	4096
#define SKEX_FC_SLOTS_MAX	256		/* anchored groups at once */
#define SKEX_FC_ANY		U32_MAX		/* offset of an unanchored pattern */

#define SKEX_FC_MORE		(-1)
#define SKEX_FC_DEFAULT		(-2)

/* What ends the client's first message, after which D is chosen. */
enum skex_fc_until {
	SKEX_FC_UNTIL_WINDOW,	/* nothing before window/half-close/timeout */
	SKEX_FC_UNTIL_PUSH,	/* the end of a segment with PSH */
	SKEX_FC_UNTIL_DELIM,	/* the end of the first delimiter */
};

/* One branch's pattern: @len bytes that must start at @offset, or anywhere. */
struct skex_fc_pattern {
	const u8 *data;
	u16 len;		/* 1 to SKEX_FC_PATTERN_MAX */
	u32 offset;		/* SKEX_FC_ANY or a byte offset */
};

struct skex_fc_params {
	u32 window;		/* bytes examined at most, >= 1 */
	enum skex_fc_until until;
	u16 delim_len;		/* SKEX_FC_UNTIL_DELIM: 1 to SKEX_FC_PATTERN_MAX */
	const u8 *delim;
};

struct skex_fc;

/*
 * A connection's progress. @slot holds the trie nodes of the anchored
 * groups (patterns sharing an offset) being matched, indexed by group
 * modulo the automaton's slot count (at most 256: groups whose patterns
 * overlap the current byte have distinct offsets less than 256 apart).
 */
struct skex_fc_state {
	u32 pos;		/* bytes examined */
	u32 node;		/* unanchored automaton */
	u32 glo;		/* first anchored group that may be alive */
	u32 gnext;		/* first anchored group not started */
	u32 alive;		/* anchored groups not diverged (started or not) */
	int verdict;
	u32 slot[];		/* 0: diverged */
};

/* What skex_fc_state_size() is at most, for any automaton. */
#define SKEX_FC_STATE_MAX	(sizeof(struct skex_fc_state) +		\
				 SKEX_FC_SLOTS_MAX * sizeof(u32))

struct skex_fc *skex_fc_build(const struct skex_fc_pattern *pats,
			      unsigned int n,
			      const struct skex_fc_params *params, gfp_t gfp);
void skex_fc_free(struct skex_fc *fc);
size_t skex_fc_mem(const struct skex_fc *fc);
size_t skex_fc_state_size(const struct skex_fc *fc);
int skex_fc_start(const struct skex_fc *fc, struct skex_fc_state *st);
int skex_fc_feed(const struct skex_fc *fc, struct skex_fc_state *st,
		 const u8 *buf, size_t len);
int skex_fc_push(const struct skex_fc *fc, struct skex_fc_state *st);

int skex_fc_unescape(const char *text, size_t len, u8 *out, size_t cap);
size_t skex_fc_escape(const u8 *data, size_t len, char *out, size_t cap);

#endif /* _SKEX_FORWARD_CONTENT_H */
