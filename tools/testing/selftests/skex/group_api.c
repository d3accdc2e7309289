// SPDX-License-Identifier: GPL-2.0
/*
 * Socket groups, the configuration fronts (SPEC section 2, "Interfaces"):
 *
 *   seed_code       the seed's section-2 code, typos fixed: ADD writes the
 *                   gid back (lowest free), EDIT, DEL, FLUSH; all four types
 *   bad_input       sock_cnt 0 / huge, two ports in an absolute group, one in
 *                   a ratio group, frac > 999, weight 0, unknown type, unknown
 *                   gid, duplicate port, faulting socks / optval / write-back,
 *                   short optlen: exact errno, and nothing changed
 *   eexist          a port in one accept-type and one output-type group
 *   eperm           no CAP_NET_ADMIN over the namespace: EPERM
 *   mirror          a group made by either front is seen and managed by
 *                   the other; mirrored directories (groups and ports) do
 *                   not pin the module, mkdir-made ones do, whichever
 *                   front removes them
 *   configfs_input  garbage writes fail with a precise errno, change nothing;
 *                   values read back normalised
 *   burst_input     accept_rate's burst: 1 in groups made by either front
 *                   and after a sockopt edit that the seed's structures
 *                   cannot express; a value set in configfs survives such
 *                   an edit; out of range ERANGE, garbage and embedded NUL
 *                   EINVAL, other types refuse it; /proc/net/skex_groups
 *                   shows it
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "group_common.h"

/* Entries of groups/ (0 when empty). */
static int cfs_count_groups(void)
{
	return cfs_count(CFS_GROUPS);
}

static void cfs_path(char *buf, size_t len, unsigned int gid, int port,
		     const char *attr)
{
	if (port > 0)
		snprintf(buf, len, CFS_GROUPS "/%u/ports/%d/%s", gid, port, attr);
	else if (port == 0)
		snprintf(buf, len, CFS_GROUPS "/%u/%s", gid, attr);
	else
		snprintf(buf, len, CFS_GROUPS "/%u", gid);
}

#define EXPECT_CFS(want, gid, port, attr) do {				\
	char _p[128], _b[64];						\
	cfs_path(_p, sizeof(_p), gid, port, attr);			\
	ASSERT_LE(0, cfs_read(_p, _b, sizeof(_b))) TH_LOG("read %s", _p); \
	EXPECT_STREQ(want, _b) TH_LOG("%s", _p);			\
} while (0)

static int module_refcnt(void)
{
	char b[32];

	if (cfs_read("/sys/module/skex/refcnt", b, sizeof(b)) < 0)
		return -1;
	return atoi(b);
}

/*
 * unshare(CLONE_NEWUSER) fails in a chroot, which the test VM runs in:
 * take the root of PID 1 (the namespace's) first.
 */
static int unchroot(void)
{
	if (chdir("/proc/1/root") || chroot("."))
		return -1;
	return chdir("/");
}

FIXTURE(groups) {};
FIXTURE_SETUP(groups)
{
	SKEX_NEED_MODULE();
	ASSERT_EQ(0, group_flush());
	ASSERT_EQ(0, cfs_count_groups()) TH_LOG("groups/ not empty at start");
}

FIXTURE_TEARDOWN(groups)
{
	group_flush();
}

/* The seed's code (section 2.2-2.5), with its typos fixed. */
TEST_F(groups, seed_code)
{
	struct sock_group_user *sg;
	double rate = 12.5, a = 2, b = 1;
	int sock, gid, useless;

	/* 1. an absolute rate based accept group */
	sg = (struct sock_group_user *)malloc(sizeof(*sg));
	sg->socks = (struct sock_ex_user *)malloc(sizeof(struct sock_ex_user));
	sg->type = SKEX_ACCEPT_ABSOLUTE;
	sg->sock_cnt = 1;
	sg->socks[0].port = 41001;
	sg->socks[0].quota.frac.whole = (__u16)rate;
	sg->socks[0].quota.frac.frac = (__u16)FRAC_PART(rate);
	sg->socks[0].nonblock = 0;
	sock = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_ADD_GROUP,
				(char *)sg, sizeof(*sg))) TH_LOG("%m");
	EXPECT_EQ(1, sg->gid);
	free(sg->socks);

	/* 2. a relative ratio based accept group, a : b */
	sg->socks = (struct sock_ex_user *)malloc(sizeof(struct sock_ex_user) * 2);
	sg->type = SKEX_ACCEPT_RATIO;
	sg->sock_cnt = 2;
	sg->socks[0].port = 41002;
	sg->socks[0].quota.frac.whole = (__u16)a;
	sg->socks[0].quota.frac.frac = (__u16)FRAC_PART(a);
	sg->socks[0].nonblock = 0;
	sg->socks[1].port = 41003;
	sg->socks[1].quota.frac.whole = (__u16)b;
	sg->socks[1].quota.frac.frac = (__u16)FRAC_PART(b);
	sg->socks[1].nonblock = 1;
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_ADD_GROUP,
				(char *)sg, sizeof(*sg))) TH_LOG("%m");
	EXPECT_EQ(2, sg->gid);
	free(sg->socks);

	/* 3. absolute rate based output groups, plain and FTP */
	sg->socks = (struct sock_ex_user *)malloc(sizeof(struct sock_ex_user));
	sg->type = SKEX_OUTPUT_ABSOLUTE;
	sg->sock_cnt = 1;
	sg->socks[0].port = 41001;
	sg->socks[0].quota.integer = 1000000;
	sg->socks[0].nonblock = 1;
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_ADD_GROUP,
				(char *)sg, sizeof(*sg))) TH_LOG("%m");
	EXPECT_EQ(3, sg->gid);
	sg->type = SKEX_OUTPUT_ABSOLUTE_FTP;
	sg->socks[0].port = 41021;
	sg->socks[0].quota.integer = 50000;
	sg->socks[0].nonblock = 0;
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_ADD_GROUP,
				(char *)sg, sizeof(*sg))) TH_LOG("%m");
	EXPECT_EQ(4, sg->gid);

	EXPECT_CFS("accept_rate", 1, 0, "type");
	EXPECT_CFS("12.5", 1, 41001, "quota");
	EXPECT_CFS("0", 1, 41001, "nonblock");
	EXPECT_CFS("accept_ratio", 2, 0, "type");
	EXPECT_CFS("2", 2, 41002, "quota");
	EXPECT_CFS("1", 2, 41003, "quota");
	EXPECT_CFS("1", 2, 41003, "nonblock");
	EXPECT_CFS("output_rate", 3, 0, "type");
	EXPECT_CFS("1000000", 3, 41001, "quota");
	EXPECT_CFS("output_rate_ftp", 4, 0, "type");
	EXPECT_CFS("50000", 4, 41021, "quota");
	EXPECT_CFS("0", 4, 41021, "throttled");

	/* 2.3 edit an existing group */
	sg->gid = 4;
	sg->type = SKEX_OUTPUT_ABSOLUTE_FTP;
	sg->socks[0].port = 41021;
	sg->socks[0].quota.integer = 70000;
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_EDIT_GROUP,
				(char *)sg, sizeof(*sg))) TH_LOG("%m");
	EXPECT_CFS("70000", 4, 41021, "quota");

	/* 2.4 remove a group; its gid is then the lowest free one */
	gid = 2;
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_DEL_GROUP,
				(char *)&gid, sizeof(gid))) TH_LOG("%m");
	EXPECT_FALSE(cfs_exists(CFS_GROUPS "/2"));
	sg->type = SKEX_OUTPUT_ABSOLUTE;
	sg->socks[0].port = 41004;
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_ADD_GROUP,
				(char *)sg, sizeof(*sg))) TH_LOG("%m");
	EXPECT_EQ(2, sg->gid);

	/* 2.5 remove all the groups */
	ASSERT_EQ(0, setsockopt(sock, IPPROTO_TCP, TCP_SKEX_FLUSH_LIST,
				(char *)&useless, sizeof(useless))) TH_LOG("%m");
	EXPECT_EQ(0, cfs_count_groups());
	free(sg->socks);
	free(sg);
	close(sock);
}

TEST_F(groups, bad_input)
{
	struct sock_ex_user s[SKEX_GROUP_PORTS_MAX + 1], *ro;
	struct sock_group_user sg, *rosg;
	int fd, i, gid;

	for (i = 0; i <= SKEX_GROUP_PORTS_MAX; i++)
		s[i] = sx_frac(42000 + i, 1, 0);

	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_RATIO, s, 0, NULL));
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_RATIO, s,
				     SKEX_GROUP_PORTS_MAX + 1, NULL));
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_RATIO, s, 65535, NULL));
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_ABSOLUTE, s, 2, NULL));
	EXPECT_EQ(-EINVAL, group_add(SKEX_OUTPUT_ABSOLUTE, s, 2, NULL));
	EXPECT_EQ(-EINVAL, group_add(SKEX_OUTPUT_ABSOLUTE_FTP, s, 2, NULL));
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_RATIO, s, 1, NULL));
	EXPECT_EQ(-EINVAL, group_add(0, s, 1, NULL));
	EXPECT_EQ(-EINVAL, group_add(5, s, 1, NULL));
	EXPECT_EQ(-EINVAL, group_add(0xffff, s, 1, NULL));

	s[0].quota.frac.frac = 1000;
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_ABSOLUTE, s, 1, NULL));
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_RATIO, s, 2, NULL));
	s[0] = sx_frac(42000, 0, 0);	/* weight 0 */
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_RATIO, s, 2, NULL));
	s[0] = sx_frac(42001, 1, 0);	/* the same port twice */
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_RATIO, s, 2, NULL));
	s[0] = sx_frac(0, 1, 0);	/* port 0 */
	EXPECT_EQ(-EINVAL, group_add(SKEX_ACCEPT_ABSOLUTE, s, 1, NULL));
	s[0] = sx_frac(42000, 1, 0);

	/* faulting socks, faulting optval, read-only optval (write-back) */
	memset(&sg, 0, sizeof(sg));
	sg.type = SKEX_OUTPUT_ABSOLUTE;
	sg.sock_cnt = 1;
	sg.socks = (struct sock_ex_user *)8;
	EXPECT_EQ(-EFAULT, group_call(TCP_SKEX_ADD_GROUP, &sg, sizeof(sg)));
	ro = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	sg.socks = ro;
	EXPECT_EQ(-EFAULT, group_call(TCP_SKEX_ADD_GROUP, &sg, sizeof(sg)));
	sg.socks = s;
	EXPECT_EQ(-EFAULT, group_call(TCP_SKEX_ADD_GROUP, ro, sizeof(sg)));
	gid = 1;
	EXPECT_EQ(-EFAULT, group_call(TCP_SKEX_DEL_GROUP, ro, sizeof(gid)));
	EXPECT_EQ(-EFAULT, group_call(TCP_SKEX_FLUSH_LIST, ro, sizeof(gid)));
	EXPECT_EQ(0, munmap(ro, 4096));
	rosg = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rosg);
	*rosg = sg;
	ASSERT_EQ(0, mprotect(rosg, 4096, PROT_READ));
	EXPECT_EQ(-EFAULT, group_call(TCP_SKEX_ADD_GROUP, rosg, sizeof(sg)));
	EXPECT_EQ(0, munmap(rosg, 4096));

	/* short optlen */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_SKEX_ADD_GROUP, &sg,
				 sizeof(sg) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_SKEX_DEL_GROUP, &gid, 2));
	EXPECT_EQ(EINVAL, errno);
	close(fd);

	/* unknown gids */
	EXPECT_EQ(-ENOENT, group_del(1));
	EXPECT_EQ(-ENOENT, group_del(0));
	EXPECT_EQ(-ENOENT, group_del(-1));
	EXPECT_EQ(-ENOENT, group_del(70000));
	EXPECT_EQ(-ENOENT, group_edit(1, SKEX_OUTPUT_ABSOLUTE, s, 1));
	EXPECT_EQ(-ENOENT, group_edit(0, SKEX_OUTPUT_ABSOLUTE, s, 1));

	/* nothing was made: configfs is empty and the first gid is 1 */
	EXPECT_EQ(0, cfs_count_groups());
	ASSERT_EQ(0, group_add1(SKEX_OUTPUT_ABSOLUTE, 42000, 1000, 0, NULL));
	EXPECT_TRUE(cfs_exists(CFS_GROUPS "/1"));

	/* a bad edit changes nothing */
	EXPECT_EQ(-EINVAL, group_edit(1, SKEX_OUTPUT_ABSOLUTE, s, 2));
	s[0].quota.frac.frac = 1000;
	EXPECT_EQ(-EINVAL, group_edit(1, SKEX_ACCEPT_ABSOLUTE, s, 1));
	EXPECT_CFS("output_rate", 1, 0, "type");
	EXPECT_CFS("1000", 1, 42000, "quota");
}

TEST_F(groups, eexist)
{
	struct sock_ex_user s[2] = { sx_frac(43001, 2, 0), sx_frac(43002, 1, 0) };
	uint16_t g1, g2, g3;

	ASSERT_EQ(0, group_add1(SKEX_ACCEPT_ABSOLUTE, 43001, 5, 0, &g1));
	EXPECT_EQ(-EEXIST, group_add(SKEX_ACCEPT_RATIO, s, 2, NULL));
	EXPECT_EQ(-EEXIST, group_add1(SKEX_ACCEPT_ABSOLUTE, 43001, 1, 0, NULL));
	/* one output-type group besides */
	ASSERT_EQ(0, group_add1(SKEX_OUTPUT_ABSOLUTE, 43001, 1000, 0, &g2));
	EXPECT_EQ(-EEXIST, group_add1(SKEX_OUTPUT_ABSOLUTE_FTP, 43001, 1000, 0,
				      NULL));
	/* an edit may keep its own ports, not take another group's */
	EXPECT_EQ(0, group_edit1(g1, SKEX_ACCEPT_ABSOLUTE, 43001, 7, 1));
	ASSERT_EQ(0, group_add1(SKEX_OUTPUT_ABSOLUTE, 43003, 1000, 0, &g3));
	EXPECT_EQ(-EEXIST, group_edit1(g3, SKEX_OUTPUT_ABSOLUTE, 43001, 5, 0));
	EXPECT_CFS("1000", g3, 43003, "quota");
	/* deleting the group frees the port */
	EXPECT_EQ(0, group_del(g1));
	EXPECT_EQ(0, group_add(SKEX_ACCEPT_RATIO, s, 2, NULL));
}

TEST_F(groups, eperm)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int r1, r2, r3;

		/* root of a new user namespace, still in the initial netns */
		if (unshare(CLONE_NEWUSER) && (unchroot() || unshare(CLONE_NEWUSER)))
			_exit(10);
		r1 = group_add1(SKEX_OUTPUT_ABSOLUTE, 44001, 1000, 0, NULL);
		r2 = group_flush();
		r3 = group_del(1);
		_exit(r1 == -EPERM && r2 == -EPERM && r3 == -EPERM ? 0 : 11);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("user namespace: %s", WEXITSTATUS(status) == 10 ?
		       "cannot make one" : "not EPERM");
	}

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		_exit(group_add1(SKEX_OUTPUT_ABSOLUTE, 44001, 1000, 0, NULL) ==
		      -EPERM ? 0 : 11);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("unprivileged: not EPERM");
	EXPECT_EQ(0, cfs_count_groups());
}

TEST_F(groups, mirror)
{
	struct sock_ex_user s[2] = { sx_frac(45002, 2.5, 0), sx_frac(45003, 1, 1) };
	int ref0 = module_refcnt();
	uint16_t gid;

	/* sockopt -> configfs, and edits through configfs */
	ASSERT_EQ(0, group_add1(SKEX_OUTPUT_ABSOLUTE, 45001, 123456, 1, &gid));
	EXPECT_EQ(1, gid);
	EXPECT_CFS("output_rate", 1, 0, "type");
	EXPECT_CFS("123456", 1, 45001, "quota");
	EXPECT_CFS("1", 1, 45001, "nonblock");
	EXPECT_CFS("0", 1, 45001, "throttled");
	EXPECT_EQ(ref0, module_refcnt()) TH_LOG("a mirrored group pins the module");
	EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/1/ports/45001/quota", "654321\n"));
	EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/1/ports/45001/nonblock", "0"));
	EXPECT_CFS("654321", 1, 45001, "quota");
	EXPECT_CFS("0", 1, 45001, "nonblock");

	/* a sockopt edit replaces type and ports: configfs follows */
	ASSERT_EQ(0, group_edit(1, SKEX_ACCEPT_RATIO, s, 2));
	EXPECT_CFS("accept_ratio", 1, 0, "type");
	EXPECT_FALSE(cfs_exists(CFS_GROUPS "/1/ports/45001"));
	EXPECT_CFS("2.5", 1, 45002, "quota");
	EXPECT_CFS("1", 1, 45003, "quota");
	EXPECT_CFS("1", 1, 45003, "nonblock");

	/* a port made with mkdir in a mirrored group pins the module... */
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/1/ports/45008"));
	EXPECT_EQ(ref0 + 2, module_refcnt()) TH_LOG("mkdir of a port pins");
	/* ...until a sockopt edit that leaves it out removes it */
	ASSERT_EQ(0, group_edit(1, SKEX_ACCEPT_RATIO, s, 2));
	EXPECT_FALSE(cfs_exists(CFS_GROUPS "/1/ports/45008"));
	EXPECT_CFS("2.5", 1, 45002, "quota");
	EXPECT_EQ(ref0, module_refcnt()) TH_LOG("mirror rmdir of a pinned port");
	/* or a user removes it */
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/1/ports/45008"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/1/ports/45008"));
	EXPECT_EQ(ref0, module_refcnt());

	/* rmdir of a sockopt group */
	EXPECT_EQ(-ENOTEMPTY, cfs_rmdir(CFS_GROUPS "/1"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/1/ports/45002"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/1/ports/45003"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/1"));
	EXPECT_EQ(-ENOENT, group_del(1));
	EXPECT_EQ(ref0, module_refcnt());

	/* configfs -> sockopt */
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/9"));
	EXPECT_EQ(ref0 + 2, module_refcnt()) TH_LOG("mkdir pins the module");
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/9/type", "accept_rate\n"));
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/9/ports/45004"));
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/9/ports/45004/quota", "3.25"));
	/* the lowest free gid is 1, not 9 */
	ASSERT_EQ(0, group_add1(SKEX_OUTPUT_ABSOLUTE, 45005, 1000, 0, &gid));
	EXPECT_EQ(1, gid);
	EXPECT_EQ(-EEXIST, group_add1(SKEX_ACCEPT_ABSOLUTE, 45004, 1, 0, NULL));
	ASSERT_EQ(0, group_edit1(9, SKEX_ACCEPT_ABSOLUTE, 45004, 4.5, 1));
	EXPECT_CFS("4.5", 9, 45004, "quota");
	EXPECT_CFS("1", 9, 45004, "nonblock");
	/* mirrored ports of a mkdir-made group pin nothing; users rmdir them */
	ASSERT_EQ(0, group_edit1(9, SKEX_ACCEPT_ABSOLUTE, 45006, 2, 0));
	EXPECT_FALSE(cfs_exists(CFS_GROUPS "/9/ports/45004"));
	EXPECT_CFS("2", 9, 45006, "quota");
	EXPECT_EQ(ref0 + 2, module_refcnt()) TH_LOG("a mirrored port pins");
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/9/ports/45006"));
	EXPECT_EQ(ref0 + 2, module_refcnt());
	ASSERT_EQ(0, group_edit1(9, SKEX_ACCEPT_ABSOLUTE, 45006, 2, 0));
	EXPECT_CFS("2", 9, 45006, "quota");
	ASSERT_EQ(0, group_del(9));
	EXPECT_FALSE(cfs_exists(CFS_GROUPS "/9"));
	EXPECT_EQ(ref0, module_refcnt());
	EXPECT_EQ(-ENOENT, skex_write_file(CFS_GROUPS "/9/type", "accept_rate"));
	ASSERT_EQ(0, group_flush());
	EXPECT_EQ(0, cfs_count_groups());
	EXPECT_EQ(ref0, module_refcnt());
}

TEST_F(groups, configfs_input)
{
	static const char *const bad_names[] = {
		"0", "65536", "abc", "007", "+5", "-1", "1x", "",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		snprintf(path, sizeof(path), CFS_GROUPS "/%s", bad_names[i]);
		if (!*bad_names[i])
			continue;
		EXPECT_EQ(-EINVAL, cfs_mkdir(path)) TH_LOG("mkdir %s", path);
	}
	EXPECT_EQ(0, cfs_count_groups());

	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/5"));
	EXPECT_EQ(-EEXIST, cfs_mkdir(CFS_GROUPS "/5"));
	EXPECT_CFS("", 5, 0, "type");
	EXPECT_EQ(-EINVAL, cfs_mkdir(CFS_GROUPS "/5/ports/46001"))
		TH_LOG("a port before the type");
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/5/type", "bogus"));
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/5/type", "accept_rate\n\n"));
	/* a NUL inside the write is refused, not taken as the end */
	EXPECT_EQ(-EINVAL, skex_write_file_len(CFS_GROUPS "/5/type",
					 "accept_rate\0junk", 16));
	EXPECT_CFS("", 5, 0, "type");
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/5/type", "accept_rate\n"));
	EXPECT_CFS("accept_rate", 5, 0, "type");
	EXPECT_EQ(-EINVAL, cfs_mkdir(CFS_GROUPS "/5/ports/0"));
	EXPECT_EQ(-EINVAL, cfs_mkdir(CFS_GROUPS "/5/ports/http"));
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/5/ports/46001"));
	EXPECT_EQ(-EINVAL, cfs_mkdir(CFS_GROUPS "/5/ports/46002"))
		TH_LOG("two ports in an absolute group");
	EXPECT_EQ(-EBUSY, skex_write_file(CFS_GROUPS "/5/type", "output_rate"));
	EXPECT_CFS("accept_rate", 5, 0, "type");

	/* no quota yet */
	EXPECT_CFS("", 5, 46001, "quota");
	static const char *const bad_frac[] = {
		"abc", "1.2345", "-1", "\n", "1.5x", "1..5", ".5", "1 ",
		" 1", "+1", "0x10", "1e3",
	};
	for (i = 0; i < sizeof(bad_frac) / sizeof(bad_frac[0]); i++)
		EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/5/ports/46001/quota",
					     bad_frac[i]))
			TH_LOG("quota '%s'", bad_frac[i]);
	EXPECT_EQ(-ERANGE, skex_write_file(CFS_GROUPS "/5/ports/46001/quota", "70000"));
	EXPECT_CFS("", 5, 46001, "quota");

	static const char *const good_frac[][2] = {
		{ "12.5", "12.5" }, { "12.500\n", "12.5" }, { "3", "3" },
		{ "0.05", "0.05" }, { "7.", "7" }, { "65535.999", "65535.999" },
		{ "0", "0" }, { "1.010", "1.01" },
	};
	for (i = 0; i < sizeof(good_frac) / sizeof(good_frac[0]); i++) {
		EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/5/ports/46001/quota",
				       good_frac[i][0]));
		EXPECT_CFS(good_frac[i][1], 5, 46001, "quota");
	}
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/5/ports/46001/nonblock", "2"));
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/5/ports/46001/nonblock", "x"));
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/5/ports/46001/nonblock", "-1"));
	EXPECT_EQ(-EINVAL, skex_write_file_len(CFS_GROUPS "/5/ports/46001/nonblock",
					 "1\0junk", 6));
	EXPECT_CFS("0", 5, 46001, "nonblock");
	EXPECT_EQ(-EINVAL, skex_write_file_len(CFS_GROUPS "/5/ports/46001/quota",
					 "10\0junk", 7));
	EXPECT_CFS("1.01", 5, 46001, "quota");
	EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/5/ports/46001/nonblock", "1\n"));
	EXPECT_CFS("1", 5, 46001, "nonblock");
	EXPECT_NE(0, skex_write_file(CFS_GROUPS "/5/ports/46001/throttled", "5"));
	EXPECT_CFS("0", 5, 46001, "throttled");

	/* output types take integers only */
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/6"));
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/6/type", "output_rate_ftp"));
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/6/ports/46001"))
		TH_LOG("one accept and one output group per port");
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/6/ports/46001/quota", "1.5"));
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/6/ports/46001/quota", "-5"));
	EXPECT_EQ(-ERANGE, skex_write_file(CFS_GROUPS "/6/ports/46001/quota",
				     "4294967296"));
	EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/6/ports/46001/quota", "4294967295"));
	EXPECT_CFS("4294967295", 6, 46001, "quota");
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/7"));
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/7/type", "output_rate"));
	EXPECT_EQ(-EEXIST, cfs_mkdir(CFS_GROUPS "/7/ports/46001"));

	/* ratio weights are not 0 */
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/7/type", "accept_ratio"))
		TH_LOG("type change without ports");
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/7/ports/46003"));
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/7/ports/46004"));
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/7/ports/46003/quota", "0"));
	EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/7/ports/46003/quota", "0.001"));
	EXPECT_CFS("0.001", 7, 46003, "quota");

	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/7/ports/46003"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/7/ports/46004"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/7"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/6/ports/46001"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/6"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/5/ports/46001"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/5"));
	EXPECT_EQ(-ENOENT, group_del(5));
}

/* The /proc/net/skex_groups row of @gid (newline stripped), or -1. */
static int proc_group_row(unsigned int gid, char *row, size_t len)
{
	char line[256], want[16];
	FILE *f = fopen("/proc/net/skex_groups", "r");
	int ret = -1;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%u ", gid);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(row, len, "%s", line);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

TEST_F(groups, burst_input)
{
	static const char *const bad[] = {
		"abc", "-1", "+5", " 5", "5x", "1.5", "\n", "0x10", "5 ",
	};
	static const char *const range[] = { "0", "65536", "4294967296" };
	char path[128], row[256];
	unsigned int i;
	uint16_t gid;

	/* the seed's front makes the default, and an edit keeps what is set */
	ASSERT_EQ(0, group_add1(SKEX_ACCEPT_ABSOLUTE, 46011, 10, 0, &gid));
	EXPECT_CFS("1", gid, 46011, "burst");
	cfs_path(path, sizeof(path), gid, 46011, "burst");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, skex_write_file(path, bad[i]))
			TH_LOG("burst '%s'", bad[i]);
	for (i = 0; i < sizeof(range) / sizeof(range[0]); i++)
		EXPECT_EQ(-ERANGE, skex_write_file(path, range[i]))
			TH_LOG("burst '%s'", range[i]);
	EXPECT_EQ(-EINVAL, skex_write_file_len(path, "5\0junk", 6));
	EXPECT_CFS("1", gid, 46011, "burst");
	EXPECT_EQ(0, skex_write_file(path, "65535"));
	EXPECT_CFS("65535", gid, 46011, "burst");
	EXPECT_EQ(0, skex_write_file(path, "5\n"));
	EXPECT_CFS("5", gid, 46011, "burst");
	ASSERT_EQ(0, proc_group_row(gid, row, sizeof(row)));
	EXPECT_STREQ("accept_rate 46011 10 0 0 5", strchr(row, ' ') + 1);
	ASSERT_EQ(0, group_edit1(gid, SKEX_ACCEPT_ABSOLUTE, 46011, 20, 0));
	EXPECT_CFS("20", gid, 46011, "quota");
	EXPECT_CFS("5", gid, 46011, "burst");	/* kept by a sockopt edit */
	ASSERT_EQ(0, group_edit1(gid, SKEX_ACCEPT_ABSOLUTE, 46012, 20, 0));
	EXPECT_CFS("1", gid, 46012, "burst");	/* a new port */
	ASSERT_EQ(0, group_edit1(gid, SKEX_OUTPUT_ABSOLUTE, 46012, 1000, 0));
	EXPECT_CFS("", gid, 46012, "burst");	/* output_rate has none */
	cfs_path(path, sizeof(path), gid, 46012, "burst");
	EXPECT_EQ(-EINVAL, skex_write_file(path, "1"));
	ASSERT_EQ(0, proc_group_row(gid, row, sizeof(row)));
	EXPECT_STREQ("output_rate 46012 1000 0 0 -", strchr(row, ' ') + 1);
	ASSERT_EQ(0, group_del(gid));

	/* configfs: 1 from mkdir on, settable before the quota */
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/9"));
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/9/type", "accept_rate"));
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/9/ports/46013"));
	EXPECT_CFS("1", 9, 46013, "burst");
	EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/9/ports/46013/burst", "3"));
	EXPECT_CFS("3", 9, 46013, "burst");
	EXPECT_CFS("", 9, 46013, "quota");
	EXPECT_EQ(0, skex_write_file(CFS_GROUPS "/9/ports/46013/quota", "2.5"));
	EXPECT_CFS("3", 9, 46013, "burst");
	ASSERT_EQ(0, proc_group_row(9, row, sizeof(row)));
	EXPECT_STREQ("9 accept_rate 46013 2.5 0 0 3", row);
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/9/ports/46013"));

	/* accept_ratio has no burst */
	ASSERT_EQ(0, skex_write_file(CFS_GROUPS "/9/type", "accept_ratio"));
	ASSERT_EQ(0, cfs_mkdir(CFS_GROUPS "/9/ports/46013"));
	EXPECT_CFS("", 9, 46013, "burst");
	EXPECT_EQ(-EINVAL, skex_write_file(CFS_GROUPS "/9/ports/46013/burst", "2"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/9/ports/46013"));
	EXPECT_EQ(0, cfs_rmdir(CFS_GROUPS "/9"));
}

TEST_HARNESS_MAIN
