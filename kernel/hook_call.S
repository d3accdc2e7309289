/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The skex authors.
 *
 * The originals of the wrapped functions, called past their ftrace call
 * site, so that a wrapped call goes through ftrace once (hook.c).
 *
 * skex_orig_FN has FN's prototype: it jumps to skex_body_FN, the address
 * right after FN's call to __fentry__, which hook.c sets before the hooks
 * are registered. The target is not a function start: on a kernel with
 * X86_KERNEL_IBT an indirect call or jump there would fault (no ENDBR), so
 * the jump is a return, built like the kernel's retpoline thunks: the call
 * pushes a speculation trap, the trap's slot is overwritten with the
 * target, and RET (the kernel's return thunk, if it has one) goes there
 * with the caller's return address below it, as if the caller had called
 * FN's body itself.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <linux/version.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

.macro SKEX_TRAP_HINT
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	UNWIND_HINT_EMPTY
#else
	UNWIND_HINT_UNDEFINED
#endif
.endm

.macro SKEX_ORIG fn
SYM_FUNC_START(skex_orig_\fn)
	movq	skex_body_\fn(%rip), %r11
	ANNOTATE_INTRA_FUNCTION_CALL
	call	.Lskex_jump_\@
.Lskex_trap_\@:
	SKEX_TRAP_HINT
	pause
	lfence
	jmp	.Lskex_trap_\@
.Lskex_jump_\@:
	movq	%r11, (%rsp)
	UNWIND_HINT_FUNC
	RET
SYM_FUNC_END(skex_orig_\fn)
.endm

	.text
SKEX_ORIG inet_csk_accept
SKEX_ORIG tcp_sendmsg
SKEX_ORIG tcp_recvmsg
SKEX_ORIG tcp_poll
SKEX_ORIG tcp_setsockopt
SKEX_ORIG tcp_getsockopt
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
SKEX_ORIG tcp_sendpage
#endif
