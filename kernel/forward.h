/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Connection classification and forwarding: the engine's control plane
 * (forward.c; its data path is forward_classify.c) and the two fronts that
 * configure it (forward_configfs.c, forward_sockopt.c).
 *
 * Objects: a rule per incoming port of a namespace, holding branches, each
 * with its own reference count (@ref); an object's memory goes with its
 * last skex_fw_rule_put() or skex_fw_branch_put(). The engine knows
 * nothing of configfs: in the initial namespace, forward_configfs.c makes
 * a directory item for each object, which holds a reference on it.
 *
 * References: each directory holds one (taken when make_group made or
 * adopted the object), and the engine one for each object made through
 * setsockopt() (@kernel_made: the rule table's for a rule, the rule's
 * branch list's for a branch). Whoever takes an object out of the engine
 * under config_mutex (the rule's @deleted set, the branch's @rule cleared)
 * owns the engine's reference and puts it; a directory keeps its object
 * until the mirror (mirror.c) or a user removes it.
 *
 * Locking: every configuration change of a namespace holds
 * skex_net.config_mutex. The classifier never takes it: it reads an
 * immutable snapshot of the rule (struct skex_fw_tab) under RCU.
 */
#ifndef _SKEX_FW_H
#define _SKEX_FW_H

#include <linux/atomic.h>
#include <linux/refcount.h>
#include <linux/in6.h>
#include <linux/list.h>
#include <linux/sockptr.h>
#include <linux/types.h>

#include "forward_content.h"

struct sock;
struct skex_net;
struct skex_fw_net;
struct skex_fw_tab;
struct skex_fw_lsn;
struct skex_port;

/* Rule types, as in uapi/linux/tcp_fw_user.h; 0 while unset (configfs). */
#define SKEX_FW_NONE		0
#define SKEX_FW_DICE		1
#define SKEX_FW_CONTENT		2
#define SKEX_FW_ADDR		3

#define SKEX_FW_TIMEOUT_DEF	1000		/* ms */
#define SKEX_FW_TIMEOUT_MAX	3600000		/* ms */
#define SKEX_FW_WINDOW_DEF	2048		/* bytes */
#define SKEX_FW_WINDOW_MAX	65536		/* bytes */
#define SKEX_FW_PATTERN_MAX	SKEX_FC_PATTERN_MAX	/* bytes */
#define SKEX_FW_UNTIL_DEF	"\r\n\r\n"	/* the end of HTTP headers */
#define SKEX_FW_NAME_MAX	32
#define SKEX_FW_BRANCHES_MAX	4096

/*
 * A content pattern. Immutable; a branch whose pattern changes gets a new
 * one and the old one goes after a grace period. The rule's snapshot
 * compiles all of them into one automaton (forward_content.c).
 */
struct skex_fw_pat {
	struct rcu_head rcu;
	u16 len;
	u8 data[];
};

/*
 * One branch: a condition and the port it sends to.
 *
 * @name is its name (branches/<name>/ in configfs). The other fields are
 * written under config_mutex; @hits is
 * counted by the classifier, which finds the branch through a tab under
 * RCU (a branch is freed a grace period after it left its rule).
 */
struct skex_fw_branch {
	refcount_t ref;
	char name[SKEX_FW_NAME_MAX];
	struct skex_fw_rule *rule;	/* NULL once deleted */
	struct list_head node;		/* in rule->branches */
	u64 seq;			/* creation order, ties go to the oldest */
	bool kernel_made;		/* made by sockopt: the engine's ref */
	u16 port;
	u8 chance;
	u8 family;			/* AF_INET, AF_INET6 or 0: no source */
	u8 bits;			/* set bits in mask */
	struct in6_addr addr;		/* AF_INET: first 4 bytes */
	struct in6_addr mask;
	struct skex_fw_pat *pat;
	u32 offset;			/* content: SKEX_FC_ANY or anchored */
	atomic64_t hits;
	struct rcu_head rcu;
};

/*
 * A rule: incoming port, type, default port, branches.
 *
 * The settings and @branches are written under config_mutex, which also
 * protects @lsn and @enabled; the classifier reads @tab under RCU.
 */
struct skex_fw_rule {
	refcount_t ref;
	struct skex_fw_net *fw;
	u16 port;
	u8 type;
	bool enabled;
	bool kernel_made;		/* made by sockopt: the engine's ref */
	bool deleted;
	bool lazy;			/* setsockopt() adding: see commit */
	bool stale;			/* @tab is older than the settings */
	u16 def_port;
	u32 timeout_ms;
	u32 window;
	enum skex_fc_until until;	/* content: end of the first message */
	u16 delim_len;			/* SKEX_FC_UNTIL_DELIM */
	u8 delim[SKEX_FW_PATTERN_MAX];
	u64 tab_gen;			/* snapshots built */
	struct list_head branches;
	unsigned int nbranches;
	u64 next_seq;
	u64 name_max;			/* the highest N of a branch br<N> */
	struct skex_fw_tab __rcu *tab;
	struct skex_fw_lsn *lsn;
	atomic64_t default_hits;
	atomic64_t dropped;
	struct rcu_head rcu;
};

/*
 * What skex_fw_rule_replace() makes of a rule: its new settings and every
 * branch, in order. The fronts fill it from untrusted input; the engine
 * checks all of it before anything changes.
 */
struct skex_fw_branch_spec {
	char name[SKEX_FW_NAME_MAX];	/* "": br<N>, set by the replace */
	u16 port;
	u16 chance;			/* dice */
	u8 family;			/* address: AF_INET or AF_INET6 */
	bool made;			/* out: a new branch, not a kept one */
	u16 len;			/* content: @pattern's bytes */
	u32 offset;			/* content: SKEX_FC_ANY or the anchor */
	struct in6_addr addr;		/* address; AF_INET: first 4 bytes */
	struct in6_addr mask;
	const u8 *pattern;		/* content */
};

struct skex_fw_rule_spec {
	u8 type;
	u16 def_port;
	u32 timeout_ms;			/* content */
	u32 window;			/* content */
	enum skex_fc_until until;	/* content */
	u16 delim_len;			/* SKEX_FC_UNTIL_DELIM */
	const u8 *delim;
	unsigned int n;
	struct skex_fw_branch_spec *br;
};

/* forward.c: the engine. Functions taking a rule need config_mutex held. */
struct skex_fw_net *skex_fw_net_of(struct net *net);
struct mutex *skex_fw_mutex(struct skex_fw_net *fw);
struct net *skex_fw_netns(struct skex_fw_net *fw);
struct skex_fw_rule *skex_fw_rule_find(struct skex_fw_net *fw, u16 port);
struct skex_fw_rule *skex_fw_rule_create(struct skex_fw_net *fw, u16 port,
					 bool kernel_made);
void skex_fw_rule_delete(struct skex_fw_rule *rule);
void skex_fw_rules_delete(struct skex_fw_rule **rules, unsigned int n);
int skex_fw_rule_set_type(struct skex_fw_rule *rule, u8 type);
int skex_fw_rule_set_default(struct skex_fw_rule *rule, u16 port);
int skex_fw_rule_set_timeout(struct skex_fw_rule *rule, u32 ms);
int skex_fw_rule_set_window(struct skex_fw_rule *rule, u32 bytes);
int skex_fw_rule_set_until(struct skex_fw_rule *rule, enum skex_fc_until until,
			   const u8 *delim, size_t len);
int skex_fw_rule_enable(struct skex_fw_rule *rule, bool on);
void skex_fw_rule_lazy(struct skex_fw_rule *rule, bool on);
void skex_fw_rule_get(struct skex_fw_rule *rule);
void skex_fw_rule_put(struct skex_fw_rule *rule);
int skex_fw_rules_of_type(struct skex_fw_net *fw, u8 type,
			  struct skex_fw_rule ***rules, unsigned int *count);
int skex_fw_rule_replace(struct skex_fw_rule *rule,
			 struct skex_fw_rule_spec *spec, struct list_head *gone);

struct skex_fw_branch *skex_fw_branch_create(struct skex_fw_rule *rule,
					     const char *name,
					     bool kernel_made);
struct skex_fw_branch *skex_fw_branch_find(struct skex_fw_rule *rule,
					   const char *name);
void skex_fw_branch_delete(struct skex_fw_branch *branch);
void skex_fw_rule_flush(struct skex_fw_rule *rule, struct list_head *out);
void skex_fw_branch_get(struct skex_fw_branch *branch);
void skex_fw_branch_put(struct skex_fw_branch *branch);
int skex_fw_branch_set_port(struct skex_fw_branch *branch, u16 port);
int skex_fw_branch_set_chance(struct skex_fw_branch *branch, u32 chance);
int skex_fw_branch_set_source(struct skex_fw_branch *branch, u8 family,
			      const struct in6_addr *addr,
			      const struct in6_addr *mask);
int skex_fw_branch_set_pattern(struct skex_fw_branch *branch,
			       const u8 *data, size_t len);
int skex_fw_branch_set_offset(struct skex_fw_branch *branch, u32 offset);
bool skex_fw_branch_complete(const struct skex_fw_branch *branch);
bool skex_fw_mask_valid(u8 family, const struct in6_addr *mask);

/* forward_sockopt.c: the setsockopt() commands */
struct skex_change;
int skex_fw_setsockopt(struct sock *sk, int optname, sockptr_t optval,
		       unsigned int optlen, struct skex_change *chg);

/* forward.c: module-level state */
int skex_forward_init(void);
void skex_forward_exit(void);

#endif /* _SKEX_FW_H */
