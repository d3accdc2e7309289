/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * skex connection classification and forwarding: setsockopt() front.
 *
 * All calls are made on any TCP socket at level IPPROTO_TCP and need
 * CAP_NET_ADMIN in the socket's network namespace. Every call takes a
 * struct tcp_fw_user; optlen must be at least sizeof(struct tcp_fw_user).
 *
 *   TCP_FW_ADD_RULE      create the rule (type, port, def_port); it is
 *                        enabled at once and owns a listener on port
 *   TCP_FW_ADD_BRANCH    add the branch in the union member of type
 *   TCP_FW_DEL_BRANCH    delete the branch equal to the union member
 *   TCP_FW_FLUSH_BRANCH  delete every branch of the rule
 *   TCP_FW_EDIT_RULE     set a new def_port
 *   TCP_FW_DEL_RULE      delete the rule; port 0 deletes every rule of type
 *
 * The seed's misspelt TCP_FW_EIDT_RULE is kept as an alias.
 *
 * Added by skex (not in the seed), each with its own structure, optlen at
 * least its size; every field is checked, reserved ones must be 0:
 *
 *   TCP_FW_ADD_BRANCH6   struct tcp_fw_addr6_user: an address branch
 *                        with an IPv6 (or v4-mapped IPv4) source and mask
 *   TCP_FW_DEL_BRANCH6   struct tcp_fw_addr6_user: delete the branch
 *                        equal to it
 *   TCP_FW_REPLACE_RULE  struct tcp_fw_replace_user: replace a rule's
 *                        type, default port, content limits and all of
 *                        its branches (struct tcp_fw_branch_user) in one
 *                        step; its listener and counters stay
 */
#ifndef _UAPI_LINUX_TCP_FW_USER_H
#define _UAPI_LINUX_TCP_FW_USER_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/in.h>
#include <linux/in6.h>
#else
#include <netinet/in.h>
#endif

/* Rule types */
#define TCP_DICE_FW		1
#define TCP_CONTENT_FW		2
#define TCP_ADDR_FW		3

/* Longest content pattern, in bytes */
#define TCP_FW_PATTERN_MAX	256

/* setsockopt(IPPROTO_TCP) option names; a contiguous range */
#define TCP_FW_BASE_CTL		0x5300
#define TCP_FW_ADD_RULE		(TCP_FW_BASE_CTL + 0)
#define TCP_FW_ADD_BRANCH	(TCP_FW_BASE_CTL + 1)
#define TCP_FW_DEL_BRANCH	(TCP_FW_BASE_CTL + 2)
#define TCP_FW_FLUSH_BRANCH	(TCP_FW_BASE_CTL + 3)
#define TCP_FW_EDIT_RULE	(TCP_FW_BASE_CTL + 4)
#define TCP_FW_DEL_RULE		(TCP_FW_BASE_CTL + 5)
#define TCP_FW_ADD_BRANCH6	(TCP_FW_BASE_CTL + 6)
#define TCP_FW_DEL_BRANCH6	(TCP_FW_BASE_CTL + 7)
#define TCP_FW_REPLACE_RULE	(TCP_FW_BASE_CTL + 8)
#define TCP_FW_MAX		TCP_FW_REPLACE_RULE
#define TCP_FW_EIDT_RULE	TCP_FW_EDIT_RULE

/* Longest branch name (struct tcp_fw_branch_user), with its NUL */
#define TCP_FW_NAME_MAX		32
/* Most branches of a rule */
#define TCP_FW_BRANCHES_MAX	4096

/* struct tcp_fw_replace_user.until: a content rule's end of first message */
#define TCP_FW_UNTIL_PUSH	1	/* the segment with PSH that ends it */
#define TCP_FW_UNTIL_WINDOW	2	/* none: window, FIN or timeout only */
#define TCP_FW_UNTIL_DELIM	3	/* the first occurrence of delim */

/* struct tcp_fw_branch_user.flags */
#define TCP_FW_BRANCH_ANCHORED	0x1	/* content: the pattern starts at offset */
#define TCP_FW_BRANCH_F_ALL	TCP_FW_BRANCH_ANCHORED

struct content_fw_branch_user {
	__u16 redir_port;	/* outgoing port, host byte order */
	__u16 target;		/* reserved, must be 0 */
	__u16 ptn_len;		/* pattern length, 1..TCP_FW_PATTERN_MAX */
	char *pattern;		/* bytes to find in the client's stream */
};

struct dice_fw_branch_user {
	__u16 redir_port;	/* outgoing port, host byte order */
	__u16 redir_chance;	/* percentage, all branches sum <= 100 */
};

struct address_fw_branch_user {
	__u16 redir_port;	/* outgoing port, host byte order */
	struct in_addr src;	/* source address, network byte order */
	struct in_addr src_mask; /* subnet mask, network byte order */
};

struct tcp_fw_user {
	__u16 type;		/* TCP_DICE_FW, TCP_CONTENT_FW or TCP_ADDR_FW */
	__u16 port;		/* incoming port, host byte order */
	__u16 def_port;		/* default outgoing port, host byte order */
	union {
		struct content_fw_branch_user cfb_u;
		struct dice_fw_branch_user dfb_u;
		struct address_fw_branch_user afb_u;
	} u;
};

/*
 * TCP_FW_ADD_BRANCH6, TCP_FW_DEL_BRANCH6: an address branch of rule @port
 * (type TCP_ADDR_FW). A v4-mapped source (::ffff:a.b.c.d) with a mask of
 * at least 96 bits makes an IPv4 branch (mask the last 32 bits); any other
 * source an IPv6 one. The mask must be a prefix. 40 bytes.
 */
struct tcp_fw_addr6_user {
	__u16 type;		/* TCP_ADDR_FW */
	__u16 port;		/* incoming port, host byte order */
	__u16 redir_port;	/* outgoing port, host byte order */
	__u16 reserved;		/* must be 0 */
	struct in6_addr src;	/* source address, network byte order */
	struct in6_addr src_mask; /* prefix mask, network byte order */
};

/*
 * One branch of TCP_FW_REPLACE_RULE; the fields of the rule's new type are
 * used, the others must be 0. 88 bytes.
 */
struct tcp_fw_branch_user {
	char name[TCP_FW_NAME_MAX]; /* NUL-terminated, zero-padded; "": br<N> */
	__u16 redir_port;	/* outgoing port, host byte order */
	__u16 chance;		/* dice: percentage, all sum <= 100 */
	__u16 ptn_len;		/* content: 1..TCP_FW_PATTERN_MAX */
	__u16 flags;		/* content: TCP_FW_BRANCH_ANCHORED */
	__u32 offset;		/* content, anchored: 0..65535 */
	__u32 reserved;		/* must be 0 */
	__aligned_u64 pattern;	/* content: user pointer to ptn_len bytes */
	struct in6_addr src;	/* address: IPv6 or v4-mapped, as above */
	struct in6_addr src_mask;
};

/*
 * TCP_FW_REPLACE_RULE: rule @port (any type) becomes what this says, in
 * one step. A branch whose name the rule has keeps its counter; the rule
 * keeps its listener, enable state and counters. 40 bytes.
 */
struct tcp_fw_replace_user {
	__u16 type;		/* the new type: TCP_DICE_FW .. TCP_ADDR_FW */
	__u16 port;		/* incoming port of an existing rule */
	__u16 def_port;		/* default outgoing port */
	__u16 until;		/* content: TCP_FW_UNTIL_*, else 0 */
	__u32 timeout_ms;	/* content: 1..3600000, 0: 1000; else 0 */
	__u32 window;		/* content: 1..65536, 0: 2048; else 0 */
	__u16 delim_len;	/* TCP_FW_UNTIL_DELIM: 1..TCP_FW_PATTERN_MAX */
	__u16 nbranches;	/* 0..TCP_FW_BRANCHES_MAX */
	__u32 reserved;		/* must be 0 */
	__aligned_u64 delim;	/* user pointer to delim_len bytes */
	__aligned_u64 branches;	/* user pointer to nbranches branches */
};

#endif /* _UAPI_LINUX_TCP_FW_USER_H */
