// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The skex authors.
 *
 * Wrapping kernel functions without patching the kernel.
 *
 * One ftrace_ops, filtered on the entry of the wrapped functions always
 * needed, runs skex_ftrace_thunk(); another one calls the observers
 * (skex_ftrace_observe()); others, with the thunk, carry the hooks only
 * configured features need, one per class of features, and are registered
 * only while they are wanted (skex_hooks_demand_get()). Both get the
 * function's arguments (skex_ftrace_arg()) from ftrace's lighter
 * trampoline, which saves the argument registers only (as livepatch's
 * does where the architecture has DYNAMIC_FTRACE_WITH_ARGS). For a wrapped
 * function the thunk moves the instruction pointer to the wrapper, which
 * then runs in place of the function, with its arguments, and may sleep
 * and change the result. The wrapper calls the original past its ftrace
 * call site (skex_orig_FN(), hook_call.S), so a wrapped call goes through
 * ftrace once: a second pass through the trampoline would cost as much
 * again as the first. Other tracers of the function have seen the call on
 * that first pass. The thunk still lets through calls from the module's own
 * code, which calls the functions it wraps as any other caller does.
 *
 * Unloading must never leave a task executing module text: see
 * skex_calls_drain().
 */
#include "hook.h"
#include "compat.h"

#include <linux/hash.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/mptcp.h>
#include <net/sock.h>

static void skex_ftrace_thunk(unsigned long ip, unsigned long parent_ip,
			      struct ftrace_ops *ops,
			      struct ftrace_regs *fregs);

/*
 * No FTRACE_OPS_FL_RECURSION: ftrace's guard would put a call and a
 * recursion check in front of every hooked call, and there is nothing to
 * guard against. The thunk is notrace, and neither it nor an observer
 * calls a hooked function (a wrapper does, from module text, which the
 * thunk lets through).
 * FTRACE_OPS_FL_PERMANENT: sysctl kernel.ftrace_enabled=0 would silence
 * the observers, tcp_v4_destroy_sock()'s among them, and the netmeter
 * would go on reading sockets freed behind its back: ftrace refuses that
 * sysctl (EBUSY) while the module is loaded, as for livepatches.
 * No FTRACE_OPS_FL_SAVE_REGS where the trampoline that saves the arguments
 * takes a new instruction pointer too: the one that saves every register
 * (and the flags) made a hooked call half as dear again under TCG.
 */
#ifdef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
#define SKEX_FTRACE_FLAGS	(FTRACE_OPS_FL_IPMODIFY | \
				 FTRACE_OPS_FL_PERMANENT)
#else
#define SKEX_FTRACE_FLAGS	(FTRACE_OPS_FL_SAVE_REGS | \
				 FTRACE_OPS_FL_IPMODIFY | \
				 FTRACE_OPS_FL_PERMANENT)
#endif

static struct ftrace_ops skex_ftrace_ops = {
	.func = skex_ftrace_thunk,
	.flags = SKEX_FTRACE_FLAGS,
};

static void skex_ftrace_observe(unsigned long ip, unsigned long parent_ip,
				struct ftrace_ops *ops,
				struct ftrace_regs *fregs);

static struct ftrace_ops skex_observe_ops = {
	.func = skex_ftrace_observe,
	.flags = FTRACE_OPS_FL_PERMANENT,
};

/*
 * A class of demand hooks: registered while @users is not zero, and for a
 * second after it drops to zero (@work), so that a controller recreating
 * its groups does not patch the kernel each time. Once skex_demand_dead is
 * set (unload) they are never registered again. The mutex is global and
 * held across ftrace's waits, so only the first user of a class and the
 * last take it: the others count with atomics, and one namespace's groups
 * never wait for another's (docs/design.md).
 */
struct skex_demand_class {
	struct ftrace_ops ops;
	atomic_t users;		/* changes from and to zero under the mutex */
	bool on;		/* under skex_demand_mutex */
	struct delayed_work work;
};

static DEFINE_MUTEX(skex_demand_mutex);
static bool skex_demand_dead;		/* under skex_demand_mutex */
static struct skex_demand_class skex_demand[SKEX_NR_DEMAND];

/* The ftrace_ops that carries @hook. */
static struct ftrace_ops *skex_hook_ops(const struct skex_hook *hook)
{
	if (hook->observe)
		return &skex_observe_ops;
	return hook->demand ? &skex_demand[hook->demand].ops : &skex_ftrace_ops;
}

/*
 * The hooks by the address ftrace reports, open-addressed and at most half
 * full, so that a callback finds its hook in a probe or two: scanning the
 * array was half of the thunk's time. Written before the ftrace_ops are
 * registered, read-only while they are.
 */
#define SKEX_HOOK_BITS	5
static struct skex_hook *skex_hook_table[1 << SKEX_HOOK_BITS];

static __always_inline struct skex_hook *skex_hook_by_ip(unsigned long ip)
{
	unsigned int i = hash_long(ip, SKEX_HOOK_BITS);
	struct skex_hook *hook;

	while ((hook = skex_hook_table[i]) && hook->addr != ip)
		i = (i + 1) % ARRAY_SIZE(skex_hook_table);
	return hook;
}

static void skex_hook_table_add(struct skex_hook *hook)
{
	unsigned int i = hash_long(hook->addr, SKEX_HOOK_BITS);

	while (skex_hook_table[i])
		i = (i + 1) % ARRAY_SIZE(skex_hook_table);
	skex_hook_table[i] = hook;
}

/*
 * Whether the call's socket is an in-kernel user's: made with
 * sock_create_kern(), or without a file, which no process can reach (see
 * struct skex_hook).
 */
static __always_inline bool skex_kernel_sk(const struct skex_hook *hook,
					   struct ftrace_regs *fregs)
{
	const struct socket *sock;
	const struct sock *sk;

	switch (hook->sk_arg) {
	case SKEX_SK_ARG0:
		sk = (const struct sock *)skex_ftrace_arg(fregs, 0);
		sock = sk->sk_socket;
		break;
	case SKEX_SK_SOCK1:
		sock = (const struct socket *)skex_ftrace_arg(fregs, 1);
		sk = sock->sk;
		break;
	default:
		return false;
	}
	return (sk->sk_kern_sock || !(sock && sock->file)) && !sk_is_mptcp(sk);
}

/*
 * The module's core text: the thunk lets the module's own calls through.
 * Its init code calls no wrapped function on a socket of user space.
 * within_module() would also look at the other regions, one by one since
 * 6.4, on every call.
 */
static unsigned long skex_text_start __ro_after_init;
static unsigned long skex_text_size __ro_after_init;

static void notrace skex_ftrace_thunk(unsigned long ip,
				      unsigned long parent_ip,
				      struct ftrace_ops *ops,
				      struct ftrace_regs *fregs)
{
	struct skex_hook *hook = skex_hook_by_ip(ip);
	void *wrapper;

	if (unlikely(!hook || !hook->wrapper))
		return;

	if (!in_task() || (current->flags & PF_KTHREAD) ||
	    parent_ip - skex_text_start < skex_text_size)
		return;

	if (skex_kernel_sk(hook, fregs))
		return;
	wrapper = hook->want ? hook->want(hook, fregs) : hook->wrapper;
	if (wrapper)
		skex_ftrace_set_ip(fregs, (unsigned long)wrapper);
}

/*
 * The callback of the observers' ftrace_ops: without IPMODIFY, so that an
 * observed function can still be live-patched.
 */
static void notrace skex_ftrace_observe(unsigned long ip,
					unsigned long parent_ip,
					struct ftrace_ops *ops,
					struct ftrace_regs *fregs)
{
	struct skex_hook *hook = skex_hook_by_ip(ip);

	if (likely(hook && hook->observe))
		hook->observe(fregs);
}

/*
 * Find where ftrace traces @name: its call to __fentry__, after an ENDBR if
 * any. The kprobe lands there and says whether it is ftrace's.
 */
static int skex_resolve(const char *name, unsigned long *entry)
{
	struct kprobe kp = { .symbol_name = name };
	bool ftrace;
	int err;

	err = register_kprobe(&kp);
	if (err)
		return err;
	*entry = (unsigned long)kp.addr;
	ftrace = kp.flags & KPROBE_FLAG_FTRACE;
	unregister_kprobe(&kp);
	return ftrace ? 0 : -EOPNOTSUPP;
}

int skex_hooks_install(struct skex_hook *hooks, size_t count)
{
	size_t i;
	int err;

	if (WARN_ON_ONCE(count > ARRAY_SIZE(skex_hook_table) / 2))
		return -E2BIG;
	for (i = 0; i < count; i++) {
		struct skex_hook *hook = &hooks[i];

		err = skex_resolve(hook->name, &hook->addr);
		if (err) {
			hook->addr = 0;
			if (hook->optional)
				continue;
			pr_err("cannot find %s: %d\n", hook->name, err);
			goto err_filter;
		}
		/* the call to __fentry__ is MCOUNT_INSN_SIZE bytes long */
		if (hook->body)
			*hook->body = hook->addr + MCOUNT_INSN_SIZE;
		err = ftrace_set_filter_ip(skex_hook_ops(hook), hook->addr,
					   0, 0);
		if (err) {
			pr_err("cannot trace %s: %d\n", hook->name, err);
			goto err_filter;
		}
		skex_hook_table_add(hook);
		pr_debug("hooked %s\n", hook->name);
	}

	err = register_ftrace_function(&skex_observe_ops);
	if (err) {
		pr_err("cannot register ftrace ops: %d\n", err);
		goto err_filter;
	}
	err = register_ftrace_function(&skex_ftrace_ops);
	if (err) {
		pr_err("cannot register ftrace ops: %d\n", err);
		unregister_ftrace_function(&skex_observe_ops);
		goto err_filter;
	}
	return 0;

err_filter:
	ftrace_free_filter(&skex_observe_ops);
	ftrace_free_filter(&skex_ftrace_ops);
	for (i = 1; i < SKEX_NR_DEMAND; i++)
		ftrace_free_filter(&skex_demand[i].ops);
	memset(skex_hook_table, 0, sizeof(skex_hook_table));
	return err;
}

static int skex_demand_get_one(struct skex_demand_class *d)
{
	int err = 0;

	if (atomic_inc_not_zero(&d->users))
		return 0;
	mutex_lock(&skex_demand_mutex);
	if (!d->on && !skex_demand_dead) {
		err = register_ftrace_function(&d->ops);
		if (err)
			pr_err("cannot register ftrace ops: %d\n", err);
		else
			d->on = true;
	}
	if (!err)
		atomic_inc(&d->users);
	mutex_unlock(&skex_demand_mutex);
	return err;
}

static void skex_demand_put_one(struct skex_demand_class *d)
{
	if (!atomic_dec_and_mutex_lock(&d->users, &skex_demand_mutex))
		return;
	if (d->on && !skex_demand_dead)
		mod_delayed_work(system_wq, &d->work, HZ);
	mutex_unlock(&skex_demand_mutex);
}

/**
 * skex_hooks_demand_get - have classes of demand hooks installed
 * @mask: the classes, BIT(SKEX_DEMAND_...)
 *
 * Process context. Return: 0 once they are, or an error from ftrace (and
 * none is held).
 */
int skex_hooks_demand_get(unsigned int mask)
{
	unsigned int i;
	int err;

	for (i = 1; i < SKEX_NR_DEMAND; i++) {
		if (!(mask & BIT(i)))
			continue;
		err = skex_demand_get_one(&skex_demand[i]);
		if (err) {
			skex_hooks_demand_put(mask & (BIT(i) - 1));
			return err;
		}
	}
	return 0;
}

/* Process context; the hooks of a class go a second after its last user. */
void skex_hooks_demand_put(unsigned int mask)
{
	unsigned int i;

	for (i = 1; i < SKEX_NR_DEMAND; i++)
		if (mask & BIT(i))
			skex_demand_put_one(&skex_demand[i]);
}

static void skex_demand_unregister(struct skex_demand_class *d)
{
	lockdep_assert_held(&skex_demand_mutex);
	if (d->on) {
		unregister_ftrace_function(&d->ops);
		d->on = false;
	}
}

static void skex_demand_off(struct work_struct *work)
{
	struct skex_demand_class *d =
		container_of(to_delayed_work(work), struct skex_demand_class,
			     work);

	mutex_lock(&skex_demand_mutex);
	if (!atomic_read(&d->users))
		skex_demand_unregister(d);
	mutex_unlock(&skex_demand_mutex);
}

/*
 * Stops new entries. ftrace waits for tasks-RCU before it returns, so a
 * task it had already redirected has by then entered the wrapper and
 * registered itself with skex_call_enter().
 */
void skex_hooks_remove(struct skex_hook *hooks, size_t count)
{
	unsigned int i;

	mutex_lock(&skex_demand_mutex);
	skex_demand_dead = true;
	mutex_unlock(&skex_demand_mutex);
	for (i = 1; i < SKEX_NR_DEMAND; i++) {
		cancel_delayed_work_sync(&skex_demand[i].work);
		mutex_lock(&skex_demand_mutex);
		skex_demand_unregister(&skex_demand[i]);
		mutex_unlock(&skex_demand_mutex);
		ftrace_free_filter(&skex_demand[i].ops);
	}

	unregister_ftrace_function(&skex_ftrace_ops);
	ftrace_free_filter(&skex_ftrace_ops);
	unregister_ftrace_function(&skex_observe_ops);
	ftrace_free_filter(&skex_observe_ops);
	synchronize_rcu_tasks();
}

/*
 * An hlist: its operations are not checked like a list's (DEBUG_LIST, on in
 * Debian's kernels), which would add two calls to every wrapped call.
 */
struct skex_call_list {
	spinlock_t lock;		/* protects calls */
	struct hlist_head calls;
};

static DEFINE_PER_CPU(struct skex_call_list, skex_call_lists);
static DECLARE_WAIT_QUEUE_HEAD(skex_drain_wq);
static bool skex_stopping;

bool skex_unloading(void)
{
	return READ_ONCE(skex_stopping);
}

static void __skex_call_enter(struct skex_call *call, struct sock *sk,
			      bool kick)
{
	struct skex_call_list *list;

	call->task = current;
	call->sk = sk;
	call->kick = kick;
	call->cpu = raw_smp_processor_id();
	list = per_cpu_ptr(&skex_call_lists, call->cpu);
	spin_lock(&list->lock);
	hlist_add_head(&call->node, &list->calls);
	spin_unlock(&list->lock);
}

/**
 * skex_call_enter - a task enters a wrapper
 * @call: on the wrapper's stack
 * @sk: the socket it may sleep on (woken at unload), or NULL
 */
void skex_call_enter(struct skex_call *call, struct sock *sk)
{
	__skex_call_enter(call, sk, true);
}

/*
 * The same for a wrapper that never sleeps (poll): unloading waits for it
 * to leave but does not interrupt it, which would make epoll_wait() fail
 * with EINTR, an error no restart hides.
 */
void skex_call_enter_nosleep(struct skex_call *call)
{
	__skex_call_enter(call, NULL, false);
}

void skex_call_exit(struct skex_call *call)
{
	struct skex_call_list *list = per_cpu_ptr(&skex_call_lists, call->cpu);

	spin_lock(&list->lock);
	hlist_del(&call->node);
	spin_unlock(&list->lock);
	if (unlikely(skex_unloading()))
		wake_up(&skex_drain_wq);
}

/*
 * A call that skex_calls_drain() interrupted fails with -EINTR or
 * -ERESTARTSYS though no signal is pending. Make the system call restart:
 * TIF_NOTIFY_SIGNAL is set, so the exit to user space restarts it, and it
 * then runs without the module. -ERESTARTSYS rather than -ERESTARTNOINTR:
 * with no handler to run both restart, and kernel code that calls into a
 * socket from a user task (nbd, sunrpc) knows -ERESTARTSYS only.
 */
long skex_call_ret(long ret)
{
	if (unlikely(skex_unloading()) &&
	    (ret == -EINTR || ret == -ERESTARTSYS) &&
	    !task_sigpending(current) && !(current->flags & PF_IO_WORKER))
		return -ERESTARTSYS;
	return ret;
}

static bool skex_calls_empty(void)
{
	bool empty = true;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct skex_call_list *list = per_cpu_ptr(&skex_call_lists, cpu);

		spin_lock(&list->lock);
		empty &= hlist_empty(&list->calls);
		spin_unlock(&list->lock);
	}
	return empty;
}

static void skex_calls_kick(void)
{
	struct skex_call *call;
	struct socket_wq *wq;
	int cpu;

	for_each_possible_cpu(cpu) {
		struct skex_call_list *list = per_cpu_ptr(&skex_call_lists, cpu);

		spin_lock(&list->lock);
		hlist_for_each_entry(call, &list->calls, node) {
			if (!call->kick)
				continue;
			set_tsk_thread_flag(call->task, TIF_NOTIFY_SIGNAL);
			rcu_read_lock();
			wq = call->sk ? rcu_dereference(call->sk->sk_wq) : NULL;
			if (wq)
				wake_up_interruptible_all(&wq->wait);
			rcu_read_unlock();
			kick_process(call->task);
		}
		spin_unlock(&list->lock);
	}
}

/**
 * skex_calls_drain - get every task out of the wrappers
 *
 * Called after skex_hooks_remove(), so no task can enter any more. Tasks
 * sleeping in a wrapper or in the original it called are interrupted like
 * by a signal; wait loops of the module's own check skex_unloading(). When
 * the last one has left, a tasks-RCU grace period covers the instructions
 * a task runs after skex_call_exit() on its way out of the wrapper.
 */
void skex_calls_drain(void)
{
	WRITE_ONCE(skex_stopping, true);
	smp_mb(); /* pairs with the barrier in wake_up() in skex_call_exit() */
	while (!skex_calls_empty()) {
		skex_calls_kick();
		wait_event_timeout(skex_drain_wq, skex_calls_empty(), HZ / 10);
	}
	synchronize_rcu_tasks();
}

int skex_hook_init(void)
{
	unsigned int i;
	int cpu;

	skex_module_text(THIS_MODULE, &skex_text_start, &skex_text_size);
	for (i = 1; i < SKEX_NR_DEMAND; i++) {
		skex_demand[i].ops.func = skex_ftrace_thunk;
		skex_demand[i].ops.flags = SKEX_FTRACE_FLAGS;
		INIT_DELAYED_WORK(&skex_demand[i].work, skex_demand_off);
	}

	for_each_possible_cpu(cpu) {
		struct skex_call_list *list = per_cpu_ptr(&skex_call_lists, cpu);

		spin_lock_init(&list->lock);
		INIT_HLIST_HEAD(&list->calls);
	}
	return 0;
}
