# hasp: top-level entry points. The real build is CMake, in build/.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build deps demo test test-long test-asan test-valgrind install uninstall clean format bench bench-fleet bench-server \
	bench-instr fuzz conformance conformance-ci fuzz-build fuzz-smoke fuzz-corpus soak abi-check abi-dump deb

all: build

build:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(BUILD)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build
	@tests/run.sh $(BUILD)

test-asan:
	@scripts/deps.sh asan
	@$(MAKE) --no-print-directory build BUILD=build-asan CMAKE_FLAGS="-DHASP_SANITIZE=ON -DHASP_BENCH=OFF"
	@HASP_SANITIZED=1 tests/run.sh build-asan

# tlsfuzzer (../shared/tlsfuzzer) against `hasp server`: every script in
# tests/conformance/tlsfuzzer.json (about 15 min here); conformance-ci runs
# the subset in ci.json that .ci/run uses (under 5 min). Each ends with the
# runner's line "tlsfuzzer: scripts passed X/Y, cases passed A/B".
conformance:
	@scripts/deps.sh conformance
	@$(MAKE) --no-print-directory build
	@tests/conformance/run.sh $(BUILD) tests/conformance/tlsfuzzer.json

conformance-ci:
	@scripts/deps.sh conformance
	@$(MAKE) --no-print-directory build
	@tests/conformance/run.sh $(BUILD) tests/conformance/ci.json

# Long known-answer runs, not in CI: ML-KEM's accumulated hash over
# 1,000,000 tests per parameter set (a few minutes).
test-long:
	@$(MAKE) --no-print-directory build
	@$(BUILD)/tests/test_mlkem --long

# The unit test programs under valgrind memcheck (any error or leak fails).
test-valgrind:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build
	@HASP_VALGRIND=1 tests/run.sh $(BUILD) test_

# libFuzzer targets (tests/fuzz/), built with clang into build-fuzz/. `make
# fuzz` runs each for FUZZ_SECONDS (FUZZ_TARGETS picks some); `make
# fuzz-smoke` runs each for 10 s (CI; FUZZ_SECONDS=N on the command line
# changes it); `make fuzz-corpus` rewrites the seed corpora from real
# in-memory handshakes and checks that they replay.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz-build:
	@scripts/deps.sh fuzz
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHASP_FUZZ=ON \
		-DHASP_BENCH=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_all

fuzz: fuzz-build
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	@tests/fuzz/run.sh build-fuzz \
		$(if $(filter command line,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),10) $(FUZZ_TARGETS)

fuzz-corpus: fuzz-build
	@rm -rf tests/fuzz/corpus/record tests/fuzz/corpus/pem tests/fuzz/corpus/x509 \
		tests/fuzz/corpus/verify
	@find tests/fuzz/corpus -name 'hasp-*' -delete 2>/dev/null || true
	@UBSAN_OPTIONS=halt_on_error=1:suppressions=$(CURDIR)/tests/fuzz/ubsan.supp \
		build-fuzz/fuzz/fuzz_gen_corpus tests/fuzz/corpus

# PREFIX=DIR installs there instead of the configured prefix (/usr/local);
# DESTDIR=STAGE stages the tree under STAGE. `make uninstall` with the same
# PREFIX and DESTDIR removes what that install put.
install: build
	@PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" scripts/install.sh install $(BUILD)

uninstall:
	@PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" scripts/install.sh uninstall $(BUILD)

# ABI of $(BUILD)/libhasp.so against the previous release (README.md,
# Packaging); abi-dump rewrites the committed baseline abi/libhasp.abi.
abi-check:
	@scripts/deps.sh abi
	@$(MAKE) --no-print-directory build
	@scripts/abi-check.sh $(BUILD)

abi-dump:
	@scripts/deps.sh abi
	@$(MAKE) --no-print-directory build
	@scripts/abi-check.sh --dump $(BUILD)

# Debian packages (libhasp0, libhasp-dev, hasp) into build-deb/, lintian-checked.
deb:
	@scripts/deps.sh deb
	@scripts/deb.sh $(JOBS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	@$(BUILD)/hasp-bench $(BENCH_ARGS)

bench-instr:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory build
	@scripts/bench-instr.sh $(BUILD)

soak:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build
	@scripts/soak.sh $(BUILD) 1000 30 $(or $(WORKERS),1)

bench-fleet:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build
	@scripts/fleet-bench.sh $(BUILD) 10 64

# hasp server --www beside nginx (worker_processes 1) on loopback, the same
# certificates, page and load client: new TLS 1.3 connections/s, keep-alive
# requests/s and latency, RSS per idle connection (bench/README.md, "Beside
# nginx"). About 70 s; not part of `make test`.
bench-server:
	@scripts/deps.sh bench-server
	@$(MAKE) --no-print-directory build
	@scripts/bench-server.sh $(BUILD) 8 32

clean:
	rm -rf build build-asan build-fuzz build-abi build-deb
