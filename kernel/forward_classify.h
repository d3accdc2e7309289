/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Forwarding, the data path (forward_classify.c): the snapshot a rule's
 * classifier reads, built by the control plane (forward.c), and what each
 * half calls of the other.
 */
#ifndef _SKEX_FW_CLASSIFY_H
#define _SKEX_FW_CLASSIFY_H

#include <linux/in6.h>
#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct skex_net;
struct skex_port;
struct skex_fc;
struct skex_fw_branch;
struct skex_fw_pat;
struct skex_fw_rule;
struct skex_fw_lsn;
struct workqueue_struct;

/*
 * Per namespace: the rules by incoming port. Written under config_mutex,
 * as are the counts (bounded by net.skex.max_rules and max_branches).
 */
struct skex_fw_net {
	struct skex_net *sn;
	struct xarray rules;
	unsigned int nrules;
	unsigned int nbranches;	/* of the rules in @rules */
	bool dying;		/* the namespace is going: reset, don't hand off */
};

/* A branch as the classifier sees it, copied into a tab. */
struct skex_fw_ent {
	struct skex_fw_branch *br;
	struct skex_fw_pat *pat;
	u64 seq;
	u16 port;
	u8 chance;
	u8 family;
	u8 bits;
	bool indexed;		/* in tab->sorted yet: while building */
	u32 offset;
	struct in6_addr addr;
	struct in6_addr mask;
};

/* Address entries sharing one mask, sorted by address in tab->sorted. */
struct skex_fw_level {
	u8 family;
	u8 bits;
	struct in6_addr mask;
	unsigned int first;
	unsigned int count;
};

/*
 * The immutable snapshot of a rule the classifier works from. Rebuilt
 * under config_mutex on every change, published with RCU. @ent holds the
 * complete branches by creation order; @sorted and @levels index the
 * address branches by (family, mask length desc, mask, address); @ports
 * are the ports the rule lists in /proc/net/skex.
 */
struct skex_fw_tab {
	struct rcu_head rcu;
	u64 gen;		/* the rule's tab_gen when built */
	u8 type;
	u16 def_port;
	unsigned long timeout;	/* jiffies */
	u32 window;
	unsigned int n;
	unsigned int nlevels;
	unsigned int nports;
	struct skex_fw_ent *ent;
	struct skex_fw_ent **sorted;
	struct skex_fw_level *levels;
	struct skex_port **ports;
	struct skex_fc *fc;	/* content: the automaton of @ent's patterns */
};

/* forward.c: for the data path */
extern struct workqueue_struct *skex_fw_wq;
int skex_fw_seq_cmp(const void *key, const void *elt);
void skex_fw_rule_fresh(struct skex_fw_rule *rule);

/*
 * forward_classify.c: a rule's listener, opened and closed by forward.c.
 * Closing goes in two steps, so that closing many waits for one grace
 * period: skex_fw_listen_stop() puts each on a batch, and
 * skex_fw_listen_close_batch() returns when all of them are gone.
 */
struct skex_fw_lsn *skex_fw_listen_open(struct skex_fw_rule *rule);
void skex_fw_listen_stop(struct skex_fw_lsn *lsn, struct list_head *batch);
void skex_fw_listen_close_batch(struct list_head *batch);
void skex_fw_listen_kick(struct skex_fw_lsn *lsn);

#endif /* _SKEX_FW_CLASSIFY_H */
