# SPDX-License-Identifier: GPL-2.0
#
# skex top-level Makefile. See README.md.
#
#   make              build kernel/skex.ko in place for KDIR (default: the
#                     newest supported kernel installed, scripts/kernels.sh)
#   make modules-all  build/KVER/kernel/skex.ko for every supported kernel
#   make check        the kselftest suite in QEMU on every supported kernel
#   make demo         a narrated tour in a QEMU VM
#   make bench        benchmarks (bench-smoke: a quick run of them)
#   make style        checkpatch --strict on kernel/ and uapi/
#   make shell        an interactive shell in a VM (KVER=..., MODULE=...)
#   make deps         install what is missing
#   make clean

KVER ?= $(shell scripts/kernels.sh newest 2>/dev/null)
KDIR ?= /lib/modules/$(KVER)/build
CHECKPATCH := build/linux-src/scripts/checkpatch.pl
CHECKPATCH_FLAGS := --strict --no-tree --terse -f
STYLE_FILES = $(filter-out %.mod.c kernel/compat.h,$(wildcard kernel/*.[ch] uapi/linux/*.h))
# compat.h is the one place that compares kernel versions (SPEC, STYLE.md):
# only there are LINUX_VERSION_CODE tests (and their operand order) allowed.
COMPAT_IGNORE := --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON

all:
	@test -e "$(KDIR)/Makefile" || { echo "no kernel headers in '$(KDIR)': run make deps, or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kernel modules

modules-all:
	@set -e; for k in $$(scripts/kernels.sh); do scripts/build.sh $$k; done

deps:
	scripts/deps.sh

check:
	scripts/check.sh

check-debug:
	scripts/check-debug.sh

demo:
	scripts/demo.sh

bench:
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; \
	else echo "bench: not there yet (scripts/bench.sh)"; fi

bench-smoke:
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh --smoke; \
	else echo "bench-smoke: not there yet (scripts/bench.sh)"; fi

style: deps
	@rc=0; \
	$(CHECKPATCH) $(CHECKPATCH_FLAGS) $(STYLE_FILES) || rc=1; \
	if [ -f kernel/compat.h ]; then \
		$(CHECKPATCH) $(CHECKPATCH_FLAGS) $(COMPAT_IGNORE) kernel/compat.h || rc=1; \
	fi; \
	if [ $$rc = 0 ]; then echo "style: clean"; else echo "style: checkpatch found problems" >&2; fi; \
	exit $$rc

shell:
	scripts/vm.sh --kernel $(KVER) $(if $(MODULE),--module $(MODULE))

# Not kbuild's clean: it needs a configured tree and Kbuild's own checks to pass.
clean:
	[ ! -d kernel ] || (cd kernel && rm -f *.o *.ko *.mod *.mod.c .*.cmd .*.o \
		Module.symvers modules.order && rm -rf .tmp_versions)
	rm -rf build

.PHONY: all modules-all deps check check-debug demo bench bench-smoke style shell clean
