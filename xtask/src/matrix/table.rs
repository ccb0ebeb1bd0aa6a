//! The kernel x test table: one row per test, one column per kernel (and the host), then one
//! note per failure with the first line of its error, so a failing load reads at a glance.

use std::fmt::Write as _;

use super::libtest::Outcome;

/// One kernel's results. `problem` says why the column may be incomplete (a boot that timed out,
/// a test binary that died); it fails the matrix, and the tests it kept from running show as
/// `-` rather than as failures of their own.
#[derive(Debug, Default)]
pub struct Column {
    pub label: String,
    /// Qualified test names (`binary::test`) and what they did.
    pub results: Vec<(String, Outcome)>,
    pub problem: Option<String>,
}

impl Column {
    fn outcome(&self, test: &str) -> Option<&Outcome> {
        self.results.iter().find(|(t, _)| t == test).map(|(_, o)| o)
    }

    fn cell(&self, test: &str) -> &'static str {
        match self.outcome(test) {
            Some(Outcome::Ok) => "ok",
            Some(Outcome::Failed(_)) => "FAIL",
            Some(Outcome::Ignored) => "skip",
            None => "-",
        }
    }
}

/// The table and its notes, and whether anything failed.
pub fn render(columns: &[Column]) -> (String, bool) {
    // Rows in the order the tests first ran, whichever column ran them.
    let mut tests: Vec<&str> = Vec::new();
    for column in columns {
        for (test, _) in &column.results {
            if !tests.contains(&test.as_str()) {
                tests.push(test);
            }
        }
    }
    let name_width = tests.iter().map(|t| t.len()).max().unwrap_or(0).max(4);
    let widths: Vec<usize> = columns.iter().map(|c| c.label.len().max(4)).collect();

    let mut out = String::new();
    let _ = write!(out, "{:<name_width$}", "test");
    for (column, width) in columns.iter().zip(&widths) {
        let _ = write!(out, "  {:>width$}", column.label);
    }
    out.push('\n');
    let mut failed = false;
    for test in &tests {
        let _ = write!(out, "{test:<name_width$}");
        for (column, width) in columns.iter().zip(&widths) {
            let cell = column.cell(test);
            failed |= cell == "FAIL";
            let _ = write!(out, "  {cell:>width$}");
        }
        out.push('\n');
    }
    if tests.is_empty() {
        out.push_str("(no test ran: check the filter)\n");
    }

    if columns
        .iter()
        .any(|c| tests.iter().any(|t| c.outcome(t).is_none()))
    {
        out.push_str("(- did not run)\n");
    }
    let mut notes = String::new();
    for column in columns {
        if let Some(problem) = &column.problem {
            failed = true;
            let _ = writeln!(notes, "  {}: {problem}", column.label);
        }
        for (test, outcome) in &column.results {
            if let Outcome::Failed(why) = outcome {
                let why = if why.is_empty() {
                    "(no panic message)"
                } else {
                    why
                };
                let _ = writeln!(notes, "  {} {test}: {why}", column.label);
            }
        }
    }
    if !notes.is_empty() {
        out.push_str("\nfailures:\n");
        out.push_str(&notes);
    }
    (out, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(label: &str, results: &[(&str, Outcome)], problem: Option<&str>) -> Column {
        Column {
            label: label.into(),
            results: results
                .iter()
                .map(|(t, o)| (t.to_string(), o.clone()))
                .collect(),
            problem: problem.map(Into::into),
        }
    }

    #[test]
    fn renders_cells_and_notes() {
        let columns = [
            column(
                "5.10",
                &[("smoke::a", Outcome::Failed("loading probes: EINVAL".into()))],
                Some("smoke: exited 101"),
            ),
            column(
                "6.1",
                &[("smoke::a", Outcome::Ok), ("smoke::b", Outcome::Ignored)],
                None,
            ),
            column("host", &[("smoke::a", Outcome::Ok)], None),
        ];
        let (text, failed) = render(&columns);
        assert!(failed);
        let expected = "\
test      5.10   6.1  host
smoke::a  FAIL    ok    ok
smoke::b     -  skip     -
(- did not run)

failures:
  5.10: smoke: exited 101
  5.10 smoke::a: loading probes: EINVAL
";
        assert_eq!(text, expected);
    }

    #[test]
    fn all_ok_is_not_a_failure() {
        let columns = [column("6.12", &[("t", Outcome::Ok)], None)];
        let (text, failed) = render(&columns);
        assert!(!failed);
        assert!(!text.contains("failures:"));
    }

    #[test]
    fn an_empty_run_says_so() {
        let (text, failed) = render(&[column("6.1", &[], None)]);
        assert!(text.contains("no test ran"));
        assert!(!failed);
    }
}
