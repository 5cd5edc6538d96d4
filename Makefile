# libbg - reverse-mode autodiff and Boltzmann generators in C11.
#
#   make              library build/libbg.a, programs build/bin/*, test runner
#   make run          the main job: the double-well experiment end to end
#   make test         build and run every test suite (installs Check if missing)
#   make sanitize     the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make valgrind     the suite under valgrind (no fork per test, "slow" cases left out)
#   make test-clang   the suite built with Clang (CLANG=clang), in $(BUILD)/clang
#   make sanitize-clang  the sanitizer run built with Clang, in $(BUILD)/clang/sanitize
#   make cross-aarch64  cross-build for aarch64 and run the suite under qemu-user
#                     (installs the cross compiler, qemu and arm64 Check via apt as root)
#   make fuzz         libFuzzer targets (clang) for 10 minutes each (FUZZ_SECONDS)
#   make install PREFIX=/usr/local
#
# REAL=float builds everything in single precision (ad_real = float,
# -DAD_REAL_FLOAT) side by side with the default double build: outputs under
# build-f32/ (programs in build-f32/bin/), the library libbg_f32.a with its
# pkg-config file libbg-f32.pc, headers under include/libbg-f32; every target
# above works with it (`make REAL=float test`, `make install REAL=float`).
#
# MPI=1 builds everything with the system's MPI compiler wrapper (MPICC,
# default mpicc; Open MPI from the distribution's packages, installed through
# apt when missing, as Check is) and -DBG_MPI, side by side with the default
# build: outputs under build-mpi/ (build-f32-mpi/ with REAL=float), programs
# in build-mpi/bin/.  The programs then spread their work over the ranks of
# `mpirun -np N` (docs/distributed.md).  `make MPI=1 test` runs the suite
# there, then the programs under mpirun (tests/mpi_test.sh: the same files
# as the default build's for 1, 2 and 4 ranks, and the failure paths).
# Without MPI=1 nothing of this is built: libc, libm and pthreads only.
#
# BUILD=dir puts every output under dir; MODULES="autodiff nn" restricts the
# build to some library folders (and their tests) while others are in progress.

MPI     ?= 0
MPICC   ?= mpicc
ifeq ($(MPI),1)
MPI_DEPS := mpi-deps
# CC=clang on the command line (make MPI=1 test-clang) goes through the wrapper
ifeq ($(origin CC),command line)
export OMPI_CC := $(CC)
endif
override CC := $(MPICC)
MPI_SUFFIX := -mpi
MPI_CFLAGS := -DBG_MPI
else ifneq ($(MPI),0)
$(error MPI must be 0 or 1, not '$(MPI)')
endif
REAL    ?= double
ifeq ($(REAL),float)
BUILD   ?= build-f32$(MPI_SUFFIX)
LIBNAME := bg_f32
PCNAME  := libbg-f32
KITNAME := bg-apps-f32
REAL_CFLAGS := -DAD_REAL_FLOAT
else ifeq ($(REAL),double)
BUILD   ?= build$(MPI_SUFFIX)
LIBNAME := bg
PCNAME  := libbg
KITNAME := bg-apps
REAL_CFLAGS :=
else
$(error REAL must be double or float, not '$(REAL)')
endif
PREFIX  ?= /usr/local
MODULES ?= autodiff nn potentials sampling flows apps
CC      ?= cc
OPT     ?= -O2 -g
WARN    := -Wall -Wextra -Wpedantic
CFLAGS  ?=
ALL_CFLAGS = -std=c11 $(WARN) $(OPT) -MMD -MP -I. -D_POSIX_C_SOURCE=200809L $(REAL_CFLAGS) $(MPI_CFLAGS) $(CFLAGS)
LDLIBS  := -lpthread -lm

# autodiff/fast (the fast path: GEMM, thread pool, fused ops) goes with autodiff.
LIB_DIRS := $(patsubst autodiff,autodiff autodiff/fast,$(filter-out apps,$(MODULES)))
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/lib$(LIBNAME).a

# apps/: two installed folders in their own archive, libbg-apps.a (it writes
# files and prints progress, which libbg.a never does): the output toolkit
# (apps/toolkit) and the 2-D experiment kit (apps/exp2d).  The programs are
# apps/bg_*.c; apps/dimer and apps/bench hold their private parts.
ifneq ($(filter apps,$(MODULES)),)
APP_KITS := apps/toolkit apps/exp2d
APP_MAIN := $(wildcard apps/bg_*.c)
APP_LIB  := $(wildcard apps/dimer/*.c apps/bench/*.c)
KIT_LIB  := $(BUILD)/lib$(KITNAME).a
endif
APP_LIB_OBJ := $(APP_LIB:%.c=$(BUILD)/obj/%.o)
KIT_OBJ     := $(foreach d,$(APP_KITS),$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(d)/*.c)))
PROGRAMS    := $(patsubst apps/bg_%.c,$(BUILD)/bin/bg-%,$(APP_MAIN))

TEST_SRC := tests/test_main.c tests/ck_util.c \
            $(foreach m,$(MODULES),$(wildcard tests/test_$(m)*.c))
# The reliability suites use every library folder and apps/.
ifeq ($(filter-out $(MODULES),autodiff nn potentials sampling flows apps),)
TEST_SRC += $(wildcard tests/test_reliability_*.c)
endif
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(BUILD)/bin/run-tests
# The tutorial needs only autodiff/; the other examples need every library
# folder, and the 2-D kit's example (exp2d_*.c) apps/ too.
EXAMPLE_SRC := $(if $(filter flows,$(MODULES)),$(wildcard docs/examples/*.c),docs/examples/tutorial.c)
EXAMPLE_SRC := $(if $(filter apps,$(MODULES)),$(EXAMPLE_SRC),$(filter-out docs/examples/exp2d_%,$(EXAMPLE_SRC)))
EXAMPLES := $(patsubst docs/examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRC))

# Run example $$e through the wrapper $(1) (empty, or qemu): an experiment
# built on the 2-D kit runs its quick schedule into $$e.out, its progress in
# $$e.log (shown when it fails); the dimer's temperature integration runs a
# few chains for two rounds of replica exchange (its default run takes minutes).
EXAMPLE_RUN = case $$e in \
	  */exp2d_*) rm -rf $$e.out; $(1) $$e --quick --out $$e.out > $$e.log 2>&1 || { cat $$e.log; exit 1; } ;; \
	  */dimer_ti) $(1) $$e 4 0 2000 > $$e.log 2>&1 || { cat $$e.log; exit 1; } ;; \
	  *) $(1) $$e > /dev/null || exit 1 ;; esac

PKG_CONFIG  ?= pkg-config
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

.PHONY: all lib programs tests run test sanitize install clean check-deps examples test-clang \
        cross-aarch64 cross-aarch64-deps

# Keep the programs' objects (make would delete them as intermediates).
.SECONDARY:

all: lib programs
	@if pkg-config --exists check 2>/dev/null; then $(MAKE) --no-print-directory tests; fi

lib: $(LIB) $(KIT_LIB)
programs: $(PROGRAMS)
tests: $(TEST_BIN) $(EXAMPLES) $(DIST_CHECK)
examples: $(EXAMPLES)

# The archive is rebuilt whenever MODULES changes (the stamp holds its value).
MODULES_STAMP := $(BUILD)/modules.txt
$(shell mkdir -p $(BUILD) && (echo "$(MODULES)" | cmp -s - $(MODULES_STAMP) || echo "$(MODULES)" > $(MODULES_STAMP)))
# Every object is rebuilt when the scalar type of a build folder changes.
REAL_STAMP := $(BUILD)/real.txt
$(shell mkdir -p $(BUILD) && (echo "$(REAL)$(MPI_SUFFIX)" | cmp -s - $(REAL_STAMP) || echo "$(REAL)$(MPI_SUFFIX)" > $(REAL_STAMP)))

$(LIB): $(LIB_OBJ) $(MODULES_STAMP) Makefile
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(KIT_LIB): $(KIT_OBJ) $(MODULES_STAMP) Makefile
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(KIT_OBJ)

$(BUILD)/obj/%.o: %.c $(REAL_STAMP) | $(MPI_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/bin/bg-%: $(BUILD)/obj/apps/bg_%.o $(APP_LIB_OBJ) $(KIT_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS)

# Test objects need Check's flags; the suite list is generated from the
# `Suite *name_suite(void)` definitions of the test files that are built.
$(BUILD)/obj/tests/%.o: tests/%.c $(REAL_STAMP) | check-deps $(MPI_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -I$(BUILD)/gen $(CHECK_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/test_main.o: $(BUILD)/gen/suites.inc

$(BUILD)/gen/suites.inc: $(filter-out tests/test_main.c tests/ck_util.c,$(TEST_SRC)) Makefile
	@mkdir -p $(@D)
	@sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void).*/SUITE(\1)/p' $(filter-out Makefile,$^) > $@.tmp
	@mv $@.tmp $@

$(TEST_BIN): $(TEST_OBJ) $(APP_LIB_OBJ) $(KIT_LIB) $(LIB) $(PROGRAMS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TEST_OBJ) $(APP_LIB_OBJ) $(KIT_LIB) $(LIB) -o $@ $(CHECK_LIBS) $(LDLIBS)

# MPI=1: the distribution layer's own check, run under mpirun by tests/mpi_test.sh.
# same-run compares two output directories (the runs under mpirun with the
# serial build's).
ifeq ($(MPI),1)
DIST_CHECK := $(BUILD)/bin/dist-check $(BUILD)/bin/same-run
endif
$(BUILD)/bin/dist-check: $(BUILD)/obj/tests/mpi/dist_check.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/bin/same-run: $(BUILD)/obj/tests/mpi/same_run.o $(KIT_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/examples/%: docs/examples/%.c $(KIT_LIB) $(LIB) $(REAL_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $< $(KIT_LIB) $(LIB) -o $@ $(LDLIBS)

# Check is installed on demand: as root through apt, otherwise the exact
# command is printed and the build stops.
check-deps:
	@if ! $(PKG_CONFIG) --exists check 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Check is missing: installing it (apt-get install -y check pkg-config)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq check pkg-config) \
	      || { echo "installing Check failed"; exit 1; }; \
	  else \
	    echo "Check is missing; install it with: sudo apt-get install -y check pkg-config"; exit 1; \
	  fi; \
	fi

# MPI=1: Open MPI from the distribution's packages, installed on demand as
# Check is (the wrapper MPICC and mpirun).
MPI_PKGS := openmpi-bin libopenmpi-dev
.PHONY: mpi-deps
mpi-deps:
	@if ! command -v $(firstword $(MPICC)) >/dev/null || ! command -v mpirun >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "MPI is missing: installing it (apt-get install -y $(MPI_PKGS))"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(MPI_PKGS)) \
	      || { echo "installing MPI failed"; exit 1; }; \
	  else \
	    echo "MPI is missing; install it with: sudo apt-get install -y $(MPI_PKGS)"; exit 1; \
	  fi; \
	fi

# Check runs each test in a forked child; timeouts are generous so that the
# sanitizer build (several times slower) passes on a 2-core machine.
TEST_ENV ?= CK_DEFAULT_TIMEOUT=120 BG_BIN_DIR=$(BUILD)/bin
# The suites run in TEST_JOBS processes at once (tests/run_suites.sh); 1
# runs them one after another in one runner, as Check does by itself.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)

test: check-deps $(MPI_DEPS)
	@$(MAKE) --no-print-directory tests
	@for e in $(EXAMPLES); do echo "example: $$e"; $(call EXAMPLE_RUN,); done
	@sh tests/install_test.sh "$(MAKE)" "$(BUILD)" "$(MODULES)" "$(CC)" "$(LDLIBS)" "$(REAL)"
	$(TEST_ENV) sh tests/run_suites.sh $(TEST_JOBS) $(TEST_BIN)
ifeq ($(MPI),1)
	sh tests/mpi_test.sh "$(MAKE)" "$(BUILD)" "$(REAL)" "$(SERIAL_BUILD)"
endif

# The MPI build's programs against the serial build's: everything
# (test-mpi, what `make MPI=1 test` ends with) or the dimer --quick and the
# default double well on 2 and 4 ranks alone (test-mpi-quick, for CI).  The serial build goes to
# SERIAL_BUILD (build/ for build-mpi/).
SERIAL_BUILD ?= $(if $(filter %-mpi,$(BUILD)),$(patsubst %-mpi,%,$(BUILD)),$(BUILD)/serial)
.PHONY: test-mpi test-mpi-quick
test-mpi test-mpi-quick: $(MPI_DEPS)
	@if [ "$(MPI)" != 1 ]; then echo "$@ needs MPI=1"; exit 1; fi
	@$(MAKE) --no-print-directory programs $(DIST_CHECK)
	sh tests/mpi_test.sh "$(MAKE)" "$(BUILD)" "$(REAL)" "$(SERIAL_BUILD)" $(if $(filter test-mpi-quick,$@),quick)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
sanitize: check-deps
	$(MAKE) --no-print-directory BUILD=$(BUILD)/sanitize OPT="$(SAN_FLAGS)" \
	  LDLIBS="-fsanitize=address,undefined -lpthread -lm" \
	  TEST_ENV="CK_DEFAULT_TIMEOUT=600 BG_BIN_DIR=$(BUILD)/sanitize/bin BG_SANITIZE=1 \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1" test

# The same suite built with Clang in its own folder (what
# `make CC=clang BUILD=$(BUILD)/clang test` does).
CLANG ?= clang
.PHONY: clang-deps test-clang sanitize-clang
clang-deps:
	@if ! command -v $(CLANG) >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "$(CLANG) is missing: installing it (apt-get install -y clang)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang) \
	      || { echo "installing clang failed"; exit 1; }; \
	  else \
	    echo "$(CLANG) is missing; install it with: sudo apt-get install -y clang"; exit 1; \
	  fi; \
	fi
test-clang: check-deps clang-deps
	$(MAKE) --no-print-directory CC=$(CLANG) BUILD=$(BUILD)/clang test

# The sanitizer run built with Clang (CI's Clang build).
sanitize-clang: check-deps clang-deps
	$(MAKE) --no-print-directory CC=$(CLANG) BUILD=$(BUILD)/clang sanitize

# aarch64: cross-compile the library, the programs and the test runner and
# run the suite under qemu-user (the programs the tests start run through
# qemu too: BG_EXEC_WRAPPER).  Debian packages only: the cross compiler,
# qemu-user and Check for arm64 (multiarch), installed through apt when run
# as root.  Emulation is slow, hence the longer Check timeouts.
AARCH64_CC      ?= aarch64-linux-gnu-gcc
QEMU_AARCH64    ?= qemu-aarch64
AARCH64_BUILD   := $(BUILD)/aarch64
AARCH64_PKGS    := gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user check:arm64 \
                   libsubunit-dev:arm64 pkg-config
AARCH64_PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig pkg-config
cross-aarch64-deps:
	@if ! command -v $(AARCH64_CC) >/dev/null || ! command -v $(QEMU_AARCH64) >/dev/null || \
	    ! $(AARCH64_PKG_CONFIG) --exists check 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing the aarch64 cross tools: apt-get install -y $(AARCH64_PKGS)"; \
	    (dpkg --add-architecture arm64 && apt-get update -qq && \
	     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(AARCH64_PKGS)) \
	      || { echo "installing the aarch64 cross tools failed"; exit 1; }; \
	  else \
	    echo "missing aarch64 cross tools; install them with: sudo dpkg --add-architecture arm64 &&" \
	         "sudo apt-get update && sudo apt-get install -y $(AARCH64_PKGS)"; exit 1; \
	  fi; \
	fi

cross-aarch64: cross-aarch64-deps
	$(MAKE) --no-print-directory CC=$(AARCH64_CC) BUILD=$(AARCH64_BUILD) \
	  PKG_CONFIG="$(AARCH64_PKG_CONFIG)" programs tests
	@for e in $(patsubst $(BUILD)/%,$(AARCH64_BUILD)/%,$(EXAMPLES)); do \
	  echo "example (qemu): $$e"; $(call EXAMPLE_RUN,$(QEMU_AARCH64)); done
	CK_DEFAULT_TIMEOUT=1200 CK_TIMEOUT_MULTIPLIER=10 BG_BIN_DIR=$(AARCH64_BUILD)/bin \
	  BG_EXEC_WRAPPER=$(QEMU_AARCH64) $(QEMU_AARCH64) $(AARCH64_BUILD)/bin/run-tests

# libFuzzer targets (clang): the checkpoint loader, the CSV loader and the
# option parser, each run for FUZZ_SECONDS on a working corpus under
# $(BUILD)/fuzz/corpus/<target>, seeded from tests/fuzz/corpus/<target> (the
# kept inputs, replayed by `make test`).  FUZZ_TARGETS picks some.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= checkpoint csv options
FUZZ_ARGS    ?= -max_len=4096 -rss_limit_mb=2048
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_CFLAGS  := -std=c11 $(WARN) -O1 -g -I. -D_POSIX_C_SOURCE=200809L -fno-omit-frame-pointer \
                -fno-sanitize-recover=undefined -DLIBBG_FUZZ_MAIN
FUZZ_LIB_SRC := $(foreach d,autodiff autodiff/fast nn potentials sampling,$(wildcard $(d)/*.c)) apps/toolkit/app_options.c apps/toolkit/app_buf.c
FUZZ_OBJ     := $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(FUZZ_DIR)/libbg-fuzz.a: $(FUZZ_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_DIR)/libbg-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_DIR)/libbg-fuzz.a \
	  -o $@ -lpthread -lm

fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t && \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s" && \
	  $(FUZZ_DIR)/fuzz_$$t $(FUZZ_ARGS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $$(test -f tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict) \
	    -artifact_prefix=$(FUZZ_DIR)/crash-$$t- \
	    $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

-include $(wildcard $(FUZZ_DIR)/obj/*/*.d $(FUZZ_DIR)/obj/*/*/*.d)

# The suite under valgrind (memcheck): a build without sanitizers, each
# suite run in one process (CK_FORK=no) without the cases tagged "slow".
# Definite leaks and every memory error fail it.
VALGRIND    ?= valgrind
VG_FLAGS    ?= --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
               --show-leak-kinds=definite -q
.PHONY: valgrind
valgrind: check-deps
	@if ! command -v $(VALGRIND) >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "valgrind is missing: installing it (apt-get install -y valgrind)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind) \
	      || { echo "installing valgrind failed"; exit 1; }; \
	  else \
	    echo "valgrind is missing; install it with: sudo apt-get install -y valgrind"; exit 1; \
	  fi; \
	fi
	$(MAKE) --no-print-directory BUILD=$(BUILD)/valgrind OPT="-O1 -g" tests
	CK_FORK=no CK_EXCLUDE_TAGS=slow BG_BIN_DIR=$(BUILD)/valgrind/bin BG_VALGRIND=1 \
	  sh tests/run_suites.sh $(TEST_JOBS) $(VALGRIND) $(VG_FLAGS) $(BUILD)/valgrind/bin/run-tests

run: programs
	@if [ -x $(BUILD)/bin/bg-doublewell ]; then $(BUILD)/bin/bg-doublewell; \
	else $(MAKE) --no-print-directory examples && $(BUILD)/examples/tutorial; fi

# The float build installs its headers under include/libbg-f32 with
# AD_REAL_FLOAT defined in its ad_config.h, so that a program compiled
# against them has the library's ad_real whatever flags it passes; the
# pkg-config file names the library and the folder.
HEADERS := $(filter-out %_impl.h,$(foreach d,$(LIB_DIRS) $(APP_KITS),$(wildcard $(d)/*.h)))
INCDIR  := $(PREFIX)/include/$(PCNAME)
install: lib
	@for h in $(HEADERS); do \
	  install -d $(DESTDIR)$(INCDIR)/$$(dirname $$h); \
	  install -m 644 $$h $(DESTDIR)$(INCDIR)/$$h; done
ifeq ($(REAL),float)
	sed -e 's|^#ifdef AD_REAL_FLOAT$$|#ifndef AD_REAL_FLOAT\n#define AD_REAL_FLOAT\n#endif\n#ifdef AD_REAL_FLOAT|' \
	  autodiff/ad_config.h > $(DESTDIR)$(INCDIR)/autodiff/ad_config.h
endif
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/lib$(LIBNAME).a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@PCNAME@|$(PCNAME)|g' -e 's|@LIBNAME@|$(LIBNAME)|' \
	  -e 's|@CFLAGS@|$(if $(REAL_CFLAGS), $(REAL_CFLAGS))|' libbg.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$(PCNAME).pc
ifneq ($(KIT_LIB),)
	install -m 644 $(KIT_LIB) $(DESTDIR)$(PREFIX)/lib/lib$(KITNAME).a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@PCNAME@|$(PCNAME)|g' -e 's|@KITNAME@|$(KITNAME)|g' \
	  libbg-apps.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/lib$(KITNAME).pc
endif

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
