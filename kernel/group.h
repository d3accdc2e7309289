/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Socket groups (docs/groups.md): the engine (group.c), its configfs
 * directories (group_configfs.c) and its setsockopt() commands
 * (group_sockopt.c).
 */
#ifndef _SKEX_GROUP_H
#define _SKEX_GROUP_H

#include <linux/atomic.h>
#include <linux/poll.h>
#include <linux/sockptr.h>
#include <linux/socket_ex_user.h>
#include <linux/types.h>

struct sock;
struct skex_net;
struct skex_group_port;

#define SKEX_GID_MAX		65535

/*
 * One port of a group as the fronts describe it. @quota is in thousandths
 * (connections per second, or a weight) for the accept types and in bytes
 * per second for the output types. A port made with mkdir has no quota
 * until one is written (@set false) and throttles nothing until then.
 */
struct skex_group_port_spec {
	u16 port;
	bool nonblock;
	bool set;
	u32 quota;
};

/* A whole group; type 0 means "not set yet" (a fresh configfs directory). */
struct skex_group_spec {
	u16 type;
	u16 nports;
	struct skex_group_port_spec ports[SKEX_GROUP_PORTS_MAX];
};

/* group.c: configuration, all under skex_net.config_mutex */
int skex_group_add(struct skex_net *sn, u16 *gid,
		   const struct skex_group_spec *spec);
int skex_group_edit(struct skex_net *sn, u16 gid,
		    const struct skex_group_spec *spec);
int skex_group_del(struct skex_net *sn, u16 gid);
void skex_group_flush(struct skex_net *sn);
int skex_group_get(struct skex_net *sn, u16 gid, struct skex_group_spec *spec);
int skex_group_throttled(struct skex_net *sn, u16 gid, u16 port, u64 *count);
int skex_group_list(struct skex_net *sn, u16 *gids, unsigned int max);
int skex_group_check(const struct skex_group_spec *spec, bool complete);
bool skex_group_type_valid(u16 type);
bool skex_group_accept_type(u16 type);

/* group.c: the data path, called from the TCP wrappers (tcp_hooks.c) */
extern atomic_t skex_group_nr_accept;
extern atomic_t skex_group_nr_output;
extern atomic_t skex_group_nr_ftp;

/*
 * struct skex_wait - the state of one throttled call
 * @sk: the socket the call sleeps on (sk_sleep(sk))
 * @deadline: end of SO_RCVTIMEO/SO_SNDTIMEO in ns, when not @forever
 * @forever: no timeout
 * @nonblock: never sleep
 * @counted: the call was counted in the port's throttled counter
 * @charge: what the latest accept grant took from the quota
 */
struct skex_wait {
	struct sock *sk;
	u64 deadline;
	bool forever;
	bool nonblock;
	bool counted;
	u64 charge;
};

void skex_wait_init(struct skex_wait *w, struct sock *sk, long timeo);
void skex_group_port_put(struct skex_group_port *gp);

struct skex_group_port *skex_group_accept_port(struct sock *listener);
int skex_group_accept_wait(struct skex_group_port *gp, struct skex_wait *w);
void skex_group_accept_done(struct skex_group_port *gp, struct skex_wait *w,
			    bool accepted);

struct skex_group_port *skex_group_output_port(struct sock *sk);
long skex_group_output_take(struct skex_group_port *gp, struct skex_wait *w,
			    size_t want);
void skex_group_output_refund(struct skex_group_port *gp, size_t unused);

__poll_t skex_group_poll(struct sock *sk, __poll_t mask);
void skex_group_received(struct sock *sk);
void skex_group_destroyed(struct sock *sk);

/* group_sockopt.c: the setsockopt() commands */
int skex_group_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			  unsigned int optlen);

/* group_configfs.c (skex_group_dir_ops: configfs.h) */
void skex_group_configfs_sync(struct skex_net *sn, u16 gid);
void skex_group_configfs_sync_all(struct skex_net *sn);
void skex_group_configfs_start(void);
void skex_group_configfs_exit(void);

#endif /* _SKEX_GROUP_H */
