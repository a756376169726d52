# crater: one static binary, built with musl.
#
#   make            ./crater, static, -Os
#   make debug      ./crater-debug, -O0 -g3, for gdb
#   make test       the test suite (as root)

CC_MUSL ?= musl-gcc
# snprintf() into PATH_MAX buffers may truncate a path longer than the
# kernel accepts anyway; gcc's warning about it is switched off.
WARNINGS = -Wall -Wextra -Werror -Wno-format-truncation
CFLAGS_RELEASE = -Os -static -s $(WARNINGS)
CFLAGS_DEBUG = -O0 -g3 -static $(WARNINGS)

all: crater

crater: crater.c syscalls.h
	@command -v $(CC_MUSL) >/dev/null 2>&1 || { \
	  echo "make: $(CC_MUSL) not found: install musl-tools" \
	       "(apt-get install musl-tools)" >&2; exit 1; }
	$(CC_MUSL) $(CFLAGS_RELEASE) -o $@ crater.c

crater-debug: crater.c syscalls.h
	$(CC_MUSL) $(CFLAGS_DEBUG) -o $@ crater.c

debug: crater-debug

test: crater
	./test.sh

clean:
	rm -f crater crater-debug

.PHONY: all debug test clean
