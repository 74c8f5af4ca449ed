# ballast: see README.md. `make help` lists the targets.
B        ?= build
CC       ?= cc
PKGS     := gsl libcjson libxxhash
TESTPKGS := criterion
WARN     := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wwrite-strings -Wvla \
            -Wformat=2 -Wcast-qual -Wundef -fno-common
WARN     += $(if $(WERROR),-Werror)
ASAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
CFLAGS   ?= -O2 -g
CPPFLAGS += -Iinclude -D_POSIX_C_SOURCE=200809L -MMD -MP \
            $(shell pkg-config --cflags $(PKGS))
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lcsv -lm -lpthread
TESTLIBS := $(shell pkg-config --libs $(TESTPKGS) 2>/dev/null)

LIB_SRC  := $(sort $(wildcard src/*.c))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
LIB      := $(B)/libballast.a
BIN      := $(B)/ballast
TESTS    := $(B)/unit-tests

.PHONY: all run test unit cli asan debug headertest bench deps clean help \
        fuzz fuzz-run

all: $(BIN)

help:
	@echo "make            build $(BIN)"
	@echo "make deps       install the Debian packages the build needs"
	@echo "make run        deps + build + backtest configs/default.json"
	@echo "make test       build and run unit tests, CLI cases and baselines"
	@echo "make asan       the tests under AddressSanitizer + UBSan"
	@echo "make valgrind   the unit and CLI tests under valgrind"
	@echo "make headertest every public header compiles on its own"
	@echo "make bench      benchmark figures"
	@echo "make fuzz       libFuzzer targets (clang) in $(B)/fuzz"
	@echo "make fuzz-run   run each fuzz target FUZZ_SECONDS (60) seconds"

deps:
	@scripts/install-deps.sh

run: deps $(BIN)
	$(BIN) run configs/default.json -o out/default --series

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(TESTS): $(TEST_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(TEST_OBJ) $(LIB) $(TESTLIBS) $(LDLIBS)

test: $(TESTS) $(BIN)
	scripts/run-tests.sh $(BIN) $(TESTS)

asan:
	$(MAKE) B=build-asan CFLAGS='-O1 -g -fno-omit-frame-pointer $(ASAN)' \
	  LDFLAGS='$(ASAN)' test

valgrind: $(TESTS) $(BIN)
	VALGRIND=1 scripts/run-tests.sh $(BIN) $(TESTS)

debug:
	$(MAKE) B=build-debug CFLAGS='-O0 -g3 -DBAL_DEBUG' all

headertest:
	@for h in include/ballast/*.h; do \
	  printf '#include "%s"\ntypedef int bal__headertest;\n' "$${h#include/}" | \
	  $(CC) $(CPPFLAGS) -std=c11 -pedantic -Werror -fsyntax-only -x c - \
	  || exit 1; done; echo "headertest: all headers compile alone"

bench: $(BIN)
	scripts/bench.sh $(BIN)

# Loader benchmark driver (scripts/bench.sh builds it).
$(B)/bench-load: tests/bench/bench_load.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# libFuzzer targets: the CSV loader and the number parser against strtod.
FUZZ_CC      ?= clang
FUZZ_FLAGS   := -g -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined
FUZZ_SRC     := src/loader.c src/error.c src/numfmt.c
FUZZ_SECONDS ?= 60
FUZZERS      := $(B)/fuzz/fuzz_loader $(B)/fuzz/fuzz_number

fuzz: $(FUZZERS)

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) include/ballast/loader.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -Iinclude -D_POSIX_C_SOURCE=200809L $(FUZZ_FLAGS) \
	  -o $@ $< $(FUZZ_SRC) -lcsv -lm

fuzz-run: $(FUZZERS)
	@for f in loader number; do \
	  mkdir -p $(B)/fuzz/corpus-$$f && \
	  echo "fuzz_$$f: $(FUZZ_SECONDS) s" && \
	  $(B)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
	    -dict=tests/fuzz/$$f.dict \
	    $(B)/fuzz/corpus-$$f tests/fuzz/corpus/$$f || exit 1; \
	done

clean:
	rm -rf build build-asan build-debug

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
