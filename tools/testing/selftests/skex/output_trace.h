/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The decisions of an output port in the quota's own clock, from the trace
 * event skex:skex_output: read by group_output and by output_trace (for
 * the tests that drive real servers).
 */
#ifndef SKEX_OUTPUT_TRACE_H
#define SKEX_OUTPUT_TRACE_H

#include "skex_common.h"

/*
 * ---- the sends, in the quota's own clock ----
 *
 * The receiver counts bytes when they arrive: after the grant, by however
 * long the writer then waits for the CPU, the send and the receiver take.
 * The trace event skex:skex_output (kernel/trace.h) records each decision
 * on the port at the bucket's time, with what it gave out: there the token
 * bucket's bound is exact on any kernel, and a writer that came too late
 * to use its tokens shows as a bucket that gave out less than its quota.
 */
#define MAX_SENDS	200000

struct send {
	int64_t at;		/* the bucket's time, ns of CLOCK_MONOTONIC */
	int64_t take;		/* granted + pooled, bytes */
	int64_t unpooled;	/* bytes back from the pool before it */
	int64_t left;		/* what the bucket held after it, bytes */
	bool held;		/* it gave less than the send wanted */
};

struct sends {
	struct send *s;
	int n;			/* decisions, those of one instant as one */
	unsigned long long events, granted, pooled, unpooled, refused;
};

#define LOSS_WHY	3

/* What the bucket lost (sends_lost()), in bytes. */
struct loss {
	double away;		/* full to one quantum: the port idle, its */
				/* writer away or not held back yet */
	double full;		/* full to its depth */
	int gaps;		/* gaps between decisions that lost any */
	int bad;		/* losses where it was not full, and gains */
	double gap;		/* the longest gap, s */
	char why[LOSS_WHY][96];	/* the first bad ones */
};

/* An output port's bucket: one quantum is 50 ms of quota, its depth 200 ms */
static inline double output_quantum(uint32_t quota)
{
	return quota / 20;
}

static inline double output_depth(uint32_t quota)
{
	return 4 * output_quantum(quota);
}

static inline int sends_start(struct sends *ss, const char *inst,
			      uint16_t port)
{
	char filter[32];

	memset(ss, 0, sizeof(*ss));
	ss->s = calloc(MAX_SENDS, sizeof(*ss->s));
	if (!ss->s)
		return -ENOMEM;
	snprintf(filter, sizeof(filter), "port == %u", port);
	return trace_start(inst, "skex/skex_output", filter);
}

static inline int send_cmp(const void *a, const void *b)
{
	const struct send *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

/*
 * In time order, in place; the decisions of one instant summed into one
 * (their order within it is the lock's, which the trace does not keep:
 * the bucket held the least of their lefts after them).
 */
static inline void sends_merge(struct sends *ss)
{
	struct send *ev = ss->s;
	int i, k, n = 0;

	qsort(ev, ss->n, sizeof(*ev), send_cmp);
	for (i = 0; i < ss->n; i = k) {
		struct send one = ev[i];

		for (k = i + 1; k < ss->n && ev[k].at == one.at; k++) {
			one.take += ev[k].take;
			one.unpooled += ev[k].unpooled;
			one.left = ev[k].left < one.left ? ev[k].left : one.left;
			one.held |= ev[k].held;
		}
		ev[n++] = one;
	}
	ss->n = n;
}

/*
 * Stop recording in @inst; read the decisions into @ss (allocated by
 * sends_start(), or here). 0, or -errno.
 */
static inline int sends_stop(struct sends *ss, const char *inst)
{
	unsigned long long at, want, g, p, u, left;
	char line[512];
	int ret = 0;
	FILE *f;

	if (!ss->s)
		ss->s = calloc(MAX_SENDS, sizeof(*ss->s));
	if (!ss->s)
		return -ENOMEM;
	f = trace_stop(inst, "skex/skex_output");
	if (!f) {
		ret = -errno;
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, " skex_output: ") ||
		    !trace_field(line, " at=", &at) ||
		    !trace_field(line, " want=", &want) ||
		    !trace_field(line, " granted=", &g) ||
		    !trace_field(line, " pooled=", &p) ||
		    !trace_field(line, " unpooled=", &u) ||
		    !trace_field(line, " left=", &left))
			continue;
		if (ss->n == MAX_SENDS) {
			ret = -E2BIG;
			break;
		}
		ss->events++;
		ss->s[ss->n].at = at;
		ss->s[ss->n].take = g + p;
		ss->s[ss->n].unpooled = u;
		ss->s[ss->n].left = left;
		ss->s[ss->n++].held = g < want;
		ss->granted += g;
		ss->pooled += p;
		ss->unpooled += u;
		ss->refused += !g;
	}
	sends_merge(ss);
out:
	trace_done(inst, f);
	return ret;
}

/*
 * What the bucket of a port of output_rate @quota (a bucket 200 ms deep)
 * lost between its decisions @ss from @from to @to (ns of CLOCK_MONOTONIC),
 * into @l. Between two decisions the bucket holds what it held after the
 * first, what came back from the pool and what the quota added, less what
 * it lost: what it holds before the second (left + take) tells the loss,
 * exactly but for the bytes' floor()s (a byte each). It may lose only what
 * overflows it when full: to its depth while the quota holds the writer
 * back (SKEX_BUSY_NS, 1 s, after a send held back; the 200 ms the bucket
 * takes to fill after a send granted then, kernel/group_throttle.c), else
 * to one quantum (50 ms of quota), so that a writer that paused, or did
 * not get the CPU, for longer gets no burst. Any other loss is bad, and so
 * is any gain: more than the quota added.
 */
static inline void sends_lost(const struct sends *ss, uint32_t quota,
			      int64_t from, int64_t to, struct loss *l)
{
	double depth = output_depth(quota), quantum = output_quantum(quota);
	double dt, before, over, busy_until = -1;
	const struct send *ev = ss->s;
	bool deep;
	int i;

	memset(l, 0, sizeof(*l));
	for (i = 0; i < ss->n && ev[i].at <= to; i++) {
		deep = ev[i].at / 1e9 < busy_until;
		if (ev[i].held)
			busy_until = ev[i].at / 1e9 + 1;
		else if (deep)
			busy_until = ev[i].at / 1e9 + depth / quota;
		if (!i || ev[i - 1].at < from)
			continue;
		dt = (ev[i].at - ev[i - 1].at) / 1e9;
		l->gap = dt > l->gap ? dt : l->gap;
		before = ev[i].left + ev[i].take;
		over = ev[i - 1].left + ev[i].unpooled + quota * dt - before;
		if (over <= -3 && l->bad++ < LOSS_WHY)
			snprintf(l->why[l->bad - 1], sizeof(l->why[0]),
				 "decision %d: the bucket gained %.0f bytes", i,
				 -over);
		if (over < 3)
			continue;
		l->gaps++;
		if (before < (deep ? depth : quantum) - 3 &&
		    l->bad++ < LOSS_WHY)
			snprintf(l->why[l->bad - 1], sizeof(l->why[0]),
				 "decision %d: the bucket lost %.0f bytes, "
				 "holding %.0f of %.0f", i, over, before,
				 deep ? depth : quantum);
		if (deep)
			l->full += over;
		else
			l->away += over;
	}
}

/*
 * The token bucket's bound for the decisions @ss of a port of output_rate
 * @quota: the most the bucket gave out over any T, from one decision to
 * another, above quota * T (at most its depth, 200 ms of quota, and a byte
 * for the floor()s); what it gave out in all, into *@total, from the first
 * to the last decision, *@span s apart.
 */
static inline double sends_bound(const struct sends *ss, uint32_t quota,
				 double *total, double *span)
{
	double worst = -1e18, lowest = 1e18, v;
	const struct send *ev = ss->s;
	int i;

	/*
	 * max over i <= j of sum(out[i..j]) - quota * (at[j] - at[i]): before
	 * decision j, sum(out[0..j]) - quota * at[j]; lowest so far of
	 * sum(out[0..i-1]) - quota * at[i].
	 */
	*total = 0;
	for (i = 0; i < ss->n; i++) {
		v = *total - quota * (ev[i].at / 1e9);
		lowest = v < lowest ? v : lowest;
		*total += ev[i].take - ev[i].unpooled;
		v = *total - quota * (ev[i].at / 1e9) - lowest;
		worst = v > worst ? v : worst;
	}
	*span = ss->n ? (ev[ss->n - 1].at - ev[0].at) / 1e9 : 0;
	return worst;
}

#endif /* SKEX_OUTPUT_TRACE_H */
