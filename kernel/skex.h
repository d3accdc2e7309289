/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Per network namespace state shared by the front ends (configfs, sockopt,
 * proc) and the engines (netmeter, forwarding, groups).
 *
 * Lock order: docs/design.md, "Lock order" (outer to inner: the mirror's
 * mutex, configfs's i_rwsem and su_mutex, config_mutex, the demand hooks'
 * mutex, lock_sock(), then spinlocks that are leaves). Global locks are
 * never held across a grace period or a wait on behalf of one namespace:
 * those happen under the namespace's own config_mutex.
 */
#ifndef _SKEX_H
#define _SKEX_H

#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sockptr.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

/*
 * Allocations made on behalf of a configuring task: charged to its memory
 * cgroup, and failing with ENOMEM at the cgroup's memory.max rather than
 * calling the OOM killer, quietly: the caller is told (docs/design.md,
 * "Resource bounds").
 */
#define SKEX_GFP_CONFIG		(GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL | \
				 __GFP_NOWARN)

/* Defaults of the per-namespace limits (net.skex.*, sysctl.c). */
#define SKEX_MAX_RULES_DEF	16384
#define SKEX_MAX_BRANCHES_DEF	65536
#define SKEX_MAX_GROUPS_DEF	16384

#define SKEX_PORT_CHUNK		256
#define SKEX_PORT_CHUNKS	(65536 / SKEX_PORT_CHUNK)

struct skex_group_port;
struct skex_fw_net;
struct skex_group_net;

/* Per-cpu counters of one port; see struct skex_port_stat for meanings. */
struct skex_port_pcpu {
	u64 conns;
	u64 delay_ns;
};

/**
 * struct skex_port - one local port of a namespace
 * @port: the port number
 * @users: rules and groups that use the port (they list it in
 *	/proc/net/skex even when nothing listens on it)
 * @stats: accept counters since the module was loaded
 * @lock: protects @conns, @bytes_in and @bytes_out (taken with _bh)
 * @conns: the connections of the port whose bytes are still counted live
 *	(struct skex_conn, netmeter.c)
 * @bytes_in: application bytes read from connections no longer in @conns
 * @bytes_out: application bytes written to them
 * @accept_group: the port's accept-type group, or NULL (group.c)
 * @output_group: the port's output-type group, or NULL (group.c)
 * @rcu: frees it
 *
 * Created on first use and kept until the namespace goes, so that a
 * counter never runs backwards. Readers find it under RCU.
 */
struct skex_port {
	u16 port;
	atomic_t users;
	struct skex_port_pcpu __percpu *stats;
	spinlock_t lock;	/* see above */
	struct list_head conns;
	u64 bytes_in;
	u64 bytes_out;
	struct skex_group_port __rcu *accept_group;
	struct skex_group_port __rcu *output_group;
	struct rcu_head rcu;
};

struct skex_port_chunk {
	struct skex_port __rcu *port[SKEX_PORT_CHUNK];
};

/**
 * struct skex_net - what skex keeps per network namespace
 * @net: the namespace
 * @ports_lock: serialises creation of ports and chunks, from any context
 * @chunks: two-level port table, RCU readers, written under @ports_lock
 * @config_mutex: serialises every configuration change in the namespace
 * @fw: forwarding rules (forward.c)
 * @groups: socket groups (group.c)
 * @max_rules: net.skex.max_rules, forwarding rules the namespace may have
 * @max_branches: net.skex.max_branches, branches of all its rules together
 * @max_groups: net.skex.max_groups, socket groups
 * @sysctl: the net/skex sysctl table of the namespace (sysctl.c)
 *
 * A limit is read with READ_ONCE() under config_mutex; lowering it keeps
 * what exists and refuses more (ENOSPC). A namespace other than the
 * initial one starts with, and can never exceed, the initial one's.
 */
struct skex_net {
	struct net *net;
	spinlock_t ports_lock;		/* creation in chunks */
	struct skex_port_chunk __rcu *chunks[SKEX_PORT_CHUNKS];
	struct mutex config_mutex;	/* all configuration changes */
	struct skex_fw_net *fw;
	struct skex_group_net *groups;
	size_t proc_size;		/* proc.c: a hint, no lock */
	unsigned int max_rules;
	unsigned int max_branches;
	unsigned int max_groups;
	struct ctl_table_header *sysctl;
};

extern unsigned int skex_net_id;	/* port.c */

static inline struct skex_net *skex_net(const struct net *net)
{
	return net_generic(net, skex_net_id);
}

/* A port's counters and listen queue, summed at one moment. */
struct skex_port_stat {
	u16 port;
	u64 conns;		/* connections accepted */
	u64 waiting;		/* connections in the accept queues */
	u64 delay_ns;		/* total accept delay */
	u64 bytes_in;		/* application bytes read */
	u64 bytes_out;		/* application bytes written */
	u32 listeners;		/* listening sockets on the port */
};

/* port.c: the port table */
struct skex_port *skex_port_find(struct skex_net *sn, u16 port);
struct skex_port *skex_port_get(struct skex_net *sn, u16 port, gfp_t gfp);
void skex_port_use(struct skex_port *p);
void skex_port_unuse(struct skex_port *p);
void skex_ports_init(struct skex_net *sn);
void skex_ports_free(struct skex_net *sn);

/* netmeter.c */
int skex_port_stat(struct net *net, u16 port, struct skex_port_stat *st);
int skex_port_stats(struct net *net, struct skex_port_stat **stats,
		    size_t *count);
int skex_netmeter_net_init(struct skex_net *sn);
void skex_netmeter_net_exit(struct skex_net *sn);
int skex_netmeter_init(void);
void skex_netmeter_stop(void);
void skex_netmeter_exit(void);

/* sysctl.c: net.skex.* */
int skex_sysctl_net_init(struct skex_net *sn);
void skex_sysctl_net_exit(struct skex_net *sn);

/* proc.c */
int skex_proc_net_init(struct skex_net *sn);
void skex_proc_net_exit(struct skex_net *sn);

/* proc_config.c: /proc/net/skex_forward, /proc/net/skex_groups */
int skex_proc_config_net_init(struct skex_net *sn);
void skex_proc_config_net_exit(struct skex_net *sn);

/* Longest name of an object a change names (a branch's, SKEX_FW_NAME_MAX) */
#define SKEX_CHANGE_NAME_MAX	32

/**
 * struct skex_change - what a setsockopt() command changed
 * @what: nothing to show; a forwarding rule and its branches (@id: its
 *	port); one branch (@id and @name); every rule; a socket group (@id:
 *	its gid); every group
 * @id: the rule's port or the group's gid
 * @name: the branch's name
 *
 * A command's handler fills it in; the dispatcher (sockopt.c) hands it to
 * the mirror (mirror.c) once the command succeeded.
 */
struct skex_change {
	enum {
		SKEX_CHANGE_NONE,
		SKEX_CHANGE_RULE,
		SKEX_CHANGE_BRANCH,
		SKEX_CHANGE_RULES,
		SKEX_CHANGE_GROUP,
		SKEX_CHANGE_GROUPS,
	} what;
	u16 id;
	char name[SKEX_CHANGE_NAME_MAX];
};

/* sockopt.c */
int skex_sockopt_set(struct sock *sk, int optname, sockptr_t optval,
		     unsigned int optlen);
int skex_sockopt_get(struct sock *sk, int optname, char __user *optval,
		     int __user *optlen);
bool skex_sockopt_owns(int optname, bool set);

/* forward.c */
int skex_forward_net_init(struct skex_net *sn);
void skex_forward_net_exit(struct skex_net *sn);

/* group.c */
int skex_group_net_init(struct skex_net *sn);
void skex_group_net_exit(struct skex_net *sn);

/* configfs.c */
struct configfs_group_operations;
int skex_configfs_init(struct configfs_group_operations *forward_ops,
		       struct configfs_group_operations *groups_ops);
void skex_configfs_exit(void);

#endif /* _SKEX_H */
