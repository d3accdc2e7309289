// SPDX-License-Identifier: GPL-2.0
/*
 * skex_stat PORT: print getsockopt(TCP_SKEX_STAT) for PORT in the caller's
 * network namespace, for the shell tests:
 *   conn=N waiting=N accept_delay=N bin=N bout=N ref_count=N
 * or "error=ENOENT" (any errno by name) with exit status 1.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/socket_ex_user.h>

static const char *errname(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case EFAULT: return "EFAULT";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPERM: return "EPERM";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	struct netmeter nm = {};
	socklen_t len = sizeof(nm);
	char *end;
	long port;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	port = strtol(argv[1], &end, 10);
	if (*end || port < 0 || port > 65535) {
		fprintf(stderr, "bad port %s\n", argv[1]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 2;
	}
	nm.port = port;
	if (getsockopt(fd, IPPROTO_TCP, TCP_SKEX_STAT, &nm, &len)) {
		printf("error=%s\n", errname(errno));
		return 1;
	}
	printf("conn=%u waiting=%u accept_delay=%u bin=%llu bout=%llu ref_count=%u\n",
	       nm.stat.conn, nm.stat.conn_waiting, nm.stat.accept_delay,
	       (unsigned long long)nm.stat.bin, (unsigned long long)nm.stat.bout,
	       nm.stat.ref_count);
	close(fd);
	return 0;
}
