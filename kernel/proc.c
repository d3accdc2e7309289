// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * /proc/net/skex, one per network namespace:
 *
 *   port conns waiting delay_us bytes_in bytes_out
 *   80 12 0 5230 1440 1229312
 *
 * A header row, then one row per port with a TCP listener or used by a
 * rule or group, sorted by port. Columns are only ever appended.
 */
#include "skex.h"

#include <linux/mm.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#define SKEX_PROC_HEADER "port conns waiting delay_us bytes_in bytes_out\n"
/* the longest row: a port and five u64, each with its separator */
#define SKEX_PROC_ROW_MAX (sizeof("65535") + 5 * sizeof("18446744073709551615"))

/*
 * seq_file calls show again, with a buffer twice as large, until the output
 * fits. The ports are walked (and their connections folded) only for a
 * buffer that can take as much as this namespace's last output, or, after
 * an overflow, as many rows of the longest kind: at most twice per read.
 * A buffer too small is declared full, which seq_file takes for an
 * overflow.
 */
static int skex_proc_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct skex_net *sn = skex_net(net);
	struct skex_port_stat *stats;
	size_t count, i;
	int err;

	if (seq->size < READ_ONCE(sn->proc_size)) {
		seq->count = seq->size;
		return 0;
	}
	err = skex_port_stats(net, &stats, &count);
	if (err)
		return err;

	seq_puts(seq, SKEX_PROC_HEADER);
	for (i = 0; i < count; i++)
		seq_printf(seq, "%u %llu %llu %llu %llu %llu\n",
			   stats[i].port, stats[i].conns, stats[i].waiting,
			   div_u64(stats[i].delay_ns, NSEC_PER_USEC),
			   stats[i].bytes_in, stats[i].bytes_out);
	kvfree(stats);
	WRITE_ONCE(sn->proc_size, seq_has_overflowed(seq) ?
		   sizeof(SKEX_PROC_HEADER) + count * SKEX_PROC_ROW_MAX :
		   seq->count + 1);
	return 0;
}

int skex_proc_net_init(struct skex_net *sn)
{
	int err;

	if (!proc_create_net_single("skex", 0444, sn->net->proc_net,
				    skex_proc_show, NULL))
		return -ENOMEM;
	err = skex_proc_config_net_init(sn);
	if (err)
		remove_proc_entry("skex", sn->net->proc_net);
	return err;
}

void skex_proc_net_exit(struct skex_net *sn)
{
	skex_proc_config_net_exit(sn);
	remove_proc_entry("skex", sn->net->proc_net);
}
