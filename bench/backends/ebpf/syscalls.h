/* syscalls.h: the numbers of the syscalls sensor.bpf.c follows, for its raw_syscalls
 * dispatchers (a raw tracepoint gets the number, not the name). Not from <asm/unistd.h>:
 * a BPF build does not see the host's asm headers. Syscalls an architecture lacks
 * (arm64 has only the *at forms) are negative and distinct: no syscall has them.
 */
#ifndef SB_SYSCALLS_H
#define SB_SYSCALLS_H

#if defined(__TARGET_ARCH_x86)
#define SB_NR_write      1
#define SB_NR_open       2
#define SB_NR_close      3
#define SB_NR_connect    42
#define SB_NR_accept     43
#define SB_NR_sendto     44
#define SB_NR_kill       62
#define SB_NR_rename     82
#define SB_NR_creat      85
#define SB_NR_unlink     87
#define SB_NR_ptrace     101
#define SB_NR_tgkill     234
#define SB_NR_openat     257
#define SB_NR_unlinkat   263
#define SB_NR_renameat   264
#define SB_NR_accept4    288
#define SB_NR_renameat2  316
#define SB_NR_bpf        321
#define SB_NR_openat2    437
#elif defined(__TARGET_ARCH_arm64)
#define SB_NR_write      64
#define SB_NR_open       -1
#define SB_NR_close      57
#define SB_NR_connect    203
#define SB_NR_accept     202
#define SB_NR_sendto     206
#define SB_NR_kill       129
#define SB_NR_rename     -2
#define SB_NR_creat      -3
#define SB_NR_unlink     -4
#define SB_NR_ptrace     117
#define SB_NR_tgkill     131
#define SB_NR_openat     56
#define SB_NR_unlinkat   35
#define SB_NR_renameat   38
#define SB_NR_accept4    242
#define SB_NR_renameat2  276
#define SB_NR_bpf        280
#define SB_NR_openat2    437
#else
#error "syscalls.h: no syscall numbers for this architecture"
#endif

#endif
