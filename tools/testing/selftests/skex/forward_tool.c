// SPDX-License-Identifier: GPL-2.0
/*
 * forward_tool: the seed's forwarding commands and traffic for the shell
 * selftests (in C: a Python start costs seconds in the TCG guest).
 *
 *   forward_tool rule add TYPE PORT DEF      TCP_FW_ADD_RULE
 *   forward_tool rule edit TYPE PORT DEF     TCP_FW_EDIT_RULE
 *   forward_tool rule del TYPE PORT          TCP_FW_DEL_RULE (PORT 0: all)
 *   forward_tool branch add|del TYPE PORT REDIR ARG...
 *                                            dice: CHANCE; content: PATTERN
 *                                            (\r \n \\ \xHH escapes);
 *                                            address: SRC MASK
 *   forward_tool branch flush TYPE PORT      TCP_FW_FLUSH_BRANCH
 *         TYPE: dice, content, address or a number. Prints "ok" or the
 *         error name (EINVAL, ...) and exits 0 / 1.
 *
 *   forward_tool serve ADDR PORT             accept forever ("::" is dual
 *         stack); per connection, once the client half-closed: print
 *         "conn PORT PEER_ADDR BYTES DATA" and answer "bye BYTES". Prints
 *         "port N" once listening.
 *   forward_tool client [-s SRC] ADDR PORT MSG
 *         send MSG, half-close, print the answer
 *   forward_tool hold [-s SRC] ADDR PORT MSG N
 *         N connections that send MSG and wait; prints "held N"; on a line
 *         on stdin each sends "+more", half-closes and must be answered
 *         "bye LEN"; prints "answered N"
 *   forward_tool stress PORT N THREADS
 *         a content rule on PORT (patterns /a /b /c), N connections from
 *         THREADS threads while a child process edits the rule; every
 *         connection must arrive, with its bytes, where it may; prints a
 *         summary, exits 0 when all is well
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "forward_common.h"

static int parse_type(const char *s)
{
	if (!strcmp(s, "dice"))
		return TCP_DICE_FW;
	if (!strcmp(s, "content"))
		return TCP_CONTENT_FW;
	if (!strcmp(s, "address"))
		return TCP_ADDR_FW;
	return atoi(s);
}

static const char *errname(int err)
{
	switch (err) {
	case 0: return "ok";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EEXIST: return "EEXIST";
	case EPERM: return "EPERM";
	case EBUSY: return "EBUSY";
	case EFAULT: return "EFAULT";
	case ERANGE: return "ERANGE";
	case EADDRINUSE: return "EADDRINUSE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	}
	return strerror(err);
}

static size_t unescape(const char *s, char *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\' || !s[1]) {
			out[n++] = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'r': out[n++] = '\r'; s++; break;
		case 'n': out[n++] = '\n'; s++; break;
		case 'x': {
			char hex[3] = { s[1], s[1] ? s[2] : 0, 0 };

			out[n++] = (char)strtoul(hex, NULL, 16);
			s += 1 + strlen(hex);
			break;
		}
		default: out[n++] = *s++; break;
		}
	}
	return n;
}

static int usage(void)
{
	fprintf(stderr, "usage: see the top of forward_tool.c\n");
	return 2;
}

static int cmd_rule(int argc, char **argv)
{
	int type, err;

	if (argc < 4)
		return usage();
	type = parse_type(argv[2]);
	if (!strcmp(argv[1], "add") && argc == 5)
		err = fw_rule(TCP_FW_ADD_RULE, type, atoi(argv[3]), atoi(argv[4]));
	else if (!strcmp(argv[1], "edit") && argc == 5)
		err = fw_rule(TCP_FW_EDIT_RULE, type, atoi(argv[3]), atoi(argv[4]));
	else if (!strcmp(argv[1], "del"))
		err = fw_rule(TCP_FW_DEL_RULE, type, atoi(argv[3]), 0);
	else
		return usage();
	printf("%s\n", errname(-err));
	return !!err;
}

static int cmd_branch(int argc, char **argv)
{
	int type, opt, err;
	char pat[1024];
	size_t len;

	if (argc < 4)
		return usage();
	type = parse_type(argv[2]);
	if (!strcmp(argv[1], "flush")) {
		err = fw_rule(TCP_FW_FLUSH_BRANCH, type, atoi(argv[3]), 0);
		goto out;
	}
	if (!strcmp(argv[1], "add"))
		opt = TCP_FW_ADD_BRANCH;
	else if (!strcmp(argv[1], "del"))
		opt = TCP_FW_DEL_BRANCH;
	else
		return usage();
	if (argc < 6)
		return usage();
	switch (type) {
	case TCP_DICE_FW:
		err = fw_dice(opt, atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
		break;
	case TCP_CONTENT_FW:
		if (strlen(argv[5]) >= sizeof(pat))
			return usage();
		len = unescape(argv[5], pat);
		err = fw_content(opt, atoi(argv[3]), atoi(argv[4]), pat, len);
		break;
	default:
		if (argc < 7)
			return usage();
		err = fw_addr(opt, atoi(argv[3]), atoi(argv[4]), argv[5], argv[6]);
		break;
	}
out:
	printf("%s\n", errname(-err));
	return !!err;
}

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t n)
{
	struct sockaddr_storage c = *ss;

	fw_unmap(&c);
	if (c.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&c)->sin_addr, buf, n);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&c)->sin6_addr, buf, n);
}

struct serve_conn {
	int fd;
	uint16_t port;
};

static void *serve_one(void *arg)
{
	struct serve_conn *sc = arg;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	char buf[4096], addr[64], out[64];
	size_t got = 0;
	ssize_t n;

	getpeername(sc->fd, (struct sockaddr *)&peer, &len);
	addr_str(&peer, addr, sizeof(addr));
	while ((n = read(sc->fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += n;
		if (got == sizeof(buf) - 1)
			break;
	}
	buf[got] = '\0';
	for (n = 0; n < (ssize_t)got; n++)
		if (buf[n] == '\n' || buf[n] == '\r' || buf[n] == ' ')
			buf[n] = '.';
	flockfile(stdout);
	printf("conn %u %s %zu %s\n", sc->port, addr, got, got ? buf : "-");
	fflush(stdout);
	funlockfile(stdout);
	snprintf(out, sizeof(out), "bye %zu", got);
	fw_write_all(sc->fd, out, strlen(out));
	close(sc->fd);
	free(sc);
	return NULL;
}

static int cmd_serve(int argc, char **argv)
{
	uint16_t port;
	int l, fd;

	if (argc != 3)
		return usage();
	l = fw_listen(argv[1], atoi(argv[2]), 1024, false, &port);
	if (l < 0) {
		perror("listen");
		return 1;
	}
	printf("port %u\n", port);
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = l, .events = POLLIN };
		struct serve_conn *sc;
		pthread_t th;

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return 1;
		fd = accept4(l, NULL, NULL, 0);
		if (fd < 0)
			continue;
		sc = malloc(sizeof(*sc));
		sc->fd = fd;
		sc->port = port;
		if (pthread_create(&th, NULL, serve_one, sc))
			return 1;
		pthread_detach(th);
	}
}

static int client_args(int *argc, char ***argv, const char **src)
{
	*src = NULL;
	if (*argc > 2 && !strcmp((*argv)[1], "-s")) {
		*src = (*argv)[2];
		*argc -= 2;
		*argv += 2;
	}
	return 0;
}

static int answer(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += n;
	buf[got] = '\0';
	return got ? 0 : -1;
}

static int cmd_client(int argc, char **argv)
{
	const char *src;
	char buf[256];
	int fd;

	client_args(&argc, &argv, &src);
	if (argc != 4)
		return usage();
	fd = fw_connect(src, argv[1], atoi(argv[2]));
	if (fd < 0) {
		printf("connect: %s\n", strerror(errno));
		return 1;
	}
	fw_write_all(fd, argv[3], strlen(argv[3]));
	shutdown(fd, SHUT_WR);
	if (answer(fd, buf, sizeof(buf))) {
		printf("no answer: %s\n", strerror(errno));
		return 1;
	}
	printf("%s\n", buf);
	return 0;
}

static int cmd_hold(int argc, char **argv)
{
	const char *src;
	char buf[256], want[64], line[64];
	int i, n, *fd, ok = 0;

	client_args(&argc, &argv, &src);
	if (argc != 5)
		return usage();
	n = atoi(argv[4]);
	fd = calloc(n, sizeof(*fd));
	for (i = 0; i < n; i++) {
		fd[i] = fw_connect(src, argv[1], atoi(argv[2]));
		if (fd[i] < 0 || fw_write_all(fd[i], argv[3], strlen(argv[3]))) {
			printf("connect %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("held %d\n", n);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	snprintf(want, sizeof(want), "bye %zu", strlen(argv[3]) + 5);
	for (i = 0; i < n; i++) {
		if (fw_write_all(fd[i], "+more", 5))
			continue;
		shutdown(fd[i], SHUT_WR);
		if (!answer(fd[i], buf, sizeof(buf)) && !strcmp(buf, want))
			ok++;
		else
			printf("connection %d: answer '%s'\n", i, buf);
		close(fd[i]);
	}
	printf("answered %d\n", ok);
	return ok != n;
}

/* ---- stress ---- */

#define ST_LST	5	/* /a /b /c default, default2 */

struct stress {
	uint16_t p;
	uint16_t port[ST_LST];
	int lfd[ST_LST];
	int n;
	int next;		/* next connection number */
	int arrived[ST_LST];
	int bad;
	int lost;
	pthread_mutex_t lock;
};

/* What connection @i sends: "GET /<x>?<i> ..." */
static int stress_kind(int i)
{
	return i % 4;		/* 0: /a  1: /b  2: /c  3: none */
}

static void *stress_client(void *arg)
{
	struct stress *st = arg;
	char msg[128], buf[128];
	int i, fd, w, s, kind;

	for (;;) {
		pthread_mutex_lock(&st->lock);
		i = st->next++;
		pthread_mutex_unlock(&st->lock);
		if (i >= st->n)
			return NULL;
		kind = stress_kind(i);
		snprintf(msg, sizeof(msg), "GET /%c?%08d HTTP/1.0\r\n\r\n",
			 kind == 3 ? 'z' : 'a' + kind, i);
		fd = fw_connect(NULL, "127.0.0.1", st->p);
		if (fd < 0 || fw_write_all(fd, msg, strlen(msg))) {
			pthread_mutex_lock(&st->lock);
			st->lost++;
			pthread_mutex_unlock(&st->lock);
			if (fd >= 0)
				close(fd);
			continue;
		}
		shutdown(fd, SHUT_WR);
		/* the server side answers with the listener index */
		memset(buf, 0, sizeof(buf));
		s = answer(fd, buf, sizeof(buf));
		close(fd);
		pthread_mutex_lock(&st->lock);
		if (s || sscanf(buf, "%d", &w) != 1 || w < 0 || w >= ST_LST) {
			st->lost++;
		} else {
			st->arrived[w]++;
			/* /a /b /c: their branch or a default; z: a default */
			if (w < 3 && w != kind)
				st->bad++;
		}
		pthread_mutex_unlock(&st->lock);
	}
}

static void *stress_server(void *arg)
{
	struct stress *st = arg;
	struct pollfd p[ST_LST];
	char buf[256], want[64];
	int i, fd;

	for (;;) {
		for (i = 0; i < ST_LST; i++) {
			p[i].fd = st->lfd[i];
			p[i].events = POLLIN;
		}
		if (poll(p, ST_LST, -1) < 0)
			continue;
		for (i = 0; i < ST_LST; i++) {
			size_t got = 0;
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			fd = accept4(st->lfd[i], NULL, NULL, 0);
			if (fd < 0)
				continue;
			while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
				got += n;
			buf[got] = '\0';
			/* every byte, in order */
			if (got < 26 || strncmp(buf, "GET /", 5) ||
			    strcmp(buf + got - 13, " HTTP/1.0\r\n\r\n")) {
				pthread_mutex_lock(&st->lock);
				st->bad++;
				pthread_mutex_unlock(&st->lock);
			}
			snprintf(want, sizeof(want), "%d", i);
			fw_write_all(fd, want, strlen(want));
			close(fd);
		}
	}
	return NULL;
}

static void stress_churn(struct stress *st)
{
	const char *pats[3] = { "/b?", "/c?", "/a?" };
	int i = 0;

	for (;; i++) {
		int k = i % 3;

		/* drop a branch and put it back; move the default around */
		fw_content_str(TCP_FW_DEL_BRANCH, st->p, st->port[(k + 1) % 3], pats[k]);
		fw_rule(TCP_FW_EDIT_RULE, TCP_CONTENT_FW, st->p, st->port[3 + (i & 1)]);
		fw_content_str(TCP_FW_ADD_BRANCH, st->p, st->port[(k + 1) % 3], pats[k]);
	}
}

static int cmd_stress(int argc, char **argv)
{
	struct stress st = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t srv, *cli;
	uint64_t t0 = skex_now_us();
	int i, threads, err, total = 0;
	pid_t churn;

	if (argc != 4)
		return usage();
	st.p = atoi(argv[1]);
	st.n = atoi(argv[2]);
	threads = atoi(argv[3]);
	for (i = 0; i < ST_LST; i++) {
		st.lfd[i] = fw_listen("::", 0, 4096, false, &st.port[i]);
		if (st.lfd[i] < 0) {
			perror("listen");
			return 1;
		}
	}
	err = fw_rule(TCP_FW_ADD_RULE, TCP_CONTENT_FW, st.p, st.port[3]);
	for (i = 0; !err && i < 3; i++) {
		char pat[4] = { '/', 'a' + i, '?', 0 };

		err = fw_content_str(TCP_FW_ADD_BRANCH, st.p, st.port[i], pat);
	}
	if (err) {
		printf("setup: %s\n", errname(-err));
		return 1;
	}
	pthread_create(&srv, NULL, stress_server, &st);
	churn = fork();
	if (churn == 0) {
		stress_churn(&st);
		_exit(0);
	}
	cli = calloc(threads, sizeof(*cli));
	for (i = 0; i < threads; i++)
		pthread_create(&cli[i], NULL, stress_client, &st);
	for (i = 0; i < threads; i++)
		pthread_join(cli[i], NULL);
	kill(churn, SIGKILL);
	waitpid(churn, NULL, 0);
	for (i = 0; i < ST_LST; i++)
		total += st.arrived[i];
	printf("stress: %d connections in %.1f s: /a %d /b %d /c %d default %d+%d, "
	       "lost %d, misplaced or damaged %d, dropped %s\n", st.n,
	       (skex_now_us() - t0) / 1e6, st.arrived[0], st.arrived[1],
	       st.arrived[2], st.arrived[3], st.arrived[4], st.lost, st.bad,
	       fw_cfs_get(st.p, NULL, "dropped"));
	err = fw_rule(TCP_FW_DEL_RULE, TCP_CONTENT_FW, st.p, 0);
	return total != st.n || st.lost || st.bad || err;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	argc--;
	argv++;
	if (!strcmp(argv[0], "rule"))
		return cmd_rule(argc, argv);
	if (!strcmp(argv[0], "branch"))
		return cmd_branch(argc, argv);
	if (!strcmp(argv[0], "serve"))
		return cmd_serve(argc, argv);
	if (!strcmp(argv[0], "client"))
		return cmd_client(argc, argv);
	if (!strcmp(argv[0], "hold"))
		return cmd_hold(argc, argv);
	if (!strcmp(argv[0], "stress"))
		return cmd_stress(argc, argv);
	return usage();
}
