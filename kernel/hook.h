/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 */
#ifndef _SKEX_HOOK_H
#define _SKEX_HOOK_H

#include <linux/ftrace.h>
#include <linux/list.h>

struct sock;

/**
 * struct skex_hook - one wrapped or observed kernel function
 * @name: the kernel function
 * @wrapper: replacement with the function's prototype; it runs instead of
 *	the function and calls the original through skex_orig_FN() (see
 *	SKEX_ORIG()). May sleep.
 * @observe: alternative to @wrapper: called at the function's entry,
 *	atomically, with its arguments (skex_ftrace_arg()), and the function
 *	then runs unchanged.
 * @want: optional filter, called atomically with the function's
 *	arguments (skex_ftrace_arg()): returns the wrapper to run (@wrapper,
 *	or another with its prototype, which calls the same original), or
 *	NULL, and the function runs unchanged, without a frame of the module
 *	on the stack.
 * @body: where skex_orig_FN() jumps, set for @wrapper: the function's
 *	code past its ftrace call site.
 * @optional: a kernel may lack the function; it is then skipped.
 * @demand: 0, or hooked only while skex_hooks_demand_get() holds this
 *	class (SKEX_DEMAND_...): a wrapper that only a configured feature
 *	needs costs nothing otherwise.
 * @sk_arg: where the function takes its socket (SKEX_SK_...): calls on
 *	sockets of in-kernel users then run unchanged.
 *
 * Calls from kernel threads are never redirected, nor calls on a socket
 * an in-kernel user made (with sock_create_kern(), or without a file:
 * CIFS, sunrpc, nvme-tcp on 6.1, which call into it from user tasks too),
 * except MPTCP's subflows (the sockets of a user's MPTCP socket), so that
 * an in-kernel socket user never runs module text that could block or
 * interrupt it at unload.
 */
enum {
	SKEX_SK_NONE,
	SKEX_SK_ARG0,		/* struct sock * first */
	SKEX_SK_SOCK1,		/* struct socket * second */
};

struct skex_hook {
	const char *name;
	void *wrapper;
	void (*observe)(struct ftrace_regs *fregs);
	void *(*want)(const struct skex_hook *hook, struct ftrace_regs *fregs);
	unsigned long *body;
	bool optional;
	u8 demand;
	u8 sk_arg;
	/* private to hook.c: where it is traced (0: optional, missing) */
	unsigned long addr;
};

#define SKEX_WRAP(fn, w)	{ .name = #fn, .wrapper = (w), .body = &skex_body_ ## fn }
#define SKEX_WRAP_DEMAND(fn, w, d, a) { .name = #fn, .wrapper = (w),	\
					.demand = (d), .sk_arg = (a),	\
					.body = &skex_body_ ## fn }
#define SKEX_WRAP_WANT(fn, w, f, d, a) { .name = #fn, .wrapper = (w),	\
					 .want = (f), .demand = (d),	\
					 .sk_arg = (a),			\
					 .body = &skex_body_ ## fn }

/*
 * SKEX_ORIG(fn) declares skex_orig_fn(), with fn's prototype: the original
 * of wrapped function fn, entered past its ftrace call site so that ftrace
 * does not redirect it again (hook_call.S has one for each), and defines
 * skex_body_fn, where it jumps, set when the hooks are installed.
 */
#define SKEX_ORIG(fn)						\
	extern typeof(fn) skex_orig_ ## fn;			\
	extern unsigned long skex_body_ ## fn;			\
	unsigned long skex_body_ ## fn __ro_after_init
#define SKEX_OBSERVE(fn, o)	{ .name = #fn, .observe = (o) }

/* Classes of demand hooks: what needs them */
enum {
	SKEX_DEMAND_GROUPS = 1,	/* socket groups (poll) */
	SKEX_DEMAND_ACCEPT,	/* accept groups (accept) */
	SKEX_DEMAND_OUTPUT,	/* output groups (send) */
	SKEX_DEMAND_FTP,	/* output groups for FTP (receive) */
	SKEX_NR_DEMAND
};

int skex_hooks_install(struct skex_hook *hooks, size_t count);
void skex_hooks_remove(struct skex_hook *hooks, size_t count);
int skex_hooks_demand_get(unsigned int mask);
void skex_hooks_demand_put(unsigned int mask);

/**
 * struct skex_call - a task inside a wrapper
 *
 * Each wrapper brackets its body with skex_call_enter() and
 * skex_call_exit(). At unload, skex_calls_drain() interrupts every task
 * still inside (as a signal would, with TIF_NOTIFY_SIGNAL, and a wake-up of
 * its socket) and waits until all have left; an interrupted system call
 * is restarted transparently without the module (see skex_call_ret()).
 */
struct skex_call {
	struct hlist_node node;
	struct task_struct *task;
	struct sock *sk;
	int cpu;
	bool kick;
};

void skex_call_enter(struct skex_call *call, struct sock *sk);
void skex_call_enter_nosleep(struct skex_call *call);
void skex_call_exit(struct skex_call *call);
long skex_call_ret(long ret);
bool skex_unloading(void);
void skex_calls_drain(void);

int skex_hook_init(void);

#endif /* _SKEX_HOOK_H */
