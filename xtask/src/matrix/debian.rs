//! Pure parts of fetching kernels: apt's package entries (`apt-cache show` prints them in the
//! same RFC 822 form as a Packages file), Debian version order, and which image package a
//! suite's `linux-image-amd64` currently points at.

use std::{cmp::Ordering, collections::BTreeMap};

use anyhow::{Context as _, Result, bail};

/// The metapackage every suite has; its Depends names the current versioned image package.
pub const META: &str = "linux-image-amd64";

/// One entry: field name -> value (continuation lines joined with '\n').
pub type Stanza = BTreeMap<String, String>;

/// Splits entries at blank lines and fields at the first ':'.
pub fn parse_stanzas(text: &str) -> Vec<Stanza> {
    let mut out = Vec::new();
    let mut cur = Stanza::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            last = None;
        } else if line.starts_with([' ', '\t']) {
            if let Some(value) = last.as_ref().and_then(|k| cur.get_mut(k)) {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((key, value)) = line.split_once(':') {
            cur.insert(key.trim().to_owned(), value.trim().to_owned());
            last = Some(key.trim().to_owned());
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The image package to download: name and exact version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub package: String,
    pub version: String,
}

impl Image {
    /// The kernel release, which is also the name under boot/ and lib/modules/.
    pub fn kver(&self) -> &str {
        self.package
            .strip_prefix("linux-image-")
            .unwrap_or(&self.package)
    }
}

/// The newest `linux-image-amd64` entry and the versioned image it depends on. The suite and
/// its security suite both list the metapackage, so the highest version wins, as apt would.
pub fn pick_image(stanzas: &[Stanza]) -> Result<Image> {
    let newest = stanzas
        .iter()
        .filter(|s| s.get("Package").is_some_and(|p| p == META))
        .filter(|s| s.contains_key("Version"))
        .max_by(|a, b| compare_versions(&a["Version"], &b["Version"]))
        .with_context(|| format!("no {META} entry in the package lists"))?;
    let depends = newest
        .get("Depends")
        .with_context(|| format!("{META} {} has no Depends", newest["Version"]))?;
    // e.g. `linux-image-6.1.0-57-amd64 (= 6.1.192-3)`; alternatives are never used here, but
    // take the first one if they ever appear.
    for dep in depends.split(',') {
        let dep = dep.split('|').next().unwrap_or("").trim();
        let (name, rest) = dep.split_once(' ').unwrap_or((dep, ""));
        if !name.starts_with("linux-image-") {
            continue;
        }
        let version = rest
            .trim()
            .strip_prefix("(=")
            .and_then(|v| v.strip_suffix(')'))
            .map(str::trim)
            .with_context(|| format!("{META} depends on `{dep}` without an exact version"))?;
        return Ok(Image {
            package: name.to_owned(),
            version: version.to_owned(),
        });
    }
    bail!(
        "{META} {} depends on no linux-image-* package: {depends}",
        newest["Version"]
    )
}

/// Debian's version order (deb-version(7)): epoch, then upstream, then revision, where `~`
/// sorts before everything, even the end of the string.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_version(a);
    let (eb, ub, rb) = split_version(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

fn split_version(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) => (e.parse().unwrap_or(0), rest),
        None => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's verrevcmp: alternating runs of non-digits (compared by `order`) and digits
/// (compared as numbers).
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "\
Package: linux-image-amd64
Source: linux-signed-amd64 (5.10.262+1)
Version: 5.10.262-1
Depends: linux-image-5.10.0-46-amd64 (= 5.10.262-1)
Description: Linux for 64-bit PCs (meta-package)
 This package depends on the latest Linux kernel.

Package: linux-image-amd64
Version: 5.10.223-1
Depends: linux-image-5.10.0-32-amd64 (= 5.10.223-1)
";

    #[test]
    fn parses_entries_and_continuations() {
        let s = parse_stanzas(SHOW);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["Version"], "5.10.262-1");
        assert_eq!(
            s[0]["Description"],
            "Linux for 64-bit PCs (meta-package)\nThis package depends on the latest Linux kernel."
        );
    }

    #[test]
    fn picks_the_newest_metapackage_regardless_of_order() {
        let mut s = parse_stanzas(SHOW);
        s.reverse();
        let image = pick_image(&s).unwrap();
        assert_eq!(image.package, "linux-image-5.10.0-46-amd64");
        assert_eq!(image.version, "5.10.262-1");
        assert_eq!(image.kver(), "5.10.0-46-amd64");
    }

    #[test]
    fn trixie_style_names_keep_their_plus() {
        let s = parse_stanzas(
            "Package: linux-image-amd64\nVersion: 6.12.118-1\n\
             Depends: linux-image-6.12.118+deb13-amd64 (= 6.12.118-1)\n",
        );
        assert_eq!(pick_image(&s).unwrap().kver(), "6.12.118+deb13-amd64");
    }

    #[test]
    fn missing_metapackage_or_version_is_an_error() {
        assert!(pick_image(&parse_stanzas("Package: bash\nVersion: 5\n")).is_err());
        let loose =
            parse_stanzas("Package: linux-image-amd64\nVersion: 1\nDepends: linux-image-x\n");
        assert!(pick_image(&loose).is_err());
    }

    #[test]
    fn debian_version_order() {
        use Ordering::*;
        let cases = [
            ("6.1.192-3", "6.1.176-1", Greater),
            ("5.10.262-1", "5.10.262-1", Equal),
            ("1.0~rc1-1", "1.0-1", Less),
            ("1:0.1-1", "9.9-1", Greater),
            ("1.0-1", "1.0-1+deb12u1", Less),
            ("1.0a-1", "1.0-1", Greater),
            ("1.010-1", "1.9-1", Greater),
            ("1.0", "1.0-0", Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
