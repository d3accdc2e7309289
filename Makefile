# SPDX-License-Identifier: GPL-2.0
#
# skex top-level Makefile. See README.md and docs/deploy.md.
#
#   make              build kernel/skex.ko in place for the running kernel
#                     (or KVER=..., or KDIR=path/to/headers)
#   make install      that, then install it into /lib/modules/KVER/updates/,
#                     depmod, and the CLI (tools/skexctl) when it is there
#   make deb          build/deb/skex-dkms_VERSION_all.deb (+ skex-tools)
#   make modules-all  build/KVER/kernel/skex.ko for every supported kernel
#   make check        the kselftest suite in QEMU on every supported kernel
#                     (T=test[,test] K=6.1|6.12|KVER: one test, one kernel)
#   make demo         a narrated tour in a QEMU VM
#   make bench        benchmarks (bench-smoke: a quick run of them)
#   make profile      where the hooks' cost goes (perf in the bench VMs)
#   make style        checkpatch --strict on kernel/ and uapi/
#   make shell        an interactive shell in a VM (KVER=..., MODULE=...)
#   make deps         install what is missing, fetch the test kernels
#   make clean

VERSION := $(shell cat VERSION)
# The kernel to build for: KVER, else the one KDIR's headers are for, else
# the running one. KDIR: its headers (default /lib/modules/KVER/build).
ifeq ($(origin KVER),undefined)
ifeq ($(origin KDIR),undefined)
KVER := $(shell uname -r)
else
KVER := $(patsubst linux-headers-%,%,$(notdir $(realpath $(KDIR))))
endif
endif
KDIR ?= /lib/modules/$(KVER)/build
# modules_install and depmod under a staging root (packaging): INSTALL_MOD_PATH
INSTALL_MOD_PATH ?=
# where kbuild builds the module (a tree laid out as this one: kernel/ beside
# uapi/ and VERSION; e.g. build/KVER/kernel, made by scripts/build.sh)
MODDIR ?= $(CURDIR)/kernel
DEPMOD ?= depmod
CHECKPATCH := build/linux-src/scripts/checkpatch.pl
CHECKPATCH_FLAGS := --strict --no-tree --terse -f
STYLE_FILES = $(filter-out %.mod.c kernel/compat.h,$(wildcard kernel/*.[ch] uapi/linux/*.h))
# compat.h is the one place that compares kernel versions (SPEC, STYLE.md):
# only there are LINUX_VERSION_CODE tests (and their operand order) allowed.
COMPAT_IGNORE := --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON

all: kdir-check
	$(MAKE) -C $(KDIR) M=$(MODDIR) modules

# Refuse a kernel skex does not support, or headers that are not there, and
# say which supported kernels have headers on this machine.
kdir-check:
	@case "$(KVER)" in 6.1.*|6.12.*) ok=1 ;; *) ok=0 ;; esac; \
	if [ $$ok = 1 ] && [ -e "$(KDIR)/Makefile" ]; then exit 0; fi; \
	if [ $$ok = 0 ]; then \
		echo "skex: kernel $(KVER) is not supported (Debian 12's 6.1 and 6.12 are)." >&2; \
	else \
		echo "skex: no headers for $(KVER) in $(KDIR) (apt-get install linux-headers-$(KVER))." >&2; \
	fi; \
	inst=$$(scripts/kernels.sh installed | tr '\n' ' '); \
	if [ -n "$$inst" ]; then \
		echo "skex: supported kernels with headers here: $$inst" >&2; \
		echo "skex: pick one: make KVER=<one of them> [install], or make KDIR=<headers dir>" >&2; \
	else \
		echo "skex: no supported kernel has headers here; install linux-headers-amd64 (6.1)" >&2; \
		echo "skex: or linux-headers-6.12-amd64, or set KDIR=<headers dir> KVER=<release>" >&2; \
	fi; \
	exit 1

# modules_install puts skex.ko under /lib/modules/KVER/updates/ (ahead of
# kernel/ for modprobe), stripped and unsigned (Debian's headers carry no
# signing key; docs/deploy.md: Secure Boot), then depmod (kbuild skips it
# without System.map).
install: all
	$(MAKE) -C $(KDIR) M=$(MODDIR) INSTALL_MOD_DIR=updates INSTALL_MOD_STRIP=1 \
		CONFIG_MODULE_SIG_ALL= \
		$(if $(INSTALL_MOD_PATH),INSTALL_MOD_PATH=$(INSTALL_MOD_PATH)) modules_install
	$(DEPMOD) $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(KVER)
	@if [ -f tools/skexctl/Makefile ]; then \
		$(MAKE) -C tools/skexctl install; \
	fi

# The installed module of KVER, as `make install` put it.
uninstall:
	rm -f $(INSTALL_MOD_PATH)/lib/modules/$(KVER)/updates/skex.ko*
	$(DEPMOD) $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(KVER)

deb:
	scripts/mkdeb.sh

modules-all:
	@set -e; for k in $$(scripts/kernels.sh); do scripts/build.sh $$k; done

deps:
	scripts/deps.sh

# T=name[,name...]: only these tests (tools/testing/selftests/skex/tests.list;
# name:case runs one TEST_F case of a harness binary); K=6.1, 6.12 or a KVER.
check:
	scripts/check.sh $(if $(K),--kernel $(K)) $(subst $(comma), ,$(T))
comma := ,

# The Debian package and make install, inside a VM of each kernel (DKMS
# compiles the module under TCG: too slow for every make check).
check-deb:
	scripts/check.sh $(if $(K),--kernel $(K)) deb_install

check-debug:
	scripts/check-debug.sh $(subst $(comma), ,$(T))

demo:
	scripts/demo.sh

bench:
	@if [ -x scripts/bench.sh ]; then scripts/bench.sh; \
	else echo "bench: not there yet (scripts/bench.sh)"; fi

profile:
	@scripts/profile.sh

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
	scripts/vm.sh $(if $(filter command line environment,$(origin KVER)),--kernel $(KVER)) \
		$(if $(MODULE),--module $(MODULE))

# Not kbuild's clean: it needs a configured tree and Kbuild's own checks to pass.
clean:
	[ ! -d kernel ] || (cd kernel && rm -f *.o *.ko *.mod *.mod.c .*.cmd .*.o \
		Module.symvers modules.order && rm -rf .tmp_versions)
	rm -rf build

.PHONY: all kdir-check install uninstall deb modules-all deps check check-deb check-debug demo bench profile bench-smoke style shell clean
