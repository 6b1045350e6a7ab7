# The two commands of the README: `make run` and `make test`. Each installs what is missing (Debian 12,
# as root), configures, builds, and runs. Other targets are for developers.
BUILD ?= build
JOBS ?= 2
SCENARIO ?= scenarios/envC_fail.json
CMAKE_FLAGS ?=

.PHONY: run test build configure deps bench clean

run: build
	@if [ -x $(BUILD)/sim/asteroid-sim ]; then $(BUILD)/sim/asteroid-sim $(SCENARIO); \
	else $(BUILD)/core/asteroid-plan $(SCENARIO); fi

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

configure: deps
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

deps:
	@sh tools/install-deps.sh

clean:
	rm -rf $(BUILD)
