// SPDX-License-Identifier: GPL-2.0
/*
 * output_trace - an output port's decisions in the quota's own clock, for
 * the tests that drive real servers (group_nginx.sh, group_ftp.sh):
 *
 *   output_trace start PORT        record trace event skex:skex_output of
 *                                  group port PORT (a tracefs instance)
 *   output_trace check PORT QUOTA  stop, and check what was recorded
 *                                  against output_rate QUOTA: prints
 *     decisions N gave BYTES span SECONDS worst BYTES depth BYTES
 *     lost_away BYTES lost_full BYTES gaps N bad N
 *
 * "worst": the most the bucket gave out over any T above QUOTA * T, at
 * most "depth" (200 ms of quota) and a byte; "lost_away", "lost_full":
 * what it lost full to one quantum (its writer away) and to its depth
 * (output_trace.h, sends_lost()); "bad": losses from a bucket that was
 * not full, and gains. Exit 0 if the bucket kept the bound and had no bad
 * decision, 1 if not (the bad ones on stderr), 2 on error.
 */
#include "output_trace.h"

static void inst_name(char *buf, size_t len, const char *port)
{
	snprintf(buf, len, "skex_output_trace_%s", port);
}

int main(int argc, char **argv)
{
	struct sends ss = { 0 };
	char inst[64];
	double depth, worst, total, span;
	unsigned long quota;
	struct loss l;
	uint16_t port;
	int i, ret;

	if (argc < 3 || atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535 ||
	    (strcmp(argv[1], "start") && (strcmp(argv[1], "check") ||
					 argc < 4))) {
		fprintf(stderr, "usage: %s start PORT | check PORT QUOTA\n",
			argv[0]);
		return 2;
	}
	port = atoi(argv[2]);
	inst_name(inst, sizeof(inst), argv[2]);
	if (!strcmp(argv[1], "start")) {
		ret = sends_start(&ss, inst, port);
		free(ss.s);
		if (ret)
			fprintf(stderr, "%s: trace event skex:skex_output: %s\n",
				inst, strerror(-ret));
		return ret ? 2 : 0;
	}
	quota = strtoul(argv[3], NULL, 10);
	ret = sends_stop(&ss, inst);
	if (ret || !ss.n) {
		fprintf(stderr, "%s: %s\n", inst,
			ret ? strerror(-ret) : "no skex_output event");
		free(ss.s);
		return 2;
	}
	depth = output_depth(quota);
	worst = sends_bound(&ss, quota, &total, &span);
	sends_lost(&ss, quota, ss.s[0].at, ss.s[ss.n - 1].at, &l);
	printf("decisions %llu gave %.0f span %.3f worst %.0f depth %.0f "
	       "lost_away %.0f lost_full %.0f gaps %d bad %d\n",
	       ss.events, total, span, worst, depth, l.away, l.full, l.gaps,
	       l.bad);
	for (i = 0; i < l.bad && i < LOSS_WHY; i++)
		fprintf(stderr, "%s: %s\n", inst, l.why[i]);
	if (worst > depth + 1)
		fprintf(stderr, "%s: %.0f bytes over quota * T, depth %.0f\n",
			inst, worst, depth);
	free(ss.s);
	return l.bad || worst > depth + 1;
}
