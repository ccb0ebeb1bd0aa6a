/* spawn-fast warm image: preloaded into a dynamically linked glibc program, it interposes
 * __libc_start_main and parks there (ld.so has mapped and relocated everything, library
 * constructors ran; the program's own constructors and main have not). Per request on the
 * control socket it forks the parked image with clone3(CLONE_PARENT), so the new process is the
 * caller's child, applies the request (argv, environ, fds, cwd, umask, signals, group/session,
 * credentials, affinity, nice) and continues into the real __libc_start_main.
 * With a pool (SPAWN_FAST_WARM_POOL), it also keeps N children forked ahead of time, each
 * waiting for its request on its own socket, whose other end the caller holds.
 * The wire format is mirrored in src/warm/wire.rs. Only the control variable makes it park.
 * Linked with -z now: the children never run the lazy-binding resolver for our calls. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/prctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CTL_ENV "SPAWN_FAST_WARM_FD"
#define POOL_ENV "SPAWN_FAST_WARM_POOL"
#define MAGIC_REQ 0x53465752u   /* "SFWR" */
#define MAGIC_RESP 0x53465741u  /* "SFWA" */
#define MAGIC_HELLO 0x53465748u /* "SFWH" */
#define MAGIC_READY 0x53465750u /* "SFWP" */
#define MAGIC_REFILL 0x53465746u /* "SFWF" */
#define MAX_FDS 240
#define MAX_POOL 64
#define MAX_PAYLOAD (16u << 20)
#define MAX_STRINGS (1u << 20)
#define F_SETSID 1u
#define F_PGROUP 2u
#define F_UID 4u
#define F_GID 8u
#define F_PIDFD 16u
#define NO_PARK_THREADS 1
#define NO_PARK_TID 2
#define NO_PARK_MEMORY 3

struct req {
    uint32_t magic, payload_len, argc, envc;
    uint32_t nops, nfds, flags, umask;
    int32_t pgroup, caller_pgrp;
    uint32_t uid, gid;
    int32_t cwd_fd_idx, has_cwd, nice, reply_fd_idx;
    uint64_t sigmask, ignore;
    uint64_t cpus[16];
};

struct resp {
    uint32_t magic;
    int32_t pid, err, why;
};

/* What a child writes on the caller's reply pipe: err 0 once `main` is next. */
struct report {
    int32_t pid, err;
};

struct op { int src, dst; };

typedef int (*start_fn)(void *, int, char **, void *, void *, void *, void *);

/* State of the parked image, read-only after park (children get a copy). */
static int *tid_addr;
static void *robust_head;
static size_t robust_len;
static char *payload, *pay_end;
static char **ptrs;
static uint64_t *auxv;
static size_t auxv_words;
static int image_nice;
static mode_t image_umask;
static uint64_t image_cpus[16];
/* The image's memory-map bounds, for PR_SET_MM_MAP (0 start_code: unknown, skip). */
static struct prctl_mm_map mm_map;
/* Control socket; with a pool: the pool socket, and the pipe on which a pool child says it
 * was taken (the image then forks a new one). */
static int ctl = -1, pool_sock = -1, taken_r = -1, taken_w = -1, pool_size;
/* In a pool child that got its request: taken_w, written once the child is done (or failed),
 * so that the image's fork of a replacement does not compete with the child's setup. */
static int taken_notify = -1;

static void notify_taken(void) {
    if (taken_notify < 0) return;
    while (write(taken_notify, "t", 1) < 0 && errno == EINTR) {}
    close(taken_notify);
    taken_notify = -1;
}

/* The request being served, parsed (in the image, or in a pool child). Page-aligned, and
 * what a request writes first: after each fork every page the image writes is copied again,
 * so a usual request (a few fds) touches one page here. */
static struct {
    struct req h;
    int nfds;
    const char *cwd;
    char *strs;
    size_t strs_len;
    union { char buf[CMSG_SPACE(MAX_FDS * sizeof(int))]; struct cmsghdr align; } c;
    int fds[MAX_FDS];
    struct op ops[MAX_FDS];
} R __attribute__((aligned(4096)));

static int read_full(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_msg(int sock, const struct resp *r, const int *fds, int nfds) {
    struct iovec iov = {(void *)r, sizeof *r};
    union { char buf[CMSG_SPACE(2 * sizeof(int))]; struct cmsghdr align; } c;
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&c, 0, sizeof c);
        m.msg_control = c.buf;
        m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        return n == (ssize_t)sizeof *r ? 0 : -1; /* 16 bytes never go out in pieces */
    }
}

static int send_resp(int sock, uint32_t magic, int pid, int err, int why, int fd) {
    struct resp r = {magic, pid, err, why};
    return send_msg(sock, &r, &fd, fd >= 0 ? 1 : 0);
}

static void report(int fd, int err) {
    /* CLONE_CHILD_SETTID stored our tid (our pid: we are single-threaded) at tid_addr. */
    struct report r = {*tid_addr, err};
    while (write(fd, &r, sizeof r) < 0 && errno == EINTR) {}
}

/* The child: report errno on the reply pipe and exit. */
static void fail(int replyw, int err) {
    report(replyw, err);
    notify_taken();
    _exit(127);
}

static int cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

/* Whether `fd` is the destination of an op other than op `skip`. */
static int is_dst_of_other(int fd, uint32_t skip) {
    for (uint32_t i = 0; i < R.h.nops; i++)
        if (i != skip && R.ops[i].dst == fd) return 1;
    return 0;
}

static int is_dst(int fd) {
    return is_dst_of_other(fd, UINT32_MAX);
}

/* argv and environ, laid out like a fresh stack: argv, NULL, envp, NULL, auxv. Done by the
 * image before the fork, so the child only reads these pages. */
static void layout(void) {
    uint32_t n = R.h.argc + R.h.envc;
    char *s = R.strs;
    for (uint32_t i = 0; i < n; i++) {
        ptrs[i < R.h.argc ? i : i + 1] = s;
        s += strlen(s) + 1;
    }
    ptrs[R.h.argc] = NULL;
    ptrs[n + 1] = NULL;
    memcpy(&ptrs[n + 2], auxv, auxv_words * sizeof(uint64_t));
}

/* Runs in the new child: applies the request R. Returns argc. */
static int apply(void) {
    const struct req *h = &R.h;
    int replyw = R.fds[h->reply_fd_idx];
    /* glibc per-thread state after a raw clone: CLONE_CHILD_SETTID stored our tid where
     * glibc caches it; the kernel gave the new task no robust list. */
    syscall(SYS_set_robust_list, robust_head, robust_len);
    if (h->flags & F_SETSID) {
        if (setsid() < 0) fail(replyw, errno);
    } else if (setpgid(0, (h->flags & F_PGROUP) ? h->pgroup : h->caller_pgrp) < 0) {
        fail(replyw, errno);
    }
    int cwd_fd = h->cwd_fd_idx >= 0 ? R.fds[h->cwd_fd_idx] : -1;
    if (cwd_fd >= 0 && fchdir(cwd_fd) < 0) fail(replyw, errno);
    if (R.cwd && chdir(R.cwd) < 0) fail(replyw, errno);
    if ((h->flags & F_GID) && syscall(SYS_setgid, h->gid) < 0) fail(replyw, errno);
    if (h->flags & F_UID) {
        if (getuid() == 0) syscall(SYS_setgroups, 0, NULL);
        if (syscall(SYS_setuid, h->uid) < 0) fail(replyw, errno);
    }
    /* Umask, nice and affinity are the image's until changed: compare with its own. */
    if ((mode_t)h->umask != image_umask) umask((mode_t)h->umask);
    if (h->nice != image_nice && setpriority(PRIO_PROCESS, 0, h->nice) < 0) fail(replyw, errno);
    int any_cpu = 0;
    for (int i = 0; i < 16; i++) any_cpu |= h->cpus[i] != 0;
    if (any_cpu && memcmp(image_cpus, h->cpus, sizeof image_cpus) != 0 &&
        sched_setaffinity(0, sizeof h->cpus, (const cpu_set_t *)h->cpus) < 0)
        fail(replyw, errno);

    /* Fds, in order, each source as it was before any dup2 (as exec's file actions). A source
     * that another op overwrites would be lost: such sources (and the reply pipe, if it is a
     * destination) move above every fd first; the others are used in place. */
    int top = replyw;
    for (uint32_t i = 0; i < h->nops; i++) {
        top = R.ops[i].dst > top ? R.ops[i].dst : top;
        top = R.ops[i].src > top ? R.ops[i].src : top;
    }
    int base = top + 1;
    if (is_dst(replyw)) {
        int w = fcntl(replyw, F_DUPFD_CLOEXEC, base);
        if (w < 0) fail(replyw, errno);
        replyw = w;
    }
    /* The pool's notification pipe too. */
    if (taken_notify >= 0 && is_dst(taken_notify)) {
        int t = fcntl(taken_notify, F_DUPFD_CLOEXEC, base);
        if (t < 0) fail(replyw, errno);
        taken_notify = t;
    }
    for (uint32_t i = 0; i < h->nops; i++) {
        int src = R.ops[i].src;
        if (is_dst_of_other(src, i)) {
            int m = fcntl(src, F_DUPFD_CLOEXEC, base);
            if (m < 0) fail(replyw, errno);
            for (uint32_t j = i; j < h->nops; j++)
                if (R.ops[j].src == src) R.ops[j].src = m;
        }
    }
    int keep[MAX_FDS + 2];
    for (uint32_t i = 0; i < h->nops; i++) {
        const struct op *o = &R.ops[i];
        /* Received fds are close-on-exec; dup2 onto itself would keep that flag. */
        if (o->src == o->dst ? fcntl(o->dst, F_SETFD, 0) < 0 : dup2(o->src, o->dst) < 0)
            fail(replyw, errno);
        keep[i] = o->dst;
    }
    keep[h->nops] = replyw;
    int nkeep = (int)h->nops + 1;
    if (taken_notify >= 0) keep[nkeep++] = taken_notify;

    /* Signals: exec keeps ignored dispositions; the caller's ignored set comes per request
     * (the image itself was started with every disposition at default). */
    for (int sig = 1; h->ignore && sig < 65; sig++) {
        if (!(h->ignore & (1ull << (sig - 1))) || sig == SIGKILL || sig == SIGSTOP) continue;
        /* The raw call: glibc's sigaction refuses its internal signals (32, 33), which exec
         * keeps ignored like any other. Kernel layout: handler, flags, restorer, mask. */
        uint64_t old[4] = {0}, ign[4] = {(uint64_t)(uintptr_t)SIG_IGN, 0, 0, 0};
        if (syscall(SYS_rt_sigaction, sig, NULL, old, 8) == 0 && old[0] == (uint64_t)(uintptr_t)SIG_DFL)
            syscall(SYS_rt_sigaction, sig, ign, NULL, 8);
    }

    environ = &ptrs[h->argc + 1];
    if (h->argc > 0) {
        char *slash = strrchr(ptrs[0], '/');
        program_invocation_name = ptrs[0];
        program_invocation_short_name = slash ? slash + 1 : ptrs[0];
    }
    /* /proc/self/cmdline and environ: PR_SET_MM_MAP (CONFIG_CHECKPOINT_RESTORE, no capability
     * needed) with the image's bounds and the new argument and environment strings. */
    if (mm_map.start_code) {
        struct prctl_mm_map mp = mm_map;
        char *env0 = h->envc ? ptrs[h->argc + 1] : R.strs + R.strs_len;
        mp.brk = (uint64_t)syscall(SYS_brk, 0);
        mp.arg_start = (uint64_t)(uintptr_t)R.strs;
        mp.arg_end = mp.env_start = (uint64_t)(uintptr_t)env0;
        mp.env_end = (uint64_t)(uintptr_t)(R.strs + R.strs_len);
        mp.exe_fd = (uint32_t)-1;
        prctl(PR_SET_MM, PR_SET_MM_MAP, &mp, sizeof mp, 0);
    }

    /* Close everything that exec would not have kept, then report success and close the
     * reply pipe too. */
    qsort(keep, nkeep, sizeof(int), cmp_int);
    unsigned next = 0;
    for (int i = 0; i < nkeep; i++) {
        unsigned t = (unsigned)keep[i];
        if (t > next) syscall(SYS_close_range, next, t - 1, 0);
        if (t + 1 > next) next = t + 1;
    }
    syscall(SYS_close_range, next, ~0u, 0);
    report(replyw, 0);
    close(replyw); /* never a destination: moved above them all if it was one */
    notify_taken();
    sigset_t mask;
    sigemptyset(&mask);
    memcpy(&mask, &h->sigmask, sizeof h->sigmask);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    return (int)h->argc;
}

/* Reads and checks one request into R. Returns 0, an errno for a bad request (the stream
 * stays in step), -1 when the stream is gone, -2 when it is out of step, -3 for a request
 * to fork one more pool child (the caller found one dead). */
static int read_request(int sock) {
    struct iovec iov = {&R.h, sizeof R.h};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = R.c.buf;
    m.msg_controllen = sizeof R.c.buf;
    R.nfds = 0;
    R.cwd = NULL;
    ssize_t n;
    do n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return -1; /* the caller is gone */
    for (struct cmsghdr *ch = CMSG_FIRSTHDR(&m); ch; ch = CMSG_NXTHDR(&m, ch)) {
        if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k && R.nfds < MAX_FDS; i++)
            memcpy(&R.fds[R.nfds++], CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
    }
    /* A short header or a bad magic: the stream is out of step, nothing can be trusted. */
    if ((size_t)n < sizeof R.h && read_full(sock, (char *)&R.h + n, sizeof R.h - (size_t)n) < 0)
        return -1;
    if (R.h.magic == MAGIC_REFILL && R.nfds == 0) return -3;
    if (R.h.magic != MAGIC_REQ || R.h.payload_len > MAX_PAYLOAD) return -2;
    /* The payload ends where the argv pointers start: one page-table page for both. */
    payload = pay_end - R.h.payload_len;
    if (read_full(sock, payload, R.h.payload_len) < 0) return -1;
    /* From here a bad request gets one error and the stream goes on. */
    const char *p = payload, *end = payload + R.h.payload_len;
    if (m.msg_flags & MSG_CTRUNC) return EMFILE;
    if (R.h.nfds != (uint32_t)R.nfds || R.h.nops > MAX_FDS ||
        (uint64_t)R.h.argc + R.h.envc + 2 > MAX_STRINGS ||
        (size_t)(end - p) < R.h.nops * sizeof(struct op))
        return EINVAL;
    for (uint32_t i = 0; i < R.h.nops; i++) {
        memcpy(&R.ops[i], p + i * sizeof(struct op), sizeof(struct op));
        if (R.ops[i].src < 0 || R.ops[i].src >= R.nfds || R.ops[i].dst < 0) return EBADF;
        R.ops[i].src = R.fds[R.ops[i].src];
    }
    p += R.h.nops * sizeof(struct op);
    if (R.h.has_cwd) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        if (!z) return EINVAL;
        R.cwd = p;
        p = z + 1;
    }
    /* argv and env strings must be exactly argc + envc NUL-terminated strings. */
    uint32_t count = 0;
    for (const char *q = p; q < end; q++) count += *q == 0;
    if (count != R.h.argc + R.h.envc || (end > p && end[-1] != 0)) return EINVAL;
    R.strs = (char *)p;
    R.strs_len = (size_t)(end - p);
    if (R.h.cwd_fd_idx >= R.nfds) return EINVAL;
    /* The caller's pipe for the child's report. */
    if (R.h.reply_fd_idx < 0 || R.h.reply_fd_idx >= R.nfds) return EINVAL;
    return 0;
}

static void close_received(void) {
    int lo = R.nfds ? R.fds[0] : 0, hi = lo;
    for (int i = 1; i < R.nfds; i++) {
        lo = R.fds[i] < lo ? R.fds[i] : lo;
        hi = R.fds[i] > hi ? R.fds[i] : hi;
    }
    /* Distinct fds as many as the range is wide: the range holds exactly them. */
    if (R.nfds > 1 && hi - lo + 1 == R.nfds && syscall(SYS_close_range, lo, hi, 0) == 0) {
        R.nfds = 0;
        return;
    }
    for (int i = 0; i < R.nfds; i++) close(R.fds[i]);
    R.nfds = 0;
}

/* A new child of the caller (CLONE_PARENT); its pidfd, when asked for, is born with it. */
static long fork_child(int *pidfd) {
    struct clone_args ca;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    if (pidfd) {
        ca.flags |= CLONE_PIDFD;
        ca.pidfd = (uint64_t)(uintptr_t)pidfd;
    }
    ca.child_tid = (uint64_t)(uintptr_t)tid_addr;
    return syscall(SYS_clone3, &ca, sizeof ca);
}

/* In a pool child: waits for its one request on `sock`. Returns argc (run the program). */
static int pool_child(int sock) {
    syscall(SYS_set_robust_list, robust_head, robust_len);
    /* Only the image talks on the control and pool sockets; the caller must see EOF on them
     * when the image dies. */
    close(ctl);
    close(pool_sock);
    close(taken_r);
    int r = read_request(sock);
    if (r < 0) _exit(0); /* discarded by the caller */
    /* The image forks a replacement once this one is done with its setup. */
    taken_notify = taken_w;
    close(sock);
    if (r > 0) {
        /* The caller reaps us either way; it gets the errno when the pipe is known. */
        if (R.h.reply_fd_idx >= 0 && R.h.reply_fd_idx < R.nfds) report(R.fds[R.h.reply_fd_idx], r);
        notify_taken();
        _exit(127);
    }
    layout();
    return apply();
}

/* Forks one pool child and hands its socket and pidfd to the caller. Returns argc in a pool
 * child that got its request, -1 in the image. */
static int add_pool_child(void) {
    int sv[2], pidfd = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return -1;
    long pid = fork_child(&pidfd);
    if (pid == 0) {
        close(sv[1]);
        return pool_child(sv[0]);
    }
    close(sv[0]);
    if (pid > 0) {
        int fds[2] = {sv[1], pidfd};
        struct resp r = {MAGIC_READY, (int32_t)pid, 0, 0};
        if (send_msg(pool_sock, &r, fds, 2) < 0) {
            /* The caller is gone: the child reads EOF once sv[1] closes, and exits. */
        }
        close(pidfd);
    }
    close(sv[1]);
    return -1;
}

/* Forks the replacements for the pool children taken since the last time. Returns argc in
 * a pool child that got its request, -1 in the image. */
static int refill(void) {
    char buf[MAX_POOL];
    ssize_t t = read(taken_r, buf, sizeof buf);
    for (ssize_t i = 0; i < t; i++) {
        int r = add_pool_child();
        if (r >= 0) return r;
    }
    return -1;
}

/* Serves what is ready: a request first (someone waits for it), then refills the pool.
 * Returns the child's argc in a new child, -1 in the image. */
static int serve_one(void) {
    struct pollfd pf[2] = {{ctl, POLLIN, 0}, {taken_r, POLLIN, 0}};
    /* poll, not a blocking recvmsg: the caller reading our answer wakes the socket's writers,
     * which poll (asking for POLLIN only) ignores. */
    int k = poll(pf, taken_r >= 0 ? 2 : 1, -1);
    if (k < 0) return -1; /* EINTR: try again */
    if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        int err = read_request(ctl);
        if (err == -1) _exit(0); /* the caller is gone */
        if (err == -2) {
            send_resp(ctl, MAGIC_RESP, -1, EPROTO, 0, -1);
            _exit(0);
        }
        if (err == -3) return pool_size ? add_pool_child() : -1;
        int pidfd = -1;
        long pid = -1;
        if (!err) {
            layout();
            pid = fork_child((R.h.flags & F_PIDFD) ? &pidfd : NULL);
            if (pid == 0) return apply();
            if (pid < 0) err = errno;
        }
        /* Answer at once (the caller reads it after the child's report). */
        send_resp(ctl, MAGIC_RESP, (int)pid, err, 0, (R.h.flags & F_PIDFD) ? pidfd : -1);
        close_received();
        if (pidfd >= 0) close(pidfd);
    }
    if (taken_r >= 0 && (pf[1].revents & POLLIN)) return refill();
    return -1;
}

/* Fills mm_map from /proc/self/stat (fields 26-28 and 45-51); leaves it zero on failure. */
static void read_mm_bounds(void) {
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return;
    uint64_t f[52] = {0};
    int field = 2;
    for (p++; *p && field < 51;) { /* field 3 (the state) is a letter: parses as 0 */
        while (*p == ' ') p++;
        field++;
        f[field] = strtoull(p, NULL, 10);
        while (*p && *p != ' ') p++;
    }
    if (field < 51) return;
    struct prctl_mm_map m = {0};
    m.start_code = f[26];
    m.end_code = f[27];
    m.start_stack = f[28];
    m.start_data = f[45];
    m.end_data = f[46];
    m.start_brk = f[47];
    m.arg_start = f[48];
    m.arg_end = f[49];
    m.env_start = f[50];
    m.env_end = f[51];
    mm_map = m;
}

static int count_threads(void) {
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
    char buf[4096];
    long got;
    if (fd < 0) return -1;
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long off = 0; off < got;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            n += buf[off + 19] != '.';
            off += reclen;
        }
    close(fd);
    return n;
}

/* Parks: answers HELLO, then serves until a request returns in a child (its argc). */
static int park(int argc, char **argv) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (chdir("/") < 0) { /* keep the old cwd: every child sets its own */ }
    /* The image was started by an fd exec, which kernels before 6.x name after the fd number
     * ("16"); children inherit this comm, so give it what an exec by path would: the file's
     * base name (the kernel keeps its first 15 bytes). */
    if (argc > 0 && argv[0]) {
        const char *base = strrchr(argv[0], '/');
        prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0);
    }
    int why = 0;
    if (count_threads() != 1) why = NO_PARK_THREADS;
    if (!why && (prctl(PR_GET_TID_ADDRESS, &tid_addr, 0, 0, 0) < 0 || !tid_addr ||
                 *tid_addr != (int)syscall(SYS_gettid)))
        why = NO_PARK_TID;
    if (!why && syscall(SYS_get_robust_list, 0, &robust_head, &robust_len) < 0) why = NO_PARK_TID;
    read_mm_bounds();
    image_umask = umask(022);
    umask(image_umask);
    errno = 0;
    image_nice = getpriority(PRIO_PROCESS, 0);
    if (sched_getaffinity(0, sizeof image_cpus, (cpu_set_t *)image_cpus) < 0)
        memset(image_cpus, 0, sizeof image_cpus);
    char **ev = &argv[argc + 1];
    while (*ev) ev++;
    uint64_t *av = (uint64_t *)(ev + 1), *a = av;
    while (a[0] != 0) a += 2; /* AT_NULL */
    auxv = av;
    auxv_words = (size_t)(a - av) + 2;
    /* One mapping: the payload (read so that it ends at pay_end), then the argv pointers. A
     * request touches the pages around pay_end, placed mid-way in a 2 MiB range so that they
     * share one page-table page (which each fork copies). */
    size_t huge = 2u << 20, ptrs_len = (MAX_STRINGS + 2 + auxv_words) * sizeof(char *);
    char *region = mmap(NULL, MAX_PAYLOAD + huge + ptrs_len, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) {
        if (!why) why = NO_PARK_MEMORY;
    } else {
        madvise(region, MAX_PAYLOAD + huge + ptrs_len, MADV_NOHUGEPAGE);
        uintptr_t e = (uintptr_t)region + MAX_PAYLOAD;
        e += (huge / 2 - e % huge + huge) % huge;
        pay_end = (char *)e;
        ptrs = (char **)pay_end;
        payload = pay_end;
    }
    const char *pool = getenv(POOL_ENV);
    if (!why && pool) {
        /* "FD:N": the pool socket's fd and the pool size. */
        char *colon;
        pool_sock = (int)strtol(pool, &colon, 10);
        pool_size = *colon == ':' ? atoi(colon + 1) : 0;
        if (pool_size < 1 || pool_size > MAX_POOL) pool_size = 0;
        int tp[2];
        if (pool_size && pipe2(tp, O_CLOEXEC) == 0) {
            taken_r = tp[0];
            taken_w = tp[1];
        } else {
            pool_size = 0;
        }
    }
    if (send_resp(ctl, MAGIC_HELLO, getpid(), why ? ENOTSUP : 0, why, -1) < 0 || why) _exit(1);
    for (int i = 0; i < pool_size; i++) {
        int r = add_pool_child();
        if (r >= 0) return r;
    }
    for (;;) {
        int r = serve_one();
        if (r >= 0) return r;
    }
}

int __libc_start_main(void *main_fn, int argc, char **argv, void *init, void *fini,
                      void *rtld_fini, void *stack_end) {
    start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
    const char *c = getenv(CTL_ENV);
    if (!real) _exit(127);
    if (!c) return real(main_fn, argc, argv, init, fini, rtld_fini, stack_end);
    ctl = atoi(c);
    int new_argc = park(argc, argv);
    return real(main_fn, new_argc, ptrs, init, fini, rtld_fini, stack_end);
}
