// SPDX-License-Identifier: GPL-2.0
/*
 * group_tool: the seed's socket group calls from the command line, for the
 * shell tests and for people.
 *
 *   group_tool add TYPE PORT:QUOTA[:nb]...        prints the new gid
 *   group_tool edit GID TYPE PORT:QUOTA[:nb]...
 *   group_tool del GID
 *   group_tool flush
 *
 * TYPE: accept_rate | accept_ratio | output_rate | output_rate_ftp (or
 * 1-4). QUOTA: 12.5 for the accept types, bytes per second for the output
 * types. Exit status 0, or 1 with the errno printed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/socket_ex_user.h>

static const char *const types[] = {
	"", "accept_rate", "accept_ratio", "output_rate", "output_rate_ftp",
};

static int parse_type(const char *s)
{
	int i;

	for (i = 1; i <= 4; i++)
		if (!strcmp(s, types[i]))
			return i;
	i = atoi(s);
	return i >= 1 && i <= 4 ? i : -1;
}

static int parse_socks(int type, int argc, char **argv,
		       struct sock_ex_user *socks)
{
	int i;

	for (i = 0; i < argc; i++) {
		char *q = strchr(argv[i], ':'), *nb;
		double d;

		if (!q)
			return -1;
		*q++ = '\0';
		nb = strchr(q, ':');
		if (nb)
			*nb++ = '\0';
		memset(&socks[i], 0, sizeof(socks[i]));
		socks[i].port = atoi(argv[i]);
		socks[i].nonblock = nb && !strcmp(nb, "nb");
		if (type == SKEX_ACCEPT_ABSOLUTE || type == SKEX_ACCEPT_RATIO) {
			d = strtod(q, NULL);
			socks[i].quota.frac.whole = (__u16)d;
			socks[i].quota.frac.frac = FRAC_PART(d);
			if (socks[i].quota.frac.frac > 999) {
				socks[i].quota.frac.whole++;
				socks[i].quota.frac.frac = 0;
			}
		} else {
			socks[i].quota.integer = strtoul(q, NULL, 10);
		}
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: group_tool add TYPE PORT:QUOTA[:nb]...\n"
		"       group_tool edit GID TYPE PORT:QUOTA[:nb]...\n"
		"       group_tool del GID\n"
		"       group_tool flush\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct sock_ex_user socks[SKEX_GROUP_PORTS_MAX];
	struct sock_group_user sg;
	int fd, gid, n, opt;

	if (argc < 2)
		return usage();
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}

	if (!strcmp(argv[1], "del") || !strcmp(argv[1], "flush")) {
		opt = argv[1][0] == 'd' ? TCP_SKEX_DEL_GROUP : TCP_SKEX_FLUSH_LIST;
		if (opt == TCP_SKEX_DEL_GROUP && argc != 3)
			return usage();
		gid = argc > 2 ? atoi(argv[2]) : 0;
		if (setsockopt(fd, IPPROTO_TCP, opt, &gid, sizeof(gid))) {
			fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
			return 1;
		}
		return 0;
	}

	memset(&sg, 0, sizeof(sg));
	if (!strcmp(argv[1], "add") && argc >= 4) {
		opt = TCP_SKEX_ADD_GROUP;
		argv += 2;
		argc -= 2;
	} else if (!strcmp(argv[1], "edit") && argc >= 5) {
		opt = TCP_SKEX_EDIT_GROUP;
		sg.gid = atoi(argv[2]);
		argv += 3;
		argc -= 3;
	} else {
		return usage();
	}
	n = parse_type(argv[0]);
	if (n < 0 || argc - 1 > SKEX_GROUP_PORTS_MAX)
		return usage();
	sg.type = n;
	sg.sock_cnt = argc - 1;
	if (parse_socks(n, argc - 1, argv + 1, socks))
		return usage();
	sg.socks = socks;
	if (setsockopt(fd, IPPROTO_TCP, opt, &sg, sizeof(sg))) {
		fprintf(stderr, "%s: %s\n", opt == TCP_SKEX_ADD_GROUP ? "add" : "edit",
			strerror(errno));
		return 1;
	}
	if (opt == TCP_SKEX_ADD_GROUP)
		printf("%u\n", sg.gid);
	return 0;
}
