# The two commands of the README: `make run` and `make test`. Each installs what is missing (Debian 12,
# as root), configures, builds, and runs. Other targets are for developers.
BUILD ?= build
JOBS ?= 2
SCENARIO ?= scenarios/envC_fail.json
CMAKE_FLAGS ?=

.PHONY: run test test-asan build configure deps bench clean

run: build
	@if [ -x $(BUILD)/sim/asteroid-sim ]; then $(BUILD)/sim/asteroid-sim $(SCENARIO); \
	else $(BUILD)/core/asteroid-plan $(SCENARIO); fi

# A test that hangs fails after 15 minutes (the longest takes about 3) instead of CTest's 25.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

build: configure
	cmake --build $(BUILD) -j $(JOBS)

configure: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

deps:
	@sh tools/install-deps.sh

# core, sim and their tests built with AddressSanitizer and UndefinedBehaviorSanitizer (no torch:
# Debian's libtorch is not built with them); any report fails the test that made it
# (docs/robustness.md).
ASAN_BUILD ?= build-asan
SANITIZE = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-asan: deps
	@test -f $(ASAN_BUILD)/build.ninja || cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DASTEROID_WITH_TORCH=OFF -DASTEROID_FUZZ=OFF -DCMAKE_CXX_FLAGS="$(SANITIZE)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$(SANITIZE)" -DCMAKE_SHARED_LINKER_FLAGS="$(SANITIZE)"
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=abort_on_error=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
