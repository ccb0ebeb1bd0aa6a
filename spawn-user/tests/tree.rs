//! Root integration tests of lineage and the spawn tree on known process trees: nested
//! shells, a subshell that only forks, a failed exec, and a double fork whose grandchild is
//! re-parented to a subreaper. Only structure and counts are asserted, never times.
mod common;

use common::spawnprof;
use spawn_analysis::record::{SpawnKind, SpawnRecord};
use spawn_analysis::report::json;
use spawn_analysis::tree::{Tree, text::NAME_WIDTH};

struct Run {
    records: Vec<SpawnRecord>,
    /// The lines of the `--tree` text, header and legend excluded.
    tree: Vec<String>,
    stderr: String,
}

/// `spawnprof trace --json -o FILE --tree -- cmd...`: the records in a file of their own
/// (the command's output cannot mix with them), the tree on stderr.
fn trace_tree(name: &str, cmd: &[&str], envs: &[(&str, &str)]) -> Run {
    let file = std::env::temp_dir().join(format!("spawnprof-{name}-{}.jsonl", std::process::id()));
    let out = spawnprof()
        .args(["trace", "--json", "--tree", "-o"])
        .arg(&file)
        .arg("--")
        .args(cmd)
        .envs(envs.iter().copied())
        .output()
        .expect("running spawnprof");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let text = std::fs::read_to_string(&file).expect("reading the records");
    let _ = std::fs::remove_file(&file);
    let records = text
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| json::from_line(l).unwrap_or_else(|e| panic!("bad record {l}: {e}")))
        .collect();
    let tree = stderr
        .lines()
        .skip_while(|l| !l.starts_with("SPAWN TREE"))
        .skip(1)
        .take_while(|l| !l.starts_with("SPAWN: "))
        .map(String::from)
        .collect();
    Run {
        records,
        tree,
        stderr,
    }
}

fn root(records: &[SpawnRecord]) -> &SpawnRecord {
    let roots: Vec<_> = records
        .iter()
        .filter(|r| r.kind == SpawnKind::Root)
        .collect();
    assert_eq!(roots.len(), 1, "{records:#?}");
    roots[0]
}

/// The children of `parent`, in start order.
fn children<'a>(records: &'a [SpawnRecord], parent: &SpawnRecord) -> Vec<&'a SpawnRecord> {
    let mut c: Vec<_> = records
        .iter()
        .filter(|r| r.parent_record == Some(parent.id))
        .collect();
    c.sort_by_key(|r| r.t_start_ns);
    c
}

/// The name column (tree glyphs and program) and the subtree columns of a `--tree` line.
fn cells(line: &str) -> (String, Vec<String>) {
    let name: String = line.chars().take(NAME_WIDTH).collect();
    // The last '│' separates the subtree totals; earlier ones are tree glyphs.
    let tail = line.rsplit('│').next().unwrap_or("");
    (
        name.trim_end().to_string(),
        tail.split_whitespace().map(String::from).collect(),
    )
}

#[test]
fn nested_shells_form_a_tree_with_subtree_totals() {
    require_probes!();
    let r = trace_tree(
        "nested",
        &[
            "sh",
            "-c",
            "sh -c '/bin/true; /bin/true; exit 0'; /bin/true; exit 0",
        ],
        &[],
    );
    let outer = root(&r.records);
    assert_eq!((outer.depth, outer.parent_record), (0, None));
    let kids = children(&r.records, outer);
    let names: Vec<_> = kids.iter().map(|k| k.program().unwrap_or("?")).collect();
    assert_eq!(names, ["sh", "true"], "{:#?}", r.records);
    let inner = kids[0];
    assert_eq!(inner.depth, 1);
    let grand = children(&r.records, inner);
    assert_eq!(grand.len(), 2, "{:#?}", r.records);
    for g in &grand {
        assert_eq!((g.depth, g.ppid), (2, Some(inner.pid)), "{g:#?}");
        assert_eq!(g.program(), Some("true"));
    }
    let tree = Tree::from_records(&r.records);
    let node = |rec: &SpawnRecord| {
        tree.nodes
            .iter()
            .find(|n| n.item.id == rec.id)
            .expect("node")
    };
    assert_eq!(node(outer).totals.below, 4);
    assert_eq!(node(inner).totals.below, 2);
    assert!(node(outer).totals.overhead >= node(inner).totals.overhead);
    // The text: the inner sh under the outer one, its two trues under it.
    let lines: Vec<(String, Vec<String>)> = r.tree.iter().map(|l| cells(l)).collect();
    let shape: Vec<(&str, &str)> = lines
        .iter()
        .map(|(n, c)| (n.as_str(), c.first().map_or("", String::as_str)))
        .collect();
    assert_eq!(
        shape,
        [
            ("sh", "4"),
            ("├─ sh", "2"),
            ("│  ├─ true", "0"),
            ("│  └─ true", "0"),
            ("└─ true", "0")
        ],
        "{}",
        r.stderr
    );
    for (_, c) in &lines {
        assert_eq!(c.len(), 3, "{}", r.stderr);
    }
    assert!(r.stderr.contains("4 spawns below it"), "{}", r.stderr);
}

#[test]
fn fork_only_subshell_and_failed_exec_are_nodes_of_their_own() {
    require_probes!();
    let r = trace_tree(
        "subshell",
        &[
            "sh",
            "-c",
            "(/bin/true; /bin/true; exit 0); /nonexistent/prog; exit 0",
        ],
        &[],
    );
    let top = root(&r.records);
    let kids = children(&r.records, top);
    assert_eq!(kids.len(), 2, "{:#?}", r.records);
    let (sub, failed) = (kids[0], kids[1]);
    assert_eq!(sub.kind, SpawnKind::ForkOnly, "{sub:#?}");
    let under: Vec<_> = children(&r.records, sub);
    assert_eq!(under.len(), 2, "{:#?}", r.records);
    assert!(
        under
            .iter()
            .all(|u| u.depth == 2 && u.program() == Some("true"))
    );
    let e = failed.exec.as_ref().expect("exec");
    assert_eq!((e.ret, failed.depth), (Some(-2), 1), "{failed:#?}");
    let lines = &r.tree;
    assert_eq!(lines.len(), 5, "{}", r.stderr);
    assert!(lines[1].starts_with("├─ sh (fork)"), "{}", r.stderr);
    assert!(lines[2].starts_with("│  ├─ true"), "{}", r.stderr);
    assert!(lines[4].starts_with("└─ prog ✗ENOENT"), "{}", r.stderr);
}

/// The test binary run as the traced command (see [`subreaper_helper`]).
const HELPER_ENV: &str = "SPAWNPROF_TREE_HELPER";

#[test]
fn double_fork_grandchild_keeps_its_spawner_when_a_subreaper_reaps_it() {
    require_probes!();
    let me = std::env::current_exe().expect("test binary");
    let me = me.to_str().expect("utf-8 path");
    let r = trace_tree(
        "subreaper",
        &[
            me,
            "subreaper_helper",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ],
        &[(HELPER_ENV, "1")],
    );
    let top = root(&r.records);
    let mids: Vec<_> = children(&r.records, top)
        .into_iter()
        .filter(|c| c.kind == SpawnKind::ForkOnly)
        .collect();
    assert_eq!(mids.len(), 1, "{:#?}", r.records);
    let mid = mids[0];
    let grand = children(&r.records, mid);
    assert_eq!(grand.len(), 1, "{:#?}", r.records);
    let g = grand[0];
    assert_eq!(g.program(), Some("true"), "{g:#?}");
    assert_eq!((g.depth, g.ppid), (2, Some(mid.pid)), "{g:#?}");
    let note = format!("reaped by pid {}, not its parent", top.pid);
    assert!(g.notes.contains(&note), "{g:#?}");
}

/// Not a test of its own: run by the test above as the traced command. A subreaper forks a
/// child that forks a grandchild and exits; the grandchild waits on a pipe until then (EOF
/// when its parent's write end closes), so it is re-parented, then execs /bin/true and is
/// reaped here. Only async-signal-safe calls between fork and exec.
#[test]
fn subreaper_helper() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    // SAFETY: plain syscalls; the children call only async-signal-safe functions.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
        // On the stack, so resident in the children: the probes read the exec's filename
        // without faulting pages in, and a not yet touched page of rodata would read empty.
        let path = *b"/bin/true\0";
        let path = std::ffi::CStr::from_bytes_with_nul(&path).expect("C string");
        let argv = [path.as_ptr(), std::ptr::null()];
        let mid = libc::fork();
        if mid == 0 {
            let mut fds = [0; 2];
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                libc::_exit(3);
            }
            if libc::fork() == 0 {
                libc::close(fds[1]);
                let mut b = 0u8;
                while libc::read(fds[0], (&raw mut b).cast(), 1) > 0 {}
                libc::execv(path.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
            libc::_exit(0);
        }
        let mut status = 0;
        assert_eq!(libc::waitpid(mid, &mut status, 0), mid);
        // The grandchild, re-parented to us.
        let g = libc::waitpid(-1, &mut status, 0);
        assert!(g > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
    std::process::exit(0);
}
