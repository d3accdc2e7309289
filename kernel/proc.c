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

static int skex_proc_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct skex_port_stat *stats;
	size_t count, i;
	int err;

	err = skex_port_stats(net, &stats, &count);
	if (err)
		return err;

	seq_puts(seq, "port conns waiting delay_us bytes_in bytes_out\n");
	for (i = 0; i < count; i++)
		seq_printf(seq, "%u %llu %llu %llu %llu %llu\n",
			   stats[i].port, stats[i].conns, stats[i].waiting,
			   div_u64(stats[i].delay_ns, NSEC_PER_USEC),
			   stats[i].bytes_in, stats[i].bytes_out);
	kvfree(stats);
	return 0;
}

int skex_proc_net_init(struct skex_net *sn)
{
	if (!proc_create_net_single("skex", 0444, sn->net->proc_net,
				    skex_proc_show, NULL))
		return -ENOMEM;
	return 0;
}

void skex_proc_net_exit(struct skex_net *sn)
{
	remove_proc_entry("skex", sn->net->proc_net);
}
