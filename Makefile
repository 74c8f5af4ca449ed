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

.PHONY: all run test unit cli asan debug headertest bench deps clean help

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

clean:
	rm -rf build build-asan build-debug

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
