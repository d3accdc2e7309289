// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The port table of a namespace: a struct skex_port for each local port
 * that a rule, a group or a counted connection uses, in two levels of 256
 * RCU pointers. The netmeter counts into ports (netmeter.c), socket
 * groups publish themselves in them (group.c), forwarding snapshots list
 * them (forward.c), readers sum them (proc.c, sockopt.c).
 *
 * Ports and chunks are created on first use, from any context, under
 * skex_net.ports_lock, and freed only with the namespace, so that a
 * counter never runs backwards and a port found once stays valid for as
 * long as its finder keeps the namespace. Readers look up under RCU.
 */
#include "skex.h"

#include <linux/percpu.h>
#include <linux/slab.h>

/* Where net_generic() keeps struct skex_net; main.c registers it. */
unsigned int skex_net_id __read_mostly;

/*
 * Whether the caller may look ports up outside an RCU read-side section:
 * under ports_lock (nothing changes), or under config_mutex (taken only
 * by tasks that keep the namespace, which keeps every port).
 */
static inline bool skex_ports_held(struct skex_net *sn)
{
	return lockdep_is_held(&sn->ports_lock) ||
	       lockdep_is_held(&sn->config_mutex);
}

/*
 * The port, or NULL. Under rcu_read_lock(), ports_lock or config_mutex
 * (lockdep checks which).
 */
struct skex_port *skex_port_find(struct skex_net *sn, u16 port)
{
	struct skex_port_chunk *chunk;

	chunk = rcu_dereference_check(sn->chunks[port / SKEX_PORT_CHUNK],
				      skex_ports_held(sn));
	if (!chunk)
		return NULL;
	return rcu_dereference_check(chunk->port[port % SKEX_PORT_CHUNK],
				     skex_ports_held(sn));
}

static void skex_port_free(struct skex_port *p)
{
	free_percpu(p->stats);
	kfree(p);
}

/**
 * skex_port_get - find or create a port
 * @sn: the namespace's state
 * @port: the port number
 * @gfp: allocation flags for the caller's context
 *
 * Callable from any context with a matching @gfp, in an RCU read-side
 * section (the hooks) or under @sn->config_mutex (configuration), as
 * skex_port_find() checks; the port stays valid as long as the namespace.
 */
struct skex_port *skex_port_get(struct skex_net *sn, u16 port, gfp_t gfp)
{
	struct skex_port_chunk *chunk, *new_chunk = NULL;
	struct skex_port *p, *new_port;
	unsigned long flags;

	p = skex_port_find(sn, port);
	if (p)
		return p;

	new_port = kzalloc(sizeof(*new_port), gfp);
	if (!new_port)
		return NULL;
	new_port->port = port;
	spin_lock_init(&new_port->lock);
	INIT_LIST_HEAD(&new_port->conns);
	new_port->stats = alloc_percpu_gfp(struct skex_port_pcpu, gfp);
	if (!new_port->stats)
		goto err_port;
	if (!rcu_access_pointer(sn->chunks[port / SKEX_PORT_CHUNK])) {
		new_chunk = kzalloc(sizeof(*new_chunk), gfp);
		if (!new_chunk)
			goto err_stats;
	}

	spin_lock_irqsave(&sn->ports_lock, flags);
	p = skex_port_find(sn, port);
	if (p)
		goto unlock;
	chunk = rcu_dereference_protected(sn->chunks[port / SKEX_PORT_CHUNK],
					  lockdep_is_held(&sn->ports_lock));
	if (!chunk) {
		chunk = new_chunk;
		new_chunk = NULL;
		rcu_assign_pointer(sn->chunks[port / SKEX_PORT_CHUNK], chunk);
	}
	rcu_assign_pointer(chunk->port[port % SKEX_PORT_CHUNK], new_port);
	p = new_port;
	new_port = NULL;
unlock:
	spin_unlock_irqrestore(&sn->ports_lock, flags);
	kfree(new_chunk);
	if (new_port)
		skex_port_free(new_port);
	return p;

err_stats:
	free_percpu(new_port->stats);
err_port:
	kfree(new_port);
	return NULL;
}

/* A rule or group starts or stops listing the port in /proc/net/skex. */
void skex_port_use(struct skex_port *p)
{
	atomic_inc(&p->users);
}

void skex_port_unuse(struct skex_port *p)
{
	atomic_dec(&p->users);
}

void skex_ports_init(struct skex_net *sn)
{
	spin_lock_init(&sn->ports_lock);
}

/* The namespace goes: no reader is left (after a grace period). */
void skex_ports_free(struct skex_net *sn)
{
	struct skex_port_chunk *chunk;
	struct skex_port *p;
	unsigned int i, j;

	for (i = 0; i < SKEX_PORT_CHUNKS; i++) {
		chunk = rcu_dereference_protected(sn->chunks[i], true);
		if (!chunk)
			continue;
		for (j = 0; j < SKEX_PORT_CHUNK; j++) {
			p = rcu_dereference_protected(chunk->port[j], true);
			if (p)
				skex_port_free(p);
		}
		kfree(chunk);
	}
}
