//! The marks with alternatives, best first (see `spawn-ebpf/src/exec_marks.rs` for why these
//! kernel functions, and `spawn-ebpf/src/regs.rs` for the syscall wrappers).
//!
//! The syscall events (clone family, exec, exit_group, wait) come first from fentry/fexit on
//! kernel functions (`kernel_clone`, `schedule_tail`, the syscall functions `__x64_sys_*`),
//! which cost nothing to tasks that do not make those
//! calls, and only then from the syscall tracepoints, which put every task of the host on the
//! syscall slow path while enabled. A way that covers several syscalls attaches all of its
//! programs or none, so one mark never mixes the two kinds.
use super::{Mark, Via, Way};

const fn tp(name: &'static str) -> Via {
    Via::TracePoint("syscalls", name)
}

const fn walk(prog: &'static str, via: Via, variant: &'static str) -> Way {
    Way {
        variant: Some(variant),
        ..Way::new(prog, via)
    }
}

pub const MARKS: &[Mark] = &[
    Mark {
        what: "clone entry",
        ways: &[
            // kernel_clone serves all four; the task's registers say which one it is.
            Way::new("clone_enter_fentry", Via::FEntry("kernel_clone")),
            Way::group(
                "sys_enter_clone",
                tp("sys_enter_clone"),
                &[
                    ("sys_enter_clone3", tp("sys_enter_clone3")),
                    ("sys_enter_fork", tp("sys_enter_fork")),
                    ("sys_enter_vfork", tp("sys_enter_vfork")),
                ],
            ),
        ],
        required: true,
        lost: "",
    },
    Mark {
        what: "clone return",
        ways: &[
            // The parent's return, and the child's first run (it leaves through ret_from_fork,
            // never through kernel_clone's fexit).
            Way::group(
                "clone_exit_fexit",
                Via::FExit("kernel_clone"),
                &[("child_first_run_fexit", Via::FExit("schedule_tail"))],
            ),
            Way::group(
                "sys_exit_clone",
                tp("sys_exit_clone"),
                &[
                    ("sys_exit_clone3", tp("sys_exit_clone3")),
                    ("sys_exit_fork", tp("sys_exit_fork")),
                    ("sys_exit_vfork", tp("sys_exit_vfork")),
                ],
            ),
        ],
        required: true,
        lost: "",
    },
    Mark {
        what: "execve entry",
        ways: &[
            Way::new("execve_enter_fentry", Via::FEntry("__x64_sys_execve")),
            Way::new("sys_enter_execve", tp("sys_enter_execve")),
        ],
        required: true,
        lost: "",
    },
    Mark {
        what: "execveat entry",
        ways: &[
            // The bpf_loop walk under fentry is refused by 6.1 (stack too deep): bounded only.
            walk(
                "execveat_enter_fentry",
                Via::FEntry("__x64_sys_execveat"),
                "fd walk: bounded loop",
            ),
            walk(
                "sys_enter_execveat",
                tp("sys_enter_execveat"),
                "fd walk: bpf_loop",
            ),
            walk(
                "sys_enter_execveat_bounded",
                tp("sys_enter_execveat"),
                "fd walk: bounded loop",
            ),
            walk(
                "sys_enter_execveat_nowalk",
                tp("sys_enter_execveat"),
                "no fd walk: fexecve names from /proc",
            ),
        ],
        required: true,
        lost: "",
    },
    Mark {
        what: "exec return",
        ways: &[
            Way::group(
                "execve_exit_fexit",
                Via::FExit("__x64_sys_execve"),
                &[("execveat_exit_fexit", Via::FExit("__x64_sys_execveat"))],
            ),
            Way::group(
                "sys_exit_execve",
                tp("sys_exit_execve"),
                &[("sys_exit_execveat", tp("sys_exit_execveat"))],
            ),
        ],
        required: true,
        lost: "",
    },
    Mark {
        what: "exit_group",
        ways: &[
            Way::new("exit_group_fentry", Via::FEntry("__x64_sys_exit_group")),
            Way::new("sys_enter_exit_group", tp("sys_enter_exit_group")),
        ],
        required: true,
        lost: "",
    },
    Mark {
        what: "wait return",
        ways: &[
            Way::group(
                "wait4_exit_fexit",
                Via::FExit("__x64_sys_wait4"),
                &[("waitid_exit_fexit", Via::FExit("__x64_sys_waitid"))],
            ),
            Way::group(
                "sys_exit_wait4",
                tp("sys_exit_wait4"),
                &[
                    ("sys_enter_waitid", tp("sys_enter_waitid")),
                    ("sys_exit_waitid", tp("sys_exit_waitid")),
                ],
            ),
        ],
        required: true,
        lost: "",
    },
    Mark {
        what: "exec open end",
        ways: &[
            Way::new("prepare_exec_btf", Via::TpBtf("sched_prepare_exec")),
            Way::new("prepare_exec_fentry", Via::FEntry("begin_new_exec")),
            Way::new(
                "sched_prepare_exec",
                Via::TracePoint("sched", "sched_prepare_exec"),
            ),
            Way::new("prepare_exec_kprobe", Via::KProbe("begin_new_exec")),
        ],
        required: false,
        lost: "exec_open, exec_teardown and exec_load off",
    },
    Mark {
        what: "exec teardown end",
        ways: &[
            Way::new("exit_mmap_btf", Via::TpBtf("exit_mmap")),
            Way::new("exit_mmap_fexit", Via::FExit("exit_mmap")),
            Way::new("exit_mmap", Via::TracePoint("mmap", "exit_mmap")),
            Way::new("exit_mmap_kretprobe", Via::KRetProbe("exit_mmap")),
        ],
        required: false,
        lost: "exec_teardown off (exec_load then runs from the open end)",
    },
    Mark {
        what: "exec load end",
        ways: &[
            Way::new("process_exec_btf", Via::TpBtf("sched_process_exec")),
            Way::new(
                "sched_process_exec",
                Via::TracePoint("sched", "sched_process_exec"),
            ),
        ],
        required: true,
        lost: "",
    },
];
