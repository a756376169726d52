# crater: one static binary, built with musl.
#
#   make            ./crater, static, -Os
#   make debug      ./crater-debug, -O0 -g3, for gdb
#   sudo make demo  install what is missing, build, make an image and run
#                   a command in a container
#   sudo make test  install what is missing and run the test suite
#   make gdb        step through `crater run` in gdb, stage by stage
#   make vm-test    the test suite in a qemu VM on cgroup v2
#   make vm         the same VM with a shell, to try crater in
#   sudo make bench start-to-exit time and memory next to runc

CC_MUSL ?= musl-gcc
WARNINGS = -Wall -Wextra -Werror
# Each function and object in a section of its own lets the linker drop
# the parts of musl that crater never calls. -z noseparate-code keeps
# code and read-only data in one segment instead of padding each to a
# page of its own, which saves 4 KiB of alignment.
CFLAGS_RELEASE = -Os -static -s -ffunction-sections -fdata-sections \
	-Wl,--gc-sections -fno-asynchronous-unwind-tables \
	-Wl,-z,noseparate-code $(WARNINGS)
CFLAGS_DEBUG = -O0 -g3 -static $(WARNINGS)
IMAGE ?= container_disk.img

all: crater

crater: crater.c syscalls.h
	@command -v $(CC_MUSL) >/dev/null 2>&1 || { \
	  echo "make: $(CC_MUSL) not found: install musl-tools" \
	       "(apt-get install musl-tools)" >&2; exit 1; }
	$(CC_MUSL) $(CFLAGS_RELEASE) -o $@ crater.c

crater-debug: crater.c syscalls.h
	$(CC_MUSL) $(CFLAGS_DEBUG) -o $@ crater.c

debug: crater-debug

# The Alpine image needs the network; without it, a busybox image.
$(IMAGE):
	./mkimage.sh -o $(IMAGE) || { \
	  echo "make: no Alpine image, building an offline busybox one" >&2; \
	  ./mkimage.sh --busybox -s 64 -o $(IMAGE); }

demo:
	tools/deps.sh build
	$(MAKE) crater $(IMAGE)
	./crater run --image $(IMAGE) /bin/echo hello from crater

test:
	tools/deps.sh test
	./test.sh

vm-test:
	tools/deps.sh vm
	./test.sh --vm

vm: crater
	tools/deps.sh vm
	@[ -f vm-test.img ] || ./mkimage.sh --busybox -s 64 -o vm-test.img
	vm/run.sh shell --crater ./crater --image vm-test.img

# Start-to-exit time, memory, size and concurrency next to runc; writes
# bench/RESULTS.md (bench/bench.sh --quick prints a short run instead).
bench:
	tools/deps.sh test
	bench/bench.sh

gdb: crater-debug
	@[ -f $(IMAGE) ] || ./mkimage.sh --busybox -s 64 -o $(IMAGE)
	gdb -q -x tools/stages.gdb --args ./crater-debug run --image $(IMAGE) /bin/sh

clean:
	rm -f crater crater-debug

.PHONY: all debug demo test vm-test vm gdb bench clean

# Sanitizers need the host's C library: musl does not support them.
SANITIZE = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer

crater-asan: crater.c syscalls.h
	gcc $(SANITIZE) $(WARNINGS) -o $@ crater.c

sanitize: crater-asan

# The test suite with the AddressSanitizer and UBSan build. LeakSanitizer
# and the symbolizer are off: both are child processes, which after
# crater's unshare(CLONE_NEWPID) would start in the container's PID
# namespace, and fail there once its init has exited. Reports show raw
# addresses: addr2line -e crater-asan turns them into lines.
sanitize-test: crater-asan
	ASAN_OPTIONS=detect_leaks=0:symbolize=0 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:symbolize=0 \
	  CRATER=$(CURDIR)/crater-asan CRATER_SANITIZE=1 ./test.sh

# The config.json parser under libFuzzer: FUZZ_SECONDS of fuzzing, with
# the corpus in tests/fuzz-corpus.
FUZZ_SECONDS ?= 60
crater-fuzz: crater.c syscalls.h
	clang -DCRATER_FUZZ -DCRATER_LIBFUZZER -g -O1 \
	  -fsanitize=fuzzer,address,undefined -o $@ crater.c

fuzz: crater-fuzz
	mkdir -p tests/fuzz-corpus
	./crater-fuzz -max_total_time=$(FUZZ_SECONDS) \
	  -timeout=5 tests/fuzz-corpus

# Without main, the command-line helpers are unused in the fuzz builds.
crater-fuzz-replay: crater.c syscalls.h
	gcc -DCRATER_FUZZ $(SANITIZE) $(WARNINGS) -Wno-unused-function \
	  -o $@ crater.c

.PHONY: sanitize sanitize-test fuzz
