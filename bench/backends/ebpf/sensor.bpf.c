// SPDX-License-Identifier: GPL-2.0
/* sensor.bpf.c: the kernel half of the reference eBPF sensor.
 *
 * Hooks (all load on this machine; no fentry, LSM or kprobes needed):
 *   raw_tp/sched_process_{fork,exec,exit}   process lifecycle (task pointers via CO-RE);
 *                                           tp_btf/ twins for hooks=tp_btf
 *   raw_tp/sys_enter, raw_tp/sys_exit       file and network syscalls (syscalls=raw, the
 *                                           default), dispatched by syscall number; or
 *   tp/syscalls/sys_{enter,exit}_*          one tracepoint per syscall (syscalls=tracepoint).
 *                                           Either way a sys_enter's arguments wait in a
 *                                           per-thread "inflight" map for its sys_exit, so
 *                                           that only calls that succeeded are reported
 * Events go to one BPF ring buffer (struct sb_event / sb_event_path in event.h). A failed
 * reserve is counted per CPU and per kind in `lost`: that is the sensor's self-reported loss.
 *
 * Loader-set constants (sb_cfg in .rodata) shape what runs: `target_cgid` (filter=cgroup:
 * drop everything outside the workload's cgroup before any other work), `self_tgid` (the
 * sensor never reports itself, which would feed back on its own writes), `wakeup_bytes`
 * and `protect` (the guards against tampering count attempts).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "event.h"
#include "syscalls.h"

char LICENSE[] SEC("license") = "GPL";

/* uapi values that vmlinux.h (BTF) cannot carry because they are macros. */
#define O_WRONLY      01
#define O_RDWR        02
#define O_CREAT       0100
#define AT_REMOVEDIR  0x200
#define S_IFMT        00170000
#define S_IFREG       0100000
#define FMODE_CREATED (1U << 20)  /* set on the struct file when open created the inode */
#define EINPROGRESS   115
#define AF_INET       2
#define AF_INET6      10
#define IPPROTO_TCP_  6
#define IPPROTO_UDP_  17

/* The loader writes this before load (the only variable in .rodata, at offset 0). */
const volatile struct sb_config sb_cfg = {};
#define target_cgid (sb_cfg.target_cgid)
#define self_tgid (sb_cfg.self_tgid)
#define protect (sb_cfg.protect)
#define wakeup_bytes (sb_cfg.wakeup_bytes)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by the loader from ringbuf_kb */
} events SEC(".maps");

/* Whether the consumer sleeps (wakeup=threshold): 1 while it waits without looking at
 * the ring, so the next record must wake it. Written by the consumer through mmap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
} consumer SEC(".maps");

/* Reserve failures (self-reported loss) and successful reserves, per CPU and kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SB_NKINDS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SB_NKINDS);
	__type(key, __u32);
	__type(value, __u64);
} emitted SEC(".maps");

/* Arguments a sys_enter saw, for its sys_exit on the same thread. LRU so a thread that
 * never returns (killed in the syscall) cannot fill the map for everyone else. */
enum { SB_OP_OPEN = 1, SB_OP_RENAME, SB_OP_UNLINK, SB_OP_CONNECT, SB_OP_SENDTO };
struct inflight {
	__u64 a0, a1;
	__u32 op;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

/* Regular files open for writing, by (tgid, fd): a write reports the path it was opened
 * with, once per open (a sensor reports "modified", not every write(2)). The struct file
 * pointer guards against a stale entry when an fd number is reused without a close we saw. */
struct fdkey {
	__u32 tgid;
	__u32 fd;
};
struct tracked {
	__u64 file;
	__u32 len;
	__u32 _pad;
	char path[SB_PATH_MAX];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct fdkey);
	__type(value, struct tracked);
} tracked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tracked);
} scratch SEC(".maps");

/* Content rules (struct sb_rules): user space writes them while the sensor runs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sb_rules);
} rules SEC(".maps");

/* Whether the content rules mute this kind. `n` comes from content and may claim more
 * slots than exist, a slot may name a kind that does not exist: the loop stops at
 * SB_MAX_RULES whatever `n` says (the verifier accepts no loop without a bound it can
 * see) and a kind that matches nothing mutes nothing, so malformed rules are a no-op,
 * never a read past the end. One lookup and a compare when no rule is set. */
static __always_inline bool muted(__u16 kind)
{
	__u32 zero = 0;
	struct sb_rules *r = bpf_map_lookup_elem(&rules, &zero);

	if (!r || !r->n)
		return false;
	for (__u32 i = 0; i < SB_MAX_RULES; i++) {
		if (i >= r->n)
			break;
		if (r->kind[i] == kind)
			return r->mute[i] != 0;
	}
	return false;
}

static __always_inline void count(void *map, __u32 kind)
{
	__u64 *v = bpf_map_lookup_elem(map, &kind);
	if (v)
		*v += 1;
}

/* True when the current task's activity is not to be reported: the sensor itself, or
 * (filter=cgroup) anything outside the workload's cgroup. */
static __always_inline bool skip_current(void)
{
	if (target_cgid && bpf_get_current_cgroup_id() != target_cgid)
		return true;
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/* Waking the consumer is the expensive part of a submit (an irq_work, a self-IPI: a VM
 * exit under a hypervisor). By default (wakeup=threshold) records go in without a wake-up
 * while the consumer is awake and looks every poll_ms; a wake-up is forced when it sleeps
 * (it stops looking after a quiet spell, as io_uring's SQ thread does with NEED_WAKEUP)
 * and once wakeup_bytes are pending, so a burst cannot fill the ring behind a consumer
 * that does not look. wakeup_bytes 0 (wakeup=event): every record wakes a waiting
 * consumer, the lowest latency. */
static __always_inline void submit(void *e)
{
	__u32 zero = 0, *asleep;
	__u64 flags = 0;

	if (wakeup_bytes) {
		asleep = bpf_map_lookup_elem(&consumer, &zero);
		flags = (asleep && *asleep) ||
			bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes
				? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
}

static __always_inline void fill(struct sb_event *e, __u16 kind, __u64 key, __s32 aux)
{
	__u64 pt = bpf_get_current_pid_tgid();

	e->t_kernel = bpf_ktime_get_ns();
	e->key = key;
	e->cgid = bpf_get_current_cgroup_id();
	e->pid = pt >> 32;
	e->tid = (__u32)pt;
	e->aux = aux;
	e->kind = kind;
	e->path_len = 0;
}

static __always_inline int emit(__u16 kind, __u64 key, __s32 aux)
{
	struct sb_event *e;

	if (muted(kind))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&lost, kind);
		return 0;
	}
	fill(e, kind, key, aux);
	submit(e);
	count(&emitted, kind);
	return 0;
}

/* A path record whose path is read from the syscall's user-space argument. */
static __always_inline int emit_upath(__u16 kind, const char *upath, __s32 aux)
{
	struct sb_event_path *e;
	long n;

	if (muted(kind))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&lost, kind);
		return 0;
	}
	fill(&e->h, kind, 0, aux);
	n = bpf_probe_read_user_str(e->path, sizeof(e->path), upath);
	e->h.path_len = n > 0 ? n - 1 : 0;
	submit(e);
	count(&emitted, kind);
	return 0;
}

/* A path record whose path was saved earlier (tracked open files). */
static __always_inline int emit_saved(__u16 kind, struct tracked *t, __s32 aux)
{
	struct sb_event_path *e;

	if (muted(kind))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&lost, kind);
		return 0;
	}
	fill(&e->h, kind, 0, aux);
	__builtin_memcpy(e->path, t->path, SB_PATH_MAX);
	e->h.path_len = t->len < SB_PATH_MAX ? t->len : SB_PATH_MAX - 1;
	submit(e);
	count(&emitted, kind);
	return 0;
}

static __always_inline struct file *fd_file(__u64 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline struct sock *fd_sock(__u64 fd)
{
	struct file *f = fd_file(fd);
	struct socket *sock;

	if (!f)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

static __always_inline void stash(__u32 op, __u64 a0, __u64 a1)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight v = {.a0 = a0, .a1 = a1, .op = op};

	bpf_map_update_elem(&inflight, &tid, &v, BPF_ANY);
}

/* The arguments its sys_enter stashed, when this thread's syscall is one we follow. */
static __always_inline bool unstash(__u32 op, struct inflight *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *v = bpf_map_lookup_elem(&inflight, &tid);

	if (!v)
		return false;
	*out = *v;
	bpf_map_delete_elem(&inflight, &tid);
	return out->op == op;
}

/* ---- process ---------------------------------------------------------------------- */

/* Process hooks come in two flavours with one body each: raw tracepoints (hooks=tracepoint,
 * the default: args are untyped u64s, every dereference a probe read) and BTF-typed
 * tracepoints (hooks=tp_btf: the verifier knows the types). The loader loads one set. */

static __always_inline int on_fork(struct task_struct *child)
{
	pid_t pid, tgid;

	if (skip_current())
		return 0;
	pid = BPF_CORE_READ(child, pid);
	tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid) /* a new thread, not a process */
		return 0;
	return emit(SB_PROC_FORK, tgid, 0);
}

static __always_inline int on_exec(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct sb_event_path *e;
	struct mm_struct *mm;
	__u64 start, len;

	if (skip_current() || muted(SB_PROC_EXEC))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(&lost, SB_PROC_EXEC);
		return 0;
	}
	fill(&e->h, SB_PROC_EXEC, bpf_get_current_pid_tgid() >> 32, 0);
	/* argv of the new image: NUL-separated strings between arg_start and arg_end (the
	 * consumer turns the NULs into spaces). */
	mm = BPF_CORE_READ(task, mm);
	start = BPF_CORE_READ(mm, arg_start);
	len = BPF_CORE_READ(mm, arg_end) - start;
	if (len > SB_PATH_MAX)
		len = SB_PATH_MAX;
	if (bpf_probe_read_user(e->path, len, (void *)start))
		len = 0;
	e->h.path_len = len;
	submit(e);
	count(&emitted, SB_PROC_EXEC);
	return 0;
}

static __always_inline int on_exit(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	if (skip_current())
		return 0;
	/* One event per process: when its last thread exits (signal->live reached 0). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	return emit(SB_PROC_EXIT, bpf_get_current_pid_tgid() >> 32,
		    BPF_CORE_READ(task, exit_code));
}

SEC("raw_tp/sched_process_fork")
int sb_fork(struct bpf_raw_tracepoint_args *ctx)
{
	return on_fork((struct task_struct *)ctx->args[1]);
}

SEC("raw_tp/sched_process_exec")
int sb_exec(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exec();
}

SEC("raw_tp/sched_process_exit")
int sb_exit(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exit();
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sb_fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(child);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sb_exec_btf)
{
	return on_exec();
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sb_exit_btf)
{
	return on_exit();
}

/* ---- file ------------------------------------------------------------------------- */

static __always_inline int open_enter(const char *path, __u64 flags)
{
	/* Read-only opens can neither create nor be written: not followed. */
	if (!(flags & (O_CREAT | O_WRONLY | O_RDWR)) || skip_current())
		return 0;
	stash(SB_OP_OPEN, (__u64)path, flags);
	return 0;
}

static __always_inline int open_exit(long ret)
{
	struct inflight s;
	struct tracked *t;
	struct file *f;
	__u32 zero = 0, fmode;
	long n;

	if (!unstash(SB_OP_OPEN, &s) || ret < 0)
		return 0;
	f = fd_file(ret);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFREG)
		return 0;
	t = bpf_map_lookup_elem(&scratch, &zero);
	if (!t)
		return 0;
	n = bpf_probe_read_user_str(t->path, SB_PATH_MAX, (void *)s.a0);
	if (n <= 0)
		return 0;
	t->len = n - 1;
	t->file = (__u64)f;
	fmode = BPF_CORE_READ(f, f_mode);
	if (fmode & FMODE_CREATED)
		emit_saved(SB_FILE_CREATE, t, ret);
	if (s.a1 & (O_WRONLY | O_RDWR)) {
		struct fdkey k = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = ret};

		bpf_map_update_elem(&tracked, &k, t, BPF_ANY);
	}
	return 0;
}

static __always_inline int openat2_enter(const char *path, struct open_how *how)
{
	__u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), &how->flags);
	return open_enter(path, flags);
}

/* The first write(2) to a file open_exit tracked reports it; later writes find nothing. */
static __always_inline int write_enter(__u64 fd)
{
	struct fdkey k = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = fd};
	struct tracked *t = bpf_map_lookup_elem(&tracked, &k);

	/* Only files our open_exit tracked are here, so the filter already ran. */
	if (!t)
		return 0;
	if (t->file == (__u64)fd_file(k.fd))
		emit_saved(SB_FILE_WRITE, t, 0);
	bpf_map_delete_elem(&tracked, &k);
	return 0;
}

static __always_inline int close_enter(__u64 fd)
{
	struct fdkey k = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = fd};

	bpf_map_delete_elem(&tracked, &k);
	return 0;
}

static __always_inline int path_enter(__u32 op, const char *path)
{
	if (!skip_current())
		stash(op, (__u64)path, 0);
	return 0;
}

static __always_inline int path_exit(__u32 op, __u16 kind, long ret)
{
	struct inflight s;

	if (unstash(op, &s) && ret == 0)
		emit_upath(kind, (const char *)s.a0, 0);
	return 0;
}

/* unlinkat with AT_REMOVEDIR is rmdir: not a file deletion. */
static __always_inline int unlinkat_enter(const char *path, __u64 flags)
{
	return flags & AT_REMOVEDIR ? 0 : path_enter(SB_OP_UNLINK, path);
}

/* ---- network ---------------------------------------------------------------------- */

static __always_inline __u16 sk_proto(struct sock *sk, __u16 *family)
{
	*family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return BPF_CORE_READ(sk, sk_protocol);
}

static __always_inline int connect_enter(__u64 fd)
{
	if (!skip_current())
		stash(SB_OP_CONNECT, fd, 0);
	return 0;
}

static __always_inline int connect_exit(long ret)
{
	struct inflight s;
	struct sock *sk;
	__u16 family, lport, rport;

	/* Non-blocking connects report EINPROGRESS: the attempt is what a sensor reports. */
	if (!unstash(SB_OP_CONNECT, &s) || (ret != 0 && ret != -EINPROGRESS))
		return 0;
	sk = fd_sock(s.a0);
	if (!sk || sk_proto(sk, &family) != IPPROTO_TCP_ ||
	    (family != AF_INET && family != AF_INET6))
		return 0;
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return emit(SB_NET_CONNECT, ((__u64)lport << 16) | rport, ret);
}

static __always_inline int accept_exit(long ret)
{
	struct sock *sk;
	__u16 family, lport, rport;

	if (ret < 0 || skip_current())
		return 0;
	sk = fd_sock(ret);
	if (!sk || sk_proto(sk, &family) != IPPROTO_TCP_ ||
	    (family != AF_INET && family != AF_INET6))
		return 0;
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	/* key = port_pair(client, server): the peer connected to our local port. */
	return emit(SB_NET_ACCEPT, ((__u64)rport << 16) | lport, 0);
}

static __always_inline int sendto_enter(__u64 fd, __u64 addr)
{
	if (!skip_current())
		stash(SB_OP_SENDTO, fd, addr);
	return 0;
}

static __always_inline int sendto_exit(long ret)
{
	struct inflight s;
	struct sock *sk;
	__u16 family, lport, rport, port = 0;

	/* At exit, an unbound UDP socket has been given its source port by the send. */
	if (!unstash(SB_OP_SENDTO, &s) || ret < 0)
		return 0;
	sk = fd_sock(s.a0);
	if (!sk || sk_proto(sk, &family) != IPPROTO_UDP_ ||
	    (family != AF_INET && family != AF_INET6))
		return 0;
	lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	/* Destination: the sockaddr passed (sin_port and sin6_port sit at the same offset),
	 * else the connected peer. */
	if (s.a1)
		bpf_probe_read_user(&port, sizeof(port), (void *)(s.a1 + 2));
	else
		port = BPF_CORE_READ(sk, __sk_common.skc_dport);
	rport = bpf_ntohs(port);
	return emit(SB_NET_SEND, ((__u64)lport << 16) | rport, ret);
}

/* -- self-protection: tampering aimed at the sensor ------------------------------------
 * Rare syscalls, so these cost nothing measurable; they are left out with protect=0.
 * Another process's kill or ptrace of the sensor, or a bpf() call that fetches a link or
 * program by id or detaches a link (what bpftool does to blind a sensor), is counted in
 * the `tamper` map, which the sensor's self-check reads. A SIGKILL is seen too, but the
 * sensor dies before it can say so; a SIGSTOP is reported once it runs again. */
#define BPF_PROG_GET_FD_BY_ID_ 13
#define BPF_LINK_GET_FD_BY_ID_ 30
#define BPF_LINK_DETACH_       34

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SB_TAMPER_SLOTS);
	__type(key, __u32);
	__type(value, struct sb_tamper);
} tamper SEC(".maps");

static __always_inline int tampered(__u32 what, __u32 arg)
{
	struct sb_tamper *t = bpf_map_lookup_elem(&tamper, &what);
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (!protect || !t || pid == self_tgid)
		return 0;
	__sync_fetch_and_add(&t->count, 1);
	t->last_t = bpf_ktime_get_ns();
	t->last_pid = pid;
	t->last_arg = arg;
	return 0;
}

static __always_inline int kill_enter(__u64 pid, __u64 sig)
{
	return (__u32)pid == self_tgid ? tampered(SB_TAMPER_KILL, (__u32)sig) : 0;
}

static __always_inline int ptrace_enter(__u64 request, __u64 pid)
{
	return (__u32)pid == self_tgid ? tampered(SB_TAMPER_PTRACE, (__u32)request) : 0;
}

static __always_inline int bpf_enter(__u64 cmd)
{
	if (cmd == BPF_LINK_DETACH_ || cmd == BPF_LINK_GET_FD_BY_ID_ || cmd == BPF_PROG_GET_FD_BY_ID_)
		return tampered(SB_TAMPER_BPF, (__u32)cmd);
	return 0;
}

/* ---- where the syscall handlers are called from ----------------------------------------
 * syscalls=raw (the default): the raw tracepoints raw_syscalls:sys_enter and sys_exit, one
 * program per side dispatching on the syscall number, as Falco's modern probe does. They
 * run on every syscall of the machine (a few compares, then out), and their two links
 * detach in microseconds. syscalls=tracepoint: one syscall tracepoint per syscall and side
 * (below), each run only on its own syscall; but each of those ~30 perf-event links waits
 * for RCU grace periods when it is detached (60-100 ms apiece under this hypervisor): a
 * second to stop, and seconds during which a killed sensor's programs stay attached. */

#define ARG1(r) PT_REGS_PARM1_CORE_SYSCALL(r)
#define ARG2(r) PT_REGS_PARM2_CORE_SYSCALL(r)
#define ARG3(r) PT_REGS_PARM3_CORE_SYSCALL(r)
#define ARG4(r) PT_REGS_PARM4_CORE_SYSCALL(r)
#define ARG5(r) PT_REGS_PARM5_CORE_SYSCALL(r)

/* The number of the syscall returning: sys_exit does not pass it. */
static __always_inline long syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#else
	return BPF_CORE_READ(regs, syscallno);
#endif
}

SEC("raw_tp/sys_enter")
int sb_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *r = (struct pt_regs *)ctx->args[0];

	switch (ctx->args[1]) {
	case SB_NR_write:     return write_enter(ARG1(r));
	case SB_NR_close:     return close_enter(ARG1(r));
	case SB_NR_openat:    return open_enter((const char *)ARG2(r), ARG3(r));
	case SB_NR_openat2:   return openat2_enter((const char *)ARG2(r), (void *)ARG3(r));
	case SB_NR_open:      return open_enter((const char *)ARG1(r), ARG2(r));
	case SB_NR_creat:     return open_enter((const char *)ARG1(r), O_CREAT | O_WRONLY);
	case SB_NR_rename:    return path_enter(SB_OP_RENAME, (const char *)ARG2(r));
	case SB_NR_renameat:
	case SB_NR_renameat2: return path_enter(SB_OP_RENAME, (const char *)ARG4(r));
	case SB_NR_unlink:    return path_enter(SB_OP_UNLINK, (const char *)ARG1(r));
	case SB_NR_unlinkat:  return unlinkat_enter((const char *)ARG2(r), ARG3(r));
	case SB_NR_connect:   return connect_enter(ARG1(r));
	case SB_NR_sendto:    return sendto_enter(ARG1(r), ARG5(r));
	case SB_NR_kill:      return kill_enter(ARG1(r), ARG2(r));
	case SB_NR_tgkill:    return kill_enter(ARG1(r), ARG3(r));
	case SB_NR_ptrace:    return ptrace_enter(ARG1(r), ARG2(r));
	case SB_NR_bpf:       return bpf_enter(ARG1(r));
	}
	return 0;
}

SEC("raw_tp/sys_exit")
int sb_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	long ret = ctx->args[1];

	switch (syscall_nr((struct pt_regs *)ctx->args[0])) {
	case SB_NR_openat:
	case SB_NR_openat2:
	case SB_NR_open:
	case SB_NR_creat:     return open_exit(ret);
	case SB_NR_rename:
	case SB_NR_renameat:
	case SB_NR_renameat2: return path_exit(SB_OP_RENAME, SB_FILE_RENAME, ret);
	case SB_NR_unlink:
	case SB_NR_unlinkat:  return path_exit(SB_OP_UNLINK, SB_FILE_DELETE, ret);
	case SB_NR_connect:   return connect_exit(ret);
	case SB_NR_accept:
	case SB_NR_accept4:   return accept_exit(ret);
	case SB_NR_sendto:    return sendto_exit(ret);
	}
	return 0;
}

/* syscalls=tracepoint: the same handlers on one syscall tracepoint each (sb_tp_*). */
#define TP_ENTER(name, call)                                        \
	SEC("tp/syscalls/sys_enter_" #name)                          \
	int sb_tp_enter_##name(struct trace_event_raw_sys_enter *ctx)   \
	{                                                            \
		return call;                                         \
	}
#define TP_EXIT(name, call)                                         \
	SEC("tp/syscalls/sys_exit_" #name)                           \
	int sb_tp_exit_##name(struct trace_event_raw_sys_exit *ctx)      \
	{                                                            \
		long ret = ctx->ret;                                 \
		return call;                                         \
	}

TP_ENTER(openat, open_enter((const char *)ctx->args[1], ctx->args[2]))
TP_EXIT(openat, open_exit(ret))
TP_ENTER(openat2, openat2_enter((const char *)ctx->args[1], (void *)ctx->args[2]))
TP_EXIT(openat2, open_exit(ret))
TP_ENTER(open, open_enter((const char *)ctx->args[0], ctx->args[1]))
TP_EXIT(open, open_exit(ret))
TP_ENTER(creat, open_enter((const char *)ctx->args[0], O_CREAT | O_WRONLY))
TP_EXIT(creat, open_exit(ret))
TP_ENTER(write, write_enter(ctx->args[0]))
TP_ENTER(close, close_enter(ctx->args[0]))
/* rename: the event's path is the new name. */
TP_ENTER(rename, path_enter(SB_OP_RENAME, (const char *)ctx->args[1]))
TP_EXIT(rename, path_exit(SB_OP_RENAME, SB_FILE_RENAME, ret))
TP_ENTER(renameat, path_enter(SB_OP_RENAME, (const char *)ctx->args[3]))
TP_EXIT(renameat, path_exit(SB_OP_RENAME, SB_FILE_RENAME, ret))
TP_ENTER(renameat2, path_enter(SB_OP_RENAME, (const char *)ctx->args[3]))
TP_EXIT(renameat2, path_exit(SB_OP_RENAME, SB_FILE_RENAME, ret))
TP_ENTER(unlink, path_enter(SB_OP_UNLINK, (const char *)ctx->args[0]))
TP_EXIT(unlink, path_exit(SB_OP_UNLINK, SB_FILE_DELETE, ret))
TP_ENTER(unlinkat, unlinkat_enter((const char *)ctx->args[1], ctx->args[2]))
TP_EXIT(unlinkat, path_exit(SB_OP_UNLINK, SB_FILE_DELETE, ret))
TP_ENTER(connect, connect_enter(ctx->args[0]))
TP_EXIT(connect, connect_exit(ret))
TP_EXIT(accept, accept_exit(ret))
TP_EXIT(accept4, accept_exit(ret))
TP_ENTER(sendto, sendto_enter(ctx->args[0], ctx->args[4]))
TP_EXIT(sendto, sendto_exit(ret))

/* The guards, on their own tracepoints (named sb_guard_*: left out with protect=0). */
#define TP_GUARD(name, call)                                        \
	SEC("tp/syscalls/sys_enter_" #name)                          \
	int sb_guard_##name(struct trace_event_raw_sys_enter *ctx)   \
	{                                                            \
		return call;                                         \
	}

TP_GUARD(kill, kill_enter(ctx->args[0], ctx->args[1]))
TP_GUARD(tgkill, kill_enter(ctx->args[0], ctx->args[2]))
TP_GUARD(ptrace, ptrace_enter(ctx->args[0], ctx->args[1]))
TP_GUARD(bpf, bpf_enter(ctx->args[0]))
