/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 */
#ifndef _SKEX_NETMETER_H
#define _SKEX_NETMETER_H

#include <linux/types.h>

struct sock;
struct skex_port;

/* Called by the TCP hooks; see netmeter.c. */
void skex_nm_queued(struct sock *listener, struct sock *child);
void skex_nm_accepted(struct sock *child);
void skex_nm_closed(struct sock *sk);
void skex_nm_shutdown(struct sock *sk, int how);
void skex_nm_destroyed(struct sock *sk);
struct skex_port *skex_nm_conn_port(const struct sock *sk);

#endif /* _SKEX_NETMETER_H */
