/* Prints the CLOCK_MONOTONIC time (ns, decimal, newline) taken by its first instruction, then
 * exits 0. No libc: the clock is read with a raw syscall because there is no vDSO lookup here. */
struct ts { long sec; long nsec; };

static long sys3(long n, long a, long b, long c) {
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

__attribute__((force_align_arg_pointer, noreturn)) void _start(void) {
    struct ts t;
    sys3(228 /* clock_gettime */, 1 /* CLOCK_MONOTONIC */, (long)&t, 0);
    unsigned long ns = (unsigned long)t.sec * 1000000000UL + (unsigned long)t.nsec;
    char buf[32];
    int i = sizeof buf;
    buf[--i] = '\n';
    do { buf[--i] = (char)('0' + ns % 10); ns /= 10; } while (ns);
    sys3(1 /* write */, 1, (long)(buf + i), (long)(sizeof buf - i));
    sys3(231 /* exit_group */, 0, 0, 0);
    for (;;) {}
}
