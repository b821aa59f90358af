//! Each ecosystem's own version order: what "before the fix" means.
//!
//! dpkg (Debian, Ubuntu), apk (Alpine, Wolfi), rpm (Rocky, Alma, openSUSE),
//! PEP 440 (PyPI), SemVer (npm, crates.io, Go with its `v` and
//! pseudo-versions) and Maven's. A version that does not parse in its order
//! compares as unknown, and an unknown comparison never reports a finding.

use std::cmp::Ordering;
use std::str::FromStr;

/// Which order an OSV ecosystem uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Dpkg,
    Apk,
    Rpm,
    Pep440,
    Semver,
    Maven,
}

impl Order {
    /// The order of an OSV ecosystem (`Debian:12`, `PyPI`, `Go`, ...).
    pub fn of_ecosystem(ecosystem: &str) -> Option<Order> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        Some(match base {
            "Debian" | "Ubuntu" => Order::Dpkg,
            "Alpine" | "Wolfi" | "Chainguard" => Order::Apk,
            "Rocky Linux" | "AlmaLinux" | "Red Hat" | "openSUSE" | "SUSE" | "Mageia" => Order::Rpm,
            "PyPI" => Order::Pep440,
            "npm" | "crates.io" | "Go" | "Packagist" | "Hex" | "Pub" | "RubyGems" => Order::Semver,
            "Maven" => Order::Maven,
            _ => return None,
        })
    }

    /// Compares two versions; `None` when either does not parse.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Order::Dpkg => {
                let a = debversion::Version::from_str(a).ok()?;
                let b = debversion::Version::from_str(b).ok()?;
                Some(a.cmp(&b))
            }
            Order::Apk => Some(apk(a, b)),
            Order::Rpm => Some(rpm_evr(a, b)),
            Order::Pep440 => {
                let a = pep440_rs::Version::from_str(a.trim()).ok()?;
                let b = pep440_rs::Version::from_str(b.trim()).ok()?;
                Some(a.cmp(&b))
            }
            Order::Semver => {
                let a = semver_of(a)?;
                let b = semver_of(b)?;
                Some(a.cmp_precedence(&b))
            }
            Order::Maven => Some(maven(a, b)),
        }
    }
}

/// PEP 503's normal form of a Python project name.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// SemVer, as Go and npm write it: a leading `v` is dropped, and a
/// `1.2` or `1` is read as `1.2.0` / `1.0.0`.
fn semver_of(v: &str) -> Option<semver::Version> {
    let v = v.trim().trim_start_matches('v');
    if let Ok(s) = semver::Version::parse(v) {
        return Some(s);
    }
    let (core, rest) = match v.find(['-', '+']) {
        Some(i) => v.split_at(i),
        None => (v, ""),
    };
    let parts = core.split('.').count();
    let padded = match parts {
        1 => format!("{core}.0.0{rest}"),
        2 => format!("{core}.0{rest}"),
        _ => return None,
    };
    semver::Version::parse(&padded).ok()
}

/// rpm's `[epoch:]version[-release]` order.
fn rpm_evr(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => {
                (e.parse::<u64>().unwrap_or(0), r)
            }
            _ => (0, s),
        };
        let (v, r) = rest.rsplit_once('-').unwrap_or((rest, ""));
        (epoch, v.to_string(), r.to_string())
    };
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    ea.cmp(&eb).then_with(|| rpmvercmp(&va, &vb)).then_with(|| {
        if ra.is_empty() || rb.is_empty() {
            Ordering::Equal
        } else {
            rpmvercmp(&ra, &rb)
        }
    })
}

/// rpm's `rpmvercmp`: alternating runs of digits and letters, separators
/// ignored, `~` before anything (even the end), `^` after the end only.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !(c.is_ascii_alphanumeric() || c == b'~' || c == b'^');
    loop {
        while let Some((&c, rest)) = a.split_first() {
            if !sep(c) {
                break;
            }
            a = rest;
        }
        while let Some((&c, rest)) = b.split_first() {
            if !sep(c) {
                break;
            }
            b = rest;
        }
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            _ => {}
        }
        let numeric = a[0].is_ascii_digit();
        let take = |s: &[u8]| {
            let n = s
                .iter()
                .take_while(|c| {
                    if numeric {
                        c.is_ascii_digit()
                    } else {
                        c.is_ascii_alphabetic()
                    }
                })
                .count();
            n
        };
        let (na, nb) = (take(a), take(b));
        if nb == 0 {
            // A number is newer than letters.
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (sa, sb) = (&a[..na], &b[..nb]);
        let o = if numeric {
            let ta = trim_zeros(sa);
            let tb = trim_zeros(sb);
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb))
        } else {
            sa.cmp(sb)
        };
        if o != Ordering::Equal {
            return o;
        }
        a = &a[na..];
        b = &b[nb..];
    }
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// apk's order (apk-tools `version.c`): numbers part by part, then a
/// letter, then suffixes (`_alpha` < `_beta` < `_pre` < `_rc` < none <
/// `_cvs` < `_svn` < `_git` < `_hg` < `_p`), then `-rN`.
fn apk(a: &str, b: &str) -> Ordering {
    let pa = ApkVersion::parse(a);
    let pb = ApkVersion::parse(b);
    pa.cmp(&pb)
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
struct ApkVersion {
    numbers: Vec<NumPart>,
    letter: Option<char>,
    /// Ends with `(0, 0)`, so that a release sorts after its pre-releases.
    suffixes: Vec<(i8, u64)>,
    revision: u64,
}

/// A dotted number; after the first, apk compares them as decimal
/// fractions when they start with 0.
#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
struct NumPart(u64, String);

impl ApkVersion {
    fn parse(v: &str) -> ApkVersion {
        let (body, revision) = match v.rsplit_once("-r") {
            Some((b, r)) if r.chars().all(|c| c.is_ascii_digit()) && !r.is_empty() => {
                (b, r.parse().unwrap_or(0))
            }
            _ => (v, 0),
        };
        let (core, suffix) = body.split_once('_').unwrap_or((body, ""));
        let mut numbers = Vec::new();
        let mut letter = None;
        for (i, part) in core.split('.').enumerate() {
            let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
            let rest = &part[digits.len()..];
            let n = digits.parse().unwrap_or(0);
            // 1.02 < 1.1 in apk: parts after the first with a leading 0 are fractions.
            let key = if i > 0 && digits.starts_with('0') {
                NumPart(0, digits.clone())
            } else {
                NumPart(n, String::new())
            };
            numbers.push(key);
            if let Some(c) = rest.chars().next() {
                letter = Some(c);
            }
        }
        let mut suffixes = Vec::new();
        if !suffix.is_empty() {
            for s in suffix.split('_') {
                let name: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
                let n = s[name.len()..].parse().unwrap_or(0);
                let rank = match name.as_str() {
                    "alpha" => -4,
                    "beta" => -3,
                    "pre" => -2,
                    "rc" => -1,
                    "cvs" => 1,
                    "svn" => 2,
                    "git" => 3,
                    "hg" => 4,
                    "p" => 5,
                    _ => 0,
                };
                suffixes.push((rank, n));
            }
        }
        suffixes.push((0, 0));
        ApkVersion {
            numbers,
            letter,
            suffixes,
            revision,
        }
    }
}

/// Maven's order, as `ComparableVersion` has it for what real artifacts
/// use: numbers numerically, qualifiers alpha < beta < milestone < rc <
/// snapshot < (release) < sp, unknown qualifiers after those by name;
/// trailing zeros and release qualifiers do not count (1.0 == 1).
fn maven(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (maven_tokens(a), maven_tokens(b));
    for i in 0..ta.len().max(tb.len()) {
        let o = match (ta.get(i), tb.get(i)) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(x), None) => x.cmp(&x.padding()),
            (None, Some(y)) => y.padding().cmp(y),
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum MavenToken {
    // Qualifiers sort before numbers.
    Qualifier(u8, String),
    Number(u64),
}

const MAVEN_RELEASE: u8 = 6;

impl MavenToken {
    /// What a shorter version has where this one has a token.
    fn padding(&self) -> MavenToken {
        match self {
            MavenToken::Number(_) => MavenToken::Number(0),
            MavenToken::Qualifier(..) => MavenToken::Qualifier(MAVEN_RELEASE, String::new()),
        }
    }

    fn of(s: &str) -> MavenToken {
        if s.chars().all(|c| c.is_ascii_digit()) {
            return MavenToken::Number(s.parse().unwrap_or(u64::MAX));
        }
        let rank = match s {
            "alpha" | "a" => 1,
            "beta" | "b" => 2,
            "milestone" | "m" => 3,
            "rc" | "cr" => 4,
            "snapshot" => 5,
            "ga" | "final" | "release" => MAVEN_RELEASE,
            "sp" => 7,
            _ => return MavenToken::Qualifier(8, s.to_string()),
        };
        MavenToken::Qualifier(rank, String::new())
    }

    fn is_release_or_zero(&self) -> bool {
        matches!(self, MavenToken::Number(0))
            || matches!(self, MavenToken::Qualifier(MAVEN_RELEASE, _))
    }
}

fn maven_tokens(v: &str) -> Vec<MavenToken> {
    let v = v.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = None;
    for c in v.chars() {
        let boundary = matches!(c, '.' | '-' | '_');
        let switch = digits.is_some_and(|d| d != c.is_ascii_digit());
        if (boundary || switch) && !cur.is_empty() {
            out.push(MavenToken::of(&cur));
            cur.clear();
        }
        if boundary {
            digits = None;
        } else {
            digits = Some(c.is_ascii_digit());
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(MavenToken::of(&cur));
    }
    while out.len() > 1 && out.last().is_some_and(MavenToken::is_release_or_zero) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn check(order: Order, cases: &[(&str, &str, Ordering)]) {
        for (a, b, want) in cases {
            assert_eq!(order.compare(a, b), Some(*want), "{order:?}: {a} vs {b}");
            assert_eq!(
                order.compare(b, a),
                Some(want.reverse()),
                "{order:?}: {b} vs {a}"
            );
        }
    }

    #[test]
    fn dpkg_order() {
        check(
            Order::Dpkg,
            &[
                ("2.36-9+deb12u14", "2.36-9+deb12u9", Greater),
                ("1.0~rc1", "1.0", Less),
                ("1:0.9", "2.0", Greater),
                ("3.0.11-1~deb12u2", "3.0.11-1", Less),
                ("1.2.3-1", "1.2.3-1", Equal),
                ("1.10", "1.9", Greater),
                ("1.0-1", "1.0-1.1", Less),
            ],
        );
    }

    #[test]
    fn apk_order() {
        check(
            Order::Apk,
            &[
                ("3.3.2-r0", "3.3.2-r1", Less),
                ("1.36.1-r29", "1.36.1-r3", Greater),
                ("1.2.3_rc1", "1.2.3", Less),
                ("1.2.3_p1", "1.2.3", Greater),
                ("1.2.3a", "1.2.3", Greater),
                ("1.10", "1.9", Greater),
                ("2.0_alpha1", "2.0_beta1", Less),
            ],
        );
    }

    #[test]
    fn rpm_order() {
        check(
            Order::Rpm,
            &[
                ("1:3.0.7-25.el9_3", "1:3.0.7-24.el9", Greater),
                ("1.0~rc1-1", "1.0-1", Less),
                ("1.0^20230101-1", "1.0-1", Greater),
                ("2.0-1", "1:1.0-1", Less),
                ("1.0a", "1.0", Greater),
                ("1.010", "1.9", Greater),
            ],
        );
    }

    #[test]
    fn pep440_order_and_names() {
        check(
            Order::Pep440,
            &[
                ("1.0.dev1", "1.0a1", Less),
                ("1.0a1", "1.0rc1", Less),
                ("1.0rc1", "1.0", Less),
                ("1.0", "1.0.post1", Less),
                ("1.0+local.1", "1.0", Greater),
                ("1!0.1", "2.0", Greater),
                ("2.31.0", "2.4.0", Greater),
            ],
        );
        assert_eq!(pep503("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(pep503("PyYAML"), "pyyaml");
    }

    #[test]
    fn semver_order_with_go_forms() {
        check(
            Order::Semver,
            &[
                ("v1.2.3", "1.2.4", Less),
                ("1.0.0-alpha", "1.0.0", Less),
                ("v0.0.0-20230101120000-abcdef123456", "v0.1.0", Less),
                ("v2.0.0+incompatible", "v1.9.0", Greater),
                ("1.21", "1.21.0", Equal),
                ("1.10.0", "1.9.9", Greater),
            ],
        );
        assert_eq!(Order::Semver.compare("not a version", "1.0.0"), None);
    }

    #[test]
    fn maven_order() {
        check(
            Order::Maven,
            &[
                ("2.14.1", "2.15.0", Less),
                ("2.0-beta9", "2.0", Less),
                ("1.0-alpha1", "1.0-beta1", Less),
                ("1.0-rc1", "1.0", Less),
                ("1.0-SNAPSHOT", "1.0", Less),
                ("1.0", "1.0.0", Equal),
                ("1.0-sp1", "1.0", Greater),
                ("2.17.1", "2.3.2", Greater),
            ],
        );
    }
}
