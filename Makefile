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

CC_MUSL ?= musl-gcc
# snprintf() into PATH_MAX buffers may truncate a path longer than the
# kernel accepts anyway; gcc's warning about it is switched off.
WARNINGS = -Wall -Wextra -Werror -Wno-format-truncation
CFLAGS_RELEASE = -Os -static -s $(WARNINGS)
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

gdb: crater-debug
	@[ -f $(IMAGE) ] || ./mkimage.sh --busybox -s 64 -o $(IMAGE)
	gdb -q -x tools/stages.gdb --args ./crater-debug run --image $(IMAGE) /bin/sh

clean:
	rm -f crater crater-debug

.PHONY: all debug demo test vm-test vm gdb clean
