# ClearML Agent in C — plain Makefile.
#   make                 build build/clearml-agent, build/clearml-server-lite, build/clearml-task,
#                        build/clearml-agent-runner (static: mounted into docker-mode containers)
#   make test            install what is missing, build, run unit (cmocka) + end-to-end (pytest) tests
#   make SANITIZE=1 test the same under AddressSanitizer + UBSan (objects in build-san/)
#   make demo            the main job: server-lite + agent + a sample task
#   make install PREFIX=/usr/local
#   make fuzz            run the fuzz targets for a bounded time (clang + libFuzzer)
#
# Sources are found by directory, one folder per program role: src/common/*.c go into every
# program; clearml-agent is src/agent (command line, main()) + src/supervisor (daemon, execute,
# slots, log shipping, abort: the one role that talks to the server) + src/runner (builds a task's
# environment and becomes the task; no API, no credentials); src/server is clearml-server-lite and
# src/task clearml-task, each with its main() in main.c. Unit tests link the program libraries
# (everything but main.c), so any module can be tested without a process.

CC       ?= cc
PREFIX   ?= /usr/local
SANITIZE ?= 0
PYTHON_TEST ?= /usr/bin/python3

ifeq ($(SANITIZE),1)
BUILD    ?= build-san
SANFLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT       = -O1 -g
else
BUILD    ?= build
SANFLAGS  =
OPT       = -O2 -g
endif

WARN = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wpointer-arith \
       -Wcast-qual -Wsign-compare -Wformat=2 -Wno-format-nonliteral -Wvla -Wimplicit-fallthrough
CPPFLAGS += -D_GNU_SOURCE -Isrc/common -Isrc
CFLAGS   += -std=c17 $(OPT) $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 -pthread $(SANFLAGS) -MMD -MP
LDFLAGS  += -pthread $(SANFLAGS)
# libcurl is loaded on first use (src/common/curl_lazy.c) and the agent's few libcrypto calls
# likewise (src/agent/crypto_lazy.c): start-up no longer relocates ~30 libraries it rarely needs.
LIBS_COMMON = -Wl,--as-needed -ljansson -lcrypto -lm -ldl
LIBS_AGENT  = -Wl,--as-needed -ljansson -lm -ldl
LIBS_SERVER = $(LIBS_COMMON) -lmicrohttpd -lsqlite3
LIBS_TEST   = -lcmocka $(LIBS_SERVER) -ldl

COMMON_SRC = $(wildcard src/common/*.c)
AGENT_SRC  = $(filter-out src/agent/main.c,$(wildcard src/agent/*.c)) $(wildcard src/supervisor/*.c) \
             $(filter-out src/runner/runner_main.c,$(wildcard src/runner/*.c))
# The static runner for docker mode: src/runner + the config/util/process parts of src/common, no
# libcurl, no API client (mounted read-only into any image: glibc, musl or busybox). Built without
# sanitizers (they do not link statically), from its own objects.
RUNNER_SRC = $(wildcard src/runner/*.c) src/common/util.c src/common/config.c \
             src/common/config_defaults.c src/common/hocon.c src/common/proc.c \
             src/common/path_confine.c
SERVER_SRC = $(filter-out src/server/main.c,$(wildcard src/server/*.c))
TASK_SRC   = $(filter-out src/task/main.c,$(wildcard src/task/*.c))
UNIT_SRC   = $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_LIB = $(BUILD)/libcommon.a
AGENT_LIB  = $(BUILD)/libagent.a
SERVER_LIB = $(BUILD)/libserver.a
TASK_LIB   = $(BUILD)/libtask.a

PROGRAMS = $(BUILD)/clearml-agent $(BUILD)/clearml-server-lite $(BUILD)/clearml-task \
           $(BUILD)/clearml-agent-runner
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# Stand-in NVML library for the GPU monitoring tests (no NVIDIA GPU exists on build machines).
FAKE_NVML = $(BUILD)/tests/libfake-nvml.so

all: $(PROGRAMS) $(BUILD)/agent-bundle/bin/clearml-agent

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	@rm -f $@; ar rcs $@ $^
$(AGENT_LIB): $(call obj,$(AGENT_SRC))
	@rm -f $@; ar rcs $@ $^
$(SERVER_LIB): $(call obj,$(SERVER_SRC))
	@rm -f $@; ar rcs $@ $^
$(TASK_LIB): $(call obj,$(TASK_SRC))
	@rm -f $@; ar rcs $@ $^

$(BUILD)/clearml-agent: $(call obj,src/agent/main.c) $(AGENT_LIB) $(COMMON_LIB)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_AGENT)
RUNNER_CFLAGS = -std=c17 -O2 -g $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 -pthread -MMD -MP
$(BUILD)/obj-static/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (static runner)"
	@$(CC) $(CPPFLAGS) $(RUNNER_CFLAGS) -c $< -o $@
$(BUILD)/clearml-agent-runner: $(patsubst %.c,$(BUILD)/obj-static/%.o,$(RUNNER_SRC))
	@echo "  LD      $@ (static)"
	@$(CC) -static -pthread -o $@ $^ -ljansson -lcrypto -lm 2>$@.ld.log || { cat $@.ld.log; rm -f $@; exit 1; }
	@grep -v -e 'statically linked applications requires at runtime' -e ': in function' $@.ld.log || true
	@rm -f $@.ld.log
# `build --docker`: the agent for images (supervisor role at the image's entry point), linked
# with its loader and libraries under /.clearml_agent/lib (DT_RPATH, so the libraries libcurl
# needs when dlopened are found there too), bundled with the static runner and those libraries.
BUNDLE_DIR = /.clearml_agent/lib
$(BUILD)/clearml-agent-portable: $(call obj,src/agent/main.c) $(AGENT_LIB) $(COMMON_LIB) $(BUILD)/clearml-agent
	@echo "  LD      $@ (for images)"
	@interp=$$(readelf -l $(BUILD)/clearml-agent | sed -n 's/.*interpreter: \(.*\)]/\1/p'); \
	  $(CC) $(LDFLAGS) -Wl,--dynamic-linker=$(BUNDLE_DIR)/$$(basename $$interp) -Wl,--disable-new-dtags \
	    -Wl,-rpath,$(BUNDLE_DIR) -o $@ $(call obj,src/agent/main.c) $(AGENT_LIB) $(COMMON_LIB) $(LIBS_AGENT)
$(BUILD)/agent-bundle/bin/clearml-agent: $(BUILD)/clearml-agent-portable $(BUILD)/clearml-agent-runner scripts/agent-bundle.sh
	@echo "  BUNDLE  $(BUILD)/agent-bundle"
	@scripts/agent-bundle.sh $(BUILD)/agent-bundle $(BUILD)/clearml-agent-portable $(BUILD)/clearml-agent-runner \
	  $(BUILD)/clearml-agent
$(BUILD)/clearml-server-lite: $(call obj,src/server/main.c) $(SERVER_LIB) $(COMMON_LIB)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_SERVER)
$(BUILD)/clearml-task: $(call obj,src/task/main.c) $(TASK_LIB) $(COMMON_LIB)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LIBS_COMMON)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(AGENT_LIB) $(SERVER_LIB) $(TASK_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $< $(AGENT_LIB) $(SERVER_LIB) $(TASK_LIB) $(COMMON_LIB) $(LIBS_TEST)

deps:
	@scripts/install-deps.sh
	@scripts/install-python-tools.sh
	@scripts/containers-up.sh

$(FAKE_NVML): tests/unit/fake_nvml.c
	@mkdir -p $(dir $@)
	@$(CC) -std=c17 -O1 -g -fPIC -shared -Wall -Wextra -Werror $(SANFLAGS) -o $@ $<

unit: $(UNIT_BINS) $(FAKE_NVML)
	@fail=0; for t in $(UNIT_BINS); do \
	  echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t || fail=1; done; \
	  if [ $$fail -ne 0 ]; then echo "unit tests FAILED"; exit 1; fi

e2e: all
	CLEARML_BUILD_DIR=$(abspath $(BUILD)) $(PYTHON_TEST) -m pytest -q tests/e2e $(PYTEST_ARGS)

test: deps
	@scripts/check-banned.sh
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(FAKE_NVML)
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(abspath $(BUILD))

bench: deps
	@$(MAKE) --no-print-directory all
	@for b in bench/*.sh bench/*.py; do [ -f "$$b" ] || continue; echo "== $$b"; \
	  CLEARML_BUILD_DIR=$(abspath $(BUILD)) $$( case $$b in *.py) echo $(PYTHON_TEST);; *) echo bash;; esac ) $$b || exit 1; done

FUZZ_SEC ?= 60
fuzz:
	@scripts/fuzz.sh $(FUZZ_SEC)

# The web app of clearml-server-lite: static files (no build step) and the charting library from
# Debian's libjs-dygraphs, found next to the program at run time (share/clearml-server-lite/web).
WEB_DIR = $(DESTDIR)$(PREFIX)/share/clearml-server-lite/web
DYGRAPHS = /usr/share/javascript/dygraphs
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/lib/clearml-agent
	rm -rf $(DESTDIR)$(PREFIX)/lib/clearml-agent/bundle
	cp -a $(BUILD)/agent-bundle $(DESTDIR)$(PREFIX)/lib/clearml-agent/bundle
	install -d $(WEB_DIR)/js $(WEB_DIR)/vendor
	install -m 0644 web/*.html web/*.css web/*.svg $(WEB_DIR)/
	install -m 0644 web/js/*.js $(WEB_DIR)/js/
	install -m 0644 $(DYGRAPHS)/dygraph.min.js $(DYGRAPHS)/dygraph.min.css $(WEB_DIR)/vendor/

clean:
	rm -rf build build-san

.PHONY: all deps unit e2e test demo bench fuzz install clean
.SECONDARY:

-include $(shell find $(BUILD)/obj $(BUILD)/obj-static -name '*.d' 2>/dev/null)
