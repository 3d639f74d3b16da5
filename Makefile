# relayd: GOST relay protocol proxy with an eBPF sockmap fast path.
#
#   make            build build/relayd and build/relayctl
#   make run        install missing Debian packages, build, run on configs/relayd.json
#   make test       install, build, run unit + end-to-end tests, then again under ASan+UBSan
#   make bench      throughput / latency / handshake / memory benchmark (tools/bench)
#   make deps       install the Debian packages the build and the tests need
#   make SAN=1      sanitizer build into build-san/
#   V=1             show the commands
.DEFAULT_GOAL := all

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PYTHON   ?= /usr/bin/python3
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

ifeq ($(SAN),1)
BUILD    ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1 -g
else
BUILD    ?= build
SANFLAGS :=
OPT      := -O2 -g
endif

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
CFLAGS   += $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-missing-field-initializers -pthread $(SANFLAGS) \
            -Iinclude -Iuser -I$(BUILD)/gen -DRELAYD_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS  += -pthread $(SANFLAGS)
LDLIBS   := -lbpf -lelf -lz -ljansson -lssl -lcrypto -lm
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude \
              -I/usr/include/$(MULTIARCH)

ifneq ($(V),1)
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2);
else
Q :=
msg =
endif

USER_SRCS := $(shell find user -name '*.c' | sort)
LIB_SRCS  := $(filter-out user/main.c,$(USER_SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
SKEL      := $(BUILD)/gen/relayd.skel.h

all: $(BUILD)/relayd $(BUILD)/relayctl

$(BUILD)/bpf/relayd.bpf.o: bpf/relayd.bpf.c $(wildcard bpf/*.h include/relayd/*.h)
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(SKEL): $(BUILD)/bpf/relayd.bpf.o
	$(call msg,SKEL,$@)
	@mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name relayd_bpf > $@.tmp && mv $@.tmp $@

# only the fast-path loader includes the generated skeleton
$(filter $(BUILD)/user/fastpath/%,$(LIB_OBJS)): | $(SKEL)

$(BUILD)/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/librelayd.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/relayd: $(BUILD)/user/main.o $(BUILD)/librelayd.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/relayctl: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/*.c)) $(BUILD)/librelayd.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/librelayd.a
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm

tests-build: all $(UNIT_BINS) $(TOOL_BINS)

# ---- packages -------------------------------------------------------------
# Build: compiler, BPF toolchain, libraries. Tests: real peers (curl, iperf3, socat, dig,
# dnsmasq, haproxy for the benchmark) and Debian's python3 with pytest.
DEB_PKGS := gcc make clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool libjansson-dev \
            libssl-dev pkg-config git iproute2 curl iperf3 socat haproxy dnsutils dnsmasq-base \
            python3 python3-pytest openssl procps util-linux python3-websockets \
            prometheus nodejs python3-yaml
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root to install packages" >&2; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends $$missing || \
		{ apt-get update && apt-get install -y --no-install-recommends $$missing; }; \
	fi

run: deps all
	$(BUILD)/relayd -C configs/relayd.json

# ---- Kubernetes manifests ---------------------------------------------------
# The validator (Kubernetes OpenAPI schemas compiled by kubernetes-models) comes from the npm
# registry into .tools/k8s, which git ignores.
K8S_TOOLS := .tools/k8s
$(K8S_TOOLS)/node_modules/.stamp: tools/k8s/package.json
	mkdir -p $(K8S_TOOLS) && cp tools/k8s/package.json $(K8S_TOOLS)/
	cd $(K8S_TOOLS) && npm install --no-audit --no-fund --loglevel=error
	touch $@
k8s-tools: $(K8S_TOOLS)/node_modules/.stamp
k8s-validate: k8s-tools
	node tools/k8s/validate.mjs $(K8S_TOOLS) configs/k8s/*.yaml

# ---- install --------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=staging]: binaries, man pages, the systemd
# unit (its paths rewritten to PREFIX), and /etc/relayd/relayd.json unless one exists.
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/relayd
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
install: all
	install -Dm755 $(BUILD)/relayd $(DESTDIR)$(SBINDIR)/relayd
	install -Dm755 $(BUILD)/relayctl $(DESTDIR)$(BINDIR)/relayctl
	install -Dm644 man/relayd.8 $(DESTDIR)$(MANDIR)/man8/relayd.8
	install -Dm644 man/relayctl.8 $(DESTDIR)$(MANDIR)/man8/relayctl.8
	install -Dm644 configs/relayd.json $(DESTDIR)$(DOCDIR)/relayd.json.example
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' -e 's|/usr/local/bin/|$(BINDIR)/|g' \
	    -e 's|/etc/relayd/|$(SYSCONFDIR)/relayd/|g' configs/systemd/relayd.service \
	    > $(DESTDIR)$(UNITDIR)/relayd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/relayd.service
	test -e $(DESTDIR)$(SYSCONFDIR)/relayd/relayd.json || \
	    install -Dm640 configs/relayd.json $(DESTDIR)$(SYSCONFDIR)/relayd/relayd.json

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/relayd $(DESTDIR)$(BINDIR)/relayctl \
	      $(DESTDIR)$(MANDIR)/man8/relayd.8 $(DESTDIR)$(MANDIR)/man8/relayctl.8 \
	      $(DESTDIR)$(DOCDIR)/relayd.json.example $(DESTDIR)$(UNITDIR)/relayd.service

# ---- tests ----------------------------------------------------------------
unit: tests-build
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

e2e: tests-build k8s-tools
	RELAYD_BUILD=$(BUILD) $(PYTHON) -m pytest -q tests/e2e $(PYTEST_ARGS)

check: unit e2e

# The sanitizer pass runs the same tests against build-san/ (smaller transfers: ASan is slow).
test: deps
	$(MAKE) all tests-build
	$(MAKE) check
	$(MAKE) SAN=1 all tests-build
	RELAYD_SAN=1 $(MAKE) SAN=1 check

bench: deps all tests-build
	RELAYD_BUILD=$(BUILD) $(PYTHON) tools/bench $(BENCH_ARGS)

clean:
	rm -rf build build-san

.PHONY: all deps run unit e2e check test bench clean tests-build install uninstall k8s-tools k8s-validate
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
