// SPDX-License-Identifier: GPL-2.0
/* count.bpf.c: the counted truth. How many operations of each kind the workload's cgroup
 * completed, counted in the kernel where the kind is decided, for workloads that cannot
 * record their own operations (a real program) and as a check on those that can.
 *
 * Per-CPU counters, no event stream: there is nothing to drop. It shares no code with the
 * eBPF sensor (sensor.bpf.c): its own programs, maps and syscall table. Raw tracepoints
 * only (raw_syscalls:sys_{enter,exit} and the sched ones): they attach by name, with no
 * tracefs, which the harness neither needs nor mounts. What counts, for a task in the
 * target cgroup only:
 *
 *   file_create  an open/openat/openat2/creat that returned a file it created
 *                (FMODE_CREATED on the struct file);
 *   file_write   the first call that moved data (returned > 0) into a regular file
 *                through each open file (a file written, as a sensor reports "modified":
 *                not every call): write, pwrite64, writev, pwritev(2), and the copies
 *                that write a file without write(2): copy_file_range (cp), sendfile
 *                and splice, by their output fd;
 *   file_rename  a rename/renameat/renameat2 that returned 0;
 *   file_delete  an unlink, or an unlinkat without AT_REMOVEDIR, that returned 0;
 *   proc_fork    a new process (not a thread) forked by a task of the cgroup;
 *   proc_exec    an exec that succeeded;
 *   proc_exit    a thread-group leader's exit;
 *   net_connect  a connect that returned 0 (or EINPROGRESS: a non-blocking connect);
 *   net_accept   an accept/accept4 that returned a socket;
 *   net_send     a sendto with a destination address on a datagram socket (UDP) that
 *                succeeded (on a stream socket the kernel ignores the address: data of
 *                a connection, as send(2) is).
 *
 * Beside the counts, the set of processes (tgids) that ran in the cgroup: a real
 * program's events are told from the machine's by the process that caused them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "count.h"

char LICENSE[] SEC("license") = "GPL";

/* uapi values that BTF cannot carry (macros). */
#define AT_REMOVEDIR  0x200
#define S_IFMT        00170000
#define S_IFREG       0100000
#define S_IFSOCK      0140000
#define SOCK_DGRAM    2
#define SEND_ADDRESSED (1ULL << 32)   /* pending arg of a sendto: fd | this bit */
#define FMODE_CREATED (1U << 20)
#define EINPROGRESS   115

const volatile struct sb_count_config count_cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SB_C_NSLOTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* What a sys_enter saw that its sys_exit needs (the fd written, unlinkat's flags, whether
 * sendto named a destination), per thread. LRU: a thread killed inside a system call
 * cannot fill it for the others. */
struct pending {
	__u64 arg;
	__u32 slot;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* Open files already counted as written, by struct file address. LRU: an entry evicted
 * counts its file again at its next write, never a write of a new one as old. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} written SEC(".maps");

static __always_inline void add(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		*v += 1;
}

static __always_inline void add_full(void)
{
	add(SB_C_PIDS_FULL);
}

/* Every process seen in the cgroup (tgid -> 1). Full, a process is left out (and the
 * loader says the set is incomplete); never one of another cgroup put in. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SB_C_MAX_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} pids SEC(".maps");

static __always_inline bool ours(void)
{
	return bpf_get_current_cgroup_id() == count_cfg.target_cgid;
}

static __always_inline void seen(__u32 tgid)
{
	__u8 one = 1;

	if (!bpf_map_lookup_elem(&pids, &tgid) &&
	    bpf_map_update_elem(&pids, &tgid, &one, BPF_NOEXIST) == -7 /* E2BIG: full */)
		add_full();
}


/* The current task's struct file for fd, or NULL. */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline void remember(__u32 slot, __u64 arg)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending p = { .arg = arg, .slot = slot };

	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
}

/* The pending enter of this thread for `slot`, taken out of the map (false: none). */
static __always_inline bool recall(__u32 slot, __u64 *arg)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&pending, &tid);

	/* none: the call entered before its task joined the cgroup (the join's own write to
	 * cgroup.procs); another slot's: its exit was missed, so that count may be short */
	if (!p)
		return false;
	if (p->slot != slot) {
		add(SB_C_UNPAIRED);
		return false;
	}
	*arg = p->arg;
	bpf_map_delete_elem(&pending, &tid);
	return true;
}

/* ---- system calls: two raw tracepoints, dispatched on the syscall number ---------- */

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
int c_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long nr = ctx->args[1];
	struct file *f;
	__u64 addr;

	if (!ours())
		return 0;
	seen((__u32)(bpf_get_current_pid_tgid() >> 32));
	if (nr == SB_C_NR_write || nr == SB_C_NR_pwrite64 || nr == SB_C_NR_writev ||
	    nr == SB_C_NR_pwritev || nr == SB_C_NR_pwritev2 || nr == SB_C_NR_sendfile) {
		remember(SB_C_FILE_WRITE, PT_REGS_PARM1_CORE_SYSCALL(regs));
	} else if (nr == SB_C_NR_copy_file_range || nr == SB_C_NR_splice) {
		/* (fd_in, off_in, fd_out, ...): the file written is the third argument */
		remember(SB_C_FILE_WRITE, PT_REGS_PARM3_CORE_SYSCALL(regs));
	} else if (nr == SB_C_NR_unlinkat) {
		remember(SB_C_FILE_DELETE, PT_REGS_PARM3_CORE_SYSCALL(regs));
	} else if (nr == SB_C_NR_sendto) {
		/* send(2) is sendto with no address: a stream's data, or the harness's pipe */
		remember(SB_C_NET_SEND, (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs) |
			 (PT_REGS_PARM5_CORE_SYSCALL(regs) ? SEND_ADDRESSED : 0));
	} else if (nr == SB_C_NR_close) {
		/* a file closed is a struct file freed: its address may come back for another
		 * open, which must count its first write again */
		f = fd_file((long)PT_REGS_PARM1_CORE_SYSCALL(regs));
		if (f) {
			addr = (__u64)f;
			bpf_map_delete_elem(&written, &addr);
		}
	}
	return 0;
}

static __always_inline void opened(long ret)
{
	struct file *f = ret >= 0 ? fd_file(ret) : NULL;

	if (f && (BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
		add(SB_C_FILE_CREATE);
}

static __always_inline void wrote(long ret)
{
	__u64 fd, addr;
	struct file *f;
	__u8 one = 1;

	if (!recall(SB_C_FILE_WRITE, &fd) || ret <= 0)
		return;
	f = fd_file((long)fd);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFREG)
		return;
	addr = (__u64)f;
	/* the first write through this open file only */
	if (bpf_map_update_elem(&written, &addr, &one, BPF_NOEXIST) == 0)
		add(SB_C_FILE_WRITE);
}

/* Whether fd is a datagram socket (a UDP one: the workloads' sends). */
static __always_inline bool datagram_socket(long fd)
{
	struct file *f = fd_file(fd);
	struct socket *sock;

	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return false;
	sock = BPF_CORE_READ(f, private_data);
	return sock && BPF_CORE_READ(sock, type) == SOCK_DGRAM;
}

SEC("raw_tp/sys_exit")
int c_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	long ret = ctx->args[1], nr;
	__u64 arg;

	if (!ours())
		return 0;
	nr = syscall_nr((struct pt_regs *)ctx->args[0]);
	if (nr == SB_C_NR_openat || nr == SB_C_NR_open || nr == SB_C_NR_openat2 ||
	    nr == SB_C_NR_creat)
		opened(ret);
	else if (nr == SB_C_NR_write || nr == SB_C_NR_pwrite64 || nr == SB_C_NR_writev ||
		 nr == SB_C_NR_pwritev || nr == SB_C_NR_pwritev2 || nr == SB_C_NR_sendfile ||
		 nr == SB_C_NR_copy_file_range || nr == SB_C_NR_splice)
		wrote(ret);
	else if (nr == SB_C_NR_rename || nr == SB_C_NR_renameat || nr == SB_C_NR_renameat2) {
		if (ret == 0)
			add(SB_C_FILE_RENAME);
	} else if (nr == SB_C_NR_unlink) {
		if (ret == 0)
			add(SB_C_FILE_DELETE);
	} else if (nr == SB_C_NR_unlinkat) {
		if (recall(SB_C_FILE_DELETE, &arg) && ret == 0 && !(arg & AT_REMOVEDIR))
			add(SB_C_FILE_DELETE);
	} else if (nr == SB_C_NR_connect) {
		if (ret == 0 || ret == -EINPROGRESS)
			add(SB_C_NET_CONNECT);
	} else if (nr == SB_C_NR_accept || nr == SB_C_NR_accept4) {
		if (ret >= 0)
			add(SB_C_NET_ACCEPT);
	} else if (nr == SB_C_NR_sendto) {
		if (recall(SB_C_NET_SEND, &arg) && (arg & SEND_ADDRESSED) && ret >= 0 &&
		    datagram_socket((__u32)arg))
			add(SB_C_NET_SEND);
	}
	return 0;
}

/* ---- processes ------------------------------------------------------------------- */

SEC("raw_tp/sched_process_fork")
int BPF_PROG(c_fork, struct task_struct *parent, struct task_struct *child)
{
	/* a thread shares its parent's thread group: only a new group is a process */
	if (ours() && BPF_CORE_READ(child, pid) == BPF_CORE_READ(child, tgid)) {
		add(SB_C_PROC_FORK);
		seen(BPF_CORE_READ(child, tgid));
	}
	return 0;
}

SEC("raw_tp/sched_process_exec")
int c_exec(void *ctx)
{
	if (ours())
		add(SB_C_PROC_EXEC);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int c_exit(void *ctx)
{
	__u64 pt = bpf_get_current_pid_tgid();

	if ((__u32)pt == (__u32)(pt >> 32) && ours())
		add(SB_C_PROC_EXIT);
	return 0;
}
