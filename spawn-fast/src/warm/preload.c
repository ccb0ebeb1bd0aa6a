/* spawn-fast warm image: preloaded into a dynamically linked glibc program, it interposes
 * __libc_start_main and parks there (ld.so has mapped and relocated everything, library
 * constructors ran; the program's own constructors and main have not). Per request on the
 * control socket it forks the parked image with clone3(CLONE_PARENT), so the new process is the
 * caller's child, applies the request (argv, environ, fds, cwd, umask, signals, group/session,
 * credentials, affinity, nice) and continues into the real __libc_start_main.
 * The wire format is mirrored in src/warm/wire.rs. Only the control variable makes it park. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
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
#define MAGIC_REQ 0x53465752u   /* "SFWR" */
#define MAGIC_RESP 0x53465741u  /* "SFWA" */
#define MAGIC_HELLO 0x53465748u /* "SFWH" */
#define MAX_FDS 240
#define MAX_PAYLOAD (16u << 20)
#define MAX_STRINGS (1u << 20)
#define F_SETSID 1u
#define F_PGROUP 2u
#define F_UID 4u
#define F_GID 8u
#define NO_PARK_THREADS 1
#define NO_PARK_TID 2
#define NO_PARK_MEMORY 3

struct req {
    uint32_t magic, payload_len, argc, envc;
    uint32_t nops, nfds, flags, umask;
    int32_t pgroup, caller_pgrp;
    uint32_t uid, gid;
    int32_t cwd_fd_idx, has_cwd, nice, err_fd_idx;
    uint64_t sigmask, ignore;
    uint64_t cpus[16];
};

struct resp {
    uint32_t magic;
    int32_t pid, err, why;
};

typedef int (*start_fn)(void *, int, char **, void *, void *, void *, void *);

/* State of the parked image, read-only after park (children get a copy). */
static int *tid_addr;
static void *robust_head;
static size_t robust_len;
static char *payload;
static char **ptrs;
static uint64_t *auxv;
static size_t auxv_words;
/* The image's memory-map bounds, for PR_SET_MM_MAP (0 start_code: unknown, skip). */
static struct prctl_mm_map mm_map;

struct op { int src, dst; };

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

static int send_resp(int sock, uint32_t magic, int pid, int err, int why, int fd) {
    struct resp r = {magic, pid, err, why};
    struct iovec iov = {&r, sizeof r};
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } c;
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        memset(&c, 0, sizeof c);
        m.msg_control = c.buf;
        m.msg_controllen = sizeof c.buf;
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        return n == (ssize_t)sizeof r ? 0 : -1; /* 16 bytes never go out in pieces */
    }
}

/* The child: report errno on the pipe and exit. */
static void fail(int errw, int err) {
    while (write(errw, &err, sizeof err) < 0 && errno == EINTR) {}
    _exit(127);
}

static int cmp_int(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

/* Runs in the new child: applies the request, builds argv/environ. Returns argc. */
static int apply(const struct req *h, const struct op *ops, int top_fd, int errw,
                 const char *cwd, int cwd_fd, char *strs, size_t strs_len) {
    /* glibc per-thread state after a raw clone: CLONE_CHILD_SETTID stored our tid where
     * glibc caches it; the kernel gave the new task no robust list. */
    syscall(SYS_set_robust_list, robust_head, robust_len);
    if (h->flags & F_SETSID) {
        if (setsid() < 0) fail(errw, errno);
    } else if (setpgid(0, (h->flags & F_PGROUP) ? h->pgroup : h->caller_pgrp) < 0) {
        fail(errw, errno);
    }
    if (cwd_fd >= 0 && fchdir(cwd_fd) < 0) fail(errw, errno);
    if (cwd && chdir(cwd) < 0) fail(errw, errno);
    if ((h->flags & F_GID) && syscall(SYS_setgid, h->gid) < 0) fail(errw, errno);
    if (h->flags & F_UID) {
        if (getuid() == 0) syscall(SYS_setgroups, 0, NULL);
        if (syscall(SYS_setuid, h->uid) < 0) fail(errw, errno);
    }
    umask((mode_t)h->umask);
    errno = 0;
    if (getpriority(PRIO_PROCESS, 0) != h->nice && setpriority(PRIO_PROCESS, 0, h->nice) < 0)
        fail(errw, errno);
    int any_cpu = 0;
    uint64_t cur[16] = {0};
    for (int i = 0; i < 16; i++) any_cpu |= h->cpus[i] != 0;
    if (any_cpu && (sched_getaffinity(0, sizeof cur, (cpu_set_t *)cur) < 0 ||
                    memcmp(cur, h->cpus, sizeof cur) != 0) &&
        sched_setaffinity(0, sizeof h->cpus, (const cpu_set_t *)h->cpus) < 0)
        fail(errw, errno);

    /* Fds: every source moves above everything first, so no dup2 can hit a pending source. */
    int targets[MAX_FDS + 1], base = errw;
    for (uint32_t i = 0; i < h->nops; i++) base = ops[i].dst > base ? ops[i].dst : base;
    base = (top_fd > base ? top_fd : base) + 1;
    /* The error pipe must survive the dup2s too. */
    int w = fcntl(errw, F_DUPFD_CLOEXEC, base);
    if (w < 0) fail(errw, errno);
    errw = w;
    int moved[MAX_FDS];
    for (uint32_t i = 0; i < h->nops; i++)
        if ((moved[i] = fcntl(ops[i].src, F_DUPFD_CLOEXEC, base)) < 0) fail(errw, errno);
    for (uint32_t i = 0; i < h->nops; i++) {
        if (dup2(moved[i], ops[i].dst) < 0) fail(errw, errno);
        targets[i] = ops[i].dst;
    }

    /* Signals: exec keeps ignored dispositions; the caller's ignored set comes per request
     * (the image itself was started with every disposition at default). */
    for (int sig = 1; sig < 65; sig++) {
        if (!(h->ignore & (1ull << (sig - 1))) || sig == SIGKILL || sig == SIGSTOP) continue;
        /* The raw call: glibc's sigaction refuses its internal signals (32, 33), which exec
         * keeps ignored like any other. Kernel layout: handler, flags, restorer, mask. */
        uint64_t old[4] = {0}, ign[4] = {(uint64_t)(uintptr_t)SIG_IGN, 0, 0, 0};
        if (syscall(SYS_rt_sigaction, sig, NULL, old, 8) == 0 && old[0] == (uint64_t)(uintptr_t)SIG_DFL)
            syscall(SYS_rt_sigaction, sig, ign, NULL, 8);
    }

    /* argv and environ, laid out like a fresh stack: argv, NULL, envp, NULL, auxv. */
    uint32_t n = h->argc + h->envc;
    char *s = strs;
    for (uint32_t i = 0; i < n; i++) {
        ptrs[i < h->argc ? i : i + 1] = s;
        s += strlen(s) + 1;
    }
    ptrs[h->argc] = NULL;
    ptrs[n + 1] = NULL;
    memcpy(&ptrs[n + 2], auxv, auxv_words * sizeof(uint64_t));
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
        char *env0 = h->envc ? ptrs[h->argc + 1] : s;
        mp.brk = (uint64_t)syscall(SYS_brk, 0);
        mp.arg_start = (uint64_t)(uintptr_t)strs;
        mp.arg_end = mp.env_start = (uint64_t)(uintptr_t)env0;
        mp.env_end = (uint64_t)(uintptr_t)(strs + strs_len);
        mp.exe_fd = (uint32_t)-1;
        prctl(PR_SET_MM, PR_SET_MM_MAP, &mp, sizeof mp, 0);
    }

    /* Close everything that exec would not have kept (the error pipe too: success). */
    qsort(targets, h->nops, sizeof(int), cmp_int);
    unsigned next = 0;
    for (uint32_t i = 0; i < h->nops; i++) {
        unsigned t = (unsigned)targets[i];
        if (t > next) syscall(SYS_close_range, next, t - 1, 0);
        if (t + 1 > next) next = t + 1;
    }
    syscall(SYS_close_range, next, ~0u, 0);
    sigset_t mask;
    sigemptyset(&mask);
    memcpy(&mask, &h->sigmask, sizeof h->sigmask);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    return (int)h->argc;
}

/* Reads one request and spawns. Returns the child's argc in the child, -1 in the image. */
static int serve_one(int sock) {
    struct req h;
    union { char buf[CMSG_SPACE(MAX_FDS * sizeof(int))]; struct cmsghdr align; } c;
    struct iovec iov = {&h, sizeof h};
    struct msghdr m = {0};
    int fds[MAX_FDS], nfds = 0, err = 0;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = c.buf;
    m.msg_controllen = sizeof c.buf;
    ssize_t n;
    do n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
    while (n < 0 && errno == EINTR);
    if (n <= 0) _exit(0); /* the caller is gone */
    for (struct cmsghdr *ch = CMSG_FIRSTHDR(&m); ch; ch = CMSG_NXTHDR(&m, ch)) {
        if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k && nfds < MAX_FDS; i++)
            memcpy(&fds[nfds++], CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
    }
    /* A short header or a bad magic: the stream is out of step, nothing can be trusted. */
    if ((size_t)n < sizeof h && read_full(sock, (char *)&h + n, sizeof h - (size_t)n) < 0) _exit(0);
    if (h.magic != MAGIC_REQ || h.payload_len > MAX_PAYLOAD) {
        send_resp(sock, MAGIC_RESP, -1, EPROTO, 0, -1);
        _exit(0);
    }
    if (read_full(sock, payload, h.payload_len) < 0) _exit(0);
    /* From here a bad request gets one error and the image goes on serving. */
    struct op ops[MAX_FDS];
    const char *p = payload, *end = payload + h.payload_len, *cwd = NULL;
    if (m.msg_flags & MSG_CTRUNC) err = EMFILE;
    else if (h.nfds != (uint32_t)nfds || h.nops > MAX_FDS || (uint64_t)h.argc + h.envc + 2 > MAX_STRINGS ||
             (size_t)(end - p) < h.nops * sizeof(struct op))
        err = EINVAL;
    for (uint32_t i = 0; !err && i < h.nops; i++) {
        memcpy(&ops[i], p + i * sizeof(struct op), sizeof(struct op));
        if (ops[i].src < 0 || ops[i].src >= nfds || ops[i].dst < 0) err = EBADF;
        else ops[i].src = fds[ops[i].src];
    }
    p += h.nops * sizeof(struct op);
    if (!err && h.has_cwd) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        if (!z) err = EINVAL;
        else { cwd = p; p = z + 1; }
    }
    /* argv and env strings must be exactly argc + envc NUL-terminated strings. */
    char *strs = (char *)p;
    uint32_t count = 0;
    for (const char *q = p; !err && q < end; q++) count += *q == 0;
    if (!err && (count != h.argc + h.envc || (end > p && end[-1] != 0))) err = EINVAL;
    int cwd_fd = (!err && h.cwd_fd_idx >= 0 && h.cwd_fd_idx < nfds) ? fds[h.cwd_fd_idx] : -1;
    /* The caller's pipe for the child's errno: closed (EOF) once the child runs the program. */
    if (!err && (h.err_fd_idx < 0 || h.err_fd_idx >= nfds)) err = EINVAL;
    int pidfd = -1, pid = -1;
    if (!err) {
        struct clone_args ca;
        memset(&ca, 0, sizeof ca);
        ca.flags = CLONE_PARENT | CLONE_PIDFD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
        ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
        ca.child_tid = (uint64_t)(uintptr_t)tid_addr;
        long r = syscall(SYS_clone3, &ca, sizeof ca);
        if (r == 0) {
            int top = sock;
            for (int i = 0; i < nfds; i++) top = fds[i] > top ? fds[i] : top;
            return apply(&h, ops, top, fds[h.err_fd_idx], cwd, cwd_fd, strs, (size_t)(end - strs));
        }
        if (r < 0) err = errno;
        else pid = (int)r;
    }
    /* Answer at once: the child's own result goes to the caller through its pipe. */
    for (int i = 0; i < nfds; i++) close(fds[i]);
    send_resp(sock, MAGIC_RESP, pid, err, 0, err ? -1 : pidfd);
    if (pidfd >= 0) close(pidfd);
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
static int park(int sock, int argc, char **argv) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    if (chdir("/") < 0) { /* keep the old cwd: every child sets its own */ }
    int why = 0;
    if (count_threads() != 1) why = NO_PARK_THREADS;
    if (!why && (prctl(PR_GET_TID_ADDRESS, &tid_addr, 0, 0, 0) < 0 || !tid_addr ||
                 *tid_addr != (int)syscall(SYS_gettid)))
        why = NO_PARK_TID;
    if (!why && syscall(SYS_get_robust_list, 0, &robust_head, &robust_len) < 0) why = NO_PARK_TID;
    read_mm_bounds();
    char **ev = &argv[argc + 1];
    while (*ev) ev++;
    uint64_t *av = (uint64_t *)(ev + 1), *a = av;
    while (a[0] != 0) a += 2; /* AT_NULL */
    auxv = av;
    auxv_words = (size_t)(a - av) + 2;
    payload = mmap(NULL, MAX_PAYLOAD, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ptrs = mmap(NULL, (MAX_STRINGS + 2 + auxv_words) * sizeof(char *), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (!why && (payload == MAP_FAILED || ptrs == MAP_FAILED)) why = NO_PARK_MEMORY;
    if (send_resp(sock, MAGIC_HELLO, getpid(), why ? ENOTSUP : 0, why, -1) < 0 || why) _exit(1);
    for (;;) {
        int r = serve_one(sock);
        if (r >= 0) return r;
    }
}

int __libc_start_main(void *main_fn, int argc, char **argv, void *init, void *fini,
                      void *rtld_fini, void *stack_end) {
    start_fn real = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
    const char *ctl = getenv(CTL_ENV);
    if (!real) _exit(127);
    if (!ctl) return real(main_fn, argc, argv, init, fini, rtld_fini, stack_end);
    int new_argc = park(atoi(ctl), argc, argv);
    return real(main_fn, new_argc, ptrs, init, fini, rtld_fini, stack_end);
}
