//! The README's usage block is the CLI: every subcommand `spawnprof --help` lists has a line
//! there and no line names a subcommand that does not exist; per subcommand, the README names
//! every option its `--help` offers (by one of its names) and no other. Needs no root: it only
//! asks for help.
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spawnprof"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run spawnprof --help");
    assert!(out.status.success(), "spawnprof {args:?} --help failed");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

/// The lines of the first ```sh block under "## Usage", continuation lines joined to the line
/// they continue.
fn usage_lines() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Usage\n")
        .nth(1)
        .expect("a ## Usage section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a sh block in ## Usage");
    let mut lines: Vec<String> = Vec::new();
    for l in block.lines() {
        if l.starts_with("spawnprof ") {
            lines.push(l.to_string());
        } else if let Some(last) = lines.last_mut() {
            last.push(' ');
            last.push_str(l.trim());
        }
    }
    lines
}

/// Long and short options a piece of text names (`--min-total`, `-o`), without `--help`.
fn flags(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || "[]()|,=".contains(c)) {
        let w = word.trim_end_matches(['.', ':', ';']);
        let is_long = w.starts_with("--") && w.len() > 2;
        let is_short = w.len() == 2 && w.starts_with('-') && w.as_bytes()[1].is_ascii_alphabetic();
        if (is_long || is_short) && !matches!(w, "--help" | "-h" | "--version" | "-V") {
            out.insert(w.to_string());
        }
    }
    out
}

/// Subcommands in `spawnprof --help` (the lines after "Commands:", minus `help`).
fn subcommands() -> BTreeSet<String> {
    let top = help(&[]);
    top.split("Commands:")
        .nth(1)
        .expect("a Commands: section")
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The options of one subcommand's help, one set of aliases per option (`-o`, `--output`):
/// only the option lines (those starting with a dash), not the prose, which may mention other
/// commands' options.
fn help_options(sub: &str) -> Vec<BTreeSet<String>> {
    help(&[sub])
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
        .map(|l| flags(l.split("  ").next().unwrap_or(l)))
        .filter(|aliases| !aliases.is_empty())
        .collect()
}

#[test]
fn readme_usage_matches_the_cli() {
    let mut readme: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in usage_lines() {
        let sub = line
            .split_whitespace()
            .nth(1)
            .expect("a subcommand")
            .to_string();
        readme.entry(sub).or_default().extend(flags(&line));
    }
    let subs = subcommands();
    assert!(subs.len() >= 9, "few subcommands in --help: {subs:?}");
    let named: BTreeSet<String> = readme.keys().cloned().collect();
    assert_eq!(
        named, subs,
        "README usage names these subcommands, `spawnprof --help` those"
    );
    let mut problems = Vec::new();
    for sub in &subs {
        let cli = help_options(sub);
        let doc = &readme[sub];
        for f in doc {
            if !cli.iter().any(|aliases| aliases.contains(f)) {
                problems.push(format!(
                    "{sub}: README names {f}, which the CLI does not have"
                ));
            }
        }
        // One name of each option is enough (`-o` stands for `--output`).
        for aliases in &cli {
            if aliases.is_disjoint(doc) {
                problems.push(format!(
                    "{sub}: the CLI has {aliases:?}, which the README usage omits"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_flag_reader_sees_what_it_should() {
    let f = flags("spawnprof x [--json|--csv] [-o FILE] (-a | --pid P) [--min-total 5ms] --help");
    let want: BTreeSet<String> = ["--json", "--csv", "-o", "-a", "--pid", "--min-total"]
        .map(String::from)
        .into();
    assert_eq!(f, want);
}
