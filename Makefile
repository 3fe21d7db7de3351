# hasp: top-level entry points. The real build is CMake, in build/.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build deps demo test test-asan install clean format bench bench-instr fuzz soak

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

install: build
	@cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX),)

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

clean:
	rm -rf build build-asan build-fuzz
