/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Socket groups (docs/groups.md): the engine's control plane (group.c),
 * its configfs directories (group_configfs.c) and its setsockopt()
 * commands (group_sockopt.c). The data path is group_throttle.h.
 */
#ifndef _SKEX_GROUP_H
#define _SKEX_GROUP_H

#include <linux/sockptr.h>
#include <linux/socket_ex_user.h>
#include <linux/types.h>

struct sock;
struct skex_net;

#define SKEX_GID_MAX		65535
/* accept_rate burst, in connections: the seed's bucket is one deep */
#define SKEX_BURST_DEFAULT	1
#define SKEX_BURST_MAX		65535

/*
 * One port of a group as the fronts describe it. @quota is in thousandths
 * (connections per second, or a weight) for the accept types and in bytes
 * per second for the output types. A port made with mkdir has no quota
 * until one is written (@set false) and throttles nothing until then.
 * @burst: accept_rate's bucket depth in connections (1 to
 * SKEX_BURST_MAX); SKEX_BURST_DEFAULT for every other type.
 */
struct skex_group_port_spec {
	u16 port;
	bool nonblock;
	bool set;
	u32 quota;
	u32 burst;
};

/* A whole group; type 0 means "not set yet" (a fresh configfs directory). */
struct skex_group_spec {
	u16 type;
	u16 nports;
	struct skex_group_port_spec ports[SKEX_GROUP_PORTS_MAX];
};

/* the type values are 1 to SKEX_OUTPUT_ABSOLUTE_FTP */
#define SKEX_GROUP_TYPES	(SKEX_OUTPUT_ABSOLUTE_FTP + 1)
extern const char *const skex_group_type_names[SKEX_GROUP_TYPES];
/* "65535.999" or "4294967295", and a NUL */
#define SKEX_QUOTA_LEN		12
int skex_group_quota_str(char *buf, size_t len, u16 type, u32 quota);

/* group.c: configuration, all under skex_net.config_mutex */
int skex_group_add(struct skex_net *sn, u16 *gid,
		   const struct skex_group_spec *spec);
int skex_group_edit(struct skex_net *sn, u16 gid,
		    const struct skex_group_spec *spec);
int skex_group_del(struct skex_net *sn, u16 gid);
int skex_group_del_port(struct skex_net *sn, u16 gid, u16 port);
void skex_group_flush(struct skex_net *sn);
int skex_group_get(struct skex_net *sn, u16 gid, struct skex_group_spec *spec);
int skex_group_throttled(struct skex_net *sn, u16 gid, u16 port, u64 *count);
int skex_group_list(struct skex_net *sn, u16 *gids, unsigned int max);
int skex_group_check(const struct skex_group_spec *spec, bool complete);
bool skex_group_type_valid(u16 type);
bool skex_group_accept_type(u16 type);

/* group_sockopt.c: the setsockopt() commands */
struct skex_change;
int skex_group_setsockopt(struct sock *sk, int optname, sockptr_t optval,
			  unsigned int optlen, struct skex_change *chg);

#endif /* _SKEX_GROUP_H */
