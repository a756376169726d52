/*
 * syscalls.h - the parts of the Linux kernel ABI that crater uses.
 *
 * musl-gcc compiles against musl's headers only and does not see the
 * kernel's <linux/...> headers, so the constants and structures crater
 * needs are written out here. Each block names the kernel header (in a
 * kernel source tree: include/uapi/linux/...) or the man page it comes
 * from. The values are part of the stable user-space ABI: they never
 * change once a kernel has shipped them.
 */
#ifndef CRATER_SYSCALLS_H
#define CRATER_SYSCALLS_H

#include <stdint.h>
#include <sys/syscall.h>

/*
 * System call numbers (x86_64: arch/x86/entry/syscalls/syscall_64.tbl).
 * musl 1.2 defines them already; these are the fallbacks for older musl.
 */
#ifndef SYS_pivot_root
#define SYS_pivot_root 155 /* pivot_root(2), no libc wrapper */
#endif
#ifndef SYS_close_range
#define SYS_close_range 436 /* close_range(2), Linux 5.9 */
#endif

/* Namespace flags: clone(2), include/uapi/linux/sched.h. */
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000 /* Linux 4.6 */
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080 /* Linux 5.6 */
#endif

/*
 * clone3(2), Linux 5.3: include/uapi/linux/sched.h. Every field is 64
 * bits wide, pointers too. CLONE_INTO_CGROUP and the cgroup field (a
 * descriptor of a cgroup v2 directory) came in Linux 5.7. An older
 * kernel receives a struct longer than its own and fails with E2BIG.
 */
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define CLONE_INTO_CGROUP 0x200000000ULL

struct clone_args {
    uint64_t flags;
    uint64_t pidfd;
    uint64_t child_tid;
    uint64_t parent_tid;
    uint64_t exit_signal; /* SIGCHLD, as for fork() */
    uint64_t stack;
    uint64_t stack_size;
    uint64_t tls;
    uint64_t set_tid;
    uint64_t set_tid_size;
    uint64_t cgroup;
};

/* Filesystem magic numbers: statfs(2), include/uapi/linux/magic.h. */
#define CGROUP2_SUPER_MAGIC 0x63677270
#define EXT4_SUPER_MAGIC    0xEF53 /* 16 bits at byte 1080 of the disk */

/*
 * Loop devices: loop(4), include/uapi/linux/loop.h.
 *
 * /dev/loop-control hands out free device numbers; each /dev/loopN is
 * then bound to a backing file with LOOP_CONFIGURE (Linux 5.8), or on
 * older kernels with LOOP_SET_FD followed by LOOP_SET_STATUS64.
 */
#define LOOP_SET_FD       0x4C00
#define LOOP_CLR_FD       0x4C01
#define LOOP_SET_STATUS64 0x4C04
#define LOOP_GET_STATUS64 0x4C05
#define LOOP_CONFIGURE    0x4C0A /* Linux 5.8 */
#define LOOP_CTL_GET_FREE 0x4C82

#define LO_FLAGS_READ_ONLY 1
#define LO_FLAGS_AUTOCLEAR 4 /* detach on last close */

#define LO_NAME_SIZE 64
#define LO_KEY_SIZE  32

struct loop_info64 {
    uint64_t lo_device;
    uint64_t lo_inode;
    uint64_t lo_rdevice;
    uint64_t lo_offset;
    uint64_t lo_sizelimit; /* bytes, 0 == max available */
    uint32_t lo_number;
    uint32_t lo_encrypt_type;
    uint32_t lo_encrypt_key_size;
    uint32_t lo_flags; /* LO_FLAGS_* */
    uint8_t lo_file_name[LO_NAME_SIZE];
    uint8_t lo_crypt_name[LO_NAME_SIZE];
    uint8_t lo_encrypt_key[LO_KEY_SIZE];
    uint64_t lo_init[2];
};

struct loop_config {
    uint32_t fd;         /* the backing file */
    uint32_t block_size; /* 0: the kernel's default */
    struct loop_info64 info;
    uint64_t __reserved[8];
};

/*
 * Netlink: netlink(7), include/uapi/linux/netlink.h.
 * Every message starts with a struct nlmsghdr; lengths are rounded up to
 * 4-byte boundaries (NLMSG_ALIGN).
 */
#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif
#define NETLINK_ROUTE 0

struct sockaddr_nl {
    unsigned short nl_family; /* AF_NETLINK */
    unsigned short nl_pad;
    uint32_t nl_pid; /* port id, 0 == the kernel */
    uint32_t nl_groups;
};

struct nlmsghdr {
    uint32_t nlmsg_len; /* header and payload, bytes */
    uint16_t nlmsg_type;
    uint16_t nlmsg_flags;
    uint32_t nlmsg_seq;
    uint32_t nlmsg_pid;
};

#define NLM_F_REQUEST 0x01
#define NLM_F_ACK     0x04
#define NLMSG_ERROR   0x2

/* The kernel's reply to NLM_F_ACK: error 0, or a negative errno. */
struct nlmsgerr {
    int error;
    struct nlmsghdr msg; /* the request it acknowledges */
};

#define NLMSG_ALIGN(len) (((len) + 3U) & ~3U)

/*
 * Routing netlink: rtnetlink(7), include/uapi/linux/rtnetlink.h and
 * if_link.h. RTM_NEWLINK with an ifinfomsg changes a link's flags; the
 * link is named by index or by an IFLA_IFNAME attribute.
 */
#define RTM_NEWLINK 16
#define IFLA_IFNAME 3

struct ifinfomsg {
    unsigned char ifi_family; /* AF_UNSPEC */
    unsigned char __ifi_pad;
    unsigned short ifi_type;
    int ifi_index;           /* 0: look the link up by name */
    unsigned int ifi_flags;  /* new values of the flags ... */
    unsigned int ifi_change; /* ... that this mask selects */
};

struct rtattr {
    unsigned short rta_len; /* header and payload, bytes */
    unsigned short rta_type;
};

#define RTA_ALIGN(len) (((len) + 3U) & ~3U)

/*
 * Namespace files: ioctl_ns(2), include/uapi/linux/nsfs.h. NS_GET_NSTYPE
 * (Linux 4.11) returns the CLONE_NEW* type of a /proc/PID/ns file.
 */
#define NS_GET_NSTYPE 0xb703 /* _IO(0xb7, 0x3) */

#endif /* CRATER_SYSCALLS_H */
