//! The marks with alternatives, best first (see `spawn-ebpf/src/exec_marks.rs` for why these
//! kernel functions).
use super::{Mark, Via, Way};

const fn walk(prog: &'static str, variant: &'static str) -> Way {
    Way {
        prog,
        via: Via::TracePoint("syscalls", "sys_enter_execveat"),
        variant: Some(variant),
    }
}

pub const MARKS: &[Mark] = &[
    Mark {
        what: "execveat entry",
        ways: &[
            walk("sys_enter_execveat", "fd walk: bpf_loop"),
            walk("sys_enter_execveat_bounded", "fd walk: bounded loop"),
            walk(
                "sys_enter_execveat_nowalk",
                "no fd walk: fexecve names from /proc",
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
