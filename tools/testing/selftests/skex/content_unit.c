// SPDX-License-Identifier: GPL-2.0
/*
 * The content matcher (kernel/forward_content.c) compiled in user space
 * with kshim/, against a brute-force model of SPEC section 1, content:
 *
 *   overlap            overlapping patterns: the earliest end wins
 *   prefix             a pattern that is a prefix of another wins
 *   tie                patterns ending on the same byte: creation order
 *   binary             NUL and 0xff bytes in patterns and stream
 *   anchored_diverge   an anchored pattern diverging at byte 2 decides the
 *                      default at byte 3, not later; a pattern at its
 *                      offset matches, elsewhere not
 *   anchored_and_any   an unanchored pattern keeps the decision open
 *   delim_split        the delimiter split over feeds ends the message; a
 *                      pattern after it does not count
 *   push               until push: the default at the end of the first
 *                      write, a match inside it wins
 *   window             until window: the default exactly at window bytes;
 *                      nothing to match: the default before any byte
 *   thousand           1000 patterns: each reachable, the right winner,
 *                      1-byte feeds equal to one feed
 *   model              random rules and streams, random feeds (1 byte,
 *                      bulk, random chunks, pushes): verdict and decision
 *                      byte equal to the model's
 *   anchored_offsets   4096 anchored patterns at 300 offsets against the
 *                      model (the slot ring)
 *   linear_cost        a byte stream that makes the automaton fall back
 *                      over and over costs at most 2 transitions a byte
 *   escape             delimiter text both ways, bad escapes refused
 *   limits             bad lengths refused, nothing leaked
 */
#include <stdio.h>
#include <time.h>

#include "kselftest_harness.h"

#include "../../../../kernel/forward_content.c"

long kshim_live;

struct model {
	const struct skex_fc_pattern *p;
	unsigned int n;
	struct skex_fc_params prm;
};

/*
 * The SPEC's rule by brute force over @in (@len bytes, writes ending at
 * the offsets @push): returns the verdict, *@at the bytes examined.
 */
static int model_run(const struct model *m, const u8 *in, u32 len,
		     const u32 *push, unsigned int npush, u32 *at)
{
	bool any = false, live = false;
	unsigned int k, j = 0;
	u32 i;

	for (k = 0; k < m->n; k++) {
		const struct skex_fc_pattern *p = &m->p[k];

		if (p->offset == SKEX_FC_ANY)
			any = true;
		else if ((u64)p->offset + p->len <= m->prm.window)
			live = true;
	}
	*at = 0;
	if (!any && !live)
		return SKEX_FC_DEFAULT;
	for (i = 0; i < len; i++) {
		int best = -1;

		live = false;
		for (k = 0; k < m->n; k++) {
			const struct skex_fc_pattern *p = &m->p[k];
			u32 end = i + 1, s;

			if (p->offset == SKEX_FC_ANY) {
				if (end >= p->len &&
				    !memcmp(in + end - p->len, p->data, p->len) &&
				    best < 0)
					best = k;
				continue;
			}
			if ((u64)p->offset + p->len > m->prm.window)
				continue;
			if (p->offset + p->len == end &&
			    !memcmp(in + p->offset, p->data, p->len) && best < 0)
				best = k;
			/* still possible after this byte? */
			if (p->offset + p->len <= end)
				continue;
			s = p->offset < end ? end - p->offset : 0;
			if (!memcmp(in + p->offset, p->data, s))
				live = true;
		}
		*at = i + 1;
		if (best >= 0)
			return best;
		if (m->prm.until == SKEX_FC_UNTIL_DELIM &&
		    i + 1 >= m->prm.delim_len &&
		    !memcmp(in + i + 1 - m->prm.delim_len, m->prm.delim,
			    m->prm.delim_len))
			return SKEX_FC_DEFAULT;
		if (!any && !live)
			return SKEX_FC_DEFAULT;
		if (i + 1 >= m->prm.window)
			return SKEX_FC_DEFAULT;
		while (j < npush && push[j] < i + 1)
			j++;
		if (m->prm.until == SKEX_FC_UNTIL_PUSH && j < npush &&
		    push[j] == i + 1)
			return SKEX_FC_DEFAULT;
	}
	return SKEX_FC_MORE;
}

/* Feed @in in chunks of @chunk bytes (0: random), pushing at @push. */
static int feed(struct skex_fc *fc, const u8 *in, u32 len, u32 chunk,
		const u32 *push, unsigned int npush, u32 *at)
{
	struct skex_fc_state *st = malloc(skex_fc_state_size(fc));
	unsigned int j = 0;
	u32 pos = 0;
	int v;

	v = skex_fc_start(fc, st);
	while (v == SKEX_FC_MORE && pos < len) {
		u32 n = chunk ? chunk : 1 + (u32)rand() % 40;

		/* a segment ends at a push */
		while (j < npush && push[j] <= pos)
			j++;
		if (j < npush && push[j] - pos < n)
			n = push[j] - pos;
		if (n > len - pos)
			n = len - pos;
		v = skex_fc_feed(fc, st, in + pos, n);
		pos += n;
		if (v == SKEX_FC_MORE && j < npush && push[j] == pos)
			v = skex_fc_push(fc, st);
	}
	*at = st->pos;
	free(st);
	return v;
}

static struct skex_fc *build(struct __test_metadata *_metadata,
			     const struct skex_fc_pattern *p, unsigned int n,
			     const struct skex_fc_params *prm)
{
	struct skex_fc *fc = skex_fc_build(p, n, prm, GFP_KERNEL);

	ASSERT_FALSE(IS_ERR(fc)) {
		TH_LOG("build: %ld", PTR_ERR(fc));
	}
	return fc;
}

/* The verdict and decision byte of @s fed at once and byte by byte. */
static int verdict(struct __test_metadata *_metadata, struct skex_fc *fc,
		   const void *s, u32 len, u32 *at)
{
	u32 at1;
	int v = feed(fc, s, len, len ? len : 1, NULL, 0, at);

	EXPECT_EQ(v, feed(fc, s, len, 1, NULL, 0, &at1));
	EXPECT_EQ(*at, at1);
	return v;
}

#define PAT(s)		{ (const u8 *)(s), sizeof(s) - 1, SKEX_FC_ANY }
#define PAT_AT(s, o)	{ (const u8 *)(s), sizeof(s) - 1, (o) }
#define WINDOW(w)	{ .window = (w), .until = SKEX_FC_UNTIL_WINDOW }

TEST(overlap)
{
	static const struct skex_fc_pattern p[] = {
		PAT("abcd"), PAT("bc"), PAT("cdx"), PAT("zzz"),
	};
	struct skex_fc_params prm = WINDOW(2048);
	struct skex_fc *fc = build(_metadata, p, 4, &prm);
	u32 at;

	EXPECT_EQ(1, verdict(_metadata, fc, "xabcd", 5, &at));
	EXPECT_EQ(4, at);
	EXPECT_EQ(1, verdict(_metadata, fc, "xabbcd", 6, &at));
	EXPECT_EQ(5, at);
	EXPECT_EQ(2, verdict(_metadata, fc, "acdx", 4, &at));
	EXPECT_EQ(SKEX_FC_MORE, verdict(_metadata, fc, "zz-zz", 5, &at));
	EXPECT_EQ(5, at);
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(prefix)
{
	static const struct skex_fc_pattern p[] = {
		PAT("GET /images/"), PAT("GET /"), PAT("GET /images/a.png"),
	};
	struct skex_fc_params prm = WINDOW(2048);
	struct skex_fc *fc = build(_metadata, p, 3, &prm);
	u32 at;

	EXPECT_EQ(1, verdict(_metadata, fc, "GET /images/a.png", 17, &at));
	EXPECT_EQ(5, at);
	skex_fc_free(fc);

	/* without the short one, the middle-length one ends first */
	fc = build(_metadata, (const struct skex_fc_pattern[]){ p[2], p[0] },
		   2, &prm);
	EXPECT_EQ(1, verdict(_metadata, fc, "GET /images/a.png", 17, &at));
	EXPECT_EQ(12, at);
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(tie)
{
	static const struct skex_fc_pattern p[] = {
		PAT("abc"), PAT("bc"), PAT("c"),
	};
	struct skex_fc_params prm = WINDOW(2048);
	struct skex_fc *fc = build(_metadata, p, 3, &prm);
	u32 at;

	/* all three end at the 'c': the first made wins */
	EXPECT_EQ(0, verdict(_metadata, fc, "xxabc", 5, &at));
	EXPECT_EQ(5, at);
	/* only "bc" and "c" end there */
	EXPECT_EQ(1, verdict(_metadata, fc, "xbc", 3, &at));
	skex_fc_free(fc);

	/* reversed creation order: the suffix wins now */
	fc = build(_metadata, (const struct skex_fc_pattern[]){ p[2], p[1],
								p[0] }, 3, &prm);
	EXPECT_EQ(0, verdict(_metadata, fc, "xxabc", 5, &at));
	skex_fc_free(fc);

	/* an anchored and an unanchored one ending on the same byte */
	fc = build(_metadata, (const struct skex_fc_pattern[]){
			PAT("LO"), PAT_AT("HELLO", 0) }, 2, &prm);
	EXPECT_EQ(0, verdict(_metadata, fc, "HELLO", 5, &at));
	skex_fc_free(fc);
	fc = build(_metadata, (const struct skex_fc_pattern[]){
			PAT_AT("HELLO", 0), PAT("LO") }, 2, &prm);
	EXPECT_EQ(0, verdict(_metadata, fc, "HELLO", 5, &at));
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(binary)
{
	static const struct skex_fc_pattern p[] = {
		PAT("\0\xff\0"), PAT("\0\0\0\0"), PAT_AT("\xff", 0),
	};
	struct skex_fc_params prm = WINDOW(64);
	struct skex_fc *fc = build(_metadata, p, 3, &prm);
	u32 at;

	EXPECT_EQ(0, verdict(_metadata, fc, "\0\0\0\xff\0", 5, &at));
	EXPECT_EQ(5, at);
	EXPECT_EQ(1, verdict(_metadata, fc, "\0\0\xfe\0\0\0\0", 7, &at));
	EXPECT_EQ(7, at);
	EXPECT_EQ(2, verdict(_metadata, fc, "\xff\0\0", 3, &at));
	EXPECT_EQ(1, at);
	EXPECT_EQ(SKEX_FC_MORE, verdict(_metadata, fc, "\0\xfe\0", 3, &at));
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(anchored_diverge)
{
	static const struct skex_fc_pattern p[] = {
		PAT_AT("GET /images/", 0), PAT_AT("GET /img/", 0),
		PAT_AT("images", 5),
	};
	struct skex_fc_params prm = WINDOW(2048);
	struct skex_fc *fc = build(_metadata, p, 2, &prm);
	u32 at;

	/* "GEX": byte 2 differs from every anchored pattern */
	EXPECT_EQ(SKEX_FC_MORE, verdict(_metadata, fc, "GE", 2, &at));
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc, "GEX / HTTP/1.1",
					   14, &at));
	EXPECT_EQ(3, at);
	EXPECT_EQ(1, verdict(_metadata, fc, "GET /img/a.png", 14, &at));
	EXPECT_EQ(9, at);
	EXPECT_EQ(0, verdict(_metadata, fc, "GET /images/", 12, &at));
	EXPECT_EQ(12, at);
	skex_fc_free(fc);

	/* with "images" at byte 5, "GEX" leaves it open until byte 5 */
	fc = build(_metadata, p, 3, &prm);
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc, "GEX / HTTP/1.1",
					   14, &at));
	EXPECT_EQ(6, at);
	EXPECT_EQ(2, verdict(_metadata, fc, "PUT /images/", 12, &at));
	EXPECT_EQ(11, at);
	/* it ends before "GET /images/" does */
	EXPECT_EQ(2, verdict(_metadata, fc, "GET /images/", 12, &at));
	/* elsewhere it does not count: decided where the last one died */
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc, "PUT  /images/",
					   13, &at));
	EXPECT_EQ(6, at);
	skex_fc_free(fc);

	/* anchored beyond the window: can never match, default at once */
	prm.window = 10;
	fc = build(_metadata, (const struct skex_fc_pattern[]){
			PAT_AT("0123456789", 1) }, 1, &prm);
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc, "", 0, &at));
	EXPECT_EQ(0, at);
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(anchored_and_any)
{
	static const struct skex_fc_pattern p[] = {
		PAT_AT("SSH-", 0), PAT("Host: b\r\n"),
	};
	struct skex_fc_params prm = WINDOW(100);
	struct skex_fc *fc = build(_metadata, p, 2, &prm);
	u32 at;

	EXPECT_EQ(SKEX_FC_MORE, verdict(_metadata, fc, "GET / HTTP/1.1\r\n",
					16, &at));
	EXPECT_EQ(1, verdict(_metadata, fc, "GET / HTTP/1.1\r\nHost: b\r\n",
			     25, &at));
	EXPECT_EQ(0, verdict(_metadata, fc, "SSH-2.0", 7, &at));
	EXPECT_EQ(4, at);
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(delim_split)
{
	static const struct skex_fc_pattern p[] = {
		PAT("/images/"), PAT_AT("POST", 0),
	};
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n/images/";
	struct skex_fc_params prm = {
		.window = 2048, .until = SKEX_FC_UNTIL_DELIM,
		.delim = (const u8 *)"\r\n\r\n", .delim_len = 4,
	};
	struct skex_fc *fc = build(_metadata, p, 2, &prm);
	struct skex_fc_state *st = malloc(skex_fc_state_size(fc));
	u32 at, cut;

	/* the delimiter split at every place */
	for (cut = 1; cut < 27; cut++) {
		skex_fc_start(fc, st);
		EXPECT_EQ(SKEX_FC_MORE, skex_fc_feed(fc, st, (u8 *)req, cut));
		EXPECT_EQ(SKEX_FC_DEFAULT,
			  skex_fc_feed(fc, st, (u8 *)req + cut,
				       sizeof(req) - 1 - cut));
		EXPECT_EQ(27, st->pos);
	}
	free(st);
	EXPECT_EQ(0, verdict(_metadata, fc,
			     "GET /images/a HTTP/1.1\r\n\r\n", 26, &at));
	EXPECT_EQ(12, at);
	EXPECT_EQ(1, verdict(_metadata, fc, "POST / HTTP/1.1\r\n\r\n", 19, &at));
	skex_fc_free(fc);

	/* the delimiter may be a pattern too: the pattern wins */
	fc = build(_metadata, (const struct skex_fc_pattern[]){
			PAT("\r\n\r\n") }, 1, &prm);
	EXPECT_EQ(0, verdict(_metadata, fc, "x\r\n\r\n", 5, &at));
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(push)
{
	static const struct skex_fc_pattern p[] = { PAT("GET /images/") };
	static const char req[] = "GET /images/a HTTP/1.1\r\n\r\n";
	struct skex_fc_params prm = { .window = 2048,
				      .until = SKEX_FC_UNTIL_PUSH };
	struct skex_fc *fc = build(_metadata, p, 1, &prm);
	u32 pushes[] = { 7, 26 };
	u32 at;

	/* the first write is "GET /im": it ends the message */
	EXPECT_EQ(SKEX_FC_DEFAULT, feed(fc, (u8 *)req, 26, 3, pushes, 2, &at));
	EXPECT_EQ(7, at);
	/* one write: the match wins */
	EXPECT_EQ(0, feed(fc, (u8 *)req, 26, 1, pushes + 1, 1, &at));
	EXPECT_EQ(12, at);
	/* no push yet: undecided */
	EXPECT_EQ(SKEX_FC_MORE, feed(fc, (u8 *)"GET / HTTP", 10, 1, NULL, 0,
				     &at));
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(window)
{
	static const struct skex_fc_pattern p[] = { PAT("needle") };
	struct skex_fc_params prm = WINDOW(16);
	struct skex_fc *fc = build(_metadata, p, 1, &prm);
	char buf[64];
	u32 at;

	memset(buf, 'x', sizeof(buf));
	memcpy(buf + 10, "needle", 6);
	EXPECT_EQ(0, verdict(_metadata, fc, buf, 64, &at));
	EXPECT_EQ(16, at);
	memcpy(buf + 10, "xneedle", 7);
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc, buf, 64, &at));
	EXPECT_EQ(16, at);
	/* a PSH does not decide under until window */
	EXPECT_EQ(SKEX_FC_MORE, feed(fc, (u8 *)buf, 8, 1, (u32[]){ 4 }, 1,
				     &at));
	skex_fc_free(fc);

	fc = build(_metadata, NULL, 0, &prm);
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc, buf, 0, &at));
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(thousand)
{
	static char text[1000][24];
	struct skex_fc_pattern p[1000];
	struct skex_fc_params prm = {
		.window = 2048, .until = SKEX_FC_UNTIL_DELIM,
		.delim = (const u8 *)"\r\n\r\n", .delim_len = 4,
	};
	struct timespec t0, t1;
	struct skex_fc *fc;
	char req[256];
	unsigned int i;
	u32 at;

	for (i = 0; i < 1000; i++) {
		snprintf(text[i], sizeof(text[i]), "GET /b%u/", i);
		p[i] = (struct skex_fc_pattern){ (u8 *)text[i],
			strlen(text[i]), SKEX_FC_ANY };
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fc = build(_metadata, p, 1000, &prm);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	TH_LOG("1000 patterns: %zu bytes, built in %ld us", skex_fc_mem(fc),
	       (t1.tv_sec - t0.tv_sec) * 1000000 +
	       (t1.tv_nsec - t0.tv_nsec) / 1000);
	for (i = 0; i < 1000; i++) {
		int len = snprintf(req, sizeof(req),
				   "GET /b%u/x HTTP/1.1\r\nHost: h\r\n\r\n", i);

		ASSERT_EQ((int)i, verdict(_metadata, fc, req, len, &at));
		ASSERT_EQ(strlen(text[i]), at);
	}
	/* "GET /b1/" is not a prefix of "GET /b12/": the default */
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc,
		"GET /b1000/ HTTP/1.1\r\n\r\n", 24, &at));
	EXPECT_EQ(24, at);
	skex_fc_free(fc);

	/* the same anchored */
	for (i = 0; i < 1000; i++)
		p[i].offset = 0;
	fc = build(_metadata, p, 1000, &prm);
	for (i = 0; i < 1000; i += 7) {
		int len = snprintf(req, sizeof(req), "GET /b%u/", i);

		ASSERT_EQ((int)i, verdict(_metadata, fc, req, len, &at));
	}
	EXPECT_EQ(SKEX_FC_DEFAULT, verdict(_metadata, fc, "GET /x", 6, &at));
	EXPECT_EQ(6, at);
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

static void random_bytes(u8 *b, u32 n, unsigned int alphabet)
{
	u32 i;

	for (i = 0; i < n; i++)
		b[i] = alphabet == 256 ? rand() : "ab\0\xff"[rand() % alphabet];
}

/* Random rules over a small alphabet, so that patterns meet often. */
static void model_round(struct __test_metadata *_metadata, unsigned int np,
			u32 maxoff, u32 maxlen, unsigned int rounds)
{
	static u8 data[SKEX_FC_PATTERNS_MAX][SKEX_FC_PATTERN_MAX];
	static struct skex_fc_pattern p[SKEX_FC_PATTERNS_MAX];
	unsigned int r, k, seen[3] = { 0 };
	u8 in[1024], delim[4];

	for (r = 0; r < rounds; r++) {
		struct model m = { .p = p, .n = np };
		u32 push[8], at0, at1;
		struct skex_fc *fc;
		int v0, v1;
		u32 len;

		m.prm.window = 1 + rand() % 600;
		m.prm.until = rand() % 3;
		m.prm.delim_len = 1 + rand() % 4;
		random_bytes(delim, m.prm.delim_len, 4);
		m.prm.delim = delim;
		for (k = 0; k < np; k++) {
			p[k].data = data[k];
			p[k].len = 1 + rand() % maxlen;
			random_bytes(data[k], p[k].len, 2 + (k & 1));
			p[k].offset = rand() % 2 ? SKEX_FC_ANY : rand() % maxoff;
		}
		if (rand() % 2)		/* sometimes anchored only */
			for (k = 0; k < np; k++)
				if (p[k].offset == SKEX_FC_ANY)
					p[k].offset = rand() % maxoff;
		len = rand() % sizeof(in);
		random_bytes(in, len, 2 + rand() % 3);
		for (k = 0; k < 8; k++)
			push[k] = (k + 1) * (1 + rand() % 100);
		fc = build(_metadata, p, np, &m.prm);
		v0 = model_run(&m, in, len, push, 8, &at0);
		seen[v0 >= 0 ? 0 : v0 == SKEX_FC_DEFAULT ? 1 : 2]++;
		v1 = feed(fc, in, len, 0, push, 8, &at1);
		ASSERT_EQ(v0, v1) {
			TH_LOG("round %u: window %u until %d", r,
			       m.prm.window, m.prm.until);
		}
		ASSERT_EQ(at0, at1);
		v1 = feed(fc, in, len, 1, push, 8, &at1);
		ASSERT_EQ(v0, v1);
		ASSERT_EQ(at0, at1);
		v1 = feed(fc, in, len, len ? len : 1, NULL, 0, &at1);
		if (m.prm.until != SKEX_FC_UNTIL_PUSH) {
			ASSERT_EQ(v0, v1);
			ASSERT_EQ(at0, at1);
		}
		skex_fc_free(fc);
	}
	TH_LOG("%u patterns: %u matched, %u default, %u undecided", np,
	       seen[0], seen[1], seen[2]);
	/* the rounds must meet every outcome to test anything */
	if (rounds >= 100)
		EXPECT_TRUE(seen[0] && seen[1] && seen[2]);
	ASSERT_EQ(0, kshim_live);
}

TEST(model)
{
	srand(13);
	model_round(_metadata, 1, 8, 3, 3000);
	model_round(_metadata, 5, 8, 6, 3000);
	model_round(_metadata, 40, 30, 12, 1000);
}

TEST(anchored_offsets)
{
	static u8 data[SKEX_FC_PATTERNS_MAX][SKEX_FC_PATTERN_MAX];
	static struct skex_fc_pattern p[SKEX_FC_PATTERNS_MAX];
	struct model m = { .p = p, .n = SKEX_FC_PATTERNS_MAX,
			   .prm = WINDOW(2048) };
	unsigned int k, r, matched = 0;
	u8 in[1200];

	srand(12);
	model_round(_metadata, 64, 300, 256, 100);
	model_round(_metadata, SKEX_FC_PATTERNS_MAX, 300, 256, 3);

	/*
	 * a^L b at offsets 300-599: a stream of a's keeps up to 256 groups
	 * alive at once, each b completes or kills some
	 */
	for (k = 0; k < SKEX_FC_PATTERNS_MAX; k++) {
		u32 l = 1 + k * 7 % 255;

		memset(data[k], 'a', l);
		data[k][l] = 'b';
		p[k] = (struct skex_fc_pattern){ data[k], l + 1,
						 300 + k % 300 };
	}
	for (r = 0; r < 50; r++) {
		struct skex_fc *fc = build(_metadata, p, m.n, &m.prm);
		u32 at0, at1;
		int v0, v1;

		memset(in, 'a', sizeof(in));
		for (k = 0; k < 3; k++)
			in[300 + rand() % 800] = 'b';
		if (r == 0)
			in[600] = 'b';
		v0 = model_run(&m, in, sizeof(in), NULL, 0, &at0);
		v1 = feed(fc, in, sizeof(in), 0, NULL, 0, &at1);
		ASSERT_EQ(v0, v1);
		ASSERT_EQ(at0, at1);
		matched += v0 >= 0;
		skex_fc_free(fc);
	}
	TH_LOG("a^L b: %u of 50 matched", matched);
	EXPECT_TRUE(matched > 0 && matched < 50);
	ASSERT_EQ(0, kshim_live);
}

TEST(linear_cost)
{
	/* "aaaa...ab" patterns and a stream of a's with b's: long fall-backs */
	static u8 pat[8][256], in[65536];
	struct skex_fc_pattern p[8];
	struct skex_fc_params prm = WINDOW(65536);
	struct skex_fc_state *st;
	struct skex_fc *fc;
	unsigned long steps = 0;
	unsigned int k;
	u32 i, v, t;

	for (k = 0; k < 8; k++) {
		memset(pat[k], 'a', 255);
		pat[k][255] = 'c' + k;
		p[k] = (struct skex_fc_pattern){ pat[k], 256, SKEX_FC_ANY };
	}
	for (i = 0; i < sizeof(in); i++)
		in[i] = i % 300 == 299 ? 'b' : 'a';
	fc = build(_metadata, p, 8, &prm);
	st = malloc(skex_fc_state_size(fc));
	skex_fc_start(fc, st);
	/* count the transitions the way skex_fc_feed() makes them */
	for (i = 0, v = 0; i < sizeof(in); i++) {
		for (;;) {
			steps++;
			t = skex_fc_child(fc, v, in[i]);
			if (t || !v)
				break;
			v = fc->node[v].fail;
		}
		v = t;
	}
	TH_LOG("%lu transitions for %zu bytes", steps, sizeof(in));
	EXPECT_LE(steps, 2 * sizeof(in));
	EXPECT_EQ(SKEX_FC_DEFAULT, skex_fc_feed(fc, st, in, sizeof(in)));
	EXPECT_EQ(v, st->node);
	free(st);
	skex_fc_free(fc);
	EXPECT_EQ(0, kshim_live);
}

TEST(escape)
{
	static const char *bad[] = { "", "\\", "\\q", "\\x", "\\x1", "\\xg0",
				     "a\\x1" };
	u8 out[SKEX_FC_PATTERN_MAX + 1];
	char text[4 * 257 + 1];
	unsigned int i;
	u8 all[256];

	EXPECT_EQ(4, skex_fc_unescape("\\r\\n\\r\\n", 8, out, 256));
	EXPECT_EQ(0, memcmp(out, "\r\n\r\n", 4));
	EXPECT_EQ(5, skex_fc_unescape("\\0\\xFf\\t\\\\z", 11, out, 256));
	EXPECT_EQ(0, memcmp(out, "\0\xff\t\\z", 5));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, skex_fc_unescape(bad[i], strlen(bad[i]),
						    out, 256));
	memset(text, 'x', 257);
	EXPECT_EQ(-ERANGE, skex_fc_unescape(text, 257, out, 256));
	for (i = 0; i < 256; i++)
		all[i] = i;
	/* 94 printable bytes as they are, \\ \\r \\n \\t, 158 as \\xHH */
	EXPECT_EQ(94 + 4 * 2 + 158 * 4,
		  skex_fc_escape(all, 256, text, sizeof(text)));
	EXPECT_EQ(256, skex_fc_unescape(text, strlen(text), out, 256));
	EXPECT_EQ(0, memcmp(out, all, 256));
	EXPECT_EQ(8, skex_fc_escape((u8 *)"\r\n\r\n", 4, text, 4));
	EXPECT_STREQ("\\r\\", text);
}

TEST(limits)
{
	struct skex_fc_pattern p = PAT("x");
	struct skex_fc_params prm = WINDOW(100);

	p.len = 0;
	EXPECT_EQ(-EINVAL, PTR_ERR(skex_fc_build(&p, 1, &prm, GFP_KERNEL)));
	p.len = SKEX_FC_PATTERN_MAX + 1;
	EXPECT_EQ(-EINVAL, PTR_ERR(skex_fc_build(&p, 1, &prm, GFP_KERNEL)));
	p.len = 1;
	EXPECT_EQ(-EINVAL, PTR_ERR(skex_fc_build(&p, SKEX_FC_PATTERNS_MAX + 1,
						 &prm, GFP_KERNEL)));
	prm.until = SKEX_FC_UNTIL_DELIM;
	EXPECT_EQ(-EINVAL, PTR_ERR(skex_fc_build(&p, 1, &prm, GFP_KERNEL)));
	prm.window = 0;
	prm.until = SKEX_FC_UNTIL_WINDOW;
	EXPECT_EQ(-EINVAL, PTR_ERR(skex_fc_build(&p, 1, &prm, GFP_KERNEL)));
	EXPECT_EQ(0, kshim_live);
}

TEST_HARNESS_MAIN
