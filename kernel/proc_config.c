// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The configuration of a namespace, read back: /proc/net/skex_forward and
 * /proc/net/skex_groups, one of each per network namespace (configfs shows
 * the initial namespace only; the sockopt front can set but not list).
 *
 *   $ cat /proc/net/skex_forward	(the header is one line)
 *   port branch type target enable timeout_ms window source pattern chance
 *     hits dropped until offset
 *   80 - content 8080 1 1000 2048 - - - 12 0 \r\n\r\n -
 *   80 img content 8081 - - - - 474554202f696d672f - 5 - - 0
 *
 * A header row, then per rule (sorted by port) one row with branch "-",
 * target its default port and hits its default hits, followed by one row
 * per branch in creation order (target its port, hits its hits). "-" is a
 * value that is not set or does not apply. pattern is in hexadecimal,
 * source in CIDR; branch names escape space, tab, newline and backslash
 * as \ooo. until (content rules) is push, window or the delimiter as
 * configfs writes it, with a space as \x20; offset (content branches) is
 * any or the anchor.
 *
 *   $ cat /proc/net/skex_groups
 *   gid type port quota nonblock throttled burst
 *   1 output_rate 8080 250000 0 17 -
 *   2 accept_ratio 8081 2.5 0 0 -
 *   3 accept_rate 8082 100 0 5 5
 *
 * One row per port of each group, a row with port "-" for a group without
 * ports. quota reads as in configfs ("-": not set yet); burst is
 * accept_rate's ("-" for the other types).
 *
 * Columns are only ever appended. Everything is read under the namespace's
 * config_mutex through the engines' own functions.
 */
#include "skex.h"
#include "forward.h"
#include "group.h"

#include <linux/mm.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <net/net_namespace.h>

#define SKEX_PROC_FW_HEADER \
	"port branch type target enable timeout_ms window source pattern chance hits dropped until offset\n"
#define SKEX_PROC_GROUPS_HEADER "gid type port quota nonblock throttled burst\n"

static const char * const skex_proc_fw_types[] = {
	[SKEX_FW_NONE] = "-",
	[SKEX_FW_DICE] = "dice",
	[SKEX_FW_CONTENT] = "content",
	[SKEX_FW_ADDR] = "address",
};

static void skex_proc_fw_branch(struct seq_file *seq,
				const struct skex_fw_rule *rule,
				struct skex_fw_branch *b)
{
	unsigned int i;

	seq_printf(seq, "%u ", rule->port);
	seq_escape(seq, b->name, " \t\n\\");
	seq_printf(seq, " %s ", skex_proc_fw_types[rule->type]);
	if (b->port)
		seq_printf(seq, "%u", b->port);
	else
		seq_putc(seq, '-');
	seq_puts(seq, " - - - ");
	if (b->family == AF_INET6)
		seq_printf(seq, "%pI6c/%u", &b->addr, b->bits);
	else if (b->family == AF_INET)
		seq_printf(seq, "%pI4/%u", &b->addr.s6_addr32[0], b->bits);
	else
		seq_putc(seq, '-');
	seq_putc(seq, ' ');
	if (b->pat)
		for (i = 0; i < b->pat->len; i++)
			seq_printf(seq, "%02x", b->pat->data[i]);
	else
		seq_putc(seq, '-');
	if (rule->type == SKEX_FW_DICE)
		seq_printf(seq, " %u", b->chance);
	else
		seq_puts(seq, " -");
	seq_printf(seq, " %llu - - ", (unsigned long long)atomic64_read(&b->hits));
	if (rule->type != SKEX_FW_CONTENT)
		seq_puts(seq, "-\n");
	else if (b->offset == SKEX_FC_ANY)
		seq_puts(seq, "any\n");
	else
		seq_printf(seq, "%u\n", b->offset);
}

/*
 * A content rule's until as configfs reads it, in one column: a space is
 * \x20, and a delimiter that would read as a keyword or as "-" has its
 * first byte as \xHH.
 */
static void skex_proc_fw_until(struct seq_file *seq,
			       const struct skex_fw_rule *rule)
{
	static const char * const words[] = { "push", "window", "-" };
	char e[5];
	unsigned int i;
	bool word = false;

	if (rule->type != SKEX_FW_CONTENT) {
		seq_putc(seq, '-');
		return;
	}
	if (rule->until == SKEX_FC_UNTIL_PUSH) {
		seq_puts(seq, "push");
		return;
	}
	if (rule->until != SKEX_FC_UNTIL_DELIM) {
		seq_puts(seq, "window");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (rule->delim_len == strlen(words[i]) &&
		    !memcmp(rule->delim, words[i], rule->delim_len))
			word = true;
	for (i = 0; i < rule->delim_len; i++) {
		u8 c = rule->delim[i];

		if (c == ' ' || (word && !i))
			seq_printf(seq, "\\x%02x", c);
		else if (skex_fc_escape(&c, 1, e, sizeof(e)) < sizeof(e))
			seq_puts(seq, e);
	}
}

static int skex_proc_fw_show(struct seq_file *seq, void *v)
{
	struct skex_fw_net *fw = skex_fw_net_of(seq_file_single_net(seq));
	struct skex_fw_rule **rules;
	struct skex_fw_branch *b;
	unsigned int i, count;
	int err;

	seq_puts(seq, SKEX_PROC_FW_HEADER);
	mutex_lock(skex_fw_mutex(fw));
	err = skex_fw_rules_of_type(fw, 0, &rules, &count);
	if (err) {
		mutex_unlock(skex_fw_mutex(fw));
		return err;
	}
	for (i = 0; i < count; i++) {
		struct skex_fw_rule *rule = rules[i];

		if (rule->deleted)
			continue;
		seq_printf(seq, "%u - %s ", rule->port,
			   skex_proc_fw_types[rule->type]);
		if (rule->def_port)
			seq_printf(seq, "%u", rule->def_port);
		else
			seq_putc(seq, '-');
		seq_printf(seq, " %u %u %u - - - %llu %llu ", rule->enabled,
			   rule->timeout_ms, rule->window,
			   (unsigned long long)atomic64_read(&rule->default_hits),
			   (unsigned long long)atomic64_read(&rule->dropped));
		skex_proc_fw_until(seq, rule);
		seq_puts(seq, " -\n");
		list_for_each_entry(b, &rule->branches, node)
			skex_proc_fw_branch(seq, rule, b);
	}
	mutex_unlock(skex_fw_mutex(fw));
	for (i = 0; i < count; i++)
		skex_fw_rule_put(rules[i]);
	kvfree(rules);
	return 0;
}

/* A quota as configfs reads it, "-" when not set. */
static void skex_proc_quota(struct seq_file *seq, u16 type,
			    const struct skex_group_port_spec *ps)
{
	char buf[SKEX_QUOTA_LEN];

	if (!ps->set) {
		seq_putc(seq, '-');
		return;
	}
	skex_group_quota_str(buf, sizeof(buf), type, ps->quota);
	seq_puts(seq, buf);
}

static int skex_proc_groups_show(struct seq_file *seq, void *v)
{
	struct skex_net *sn = skex_net(seq_file_single_net(seq));
	struct skex_group_spec *spec;
	unsigned int i, j, n;
	u16 *gids;
	int err = 0;

	seq_puts(seq, SKEX_PROC_GROUPS_HEADER);
	spec = kmalloc(sizeof(*spec), GFP_KERNEL);
	if (!spec)
		return -ENOMEM;
	mutex_lock(&sn->config_mutex);
	n = skex_group_list(sn, NULL, 0);
	gids = kvmalloc_array(max(n, 1U), sizeof(*gids), GFP_KERNEL);
	if (!gids) {
		err = -ENOMEM;
		goto unlock;
	}
	n = skex_group_list(sn, gids, n);
	for (i = 0; i < n; i++) {
		const char *type;

		if (skex_group_get(sn, gids[i], spec))
			continue;
		type = spec->type && spec->type < SKEX_GROUP_TYPES ?
		       skex_group_type_names[spec->type] : "-";
		if (!spec->nports)
			seq_printf(seq, "%u %s - - - - -\n", gids[i], type);
		for (j = 0; j < spec->nports; j++) {
			const struct skex_group_port_spec *ps = &spec->ports[j];
			u64 throttled = 0;

			seq_printf(seq, "%u %s %u ", gids[i], type, ps->port);
			skex_proc_quota(seq, spec->type, ps);
			skex_group_throttled(sn, gids[i], ps->port, &throttled);
			seq_printf(seq, " %u %llu", ps->nonblock,
				   (unsigned long long)throttled);
			if (spec->type == SKEX_ACCEPT_ABSOLUTE)
				seq_printf(seq, " %u\n", ps->burst);
			else
				seq_puts(seq, " -\n");
		}
	}
	kvfree(gids);
unlock:
	mutex_unlock(&sn->config_mutex);
	kfree(spec);
	return err;
}

int skex_proc_config_net_init(struct skex_net *sn)
{
	if (!proc_create_net_single("skex_forward", 0444, sn->net->proc_net,
				    skex_proc_fw_show, NULL))
		return -ENOMEM;
	if (!proc_create_net_single("skex_groups", 0444, sn->net->proc_net,
				    skex_proc_groups_show, NULL)) {
		remove_proc_entry("skex_forward", sn->net->proc_net);
		return -ENOMEM;
	}
	return 0;
}

void skex_proc_config_net_exit(struct skex_net *sn)
{
	remove_proc_entry("skex_groups", sn->net->proc_net);
	remove_proc_entry("skex_forward", sn->net->proc_net);
}
