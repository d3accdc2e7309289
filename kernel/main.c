// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * skex: connection forwarding, socket-level traffic control and network
 * meters for stock kernels.
 */
#include "skex.h"
#include "configfs.h"
#include "forward.h"
#include "group.h"
#include "mirror.h"
#include "tcp_hooks.h"

#include <linux/module.h>

static int __net_init skex_net_init(struct net *net)
{
	struct skex_net *sn = skex_net(net);
	int err;

	sn->net = net;
	mutex_init(&sn->config_mutex);
	err = skex_sysctl_net_init(sn);
	if (err)
		return err;
	err = skex_netmeter_net_init(sn);
	if (err)
		goto err_sysctl;
	err = skex_forward_net_init(sn);
	if (err)
		goto err_netmeter;
	err = skex_group_net_init(sn);
	if (err)
		goto err_forward;
	err = skex_proc_net_init(sn);
	if (err)
		goto err_group;
	return 0;

err_group:
	skex_group_net_exit(sn);
err_forward:
	skex_forward_net_exit(sn);
err_netmeter:
	skex_netmeter_net_exit(sn);
err_sysctl:
	skex_sysctl_net_exit(sn);
	return err;
}

static void __net_exit skex_net_exit(struct net *net)
{
	struct skex_net *sn = skex_net(net);

	skex_proc_net_exit(sn);
	skex_group_net_exit(sn);
	skex_forward_net_exit(sn);
	skex_netmeter_net_exit(sn);
	skex_sysctl_net_exit(sn);
}

static struct pernet_operations skex_net_ops = {
	.init = skex_net_init,
	.exit = skex_net_exit,
	.id = &skex_net_id,
	.size = sizeof(struct skex_net),
};

static int __init skex_init(void)
{
	int err;

	err = skex_netmeter_init();
	if (err)
		return err;
	err = skex_forward_init();
	if (err)
		goto err_netmeter;
	err = register_pernet_subsys(&skex_net_ops);
	if (err)
		goto err_forward;
	err = skex_tcp_hooks_init();
	if (err)
		goto err_pernet;
	err = skex_configfs_init(&skex_forward_dir_ops, &skex_group_dir_ops);
	if (err)
		goto err_hooks;
	skex_mirror_start();
	pr_info("loaded\n");
	return 0;

err_hooks:
	skex_netmeter_stop();
	skex_tcp_hooks_exit();
err_pernet:
	unregister_pernet_subsys(&skex_net_ops);
err_forward:
	skex_forward_exit();
err_netmeter:
	skex_netmeter_exit();
	return err;
}

static void __exit skex_exit(void)
{
	skex_mirror_stop();
	skex_configfs_exit();
	skex_netmeter_stop();
	skex_tcp_hooks_exit();
	unregister_pernet_subsys(&skex_net_ops);
	skex_forward_exit();
	skex_netmeter_exit();
	pr_info("unloaded\n");
}

module_init(skex_init);
module_exit(skex_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("The skex authors");
MODULE_DESCRIPTION("Connection forwarding, socket traffic control and net meters");
MODULE_VERSION(SKEX_VERSION);
