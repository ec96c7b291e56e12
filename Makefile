# millrace -- build, run and test.
#   make            build ingest-api, uploader and the dev broker into build/
#   make run        the whole pipeline on one machine (dev broker, local store)
#   make test       install what the tests need, build, run every test
#   make san        the same binaries with ASan+UBSan into build-san/
#   make unit       C unit tests only;  make e2e  end-to-end tests only
#   make images     both container images with podman (deploy/docker/images.sh)
#   make build-everything  every binary, unit test, bench tool and fuzz harness,
#                   plain and with ASan+UBSan (the fresh-container install check)
#   make format     clang-format every C file
#   make bench-ingest  ingest-api's benchmark (docs/benchmarks.md)
#   make bench-uploader  the uploader's benchmark (docs/benchmarks.md)
#   make fuzz       libFuzzer harnesses into build-fuzz/, each run FUZZ_SECONDS
#   make fuzz-smoke the same, about 10 s each (part of make test)
#   make chaos      the chaos run, CHAOS_SECONDS of load (600) through faults

CC      ?= cc
PKGS    := rdkafka jansson libconfig libcurl libssl libcrypto zlib libzstd libdeflate
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wno-missing-field-initializers -pthread -Icommon \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcivetweb -lpthread -lm

ifeq ($(SAN),1)
B       := build-san
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
B       := build
endif

COMMON_SRC   := $(wildcard common/*.c)
INGEST_SRC   := $(filter-out ingest-api/main.c ingest-api/tls_shim.c,\
                $(wildcard ingest-api/*.c))
UPLOADER_SRC := $(filter-out uploader/main.c,\
                $(wildcard uploader/*.c uploader/store/*.c))
UNIT_SRC     := $(wildcard tests/unit/test_*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

BINS  := $(B)/ingest-api $(B)/uploader $(B)/millrace-devbroker
UNITS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(B)/bench/gen-events $(B)/bench/bare-civetweb $(B)/bench/openloop \
              $(B)/bench/codecs

.PHONY: all san deps run test unit e2e servers-start servers-stop \
        format format-check clean bench bench-ingest bench-uploader \
        fuzz fuzz-build fuzz-smoke images build-everything
all: $(BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
	$(AR) rcs $@ $^
$(B)/libingest.a: $(call obj,$(INGEST_SRC)) $(B)/libcommon.a
	$(AR) rcs $@ $(call obj,$(INGEST_SRC))
$(B)/libuploader.a: $(call obj,$(UPLOADER_SRC)) $(B)/libcommon.a
	$(AR) rcs $@ $(call obj,$(UPLOADER_SRC))

$(B)/ingest-api: $(call obj,ingest-api/main.c) $(B)/libingest.a $(B)/libcommon.a \
                 | $(B)/libmillrace-ssl.so $(B)/libmillrace-crypto.so
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# TLS with Debian 12's civetweb (ingest-api/tls_shim.c): ingest-api loads
# these from its own directory; they are not linked.
SHIM_CFLAGS := -O2 -g -std=c11 -Wall -Wextra -Werror -fPIC -shared
$(B)/libmillrace-ssl.so: ingest-api/tls_shim.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -o $@ $< -Wl,-soname,libssl.so -Wl,--no-as-needed -lssl -lcrypto
$(B)/libmillrace-crypto.so:
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -o $@ -Wl,-soname,libcrypto.so -Wl,--no-as-needed -lcrypto
$(B)/uploader: $(call obj,uploader/main.c) $(B)/libuploader.a $(B)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/millrace-devbroker: $(call obj,devbroker/devbroker.c) $(B)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: $(call obj,tests/unit/%.c) $(B)/libingest.a $(B)/libuploader.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The S3 store against a real server: an integration test, built and run by
# tests/e2e/test_s3_live.py once the servers are up.
LIVE  := $(B)/tests/e2e/s3_live
$(LIVE): $(call obj,tests/e2e/s3_live.c) $(B)/libuploader.a $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

san:
	$(MAKE) SAN=1 all $(patsubst build/%,build-san/%,$(UNITS) $(LIVE))

# Debian packages the build and the tests need; a no-op when all are present.
deps:
	@bash deploy/local/install-deps.sh

unit: $(UNITS)
	@bash tests/unit/run.sh $(UNITS)

run: deps all
	@bash deploy/local/run-dev.sh

# the end-to-end tests alone, on the test servers (started here if not running)
e2e: all
	@bash tests/e2e/run.sh

# millrace/ingest-api:dev and millrace/uploader:dev, with podman
images:
	@bash deploy/docker/images.sh build

build-everything: all $(UNITS) $(LIVE) $(BENCH_BINS) fuzz-build san

test: deps
	@bash tests/run-all.sh

bench: deps all $(B)/bench/bare-civetweb $(B)/bench/gen-events
	@bash tests/bench/run.sh

# ingest-api against a bare civetweb handler (the ceiling) and its Go peers,
# on the real Kafka
bench-ingest: deps all $(B)/bench/bare-civetweb $(B)/bench/openloop \
              $(B)/bench/go-ingest
	@bash tests/bench/ingest.sh

# the uploader and its Go peer draining a pre-filled topic into the real S3
bench-uploader: deps all $(B)/bench/gen-events $(B)/bench/go-uploader
	@bash tests/bench/uploader.sh

# The Go peers of the benchmarks (tests/bench/go/), built from source; the
# modules and the build cache stay under the git-ignored .cache/, so that a
# rebuild needs no network.
GO_ENV := GOPATH=$(CURDIR)/.cache/go GOMODCACHE=$(CURDIR)/.cache/go/pkg/mod \
          GOCACHE=$(CURDIR)/.cache/go-build GOFLAGS=-mod=readonly
$(B)/bench/go-%: tests/bench/go/%/main.go tests/bench/go/go.mod tests/bench/go/go.sum
	@mkdir -p $(dir $@)
	cd tests/bench/go && $(GO_ENV) go build -o $(CURDIR)/$@ ./$*

# the compressors the uploader could use, on the bench data
$(B)/bench/codecs: tests/bench/codecs.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -ldeflate -lz -lzstd

$(B)/bench/gen-events: tests/bench/gen_events.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/bench/bare-civetweb: tests/bench/bare_civetweb.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lcivetweb -lpthread

# the open-loop load generator of bench-ingest: libc only
$(B)/bench/openloop: tests/bench/openloop.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lm

# libFuzzer harnesses (tests/fuzz/): clang with ASan+UBSan; the project's
# objects are rebuilt with coverage instrumentation into build-fuzz/obj/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FZ           := build-fuzz
FUZZ_CFLAGS  := $(CFLAGS) -O1 -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS      := $(patsubst tests/fuzz/%.c,$(FZ)/%,$(FUZZ_SRC))
FUZZ_LIBS    := $(FZ)/libuploader.a $(FZ)/libingest.a $(FZ)/libcommon.a

$(FZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(FZ)/libcommon.a: $(patsubst %.c,$(FZ)/obj/%.o,$(COMMON_SRC))
	$(AR) rcs $@ $^
$(FZ)/libingest.a: $(patsubst %.c,$(FZ)/obj/%.o,$(INGEST_SRC))
	$(AR) rcs $@ $^
$(FZ)/libuploader.a: $(patsubst %.c,$(FZ)/obj/%.o,$(UPLOADER_SRC))
	$(AR) rcs $@ $^
$(FZ)/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIBS)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

# Keep the harnesses' objects (make would delete them as intermediate).
.SECONDARY: $(patsubst %.c,$(FZ)/obj/%.o,$(FUZZ_SRC))
fuzz-build: $(FUZZERS)
fuzz: fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)
fuzz-smoke: fuzz-build
	@bash tests/fuzz/run.sh 10 $(FUZZERS)

# The chaos run (docs/guarantees.md): CHAOS_SECONDS of HTTP load through
# kill -9s, a broker restart, an S3 outage and scaling, on private Kafka and
# S3 servers; prints the counts. make test runs it for 90 s.
CHAOS_SECONDS ?= 600
.PHONY: chaos
chaos:
	@bash deploy/local/install-deps.sh --test
	@$(MAKE) -s all
	@. deploy/local/env.sh && MILLRACE_BIN=$(B) CHAOS_SECONDS=$(CHAOS_SECONDS) \
	    python3 -m pytest -p no:cacheprovider -s -q tests/e2e/test_chaos.py

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
ifneq ($(filter fuzz%,$(MAKECMDGOALS)),)
-include $(shell find $(FZ) -name '*.d' 2>/dev/null)
endif
