/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The one place that knows a 6.1 kernel from a 6.12 one: feature macros
 * (SKEX_HAVE_*) and helpers that call only the kernel. Everything else uses
 * them and never tests a version number.
 */
#ifndef _SKEX_COMPAT_H
#define _SKEX_COMPAT_H

#include <linux/version.h>
#include <linux/fcntl.h>
#include <linux/fs.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <net/inet_connection_sock.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0) || \
	LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
#error "skex supports Linux 6.1 to 6.12"
#endif

/* Redirect a traced function to @ip from an ftrace callback. */
static inline void skex_ftrace_set_ip(struct ftrace_regs *fregs,
				      unsigned long ip)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
	ftrace_instruction_pointer_set(fregs, ip);
#else
	ftrace_regs_set_instruction_pointer(fregs, ip);
#endif
}

/*
 * The module's core text, [*start, *start + *size): a module's memory was
 * one layout with its text first until 6.4, then one region per type.
 */
static inline void skex_module_text(const struct module *mod,
				    unsigned long *start, unsigned long *size)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	*start = (unsigned long)mod->core_layout.base;
	*size = mod->core_layout.text_size;
#else
	*start = (unsigned long)mod->mem[MOD_TEXT].base;
	*size = mod->mem[MOD_TEXT].size;
#endif
}

/*
 * Argument @n of the traced function, in an ftrace callback, whether its
 * ops saves every register (FTRACE_OPS_FL_SAVE_REGS) or the arguments only.
 */
static __always_inline unsigned long skex_ftrace_arg(struct ftrace_regs *fregs,
						     unsigned int n)
{
#ifdef ftrace_regs_get_argument
	return ftrace_regs_get_argument(fregs, n);
#else
	/* 6.1: the trampoline saves the argument registers in a pt_regs */
	return regs_get_kernel_argument(&fregs->regs, n);
#endif
}

/*
 * inet_csk_accept() took (sk, flags, err, kern) until 6.10, which bundled
 * them into struct proto_accept_arg. skex_accept_args carries either form
 * so that the wrapper (tcp_hooks.c) is written once.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 10, 0)
#define SKEX_HAVE_PROTO_ACCEPT_ARG	0
#else
#define SKEX_HAVE_PROTO_ACCEPT_ARG	1
#endif

#if !SKEX_HAVE_PROTO_ACCEPT_ARG
typedef struct sock *(skex_accept_fn)(struct sock *, int, int *, bool);

struct skex_accept_args {
	int flags;
	int *err;
	bool kern;
};

/* Call inet_csk_accept() (@fn) with the saved arguments, maybe O_NONBLOCK. */
static inline struct sock *
skex_accept_call(skex_accept_fn *fn, struct sock *sk,
		 struct skex_accept_args *a, bool nonblock)
{
	return fn(sk, nonblock ? a->flags | O_NONBLOCK : a->flags, a->err,
		  a->kern);
}

static inline int skex_accept_flags(const struct skex_accept_args *a)
{
	return a->flags;
}

static inline void skex_accept_set_err(struct skex_accept_args *a, int err)
{
	*a->err = err;
}

static inline int skex_accept_err(const struct skex_accept_args *a)
{
	return *a->err;
}
#else
typedef struct sock *(skex_accept_fn)(struct sock *, struct proto_accept_arg *);

struct skex_accept_args {
	struct proto_accept_arg *arg;
};

/* Call inet_csk_accept() (@fn) with the saved arguments, maybe O_NONBLOCK. */
static inline struct sock *
skex_accept_call(skex_accept_fn *fn, struct sock *sk,
		 struct skex_accept_args *a, bool nonblock)
{
	int flags = a->arg->flags;
	struct sock *child;

	if (nonblock)
		a->arg->flags |= O_NONBLOCK;
	child = fn(sk, a->arg);
	a->arg->flags = flags;
	return child;
}

static inline int skex_accept_flags(const struct skex_accept_args *a)
{
	return a->arg->flags;
}

static inline void skex_accept_set_err(struct skex_accept_args *a, int err)
{
	a->arg->err = err;
}

static inline int skex_accept_err(const struct skex_accept_args *a)
{
	return a->arg->err;
}
#endif

/*
 * Directory operations on the module's own configfs tree (configfs.c's
 * mirror helpers show what setsockopt() made): vfs_mkdir()/vfs_rmdir() took a
 * user_namespace until 6.3, then an mnt_idmap. The caller holds the
 * parent's inode lock.
 */
static inline int skex_vfs_mkdir(struct inode *dir, struct dentry *dentry,
				 umode_t mode)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	return vfs_mkdir(&init_user_ns, dir, dentry, mode);
#else
	return vfs_mkdir(&nop_mnt_idmap, dir, dentry, mode);
#endif
}

static inline int skex_vfs_rmdir(struct inode *dir, struct dentry *dentry)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	return vfs_rmdir(&init_user_ns, dir, dentry);
#else
	return vfs_rmdir(&nop_mnt_idmap, dir, dentry);
#endif
}

/*
 * The children of a dentry, walked under its d_lock: a list (d_subdirs,
 * d_child) until 6.8, then an hlist (d_children, d_sib).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
#define skex_for_each_child(child, parent)				\
	list_for_each_entry(child, &(parent)->d_subdirs, d_child)
#else
#define skex_for_each_child(child, parent)				\
	hlist_for_each_entry(child, &(parent)->d_children, d_sib)
#endif

/* tcp_sendpage() carries sendfile() and splice() to TCP until 6.5. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define SKEX_HAVE_TCP_SENDPAGE	1
#else
#define SKEX_HAVE_TCP_SENDPAGE	0
#endif

/*
 * Children of a kernel listener hold no reference on their namespace. One
 * handed to a user listener must, like any user socket. Newer kernels
 * (and some stable ones: a header probe in Kbuild tells) have
 * sk_net_refcnt_upgrade(), which also keeps the ref tracker right.
 */
static inline void skex_sk_net_refcnt_upgrade(struct sock *sk)
{
#ifdef SKEX_HAVE_SK_NET_REFCNT_UPGRADE
	sk_net_refcnt_upgrade(sk);
#else
	struct net *net = sock_net(sk);

	sk->sk_net_refcnt = 1;
	get_net_track(net, &sk->ns_tracker, GFP_KERNEL);
	sock_inuse_add(net, 1);
#endif
}

/*
 * register_net_sysctl() of a table of @n entries and a sentinel: 6.6 made
 * the size an argument (register_net_sysctl_sz()).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
#define skex_register_net_sysctl(net, path, table, n)			\
	register_net_sysctl(net, path, table)
#else
#define skex_register_net_sysctl(net, path, table, n)			\
	register_net_sysctl_sz(net, path, table, n)
#endif

#endif /* _SKEX_COMPAT_H */
