// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The per-namespace limits, as sysctls (docs/design.md, "Resource
 * bounds"):
 *
 *   net.skex.max_rules      forwarding rules of the namespace
 *   net.skex.max_branches   branches of all its rules together
 *   net.skex.max_groups     socket groups
 *
 * A namespace's root (CAP_NET_ADMIN over it, e.g. after unshare -Urn)
 * may set them between 0 and the initial namespace's value, which only
 * the initial namespace's root may raise. A new namespace starts with the
 * initial one's values. Creating beyond a limit fails with ENOSPC; a
 * lowered limit keeps what exists.
 */
#include "skex.h"

#include <linux/slab.h>
#include <linux/sysctl.h>
#include <net/net_namespace.h>

#include "compat.h"

/* Hard ceilings of the initial namespace's values. */
static unsigned int skex_max_rules_hard = 65535;
static unsigned int skex_max_branches_hard = 1U << 24;
static unsigned int skex_max_groups_hard = 65535;

static const struct ctl_table skex_sysctl_template[] = {
	{
		.procname = "max_rules",
		.maxlen = sizeof(unsigned int),
		.mode = 0644,
		.proc_handler = proc_douintvec_minmax,
	},
	{
		.procname = "max_branches",
		.maxlen = sizeof(unsigned int),
		.mode = 0644,
		.proc_handler = proc_douintvec_minmax,
	},
	{
		.procname = "max_groups",
		.maxlen = sizeof(unsigned int),
		.mode = 0644,
		.proc_handler = proc_douintvec_minmax,
	},
	{ }
};

#define SKEX_SYSCTL_N	(ARRAY_SIZE(skex_sysctl_template) - 1)

int skex_sysctl_net_init(struct skex_net *sn)
{
	struct skex_net *top = skex_net(&init_net);
	bool init = net_eq(sn->net, &init_net);
	unsigned int *val[SKEX_SYSCTL_N] = {
		&sn->max_rules, &sn->max_branches, &sn->max_groups,
	};
	unsigned int *ceiling[SKEX_SYSCTL_N] = {
		&top->max_rules, &top->max_branches, &top->max_groups,
	};
	unsigned int *hard[SKEX_SYSCTL_N] = {
		&skex_max_rules_hard, &skex_max_branches_hard,
		&skex_max_groups_hard,
	};
	struct ctl_table *table;
	unsigned int i;

	if (init) {
		sn->max_rules = SKEX_MAX_RULES_DEF;
		sn->max_branches = SKEX_MAX_BRANCHES_DEF;
		sn->max_groups = SKEX_MAX_GROUPS_DEF;
	} else {
		sn->max_rules = READ_ONCE(top->max_rules);
		sn->max_branches = READ_ONCE(top->max_branches);
		sn->max_groups = READ_ONCE(top->max_groups);
	}

	table = kmemdup(skex_sysctl_template, sizeof(skex_sysctl_template),
			GFP_KERNEL_ACCOUNT);
	if (!table)
		return -ENOMEM;
	for (i = 0; i < SKEX_SYSCTL_N; i++) {
		table[i].data = val[i];
		table[i].extra1 = SYSCTL_ZERO;
		/* the initial namespace's value bounds every other's */
		table[i].extra2 = init ? hard[i] : ceiling[i];
	}
	sn->sysctl = skex_register_net_sysctl(sn->net, "net/skex", table,
					      SKEX_SYSCTL_N);
	if (!sn->sysctl) {
		kfree(table);
		return -ENOMEM;
	}
	return 0;
}

void skex_sysctl_net_exit(struct skex_net *sn)
{
	const struct ctl_table *table;

	if (!sn->sysctl)
		return;
	table = sn->sysctl->ctl_table_arg;
	unregister_net_sysctl_table(sn->sysctl);
	sn->sysctl = NULL;
	kfree(table);
}
