// SPDX-License-Identifier: GPL-2.0
/*
 * skex fuzzer: random setsockopt()/getsockopt() on every skex option name
 * (and names just outside the two ranges) and random writes, mkdirs and
 * rmdirs in /sys/kernel/config/skex, from root and from a user namespace's
 * root, while loopback traffic runs to the ports being configured and
 * network namespaces come and go. Run as root in the test VM:
 *
 *   fuzz [-s SEED] [-n CALLS] [-t SECONDS] [-w WORKERS] [-v]
 *
 * It stops after CALLS calls (all workers together) or SECONDS seconds,
 * whichever comes first (default: 40 s, no call limit; -n alone, or
 * SKEX_FUZZ_CALLS=N in the environment as run_all.sh passes it on: no time
 * limit, unless SKEX_FUZZ_SECS=S there sets one, for a run that has to
 * fit a window). The seed is printed; -s SEED replays each worker's stream of
 * calls (the interleaving of the workers, and so some results, depends on
 * the scheduler).
 *
 * -w WORKERS: a mask of the workers below to run (default 0x1f, all; bit
 * 0 root0, 1 root1, 2 userns, 3 netns, 4 traffic), to narrow a finding.
 *
 * Processes (no threads): two root workers in the initial namespace (sockopt
 * and configfs mixed), one user-namespace worker (an unprivileged user that
 * became root of a user and network namespace of its own: the sockopt front
 * on its own sockets, and on a socket of the initial namespace, where every
 * skex set command must fail with EPERM), one namespace churner (short-lived
 * network namespaces, half of them in user namespaces, each left with rules,
 * groups and connections in it) and one traffic worker (connect, send,
 * accept to the pool ports, non-blocking, closed with RST). The test VM
 * runs its command chrooted, where the kernel refuses CLONE_NEWUSER: the
 * user-namespace workers step out to PID 1's root for the unshare() only.
 *
 * Every result is checked against what docs/sockopt.md, docs/forwarding.md,
 * docs/groups.md and docs/configfs.md allow: an errno outside the command's
 * set, EFAULT where every pointer was valid, success where a value is out of
 * range (EINVAL in the docs), anything but EPERM for a set command without
 * CAP_NET_ADMIN, a configfs write with a NUL, a negative or out-of-range
 * number that succeeds. TCP_FW_ADD_BRANCH6, TCP_FW_DEL_BRANCH6 and
 * TCP_FW_REPLACE_RULE (structures, branch arrays, delimiters and patterns
 * of every kind of pointer, names with embedded NULs, out-of-range fields)
 * may fail with any errno docs/sockopt.md lists for them, EFAULT included,
 * but only with EINVAL for a short optlen and EFAULT for an unreadable
 * structure. A worker that dies of a signal, or makes no progress
 * for HANG_SECS (its kernel stack is printed), fails the run.
 *
 * At the end: all configuration is cleared (both fronts), and the run fails
 * unless configfs is empty, /proc/net/skex is back to its first line count,
 * the module's reference count is back to its value at the start (so it can
 * be unloaded), Slab in /proc/meminfo is back within SLAB_TOL_KB (or
 * SLAB_TOL_PCT of the baseline, whichever is more) of its baseline, and the
 * active objects of /proc/slabinfo (all caches but the debug checkers' own,
 * size times count) within LIVE_TOL_KB, all taken after dropping caches.
 * Slab grows by 2-3.5 MB in such runs (partial slabs the kernel keeps)
 * while the live objects move by some 200 kB: the live check catches a leak of about 50 bytes per call in
 * the default run (25,000-50,000 calls) and of about 1 byte per call in
 * 1,000,000; kmemleak (check-debug) is the exact check, and where it runs
 * the live objects only inform (KASAN's quarantine moves them by megabytes).
 * The summary gives each kind of call's results by errno, the time its calls
 * took (summed over the workers) and the longest one: where a debug kernel
 * spends the run.
 *
 * Exit 0: pass, 1: fail, 4: skip.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "skex_common.h"
#include <linux/tcp_fw_user.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define CFS_ROOT	"/sys/kernel/config/skex"
#define HANG_SECS	120
#define SLAB_TOL_KB	4096
#define SLAB_TOL_PCT	5
#define LIVE_TOL_KB	1024	/* active objects of /proc/slabinfo */
#define PAGE		4096
#define POOL_BASE	20000	/* pool ports: POOL_BASE .. POOL_BASE + 15 */
#define POOL_N		16
#define TARGETS		4	/* traffic listens on the last TARGETS of the pool */
#define ERRNO_MAX	160
#define MAX_VIOL	32	/* kinds of violation */
#define VIOL_SHOWN	3	/* examples of each */

enum { W_ROOT0, W_ROOT1, W_USERNS, W_NETNS, W_TRAFFIC, NWORKERS };

static const char *const worker_name[NWORKERS] = {
	"root0", "root1", "userns", "netns", "traffic",
};

enum {
	K_SET_SKEX, K_GET_SKEX, K_SET_OTHER, K_GET_OTHER, K_SET_FOREIGN,
	K_CFS_WRITE, K_CFS_READ, K_CFS_MKDIR, K_CFS_RMDIR, K_CFS_USERNS,
	K_NETNS, K_TRAFFIC, NKINDS,
};

static const char *const kind_name[NKINDS] = {
	"set skex", "get skex", "set other", "get other",
	"set skex, other ns", "configfs write", "configfs read",
	"configfs mkdir", "configfs rmdir", "configfs from userns",
	"netns made", "traffic connects",
};

/* Shared by every process of the run (MAP_SHARED). */
struct shared {
	int stop;				/* __atomic */
	uint64_t calls;				/* fuzzed calls, all workers */
	uint64_t beat[NWORKERS];		/* progress of each worker */
	uint64_t count[NKINDS][ERRNO_MAX + 1];	/* [kind][errno], 0: success */
	uint64_t us[NKINDS];			/* time in each kind of call, µs */
	uint64_t us_max[NKINDS];		/* the longest call of each kind */
	uint64_t userns_ok;			/* successes in the userns's own netns */
	int nviol;
	struct {			/* violations, by format string */
		const char *fmt;
		uint64_t n;
		char first[VIOL_SHOWN][320];
	} cls[MAX_VIOL];
	int userns_mode;			/* 1: unprivileged user, 2: root */
};

static struct shared *sh;
static uint64_t seed;
static uint64_t max_calls;
static int verbose;

struct worker {
	int id;
	uint64_t rng;
	uint64_t n;		/* calls of this worker */
	uint64_t last_us;	/* when it last accounted a call */
	unsigned char *arena;	/* [RO page][RW page][RW page][unmapped page] */
};

/* ---- helpers ---- */

static uint64_t rnd(struct worker *w)
{
	return skex_prng_next(&w->rng);
}

static uint32_t below(struct worker *w, uint32_t n)
{
	return n ? (uint32_t)(rnd(w) % n) : 0;
}

static bool chance(struct worker *w, unsigned int pct)
{
	return below(w, 100) < pct;
}

static void violation(struct worker *w, const char *fmt, ...)
{
	const char *none = NULL;
	char msg[256];
	uint64_t n;
	va_list ap;
	int i;

	__atomic_fetch_add(&sh->nviol, 1, __ATOMIC_RELAXED);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = 0; i < MAX_VIOL; i++) {
		if (__atomic_load_n(&sh->cls[i].fmt, __ATOMIC_ACQUIRE) == fmt ||
		    __atomic_compare_exchange_n(&sh->cls[i].fmt, &none, fmt, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			break;
		if (none == fmt)
			break;
		none = NULL;
	}
	if (i == MAX_VIOL)
		i = MAX_VIOL - 1;
	n = __atomic_fetch_add(&sh->cls[i].n, 1, __ATOMIC_RELAXED);
	if (n < VIOL_SHOWN)
		snprintf(sh->cls[i].first[n], sizeof(sh->cls[i].first[n]),
			 "%s call %" PRIu64 " (seed %" PRIu64 "): %s",
			 w ? worker_name[w->id] : "main", w ? w->n : 0, seed, msg);
	if (verbose || n < 1)
		fprintf(stderr, "VIOLATION %s: %s\n",
			w ? worker_name[w->id] : "main", msg);
}

/*
 * A call of @kind ended with @err (0: success). Its time runs from the
 * worker's previous call, or from the start of the loop step that made it
 * (the generation of its arguments included, small beside a call into a
 * debug kernel); a namespace's, from the end of the one before.
 */
static void account(struct worker *w, int kind, int err)
{
	uint64_t now = skex_now_us(), us = now - w->last_us;
	uint64_t max = __atomic_load_n(&sh->us_max[kind], __ATOMIC_RELAXED);

	w->last_us = now;
	__atomic_fetch_add(&sh->us[kind], us, __ATOMIC_RELAXED);
	while (us > max &&
	       !__atomic_compare_exchange_n(&sh->us_max[kind], &max, us, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (err < 0 || err > ERRNO_MAX)
		err = ERRNO_MAX;
	__atomic_fetch_add(&sh->count[kind][err], 1, __ATOMIC_RELAXED);
	if (kind != K_NETNS && kind != K_TRAFFIC) {
		__atomic_fetch_add(&sh->calls, 1, __ATOMIC_RELAXED);
		w->n++;
	}
	sh->beat[w->id]++;
	if (max_calls && __atomic_load_n(&sh->calls, __ATOMIC_RELAXED) >= max_calls)
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
}

static const char *ename(int err)
{
	const char *s = err ? strerrorname_np(err) : "ok";

	return s ? s : "E?";
}

/*
 * Ports outside the pool: edges of the port table's chunks and some drawn
 * from the seed. A bounded set: a namespace keeps every port it ever used
 * in its table until it goes (port.c), so fully random ports would grow
 * the slab by design and hide a leak behind it.
 */
#define ODD_PORTS 32
static uint16_t odd_ports[ODD_PORTS] = {
	1, 255, 256, 257, 511, 1023, 1024, 32767, 32768, 65279, 65280, 65534,
};

static void odd_ports_init(void)
{
	uint64_t s = seed + 1;
	int i;

	for (i = 12; i < ODD_PORTS; i++)
		odd_ports[i] = (uint16_t)skex_prng_next(&s);
}

/* One of the @n values at @v. */
static long long one_of(struct worker *w, const long long *v, unsigned int n)
{
	return v[below(w, n)];
}

#define ONE_OF(w, ...) one_of(w, (const long long []){ __VA_ARGS__ },	\
			      sizeof((long long []){ __VA_ARGS__ }) /	\
			      sizeof(long long))

static uint16_t pool_port(struct worker *w)
{
	return POOL_BASE + below(w, POOL_N);
}

static uint16_t pick_port(struct worker *w)
{
	return ONE_OF(w, 0, 65535, odd_ports[below(w, ODD_PORTS)], pool_port(w), pool_port(w),
		      pool_port(w), pool_port(w), pool_port(w), pool_port(w),
		      pool_port(w));
}

/* ---- pointers: valid, NULL, faulting, straddling the unmapped page ---- */

enum { P_VALID, P_END, P_RO, P_NULL, P_KERNEL, P_UNMAPPED, P_STRADDLE, NPTR };

struct ptr {
	void *p;
	size_t rd;	/* bytes readable from p */
	size_t wr;	/* bytes writable from p */
};

#define RO_PAGE(w)	((w)->arena)
#define RW_PAGE(w)	((w)->arena + PAGE)
#define HOLE(w)		((w)->arena + 3 * PAGE)

/* A place for @len bytes (at most 2 pages) of the chosen kind. */
static struct ptr place(struct worker *w, size_t len, int kind)
{
	struct ptr r = { NULL, 0, 0 };
	size_t k;

	if (len > 2 * PAGE)
		len = 2 * PAGE;
	switch (kind) {
	case P_VALID:
		r.p = RW_PAGE(w) + below(w, (uint32_t)(2 * PAGE - len + 1));
		r.p = (void *)((uintptr_t)r.p & ~(uintptr_t)7);
		break;
	case P_END:		/* exactly before the hole: over-reads fault */
		r.p = HOLE(w) - len;
		break;
	case P_RO:
		r.p = RO_PAGE(w) + below(w, PAGE - (len > PAGE ? PAGE : len) + 1);
		r.rd = RW_PAGE(w) + 2 * PAGE - (unsigned char *)r.p;
		return r;
	case P_NULL:
		return r;
	case P_KERNEL:
		r.p = (void *)0xffff888000001000ull;
		return r;
	case P_UNMAPPED:
		r.p = HOLE(w) + below(w, PAGE);
		return r;
	case P_STRADDLE:
		k = len > 1 ? 1 + below(w, (uint32_t)len - 1) : 0;
		r.p = HOLE(w) - k;
		break;
	}
	r.rd = HOLE(w) - (unsigned char *)r.p;
	r.wr = r.rd;
	return r;
}

/* Bytes readable from @p: the arena's RO and RW pages, nothing else. */
static size_t readable(struct worker *w, const void *p)
{
	const unsigned char *c = p;

	return c >= RO_PAGE(w) && c < HOLE(w) ? (size_t)(HOLE(w) - c) : 0;
}

/* Store @len bytes of @src at @dst as far as it is writable. */
static void store(struct ptr *dst, const void *src, size_t len)
{
	if (dst->wr)
		memcpy(dst->p, src, dst->wr < len ? dst->wr : len);
}

/* What the kernel will read at @src: @len bytes, if they are readable. */
static bool fetch(const struct ptr *src, void *dst, size_t len)
{
	if (src->rd < len)
		return false;
	memcpy(dst, src->p, len);
	return true;
}

static int pick_ptr_kind(struct worker *w)
{
	static const int kinds[] = {
		P_VALID, P_VALID, P_VALID, P_VALID, P_VALID, P_VALID, P_END,
		P_END, P_RO, P_NULL, P_KERNEL, P_UNMAPPED, P_STRADDLE,
		P_STRADDLE,
	};

	return kinds[below(w, ARRAY_SIZE(kinds))];
}

static int pick_optlen(struct worker *w, int exact)
{
	switch (below(w, 12)) {
	case 0:
		return 0;
	case 1:		/* short */
		return exact > 1 ? 1 + below(w, exact - 1) : 0;
	case 2:
		return exact + 1 + below(w, 64);
	case 3:
		return 1 << 20;
	case 4:
		return INT_MAX;
	case 5:
		return -1;
	case 6:
		return INT_MIN + below(w, 100);
	case 7:		/* the seed's sizeof(pointer) mistake */
		return 8;
	default:
		return exact;
	}
}

/* ---- expected results ---- */

/* General errors of a command that passed the front's checks. */
static const int fw_errs[] = { 0, EINVAL, EEXIST, ENOENT, EADDRINUSE, ENOSPC,
			       ENOMEM, EBUSY, ERANGE, -1 };
static const int group_errs[] = { 0, EINVAL, EEXIST, ENOENT, ENOSPC, ENOMEM,
				  EBUSY, ERANGE, -1 };

struct expect {
	const int *set;		/* allowed results (0: success), -1 ended */
	int only;		/* >= 0: exactly this result */
	bool no_success;	/* a value is out of range */
	bool may_fault;		/* nested pointers of any kind: EFAULT too */
};

static bool allowed(const struct expect *e, int err)
{
	int i;

	if (e->only >= 0)
		return err == e->only;
	if (!err && e->no_success)
		return false;
	if (err == EFAULT)
		return e->may_fault;	/* else only ever expected as e->only */
	for (i = 0; e->set[i] >= 0; i++)
		if (e->set[i] == err)
			return true;
	return false;
}

static const int optnames[] = {
	TCP_FW_ADD_RULE, TCP_FW_ADD_BRANCH, TCP_FW_DEL_BRANCH,
	TCP_FW_FLUSH_BRANCH, TCP_FW_EDIT_RULE, TCP_FW_DEL_RULE,
	TCP_SKEX_ADD_GROUP, TCP_SKEX_EDIT_GROUP, TCP_SKEX_DEL_GROUP,
	TCP_SKEX_FLUSH_LIST, TCP_SKEX_STAT,
	TCP_FW_ADD_BRANCH6, TCP_FW_DEL_BRANCH6, TCP_FW_REPLACE_RULE,
};

static const int outside[] = {
	TCP_FW_BASE_CTL - 1, TCP_FW_MAX + 1, TCP_FW_MAX + 2,
	TCP_SKEX_BASE_CTL - 1, TCP_SKEX_MAX + 1, TCP_SKEX_MAX + 2,
	TCP_FW_BASE_CTL + 0x100, TCP_FW_BASE_CTL - 0x100,
};

static bool is_fw(int name)
{
	return name >= TCP_FW_BASE_CTL && name <= TCP_FW_MAX;
}

static bool is_skex_set(int name)
{
	return is_fw(name) || (name >= TCP_SKEX_ADD_GROUP &&
			       name <= TCP_SKEX_FLUSH_LIST);
}

/* Buffers of one call, and what the kernel may read or write there. */
struct call {
	int name;
	int optlen;
	struct ptr arg;		/* optval */
	struct ptr nested;	/* pattern or socks */
	size_t nested_len;
	char desc[160];
};

/* ---- forwarding: struct tcp_fw_user ---- */

/*
 * The call's argument: @need bytes of @arg at a pointer of a random kind,
 * and a random optlen around @need.
 */
static void place_arg(struct worker *w, struct call *c, const void *arg,
		      int need)
{
	c->optlen = pick_optlen(w, need);
	c->arg = place(w, need, pick_ptr_kind(w));
	store(&c->arg, arg, need);
}

/*
 * What the front checks first, in its order (sockopt.c): the length, then
 * the copy of @need bytes. @e allows @set; false when a check decided the
 * result (e->only).
 */
static bool expect_front(struct expect *e, const struct call *c,
			 const int *set, int need)
{
	e->set = set;
	e->only = -1;
	if (c->optlen < 0 || c->optlen < need)
		e->only = EINVAL;
	else if (c->arg.rd < (size_t)need)
		e->only = EFAULT;
	return e->only < 0;
}

static void gen_fw(struct worker *w, struct call *c, struct expect *e)
{
	struct tcp_fw_user u;
	int ptn_len, need = sizeof(u);
	bool content_br;
	uint32_t mask;

	memset(&u, 0, sizeof(u));
	if (chance(w, 10))
		skex_gen_fill(&(struct skex_gen){ rnd(w), 0, 0 }, &u, sizeof(u));
	u.type = chance(w, 85) ? 1 + below(w, 3) :
		 ONE_OF(w, 0, 4, 0xffff, (uint16_t)rnd(w));
	u.port = pick_port(w);
	u.def_port = chance(w, 10) ? u.port : pick_port(w);

	switch (u.type) {
	case TCP_DICE_FW:
		u.u.dfb_u.redir_port = pick_port(w);
		u.u.dfb_u.redir_chance = chance(w, 80) ? below(w, 101) :
			ONE_OF(w, 101, 0xffff, (uint16_t)rnd(w));
		break;
	case TCP_ADDR_FW:
		u.u.afb_u.redir_port = pick_port(w);
		u.u.afb_u.src.s_addr = htonl(0x0a000000u | below(w, 4) << 16);
		mask = below(w, 33);
		mask = mask ? ~0u << (32 - mask) : 0;
		if (chance(w, 10))
			mask = (uint32_t)rnd(w);
		u.u.afb_u.src_mask.s_addr = htonl(mask);
		break;
	case TCP_CONTENT_FW:
		u.u.cfb_u.redir_port = pick_port(w);
		u.u.cfb_u.target = chance(w, 90) ? 0 : (uint16_t)rnd(w);
		break;
	}
	content_br = u.type == TCP_CONTENT_FW &&
		     (c->name == TCP_FW_ADD_BRANCH || c->name == TCP_FW_DEL_BRANCH);
	if (u.type == TCP_CONTENT_FW) {
		ptn_len = chance(w, 80) ? (int)(1 + below(w, 4)) :
			  ONE_OF(w, 0, 256, 257, 65535, 4096);
		u.u.cfb_u.ptn_len = ptn_len;
		c->nested_len = ptn_len;
		c->nested = place(w, ptn_len, content_br ? pick_ptr_kind(w) : P_NULL);
		if (c->nested.wr)
			for (int i = 0; i < ptn_len && (size_t)i < c->nested.wr; i++)
				((char *)c->nested.p)[i] = "ab\0\r\n"[below(w, 5)];
		u.u.cfb_u.pattern = c->nested.p;
	}

	place_arg(w, c, &u, need);
	if (fetch(&c->arg, &u, need) && u.type == TCP_CONTENT_FW) {
		c->nested.p = u.u.cfb_u.pattern;
		c->nested.rd = readable(w, c->nested.p);
	}
	content_br = u.type == TCP_CONTENT_FW &&
		     (c->name == TCP_FW_ADD_BRANCH || c->name == TCP_FW_DEL_BRANCH);
	snprintf(c->desc, sizeof(c->desc),
		 "optlen %d arg %zu/%zu type %u port %u def %u redir %u extra %u/%u ptn %zu",
		 c->optlen, c->arg.rd, c->arg.wr, u.type, u.port, u.def_port,
		 u.u.dfb_u.redir_port, u.u.cfb_u.target, u.u.cfb_u.ptn_len,
		 c->nested.rd);

	/* the front, in its order (sockopt.c, forward_sockopt.c) */
	if (!expect_front(e, c, fw_errs, need))
		return;
	if (u.type < TCP_DICE_FW || u.type > TCP_ADDR_FW) {
		e->only = EINVAL;
		return;
	}
	if (content_br) {
		if (!u.u.cfb_u.ptn_len || u.u.cfb_u.ptn_len > TCP_FW_PATTERN_MAX) {
			e->only = EINVAL;
			return;
		}
		if (c->nested.rd < u.u.cfb_u.ptn_len) {
			e->only = EFAULT;
			return;
		}
	}
	switch (c->name) {
	case TCP_FW_ADD_RULE:
		if (!u.port || !u.def_port || u.def_port == u.port)
			e->only = EINVAL;
		break;
	case TCP_FW_ADD_BRANCH:
		if (!u.port || !u.u.dfb_u.redir_port)
			e->only = EINVAL;
		else if (u.u.dfb_u.redir_port == u.port ||
			 (u.type == TCP_DICE_FW && u.u.dfb_u.redir_chance > 100))
			e->no_success = true;
		break;
	case TCP_FW_EDIT_RULE:
		if (!u.port)
			e->only = EINVAL;
		else if (!u.def_port || u.def_port == u.port)
			e->no_success = true;
		break;
	case TCP_FW_DEL_RULE:
		break;
	default:
		if (!u.port)
			e->only = EINVAL;
		break;
	}
}

/*
 * ---- skex's own forwarding commands: struct tcp_fw_addr6_user,
 * struct tcp_fw_replace_user with its nested branches, delimiter and
 * patterns (any kind of pointer) ----
 */

static const int fw_new_errs[] = { 0, EINVAL, EEXIST, ENOENT, ENOSPC,
				   ENOMEM, ERANGE, E2BIG, -1 };

static void rnd_src6(struct worker *w, struct in6_addr *a, struct in6_addr *m)
{
	int i, bits = chance(w, 50) ? 96 + below(w, 33) : below(w, 129);

	memset(a, 0, sizeof(*a));
	memset(m, 0, sizeof(*m));
	switch (below(w, 4)) {
	case 0:
		a->s6_addr[0] = 0xfd;
		a->s6_addr[15] = below(w, 4);
		break;
	case 1:		/* v4-mapped */
		a->s6_addr[10] = a->s6_addr[11] = 0xff;
		a->s6_addr[12] = 10;
		a->s6_addr[13] = below(w, 4);
		break;
	case 2:
		a->s6_addr[15] = 1;
		break;
	default:
		skex_gen_fill(&(struct skex_gen){ rnd(w), 0, 0 }, a, sizeof(*a));
		break;
	}
	for (i = 0; i < bits; i++)
		m->s6_addr[i / 8] |= 0x80 >> (i % 8);
	if (chance(w, 10))
		skex_gen_fill(&(struct skex_gen){ rnd(w), 0, 0 }, m, sizeof(*m));
}

static void gen_branch(struct worker *w, struct tcp_fw_branch_user *b,
		       int type, int i)
{
	memset(b, 0, sizeof(*b));
	if (chance(w, 5))
		skex_gen_fill(&(struct skex_gen){ rnd(w), 0, 0 }, b, sizeof(*b));
	switch (below(w, 20)) {
	case 0:
		break;				/* "": br<N> */
	case 1:
		memset(b->name, 'n', sizeof(b->name));	/* no NUL */
		break;
	case 2:
		memcpy(b->name, "a\0b", 4);	/* an embedded NUL */
		break;
	case 3:
		strcpy(b->name, below(w, 2) ? "a/b" : "..");
		break;
	default:
		snprintf(b->name, sizeof(b->name), "b%d", chance(w, 80) ? i :
			 (int)below(w, 3));
		break;
	}
	b->redir_port = pick_port(w);
	if (type == TCP_DICE_FW || chance(w, 5))
		b->chance = chance(w, 80) ? below(w, 40) : (uint16_t)rnd(w);
	if (type == TCP_CONTENT_FW || chance(w, 5)) {
		b->ptn_len = chance(w, 85) ? 1 + below(w, 8) :
			     ONE_OF(w, 0, 256, 257, 65535);
		/* readable bytes, or a pointer of any kind */
		b->pattern = chance(w, 85) ?
			(uintptr_t)(RO_PAGE(w) + below(w, PAGE - 300)) :
			(uintptr_t)place(w, b->ptn_len, pick_ptr_kind(w)).p;
		if (chance(w, 50)) {
			b->flags = chance(w, 95) ? TCP_FW_BRANCH_ANCHORED :
				   (uint16_t)rnd(w);
			b->offset = chance(w, 90) ? below(w, 16) : (uint32_t)rnd(w);
		}
	}
	if (type == TCP_ADDR_FW || chance(w, 5))
		rnd_src6(w, &b->src, &b->src_mask);
	if (chance(w, 5))
		b->reserved = rnd(w);
}

static void gen_fw_new(struct worker *w, struct call *c, struct expect *e)
{
	struct tcp_fw_branch_user br[6];
	struct tcp_fw_replace_user r;
	struct tcp_fw_addr6_user a;
	int need, i, n;
	struct ptr p;

	if (c->name != TCP_FW_REPLACE_RULE) {
		need = sizeof(a);
		memset(&a, 0, sizeof(a));
		a.type = chance(w, 85) ? TCP_ADDR_FW : ONE_OF(w, 0, 1, 2, 4, 0xffff);
		a.port = pick_port(w);
		a.redir_port = pick_port(w);
		a.reserved = chance(w, 90) ? 0 : (uint16_t)rnd(w);
		rnd_src6(w, &a.src, &a.src_mask);
		place_arg(w, c, &a, need);
		snprintf(c->desc, sizeof(c->desc),
			 "optlen %d arg %zu/%zu type %u port %u redir %u res %u",
			 c->optlen, c->arg.rd, c->arg.wr, a.type, a.port,
			 a.redir_port, a.reserved);
	} else {
		need = sizeof(r);
		memset(&r, 0, sizeof(r));
		r.type = chance(w, 85) ? 1 + below(w, 3) : ONE_OF(w, 0, 4, 0xffff);
		r.port = pick_port(w);
		r.def_port = chance(w, 10) ? r.port : pick_port(w);
		if (r.type == TCP_CONTENT_FW || chance(w, 5)) {
			r.until = chance(w, 90) ? 1 + below(w, 3) : (uint16_t)rnd(w);
			r.timeout_ms = chance(w, 50) ? 0 : chance(w, 80) ?
				       1 + below(w, 5000) : (uint32_t)rnd(w);
			r.window = chance(w, 50) ? 0 : chance(w, 80) ?
				   1 + below(w, 65536) : (uint32_t)rnd(w);
		}
		if (r.until == 3 || chance(w, 5)) {
			r.delim_len = chance(w, 85) ? 1 + below(w, 8) :
				      ONE_OF(w, 0, 256, 257, 65535);
			r.delim = chance(w, 85) ?
				(uintptr_t)(RO_PAGE(w) + below(w, PAGE - 300)) :
				(uintptr_t)place(w, r.delim_len, pick_ptr_kind(w)).p;
		}
		n = chance(w, 90) ? (int)below(w, 7) : ONE_OF(w, 4096, 4097, 65535);
		r.nbranches = n;
		for (i = 0; i < 6; i++)
			gen_branch(w, &br[i], r.type, i);
		p = place(w, sizeof(br), pick_ptr_kind(w));
		store(&p, br, sizeof(br));
		r.branches = (uintptr_t)p.p;
		r.reserved = chance(w, 95) ? 0 : (uint32_t)rnd(w);
		place_arg(w, c, &r, need);
		snprintf(c->desc, sizeof(c->desc),
			 "optlen %d arg %zu/%zu type %u port %u def %u until %u n %u br %zu",
			 c->optlen, c->arg.rd, c->arg.wr, r.type, r.port,
			 r.def_port, r.until, r.nbranches, p.rd);
	}

	/* the front: lengths, then the structure; nested pointers may fault */
	e->may_fault = true;
	expect_front(e, c, fw_new_errs, need);
}

/* ---- groups: struct sock_group_user ---- */

static bool accept_type(int type)
{
	return type == SKEX_ACCEPT_ABSOLUTE || type == SKEX_ACCEPT_RATIO;
}

static void gen_group(struct worker *w, struct call *c, struct expect *e)
{
	struct sock_ex_user socks[SKEX_GROUP_PORTS_MAX];
	struct sock_group_user g;
	int need = sizeof(g), n, i, j;
	bool bad = false;

	memset(&g, 0, sizeof(g));
	g.gid = chance(w, 85) ? 1 + below(w, 8) :
		ONE_OF(w, 0, 65535, (uint16_t)rnd(w));
	g.type = chance(w, 85) ? 1 + below(w, 4) :
		 ONE_OF(w, 0, 5, 0xffff);
	g.sock_cnt = ONE_OF(w, 0, SKEX_GROUP_PORTS_MAX, SKEX_GROUP_PORTS_MAX + 1,
			    (uint16_t)rnd(w), 2, 3, 4, 1, 1, 1);
	n = g.sock_cnt <= SKEX_GROUP_PORTS_MAX ? g.sock_cnt : 0;
	memset(socks, 0, sizeof(socks));
	for (i = 0; i < n; i++) {
		socks[i].port = chance(w, 95) ? pool_port(w) : pick_port(w);
		if (accept_type(g.type)) {
			socks[i].quota.frac.whole = chance(w, 90) ? below(w, 50) : (uint16_t)rnd(w);
			socks[i].quota.frac.frac = chance(w, 90) ? below(w, 1000) :
				ONE_OF(w, 1000, 0xffff);
		} else {
			socks[i].quota.integer = chance(w, 50) ? 1000 + below(w, 1000000) :
						 (uint32_t)rnd(w);
		}
		socks[i].nonblock = chance(w, 70) ? 1 : (short)rnd(w);
	}
	c->nested_len = (size_t)g.sock_cnt * sizeof(socks[0]);
	c->nested = place(w, n ? n * sizeof(socks[0]) : sizeof(socks[0]),
			  pick_ptr_kind(w));
	store(&c->nested, socks, n * sizeof(socks[0]));
	g.socks = c->nested.p;

	place_arg(w, c, &g, need);
	if (fetch(&c->arg, &g, need)) {
		c->nested.p = g.socks;
		c->nested.rd = readable(w, g.socks);
		c->nested_len = (size_t)g.sock_cnt * sizeof(socks[0]);
		n = g.sock_cnt <= SKEX_GROUP_PORTS_MAX ? g.sock_cnt : 0;
		memset(socks, 0, sizeof(socks));
		fetch(&c->nested, socks, n * sizeof(socks[0]));
	}
	snprintf(c->desc, sizeof(c->desc),
		 "optlen %d arg %zu/%zu socks %zu gid %u type %u cnt %u port0 %u quota0 %#x nb %d",
		 c->optlen, c->arg.rd, c->arg.wr, c->nested.rd, g.gid, g.type,
		 g.sock_cnt, socks[0].port,
		 socks[0].quota.integer, socks[0].nonblock);

	if (!expect_front(e, c, group_errs, need))
		return;
	if (g.type < 1 || g.type > 4 || !g.sock_cnt ||
	    g.sock_cnt > SKEX_GROUP_PORTS_MAX) {
		e->only = EINVAL;
		return;
	}
	if (c->nested.rd < c->nested_len) {
		e->only = EFAULT;
		return;
	}
	for (i = 0; i < n; i++) {
		if (!socks[i].port)
			bad = true;
		if (accept_type(g.type) && socks[i].quota.frac.frac > 999)
			bad = true;
		if (g.type == SKEX_ACCEPT_RATIO && !socks[i].quota.frac.whole &&
		    !socks[i].quota.frac.frac)
			bad = true;
		for (j = 0; j < i; j++)
			if (socks[j].port == socks[i].port)
				bad = true;
	}
	if (g.type == SKEX_ACCEPT_RATIO ? n < 2 : n != 1)
		bad = true;
	if (bad) {
		e->only = EINVAL;
		return;
	}
	if (c->name == TCP_SKEX_ADD_GROUP && c->arg.wr < (size_t)need) {
		e->only = EFAULT;
		return;
	}
	if (c->name == TCP_SKEX_EDIT_GROUP && !g.gid)
		e->only = ENOENT;
}

static const int del_errs[] = { 0, ENOENT, -1 };
static const int ok_only[] = { 0, -1 };

static void gen_int(struct worker *w, struct call *c, struct expect *e)
{
	int v = chance(w, 80) ? (int)below(w, 10) :
		ONE_OF(w, -1, 65535, 65536, INT_MIN, (int)rnd(w));

	place_arg(w, c, &v, sizeof(v));
	fetch(&c->arg, &v, sizeof(v));
	snprintf(c->desc, sizeof(c->desc), "optlen %d int %d", c->optlen, v);

	if (expect_front(e, c, c->name == TCP_SKEX_FLUSH_LIST ? ok_only :
			 del_errs, sizeof(int)) &&
	    c->name == TCP_SKEX_DEL_GROUP && (v < 1 || v > 65535))
		e->only = ENOENT;
}

/* ---- one sockopt call ---- */

static int sock_fd(struct worker *w, int *fds)
{
	int i = below(w, 3);

	if (fds[i] < 0)
		fds[i] = socket(i == 1 ? AF_INET6 : AF_INET,
				i == 2 ? SOCK_DGRAM : SOCK_STREAM, 0);
	return fds[i] < 0 ? -1 : i;
}

static void fuzz_set(struct worker *w, int fd, bool udp, bool foreign)
{
	static const int other_errs[] = { EINVAL, ENOPROTOOPT, EOPNOTSUPP, -1 };
	struct expect e = { fw_errs, -1, false, false };
	struct call c;
	int err, kind;

	memset(&c, 0, sizeof(c));
	c.name = chance(w, 88) ? optnames[below(w, ARRAY_SIZE(optnames))] : outside[below(w, 8)];
	if (c.name == TCP_FW_ADD_BRANCH6 || c.name == TCP_FW_DEL_BRANCH6 ||
	    c.name == TCP_FW_REPLACE_RULE)
		gen_fw_new(w, &c, &e);
	else if (is_fw(c.name))
		gen_fw(w, &c, &e);
	else if (c.name == TCP_SKEX_ADD_GROUP || c.name == TCP_SKEX_EDIT_GROUP)
		gen_group(w, &c, &e);
	else
		gen_int(w, &c, &e);

	kind = K_SET_SKEX;
	if (!is_skex_set(c.name) || udp) {
		kind = K_SET_OTHER;
		e.set = other_errs;
		e.only = -1;
		if (c.optlen < 0)
			e.only = EINVAL;
		else if (!udp && c.optlen >= (int)sizeof(int) &&
			 c.arg.rd < sizeof(int))
			e.only = EFAULT;
		else if (!udp && c.optlen >= (int)sizeof(int))
			e.only = ENOPROTOOPT;
	} else if (foreign) {
		kind = K_SET_FOREIGN;
		e.only = c.optlen < 0 ? EINVAL : EPERM;
	}

	err = setsockopt(fd, IPPROTO_TCP, c.name, c.arg.p, c.optlen) ? errno : 0;
	account(w, kind, err);
	if (!err && w->id == W_USERNS && !foreign)
		__atomic_fetch_add(&sh->userns_ok, 1, __ATOMIC_RELAXED);
	if (!allowed(&e, err))
		violation(w, "setsockopt(%s%#x) %s: %s, expected %s%s", udp ? "udp " : "",
			  c.name, c.desc, ename(err),
			  e.only >= 0 ? ename(e.only) : "no EFAULT",
			  e.no_success ? ", no success" : "");
	if (!err && c.name == TCP_SKEX_ADD_GROUP) {
		uint16_t gid = ((struct sock_group_user *)c.arg.p)->gid;

		if (!gid)
			violation(w, "TCP_SKEX_ADD_GROUP succeeded with gid 0");
	}
}

static void fuzz_get(struct worker *w, int fd, bool udp)
{
	static const int stat_errs[] = { 0, ENOENT, -1 };
	static const int other_errs[] = { EINVAL, ENOPROTOOPT, EOPNOTSUPP, -1 };
	struct expect e = { stat_errs, -1, false, false };
	struct ptr lenp, arg;
	int name, len, err, kind, need = sizeof(struct netmeter);
	uint16_t port = pick_port(w);

	name = chance(w, 70) ? TCP_SKEX_STAT :
	       chance(w, 50) ? optnames[below(w, ARRAY_SIZE(optnames))] : outside[below(w, 8)];
	len = pick_optlen(w, need);
	arg = place(w, need, pick_ptr_kind(w));
	store(&arg, &port, sizeof(port));
	lenp = place(w, sizeof(int), pick_ptr_kind(w));
	store(&lenp, &len, sizeof(len));
	/* after both stores: they may overlap */
	fetch(&arg, &port, sizeof(port));
	fetch(&lenp, &len, sizeof(len));

	kind = name == TCP_SKEX_STAT && !udp ? K_GET_SKEX : K_GET_OTHER;
	if (kind == K_GET_SKEX) {
		if (lenp.rd < sizeof(int))
			e.only = EFAULT;
		else if (len < need)
			e.only = EINVAL;
		else if (arg.rd < sizeof(port))
			e.only = EFAULT;
		else if (!port)
			e.only = ENOENT;
		else if (arg.wr < (size_t)need || lenp.wr < sizeof(int))
			e.no_success = true;	/* EFAULT or ENOENT */
	} else {
		e.set = other_errs;
		if (lenp.rd < sizeof(int) && !udp)
			e.only = EFAULT;	/* UDP refuses the level first */
	}

	err = getsockopt(fd, IPPROTO_TCP, name, arg.p, lenp.p) ? errno : 0;
	account(w, kind, err);
	if (err == EFAULT && e.only < 0 && kind == K_GET_SKEX &&
	    (arg.wr < (size_t)need || lenp.wr < sizeof(int)))
		return;		/* the answer could not be written */
	if (err == EFAULT && e.only < 0 && kind == K_GET_OTHER &&
	    (arg.wr < sizeof(int) || lenp.wr < sizeof(int) || udp))
		return;
	if (!allowed(&e, err)) {
		violation(w,
			  "getsockopt(%s%#x) port %u len %d arg %zu/%zu lenp %zu/%zu: %s, expected %s",
			  udp ? "udp " : "", name, port, len, arg.rd, arg.wr,
			  lenp.rd, lenp.wr, ename(err),
			  e.only >= 0 ? ename(e.only) : "no EFAULT");
		return;
	}
	if (!err && kind == K_GET_SKEX) {
		const char *a = arg.p, *l = lenp.p;
		struct netmeter nm;
		int got;

		/* both in the arena: the length written over the answer */
		if (l + sizeof(int) > a && l < a + need)
			return;
		memcpy(&got, lenp.p, sizeof(got));
		memcpy(&nm, arg.p, sizeof(nm));
		if (got != need || nm.port != port)
			violation(w, "TCP_SKEX_STAT port %u: optlen %d port %u",
				  port, got, nm.port);
	}
}

static void fuzz_sockopt(struct worker *w, int *fds, bool foreign)
{
	int i = sock_fd(w, fds);

	if (i < 0)
		return;
	if (chance(w, 75))
		fuzz_set(w, fds[i], i == 2, foreign);
	else
		fuzz_get(w, fds[i], i == 2);
	if (chance(w, 1)) {	/* fresh sockets now and then */
		close(fds[i]);
		fds[i] = -1;
	}
}

/* ---- configfs ---- */

#define CFS_MAX 2048

struct cfs {
	char *path[CFS_MAX];
	bool dir[CFS_MAX];
	int n;
	unsigned int age;
};

static void cfs_walk_dir(struct cfs *t, const char *dir, int depth)
{
	struct dirent *d;
	DIR *dp;

	dp = depth > 6 ? NULL : opendir(dir);
	if (!dp)
		return;
	while ((d = readdir(dp)) && t->n < CFS_MAX) {
		char *p;

		if (d->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", dir, d->d_name) < 0)
			break;
		t->dir[t->n] = d->d_type == DT_DIR;
		t->path[t->n++] = p;
		if (d->d_type == DT_DIR)
			cfs_walk_dir(t, p, depth + 1);
	}
	closedir(dp);
}

static void cfs_walk(struct cfs *t)
{
	while (t->n)
		free(t->path[--t->n]);
	cfs_walk_dir(t, CFS_ROOT, 0);
	t->age = 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* The first bytes of @buf, printable. Not reentrant. */
static const char *escape(const char *buf, size_t len)
{
	static char shown[200];
	size_t i, o = 0;

	for (i = 0; i < len && i < 40 && o < sizeof(shown) - 5; i++) {
		unsigned char ch = buf[i];

		o += snprintf(shown + o, sizeof(shown) - o,
			      ch >= 32 && ch < 127 && ch != '\\' ? "%c" : "\\x%02x",
			      ch);
	}
	shown[o] = 0;
	return shown;
}

/* What a write to attribute @attr may do with @buf. */
static bool cfs_must_fail(const char *attr, const char *buf, size_t len)
{
	static const char *const numeric[] = {
		"default_port", "enable", "timeout_ms", "window", "port",
		"chance", "nonblock", "quota", "type", "source",
	};
	static const char *const ro[] = {
		"default_hits", "dropped", "hits", "throttled",
	};
	unsigned long long v;
	size_t body = len;
	char tmp[64], *end;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ro); i++)
		if (!strcmp(attr, ro[i]))
			return true;
	if (!strcmp(attr, "pattern"))
		return len > TCP_FW_PATTERN_MAX + 1 || !len;
	for (i = 0; i < ARRAY_SIZE(numeric); i++)
		if (!strcmp(attr, numeric[i]))
			break;
	if (i == ARRAY_SIZE(numeric))
		return false;
	if (body && buf[body - 1] == '\n')
		body--;
	if (!body || memchr(buf, '\0', body) || len >= PAGE)
		return true;	/* empty, a NUL (SPEC: EINVAL) */
	if (!strcmp(attr, "type") || !strcmp(attr, "source") ||
	    !strcmp(attr, "quota"))
		return false;
	/* integers: decimal, in range */
	if (body >= sizeof(tmp))
		return true;
	memcpy(tmp, buf, body);
	tmp[body] = 0;
	if (tmp[0] == '-')
		return strcmp(tmp, "-0") != 0;
	if (tmp[0] < '0' || tmp[0] > '9')
		return false;	/* " 5", "+5": let the parser decide */
	errno = 0;
	v = strtoull(tmp, &end, 10);
	if (*end)
		return false;
	if (errno == ERANGE)
		return true;
	if (!strcmp(attr, "port") || !strcmp(attr, "default_port"))
		return !v || v > 65535;
	if (!strcmp(attr, "enable") || !strcmp(attr, "nonblock"))
		return v > 1;
	if (!strcmp(attr, "chance"))
		return v > 100;
	if (!strcmp(attr, "timeout_ms"))
		return !v || v > 3600000;
	if (!strcmp(attr, "window"))
		return !v || v > 65536;
	return false;
}

static size_t gen_value(struct worker *w, const char *attr, char *buf, size_t size)
{
	static const char *const types[] = {
		"address", "content", "dice", "accept_rate", "accept_ratio",
		"output_rate", "output_rate_ftp", "dice\n", "accept_rate\n",
	};
	static const char *const sources[] = {
		"10.0.0.0/8", "10.1.2.3/255.0.0.0", "fd00::/64", "10.1.2.3",
		"::1", "10.0.0.0/33", "10.0.0.0/255.0.255.0", "1.2.3.4/0",
		"fd00::/129", "10.0.0.0/", "/8",
	};
	size_t len = 0;
	uint64_t v;

	switch (below(w, 16)) {
	case 0:		/* random bytes */
		len = below(w, 64);
		skex_gen_fill(&(struct skex_gen){ rnd(w), 0, 0 }, buf, len);
		return len;
	case 1:		/* > PAGE_SIZE */
		len = PAGE + below(w, PAGE);
		memset(buf, "1a\0\xff"[below(w, 4)], len);
		return len;
	case 2:		/* non-UTF-8 */
		return snprintf(buf, size, "\xff\xfe%u\xc0", below(w, 100));
	case 3:		/* huge */
		return snprintf(buf, size, "%s%" PRIu64 "%" PRIu64,
				chance(w, 50) ? "-" : "", rnd(w), rnd(w));
	case 4:		/* negative */
		return snprintf(buf, size, "-%u\n", 1 + below(w, 70000));
	case 5:		/* empty */
		return chance(w, 50) ? 0 : (buf[0] = '\n', 1);
	default:
		break;
	}
	if (!strcmp(attr, "type")) {
		len = snprintf(buf, size, "%s", types[below(w, 9)]);
	} else if (!strcmp(attr, "source")) {
		len = snprintf(buf, size, "%s", sources[below(w, 11)]);
	} else if (!strcmp(attr, "pattern")) {
		len = 1 + below(w, chance(w, 90) ? 8 : 300);
		for (size_t i = 0; i < len; i++)
			buf[i] = "GET /\0\r\n\xff"[below(w, 9)];
	} else if (!strcmp(attr, "quota")) {
		if (chance(w, 70))
			len = snprintf(buf, size, chance(w, 50) ? "%u.%u" : "%u",
				       below(w, 1000), below(w, 1000));
		else
			len = snprintf(buf, size, chance(w, 50) ? "%u.%u" : "%u",
				       below(w, 70000), below(w, 20000));
	} else {
		if (!strcmp(attr, "enable") || !strcmp(attr, "nonblock"))
			v = below(w, chance(w, 90) ? 2 : 5);
		else if (!strcmp(attr, "port") || !strcmp(attr, "default_port"))
			v = chance(w, 90) ? pool_port(w) : pick_port(w);
		else if (!strcmp(attr, "chance"))
			v = below(w, 120);
		else
			v = chance(w, 80) ? below(w, 70000) : rnd(w) >> below(w, 64);
		len = snprintf(buf, size, "%" PRIu64 "%s", v,
			       chance(w, 60) ? "\n" : "");
	}
	if (chance(w, 10) && len + 6 < size) {	/* embedded NUL */
		memcpy(buf + len, "\0junk", 5);
		len += 5;
	}
	return len;
}

static void cfs_write(struct worker *w, struct cfs *t, bool userns)
{
	/* ENODEV: configfs, the directory went while the file was open */
	static const int errs[] = { 0, EINVAL, ERANGE, EEXIST, EBUSY,
				    EADDRINUSE, ENOENT, EACCES, ENOSPC, ENOMEM,
				    E2BIG, EPERM, ENODEV, -1 };
	static char buf[2 * PAGE + 64];
	const char *path, *attr;
	int i, fd, err = 0, tries;
	ssize_t r;
	size_t len;

	for (tries = 0; tries < 8; tries++) {
		i = below(w, t->n);
		if (!t->dir[i])
			break;
	}
	if (!t->n || t->dir[i])
		return;
	path = t->path[i];
	attr = base_name(path);
	len = gen_value(w, attr, buf, sizeof(buf));

	fd = open(path, O_WRONLY);
	if (fd < 0) {
		err = errno;
	} else {
		r = write(fd, buf, len);
		if (r < 0)
			err = errno;
		else if ((size_t)r != len && len < PAGE)
			violation(w, "write(%s, %zu bytes) returned %zd", path, len, r);
		if (close(fd) && !err)
			err = errno;
	}
	account(w, userns ? K_CFS_USERNS : K_CFS_WRITE, err);
	if (userns) {
		if (!err || (err != EACCES && err != EPERM && err != ENOENT))
			violation(w, "configfs write %s from a user namespace: %s",
				  path, ename(err));
		return;
	}
	for (i = 0; errs[i] >= 0 && errs[i] != err; i++)
		;
	if (!len && err == EFAULT)
		return;		/* configfs itself: nothing was copied */
	if (errs[i] < 0)
		violation(w, "configfs write %s (%zu bytes): %s", path, len, ename(err));
	else if (!err && len && cfs_must_fail(attr, buf, len))
		violation(w, "configfs write %s of \"%s\" (%zu bytes) succeeded",
			  path, escape(buf, len), len);
}

static void cfs_read(struct worker *w, struct cfs *t)
{
	static char buf[2 * PAGE];
	int i, fd, err = 0;
	ssize_t r = 0;

	if (!t->n)
		return;
	i = below(w, t->n);
	if (t->dir[i])
		return;
	fd = open(t->path[i], O_RDONLY);
	if (fd < 0) {
		err = errno;
	} else {
		r = read(fd, buf, sizeof(buf));
		if (r < 0)
			err = errno;
		close(fd);
	}
	account(w, K_CFS_READ, err);
	if (err && err != ENOENT)
		violation(w, "configfs read %s: %s", t->path[i], ename(err));
	else if (r >= PAGE)
		violation(w, "configfs read %s: %zd bytes", t->path[i], r);
}

/* A directory name: mostly valid, sometimes not. @bad: it must fail. */
static void cfs_name(struct worker *w, char *name, size_t size, bool number,
		     bool port, bool *bad)
{
	static const char *const bad_num[] = {
		"0", "65536", "-1", "01", "abc", "1 ", "0x10", "99999999999",
		"1\xff",
	};

	*bad = false;
	if (chance(w, 85)) {
		if (!number)
			snprintf(name, size, "%c%u", 'a' + below(w, 3), below(w, 3));
		else if (port)
			snprintf(name, size, "%u", pool_port(w));
		else
			snprintf(name, size, "%u", 1 + below(w, 8));
		return;
	}
	if (!number) {		/* 32 bytes and more are too long */
		size_t len = 32 + below(w, 40);

		memset(name, 'x', len);
		name[len] = 0;
		*bad = true;
		return;
	}
	snprintf(name, size, "%s", bad_num[below(w, 9)]);
	*bad = true;
}

static void cfs_mkdir(struct worker *w)
{
	static const int errs[] = { 0, EEXIST, ENOENT, EINVAL, ERANGE, ENOSPC,
				    ENOMEM, EBUSY, EADDRINUSE, ENAMETOOLONG,
				    EPERM, ENODEV, -1 };
	char path[256], a[80], b[80];
	bool bad_a, bad_b = false;
	int err, i;

	switch (below(w, 4)) {
	case 0:
		cfs_name(w, a, sizeof(a), true, true, &bad_a);
		snprintf(path, sizeof(path), CFS_ROOT "/forward/%s", a);
		break;
	case 1:
		snprintf(a, sizeof(a), "%u", pool_port(w));
		bad_a = false;
		cfs_name(w, b, sizeof(b), false, false, &bad_b);
		snprintf(path, sizeof(path), CFS_ROOT "/forward/%s/branches/%s", a, b);
		break;
	case 2:
		cfs_name(w, a, sizeof(a), true, false, &bad_a);
		snprintf(path, sizeof(path), CFS_ROOT "/groups/%s", a);
		break;
	default:
		snprintf(a, sizeof(a), "%u", 1 + below(w, 8));
		bad_a = false;
		cfs_name(w, b, sizeof(b), true, true, &bad_b);
		snprintf(path, sizeof(path), CFS_ROOT "/groups/%s/ports/%s", a, b);
		break;
	}
	err = mkdir(path, 0755) ? errno : 0;
	account(w, K_CFS_MKDIR, err);
	for (i = 0; errs[i] >= 0 && errs[i] != err; i++)
		;
	if (errs[i] < 0 || (!err && (bad_a || bad_b)))
		violation(w, "mkdir %s: %s", path, ename(err));
}

static void cfs_rmdir(struct worker *w, struct cfs *t)
{
	int i, err, tries;

	for (tries = 0; tries < 8; tries++) {
		i = below(w, t->n);
		if (t->dir[i])
			break;
	}
	if (!t->n || !t->dir[i])
		return;
	err = rmdir(t->path[i]) ? errno : 0;
	account(w, K_CFS_RMDIR, err);
	if (err && err != ENOENT && err != ENOTEMPTY && err != EPERM &&
	    err != EBUSY)
		violation(w, "rmdir %s: %s", t->path[i], ename(err));
}

/* Best effort: the result is not what this is for. */
static void put_attr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, val, strlen(val)) < 0)
		errno = 0;
	close(fd);
}

/* A complete object through configfs, now and then, to get deep. */
static void cfs_build(struct worker *w)
{
	static const char *const rule_types[] = { "address", "content", "dice" };
	static const char *const conds[] = { "source", "pattern", "chance" };
	static const char *const vals[] = { "10.0.0.0/8", "GET /", "30" };
	static const char *const group_types[] = {
		"accept_rate", "output_rate", "output_rate_ftp",
	};
	char p[256], v[32];
	unsigned int t = below(w, 3), port = pool_port(w);

	if (chance(w, 50)) {
		snprintf(p, sizeof(p), CFS_ROOT "/forward/%u", port);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), CFS_ROOT "/forward/%u/type", port);
		put_attr(p, rule_types[t]);
		snprintf(p, sizeof(p), CFS_ROOT "/forward/%u/default_port", port);
		snprintf(v, sizeof(v), "%u", POOL_BASE + POOL_N - 1 - below(w, TARGETS));
		put_attr(p, v);
		snprintf(p, sizeof(p), CFS_ROOT "/forward/%u/branches/b%u", port, t);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), CFS_ROOT "/forward/%u/branches/b%u/%s", port, t, conds[t]);
		put_attr(p, vals[t]);
		snprintf(p, sizeof(p), CFS_ROOT "/forward/%u/branches/b%u/port", port, t);
		snprintf(v, sizeof(v), "%u", POOL_BASE + POOL_N - 1 - below(w, TARGETS));
		put_attr(p, v);
		snprintf(p, sizeof(p), CFS_ROOT "/forward/%u/enable", port);
		put_attr(p, "1");
	} else {
		unsigned int gid = 1 + below(w, 8);

		snprintf(p, sizeof(p), CFS_ROOT "/groups/%u", gid);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), CFS_ROOT "/groups/%u/type", gid);
		put_attr(p, group_types[t]);
		snprintf(p, sizeof(p), CFS_ROOT "/groups/%u/ports/%u", gid, port);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), CFS_ROOT "/groups/%u/ports/%u/quota", gid, port);
		put_attr(p, t ? "20000" : "5.5");
		snprintf(p, sizeof(p), CFS_ROOT "/groups/%u/ports/%u/nonblock", gid, port);
		put_attr(p, "1");
	}
}

static void fuzz_cfs(struct worker *w, struct cfs *t)
{
	unsigned int op = below(w, 100);

	if (!t->n || ++t->age > 40) {
		cfs_walk(t);
		w->last_us = skex_now_us();	/* not a fuzzed call */
	}
	if (op < 20)
		cfs_mkdir(w);
	else if (op < 32)
		cfs_rmdir(w, t);
	else if (op < 80)
		cfs_write(w, t, false);
	else if (op < 95)
		cfs_read(w, t);
	else
		cfs_build(w);
}

/* ---- workers ---- */

static bool stopping(void)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

static void worker_init(struct worker *w, int id)
{
	w->id = id;
	w->rng = seed * 0x9E3779B97F4A7C15ull + (uint64_t)id * 0xBF58476D1CE4E5B9ull + 1;
	w->n = 0;
	w->last_us = skex_now_us();
	w->arena = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->arena == MAP_FAILED) {
		perror("mmap");
		_exit(2);
	}
	memset(w->arena, 0x5a, 3 * PAGE);
	munmap(w->arena + 3 * PAGE, PAGE);
	mprotect(w->arena, PAGE, PROT_READ);
}

static void run_root(struct worker *w, bool cfs_ok)
{
	struct cfs t = { .n = 0 };
	int fds[3] = { -1, -1, -1 };

	while (!stopping()) {
		w->last_us = skex_now_us();
		if (cfs_ok && chance(w, 40))
			fuzz_cfs(w, &t);
		else
			fuzz_sockopt(w, fds, false);
	}
}

/*
 * The test VM runs its command chrooted into the host's root, and the kernel
 * refuses CLONE_NEWUSER to a chrooted task (EPERM). Step out to PID 1's root
 * for the unshare(), and back in after it: returns the fd of our root, or -1
 * if there was nothing to step out of.
 */
static int leave_chroot(void)
{
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int outer = open("/proc/1/root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat a, b;

	if (root < 0 || outer < 0 || fstat(root, &a) || fstat(outer, &b) ||
	    (a.st_dev == b.st_dev && a.st_ino == b.st_ino) ||
	    fchdir(outer) || chroot(".")) {
		if (root >= 0)
			close(root);
		root = -1;
	}
	if (outer >= 0)
		close(outer);
	return root;
}

static void back_to_chroot(int root)
{
	if (root < 0)
		return;
	if (fchdir(root) || chroot(".") || chdir("/"))
		perror("fuzz: back into the chroot");
	close(root);
}

/*
 * Become root of a new user and network namespace: as an unprivileged user
 * (uid 65534) if the kernel lets one (returns 1), else as root (2); -1 if
 * neither works.
 */
static int enter_userns(void)
{
	int root = leave_chroot(), mode = 1;

	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		mode = -1;
	/* a changed uid makes /proc/self root's: take it back */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (mode < 0 || unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
		if (mode > 0 || geteuid() || unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
			back_to_chroot(root);
			return -1;
		}
		mode = 2;
	}
	back_to_chroot(root);
	if (mode == 1 && (skex_write_file("/proc/self/setgroups", "deny") ||
			  skex_write_file("/proc/self/uid_map", "0 65534 1") ||
			  skex_write_file("/proc/self/gid_map", "0 65534 1")))
		return -1;
	skex_lo_up();
	return mode;
}

/* Quick traffic in the worker's own namespace: connect and send. */
static void own_traffic(struct worker *w)
{
	struct skex_addr a;
	int fd;

	skex_loopback(&a, AF_INET, pool_port(w));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	if (!connect(fd, (struct sockaddr *)&a.ss, a.len) || errno == EINPROGRESS) {
		struct pollfd p = { fd, POLLOUT, 0 };

		poll(&p, 1, 5);
		send(fd, "GET / HTTP/1.0\r\n\r\n", 18, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 },
		   sizeof(struct linger));
	close(fd);
}

static void run_userns(struct worker *w, bool cfs_ok)
{
	int fds[3] = { -1, -1, -1 };
	int init_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct cfs t = { .n = 0 };
	int mode;

	if (cfs_ok)
		cfs_walk(&t);	/* as root, before giving it up */
	mode = enter_userns();
	sh->userns_mode = mode;
	if (mode < 0) {
		violation(w, "no user namespace: %s", strerror(errno));
		return;
	}
	while (!stopping()) {
		unsigned int op = below(w, 100);

		w->last_us = skex_now_us();
		if (op < 70) {
			fuzz_sockopt(w, fds, false);
		} else if (op < 90 && init_fd >= 0) {
			if (chance(w, 80))
				fuzz_set(w, init_fd, false, true);
			else
				fuzz_get(w, init_fd, false);
		} else if (op < 95 && cfs_ok && t.n && mode == 1) {
			cfs_write(w, &t, true);
		} else {
			own_traffic(w);
		}
	}
}

/* One short-lived namespace with configuration and connections left in it. */
static void netns_child(struct worker *w, bool user)
{
	struct skex_addr a;
	int fds[3] = { -1, -1, -1 };
	int i, lfd;

	if (user ? enter_userns() < 0 : unshare(CLONE_NEWNET))
		_exit(3);
	skex_lo_up();
	skex_loopback(&a, AF_INET, POOL_BASE + POOL_N - 1);
	lfd = skex_listen(&a, 16, false);
	for (i = 0; i < 40 && !stopping(); i++) {
		w->last_us = skex_now_us();
		if (chance(w, 20))
			own_traffic(w);
		else
			fuzz_sockopt(w, fds, false);
	}
	/* leave connections in the backlog and the config in place */
	for (i = 0; i < 4; i++)
		own_traffic(w);
	if (lfd >= 0 && chance(w, 50))
		close(lfd);
	_exit(0);
}

static void run_netns(struct worker *w)
{
	while (!stopping()) {
		pid_t pid;
		int st;

		w->rng += 0x1234567;	/* each child its own stream */
		pid = fork();
		if (pid < 0) {
			skex_sleep_ms(10);
			continue;
		}
		if (!pid)
			netns_child(w, chance(w, 50));
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFSIGNALED(st))
			violation(w, "namespace child killed by signal %d", WTERMSIG(st));
		account(w, K_NETNS, WIFEXITED(st) ? WEXITSTATUS(st) : 255);
	}
}

static void run_traffic(struct worker *w)
{
	struct pollfd pfd[TARGETS];
	int clients[32], nclients = 0, i;

	for (i = 0; i < TARGETS; i++) {
		struct skex_addr a;

		skex_loopback(&a, AF_INET, POOL_BASE + POOL_N - 1 - i);
		pfd[i].fd = skex_listen(&a, 64, false);
		if (pfd[i].fd >= 0)
			fcntl(pfd[i].fd, F_SETFL, O_NONBLOCK);
		pfd[i].events = POLLIN;
	}
	while (!stopping()) {
		struct skex_addr a;
		int fd;

		skex_loopback(&a, chance(w, 80) ? AF_INET : AF_INET6,
			      POOL_BASE + below(w, POOL_N - TARGETS));
		if (chance(w, 20))
			skex_addr_set_port(&a, POOL_BASE + POOL_N - 1 - below(w, TARGETS));
		fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd >= 0) {
			int err = connect(fd, (struct sockaddr *)&a.ss, a.len) ? errno : 0;
			struct pollfd p = { fd, POLLOUT, 0 };

			if (!err || err == EINPROGRESS) {
				poll(&p, 1, 10);
				send(fd, "GET / HTTP/1.0\r\n\r\n", 18,
				     MSG_DONTWAIT | MSG_NOSIGNAL);
			}
			account(w, K_TRAFFIC, err == EINPROGRESS ? 0 : err);
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 },
				   sizeof(struct linger));
			if (nclients == 32) {
				close(clients[0]);
				memmove(clients, clients + 1, 31 * sizeof(int));
				nclients--;
			}
			clients[nclients++] = fd;
		}
		if (poll(pfd, TARGETS, 1) > 0) {
			for (i = 0; i < TARGETS; i++) {
				char buf[512];
				int c;

				if (!(pfd[i].revents & POLLIN))
					continue;
				c = accept4(pfd[i].fd, NULL, NULL, SOCK_NONBLOCK);
				if (c < 0)
					continue;
				recv(c, buf, sizeof(buf), MSG_DONTWAIT);
				send(c, "HTTP/1.0 200 OK\r\n\r\n", 19,
				     MSG_DONTWAIT | MSG_NOSIGNAL);
				setsockopt(c, SOL_SOCKET, SO_LINGER,
					   &(struct linger){ 1, 0 },
					   sizeof(struct linger));
				close(c);
			}
		}
	}
	for (i = 0; i < nclients; i++)
		close(clients[i]);
	for (i = 0; i < TARGETS; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
}

/* ---- baseline, cleanup, checks ---- */

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			v = atol(line + strlen(key) + 1);
			break;
		}
	fclose(f);
	return v;
}

#define SLABS_MAX 512

/*
 * The debug kernels' checkers keep their own records of every allocation
 * and free them lazily: kmemleak's grew by 3.5 MB over 300,000 calls on the
 * 6.1 debug kernel, more than the tolerance, while its scan after unload
 * found no leak. Their caches are not the module's memory.
 */
static bool checker_cache(const char *name)
{
	return !strncmp(name, "kmemleak_", 9) ||
	       !strcmp(name, "debug_objects_cache");
}

struct slabs {
	int n;
	char name[SLABS_MAX][40];
	long kb[SLABS_MAX];	/* active objects times their size */
};

static void slabs_read(struct slabs *s)
{
	char line[512];
	FILE *f = fopen("/proc/slabinfo", "r");

	s->n = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && s->n < SLABS_MAX) {
		unsigned long active, total, size;

		if (sscanf(line, "%39s %lu %lu %lu", s->name[s->n], &active,
			   &total, &size) == 4 && !checker_cache(s->name[s->n]))
			s->kb[s->n++] = (long)(active * size / 1024);
	}
	fclose(f);
}

/*
 * Growth of the live objects of all caches since @before, kB; with @print,
 * the caches that grew most.
 */
static long slabs_growth(const struct slabs *before, bool print)
{
	static struct slabs after;
	int i, j, k, best[5] = { -1, -1, -1, -1, -1 };
	long grew[SLABS_MAX], sum = 0;

	slabs_read(&after);
	for (i = 0; i < after.n; i++) {
		grew[i] = after.kb[i];
		for (j = 0; j < before->n; j++)
			if (!strcmp(before->name[j], after.name[i])) {
				grew[i] -= before->kb[j];
				break;
			}
		sum += grew[i];
		for (k = 0; k < 5; k++) {
			if (best[k] < 0 || grew[i] > grew[best[k]]) {
				memmove(best + k + 1, best + k, (4 - k) * sizeof(int));
				best[k] = i;
				break;
			}
		}
	}
	if (!print)
		return sum;
	printf("# live slab objects %+ld kB (tolerance %d kB); grown most:",
	       sum, LIVE_TOL_KB);
	for (k = 0; k < 5 && best[k] >= 0; k++)
		printf(" %s %+ld kB", after.name[best[k]], grew[best[k]]);
	printf("\n");
	return sum;
}

/*
 * kmemleak runs: a debug kernel, where its scan after the module is
 * unloaded (scripts/vm.sh) is the exact check for leaks. There KASAN's
 * quarantine keeps freed objects active for a while, megabytes of them
 * (6.12: +1449 kB after 20,000 calls, kmemleak finding nothing), so the
 * live objects only inform.
 */
static bool kmemleak_on(void)
{
	return !access("/sys/kernel/debug/kmemleak", F_OK);
}

/* Dentries, inodes and page cache out of the slab figures. */
static void shrink(void)
{
	sync();
	if (skex_write_file("/proc/sys/vm/drop_caches", "3"))
		perror("fuzz: /proc/sys/vm/drop_caches");
}

static long read_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return r > 0 ? atol(buf) : -1;
}

static int proc_lines(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(SKEX_PROC, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* Remove every directory under configfs, children first. */
static int cfs_clear(void)
{
	struct cfs t = { .n = 0 };
	int pass, i, left = 0;

	for (pass = 0; pass < 4; pass++) {
		cfs_walk(&t);
		left = 0;
		for (i = t.n - 1; i >= 0; i--) {
			const char *b = base_name(t.path[i]);

			if (!t.dir[i] || !strcmp(b, "branches") ||
			    !strcmp(b, "ports") || !strcmp(b, "forward") ||
			    !strcmp(b, "groups"))
				continue;
			if (rmdir(t.path[i]) && errno != ENOENT)
				left++;
		}
		if (!left)
			break;
	}
	cfs_walk(&t);
	for (i = 0, left = 0; i < t.n; i++) {
		const char *b = base_name(t.path[i]);

		if (t.dir[i] && strcmp(b, "branches") && strcmp(b, "ports") &&
		    strcmp(b, "forward") && strcmp(b, "groups")) {
			fprintf(stderr, "left in configfs: %s\n", t.path[i]);
			left++;
		}
	}
	while (t.n)
		free(t.path[--t.n]);
	return left;
}

static int sockopt_clear(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), zero = 0, err = 0, type;

	if (fd < 0)
		return -1;
	for (type = TCP_DICE_FW; type <= TCP_ADDR_FW; type++) {
		struct tcp_fw_user u = { .type = type, .port = 0 };

		if (setsockopt(fd, IPPROTO_TCP, TCP_FW_DEL_RULE, &u, sizeof(u)) &&
		    errno != ENOENT) {
			fprintf(stderr, "TCP_FW_DEL_RULE type %d: %s\n", type,
				strerror(errno));
			err = -1;
		}
	}
	if (setsockopt(fd, IPPROTO_TCP, TCP_SKEX_FLUSH_LIST, &zero, sizeof(zero))) {
		fprintf(stderr, "TCP_SKEX_FLUSH_LIST: %s\n", strerror(errno));
		err = -1;
	}
	close(fd);
	return err;
}

static void print_summary(double secs)
{
	int k, e;

	printf("# %" PRIu64 " calls in %.1f s: %.0f calls/s\n", sh->calls, secs,
	       secs > 0 ? sh->calls / secs : 0.0);
	for (k = 0; k < NKINDS; k++) {
		uint64_t total = 0;
		char line[1024];
		size_t off = 0;

		for (e = 0; e <= ERRNO_MAX; e++)
			total += sh->count[k][e];
		if (!total)
			continue;
		off += snprintf(line + off, sizeof(line) - off, "# %-20s %8" PRIu64 ":",
				kind_name[k], total);
		for (e = 0; e <= ERRNO_MAX && off < sizeof(line) - 80; e++)
			if (sh->count[k][e])
				off += snprintf(line + off, sizeof(line) - off,
						" %s %" PRIu64,
						k == K_NETNS ? (e ? "exit!=0" : "ok") :
						ename(e), sh->count[k][e]);
		/* time summed over the workers: may exceed the run's */
		snprintf(line + off, sizeof(line) - off,
			 " (%.1f s, %.0f us each, longest %.1f ms)",
			 sh->us[k] / 1e6, (double)sh->us[k] / total,
			 sh->us_max[k] / 1e3);
		printf("%s\n", line);
	}
}

static void dump_stack(pid_t pid)
{
	char path[64], buf[4096];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r > 0) {
		buf[r] = 0;
		fprintf(stderr, "kernel stack of %d:\n%s", pid, buf);
	}
}

static void usage(const char *argv0)
{
	fprintf(stderr, "Usage: %s [-s SEED] [-n CALLS] [-t SECONDS] [-w WORKERS] [-v]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	long secs = 40, slab0, slab1, tol, refcnt0, refcnt1, live;
	static struct slabs slabs0;
	pid_t pids[NWORKERS];
	uint64_t last_beat[NWORKERS];
	uint64_t t0, last_report, last_change[NWORKERS];
	int opt, i, fail = 0, lines0, lines1, alive;
	bool cfs_ok, seeded = false, secs_given = false;
	unsigned long workers = (1UL << NWORKERS) - 1;
	double elapsed;

	while ((opt = getopt(argc, argv, "s:n:t:w:v")) != -1) {
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 'n':
			max_calls = strtoull(optarg, NULL, 0);
			break;
		case 't':
			secs = atol(optarg);
			secs_given = true;
			break;
		case 'w':
			workers = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!max_calls && getenv("SKEX_FUZZ_CALLS"))	/* check-debug */
		max_calls = strtoull(getenv("SKEX_FUZZ_CALLS"), NULL, 0);
	if (!secs_given && getenv("SKEX_FUZZ_SECS")) {	/* a time budget */
		secs = atol(getenv("SKEX_FUZZ_SECS"));
		secs_given = secs > 0;
	}
	if (max_calls && !secs_given)
		secs = 0;	/* -n alone: no time limit */
	if (!seeded)
		seed = skex_now_us() ^ ((uint64_t)getpid() << 32);
	odd_ports_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# fuzz: seed %" PRIu64 " (replay: -s %" PRIu64 "), calls %" PRIu64
	       ", seconds %ld\n", seed, seed, max_calls, secs);

	if (!skex_loaded()) {
		printf("SKIP: " SKEX_PROC " missing: skex not loaded\n");
		return skex_required() ? 1 : 4;
	}
	if (geteuid()) {
		printf("SKIP: needs root\n");
		return 4;
	}
	if (access(CFS_ROOT, F_OK))
		mount("none", "/sys/kernel/config", "configfs", 0, NULL);
	cfs_ok = !access(CFS_ROOT, F_OK);
	if (!cfs_ok)
		printf("# %s missing: configfs not fuzzed\n", CFS_ROOT);

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(sh, 0, sizeof(*sh));
	signal(SIGPIPE, SIG_IGN);

	shrink();
	skex_sleep_ms(500);
	slab0 = meminfo_kb("Slab");
	slabs_read(&slabs0);
	refcnt0 = read_long("/sys/module/skex/refcnt");
	lines0 = proc_lines();
	printf("# baseline: Slab %ld kB, module refcnt %ld, %s lines %d\n",
	       slab0, refcnt0, SKEX_PROC, lines0);

	t0 = skex_now_us();
	last_report = t0;
	for (i = 0; i < NWORKERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
			fail = 1;
			break;
		}
		if (!pids[i]) {
			struct worker w;

			if (!(workers & (1UL << i)))
				_exit(0);
			worker_init(&w, i);
			switch (i) {
			case W_ROOT0:
			case W_ROOT1:
				run_root(&w, cfs_ok);
				break;
			case W_USERNS:
				run_userns(&w, cfs_ok);
				break;
			case W_NETNS:
				run_netns(&w);
				break;
			case W_TRAFFIC:
				run_traffic(&w);
				break;
			}
			_exit(0);
		}
		last_beat[i] = 0;
		last_change[i] = t0;
	}

	/* watch: the limits, hangs, crashes */
	for (alive = i; alive > 0;) {
		uint64_t now = skex_now_us();
		int st;
		pid_t pid;

		if (secs && now - t0 >= (uint64_t)secs * 1000000)
			__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
		if (now - last_report >= 60000000ull) {	/* long runs */
			last_report = now;
			printf("# %" PRIu64 " calls after %" PRIu64 " s\n", sh->calls,
			       (now - t0) / 1000000);
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
			for (i = 0; i < NWORKERS; i++)
				if (pids[i] == pid)
					break;
			if (i == NWORKERS)
				continue;
			pids[i] = 0;
			alive--;
			if (WIFSIGNALED(st)) {
				violation(NULL, "worker %s killed by signal %d",
					  worker_name[i], WTERMSIG(st));
				__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
			} else if (WEXITSTATUS(st)) {
				violation(NULL, "worker %s exited %d",
					  worker_name[i], WEXITSTATUS(st));
			}
		}
		for (i = 0; i < NWORKERS; i++) {
			if (!pids[i])
				continue;
			if (sh->beat[i] != last_beat[i]) {
				last_beat[i] = sh->beat[i];
				last_change[i] = now;
			} else if (now - last_change[i] > HANG_SECS * 1000000ull) {
				violation(NULL, "worker %s made no progress for %d s",
					  worker_name[i], HANG_SECS);
				dump_stack(pids[i]);
				kill(pids[i], SIGKILL);
				last_change[i] = now;
				__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
			}
		}
		if (alive)
			skex_sleep_ms(200);
	}
	elapsed = (skex_now_us() - t0) / 1e6;
	print_summary(elapsed);
	printf("# user namespace: %" PRIu64 " set commands succeeded in its own netns\n",
	       sh->userns_ok);
	if (sh->userns_mode == 1)
		printf("# user namespace: unprivileged user (uid 65534) as its root\n");
	else if (sh->userns_mode == 2)
		printf("# user namespace: made by root (unprivileged ones are off)\n");
	if (sh->userns_mode > 0 && sh->calls > 2000 && !sh->userns_ok)
		violation(NULL, "no set command succeeded in the user namespace");

	/* clear everything, then the module must be as it was */
	if (sockopt_clear())
		fail = 1;
	if (cfs_ok && cfs_clear()) {
		violation(NULL, "configfs not empty after clearing");
		fail = 1;
	}
	if (sockopt_clear())
		fail = 1;
	tol = slab0 / 100 * SLAB_TOL_PCT;
	if (tol < SLAB_TOL_KB)
		tol = SLAB_TOL_KB;
	/* namespaces, sockets, tasks are freed by workers and RCU: settle */
	for (i = 0; i < 20; i++) {
		shrink();
		skex_sleep_ms(1000);
		slab1 = meminfo_kb("Slab");
		refcnt1 = read_long("/sys/module/skex/refcnt");
		lines1 = proc_lines();
		if (slab1 <= slab0 + tol && refcnt1 == refcnt0 &&
		    lines1 == lines0 && slabs_growth(&slabs0, false) <= LIVE_TOL_KB / 4)
			break;
	}
	printf("# after: Slab %ld kB (%+ld kB, tolerance %ld kB), module refcnt %ld, %s lines %d\n",
	       slab1, slab1 - slab0, tol, refcnt1, SKEX_PROC, lines1);
	live = slabs_growth(&slabs0, true);
	if (live > LIVE_TOL_KB && kmemleak_on())
		printf("# live slab objects over the tolerance with kmemleak on: its scan after unload decides\n");
	else if (live > LIVE_TOL_KB)
		violation(NULL, "live slab objects %+ld kB", live);
	if (slab1 > slab0 + tol)
		violation(NULL, "Slab %ld kB, %ld kB above its baseline", slab1,
			  slab1 - slab0);
	if (refcnt1 != refcnt0)
		violation(NULL, "module refcnt %ld, was %ld", refcnt1, refcnt0);
	if (lines1 != lines0)
		violation(NULL, "%s has %d lines, had %d", SKEX_PROC, lines1, lines0);

	if (sh->nviol) {
		printf("# %d violations:\n", sh->nviol);
		for (i = 0; i < MAX_VIOL && sh->cls[i].n; i++) {
			int j;

			printf("#   %" PRIu64 " x %s\n", sh->cls[i].n, sh->cls[i].fmt);
			for (j = 0; j < VIOL_SHOWN && (uint64_t)j < sh->cls[i].n; j++)
				printf("#     %s\n", sh->cls[i].first[j]);
		}
		fail = 1;
	}
	printf("%s: fuzz seed %" PRIu64 ", %" PRIu64 " calls\n",
	       fail ? "FAIL" : "PASS", seed, sh->calls);
	return fail;
}
