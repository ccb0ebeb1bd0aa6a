//! Reading libtest's plain-text output (its JSON format needs nightly's `-Z unstable-options`):
//! `test NAME ... ok|FAILED|ignored` per test, then a `---- NAME stdout ----` section per
//! failure, where the line after `panicked at` is the message.

/// What one test did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// With the first line of the panic message (may be empty when none was found).
    Failed(String),
    Ignored,
}

/// Said of a test that started but never reported: its binary crashed or was killed.
pub const UNFINISHED: &str = "did not finish (the test binary died or was killed at the timeout)";

/// Every test the output mentions, in the order they ran.
pub fn parse(output: &str) -> Vec<(String, Outcome)> {
    let mut results: Vec<(String, Option<Outcome>)> = Vec::new();
    let mut pending: Option<usize> = None;
    for line in output.lines() {
        if let Some((name, rest)) = line
            .strip_prefix("test ")
            .and_then(|l| l.split_once(" ... "))
        {
            results.push((name.trim().to_owned(), verdict(rest)));
            pending = results
                .last()
                .unwrap()
                .1
                .is_none()
                .then(|| results.len() - 1);
        } else if let Some(i) = pending {
            // Output a test's children wrote straight to the inherited stdout can come between
            // `test NAME ... ` and the verdict; the verdict then stands on a line of its own.
            if let Some(v) = verdict(line) {
                results[i].1 = Some(v);
                pending = None;
            }
        }
    }
    results
        .into_iter()
        .map(|(name, outcome)| {
            let outcome = match outcome {
                Some(Outcome::Failed(_)) => Outcome::Failed(failure_line(output, &name)),
                Some(other) => other,
                None => Outcome::Failed(UNFINISHED.to_owned()),
            };
            (name, outcome)
        })
        .collect()
}

fn verdict(text: &str) -> Option<Outcome> {
    match text.trim() {
        "ok" => Some(Outcome::Ok),
        "FAILED" => Some(Outcome::Failed(String::new())),
        t if t == "ignored" || t.starts_with("ignored,") => Some(Outcome::Ignored),
        _ => None,
    }
}

/// The panic message in the test's `---- NAME stdout ----` section as one line (a message
/// often spans lines: a pretty-printed stderr), or the section's first line when it has no
/// panic.
fn failure_line(output: &str, name: &str) -> String {
    let header = format!("---- {name} stdout ----");
    let Some(start) = output.find(&header) else {
        return String::new();
    };
    let section: Vec<&str> = output[start + header.len()..]
        .lines()
        .take_while(|l| !l.starts_with("---- ") && l.trim() != "failures:")
        .map(str::trim)
        .collect();
    let message: Vec<&str> = match section.iter().position(|l| l.contains("panicked at")) {
        Some(i) => section[i + 1..]
            .iter()
            .take_while(|l| !l.is_empty() && !l.starts_with("note:"))
            .copied()
            .collect(),
        None => section
            .iter()
            .find(|l| !l.is_empty())
            .into_iter()
            .copied()
            .collect(),
    };
    // assert_eq! puts the values after its (possibly long) message; they are often what tells
    // the failures apart (an exit code of 139 against 0), so they go first.
    let (values, text): (Vec<&str>, Vec<&str>) = message
        .iter()
        .partition(|l| l.starts_with("left:") || l.starts_with("right:"));
    if values.is_empty() {
        shorten(&text.join(" "))
    } else {
        shorten(&format!("[{}] {}", values.join(", "), text.join(" ")))
    }
}

/// One line of at most 300 characters, for the table's notes.
pub fn shorten(line: &str) -> String {
    let line = line.trim();
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "\
running 4 tests
test smoke_a ... ok
test smoke_b ... FAILED
test slow_one ... ignored, takes minutes
test noisy ... child wrote this
ok

failures:

---- smoke_b stdout ----

thread 'smoke_b' (812) panicked at spawn-user/tests/smoke.rs:30:5:
assertion `left == right` failed: stderr: error: loading probes: program copy_enter: EINVAL
  left: Some(2)
 right: Some(0)
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    smoke_b

test result: FAILED. 2 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out
";

    #[test]
    fn reads_each_outcome_and_the_panic_message() {
        let got = parse(RUN);
        assert_eq!(
            got,
            vec![
                ("smoke_a".into(), Outcome::Ok),
                (
                    "smoke_b".into(),
                    Outcome::Failed(
                        "[left: Some(2), right: Some(0)] assertion `left == right` failed: \
                         stderr: error: loading probes: program copy_enter: EINVAL"
                            .into()
                    )
                ),
                ("slow_one".into(), Outcome::Ignored),
                ("noisy".into(), Outcome::Ok),
            ]
        );
    }

    #[test]
    fn a_test_cut_off_by_a_crash_is_a_failure() {
        let got = parse("running 2 tests\ntest a ... ok\ntest b ... ");
        assert_eq!(got[1], ("b".into(), Outcome::Failed(UNFINISHED.into())));
    }

    #[test]
    fn a_message_over_several_lines_becomes_one() {
        let out = "test t ... FAILED\n\nfailures:\n\n---- t stdout ----\n\n\
                   thread 't' (9) panicked at tests/x.rs:1:1:\n\
                   never said \"recording\"; stderr: [\n    \"no cgroup helper\",\n]\n\n\
                   failures:\n    t\n";
        let got = parse(out);
        assert_eq!(
            got[0].1,
            Outcome::Failed(r#"never said "recording"; stderr: [ "no cgroup helper", ]"#.into())
        );
    }

    #[test]
    fn summary_lines_are_not_tests() {
        assert!(parse("test result: ok. 0 passed; 0 failed\n").is_empty());
    }

    #[test]
    fn long_lines_are_cut() {
        let cut = shorten(&"x".repeat(400));
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
    }
}
