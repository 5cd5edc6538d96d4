# libbg - reverse-mode autodiff and Boltzmann generators in C11.
#
#   make              library build/libbg.a, programs build/bin/*, test runner
#   make run          the main job: the double-well experiment end to end
#   make test         build and run every test suite (installs Check if missing)
#   make sanitize     the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make install PREFIX=/usr/local
#
# BUILD=dir puts every output under dir; MODULES="autodiff nn" restricts the
# build to some library folders (and their tests) while others are in progress.

BUILD   ?= build
PREFIX  ?= /usr/local
MODULES ?= autodiff nn potentials sampling flows apps
CC      ?= cc
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wpedantic
CFLAGS  ?=
ALL_CFLAGS = -std=c11 $(WARN) $(OPT) -MMD -MP -I. -D_POSIX_C_SOURCE=200809L $(CFLAGS)
LDLIBS  := -lpthread -lm

LIB_DIRS := $(filter-out apps,$(MODULES))
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libbg.a

ifneq ($(filter apps,$(MODULES)),)
APP_MAIN := $(wildcard apps/bg_*.c)
APP_LIB  := $(filter-out $(APP_MAIN),$(wildcard apps/*.c))
endif
APP_LIB_OBJ := $(APP_LIB:%.c=$(BUILD)/obj/%.o)
PROGRAMS    := $(patsubst apps/bg_%.c,$(BUILD)/bin/bg-%,$(APP_MAIN))

TEST_SRC := tests/test_main.c tests/ck_util.c \
            $(foreach m,$(MODULES),$(wildcard tests/test_$(m)*.c))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(BUILD)/bin/run-tests
# The tutorial needs only autodiff/; the other examples need every library folder.
EXAMPLE_SRC := $(if $(filter flows,$(MODULES)),$(wildcard docs/examples/*.c),docs/examples/tutorial.c)
EXAMPLES := $(patsubst docs/examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRC))

CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

.PHONY: all lib programs tests run test sanitize install clean check-deps examples

all: lib programs
	@if pkg-config --exists check 2>/dev/null; then $(MAKE) --no-print-directory tests; fi

lib: $(LIB)
programs: $(PROGRAMS)
tests: $(TEST_BIN) $(EXAMPLES)
examples: $(EXAMPLES)

# The archive is rebuilt whenever MODULES changes (the stamp holds its value).
MODULES_STAMP := $(BUILD)/modules.txt
$(shell mkdir -p $(BUILD) && (echo "$(MODULES)" | cmp -s - $(MODULES_STAMP) || echo "$(MODULES)" > $(MODULES_STAMP)))

$(LIB): $(LIB_OBJ) $(MODULES_STAMP)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/bin/bg-%: $(BUILD)/obj/apps/bg_%.o $(APP_LIB_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS)

# Test objects need Check's flags; the suite list is generated from the
# `Suite *name_suite(void)` definitions of the test files that are built.
$(BUILD)/obj/tests/%.o: tests/%.c | check-deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -I$(BUILD)/gen $(CHECK_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/test_main.o: $(BUILD)/gen/suites.inc

$(BUILD)/gen/suites.inc: $(filter-out tests/test_main.c tests/ck_util.c,$(TEST_SRC)) Makefile
	@mkdir -p $(@D)
	@sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void).*/SUITE(\1)/p' $(filter-out Makefile,$^) > $@.tmp
	@mv $@.tmp $@

$(TEST_BIN): $(TEST_OBJ) $(APP_LIB_OBJ) $(LIB) $(PROGRAMS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TEST_OBJ) $(APP_LIB_OBJ) $(LIB) -o $@ $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/examples/%: docs/examples/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< $(LIB) -o $@ $(LDLIBS)

# Check is installed on demand: as root through apt, otherwise the exact
# command is printed and the build stops.
check-deps:
	@if ! pkg-config --exists check 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Check is missing: installing it (apt-get install -y check pkg-config)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq check pkg-config) \
	      || { echo "installing Check failed"; exit 1; }; \
	  else \
	    echo "Check is missing; install it with: sudo apt-get install -y check pkg-config"; exit 1; \
	  fi; \
	fi

# Check runs each test in a forked child; timeouts are generous so that the
# sanitizer build (several times slower) passes on a 2-core machine.
TEST_ENV ?= CK_DEFAULT_TIMEOUT=120 BG_BIN_DIR=$(BUILD)/bin

test: check-deps
	@$(MAKE) --no-print-directory tests
	@for e in $(EXAMPLES); do echo "example: $$e"; $$e > /dev/null || exit 1; done
	@sh tests/install_test.sh "$(MAKE)" "$(BUILD)" "$(MODULES)" "$(CC)" "$(LDLIBS)"
	$(TEST_ENV) $(TEST_BIN)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: check-deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)/sanitize OPT="$(SAN_FLAGS)" \
	  LDLIBS="-fsanitize=address,undefined -lpthread -lm" \
	  TEST_ENV="CK_DEFAULT_TIMEOUT=600 BG_BIN_DIR=$(BUILD)/sanitize/bin BG_SANITIZE=1 \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" test

run: programs
	@if [ -x $(BUILD)/bin/bg-doublewell ]; then $(BUILD)/bin/bg-doublewell; \
	else $(MAKE) --no-print-directory examples && $(BUILD)/examples/tutorial; fi

HEADERS := $(filter-out %_impl.h,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.h)))
install: lib
	@for h in $(HEADERS); do \
	  install -d $(DESTDIR)$(PREFIX)/include/libbg/$$(dirname $$h); \
	  install -m 644 $$h $(DESTDIR)$(PREFIX)/include/libbg/$$h; done
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libbg.a
	sed -e 's|@PREFIX@|$(PREFIX)|' libbg.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libbg.pc

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
