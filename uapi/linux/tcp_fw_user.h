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
 */
#ifndef _UAPI_LINUX_TCP_FW_USER_H
#define _UAPI_LINUX_TCP_FW_USER_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/in.h>
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
#define TCP_FW_MAX		TCP_FW_DEL_RULE
#define TCP_FW_EIDT_RULE	TCP_FW_EDIT_RULE

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

#endif /* _UAPI_LINUX_TCP_FW_USER_H */
