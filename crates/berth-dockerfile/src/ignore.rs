//! `.dockerignore`: moby's pattern semantics. Patterns are relative to the
//! context root (leading `/` and `./` cleaned), `*` and `?` stay within one
//! path segment, `**` spans any number of them, `!` re-includes, and the last
//! matching line wins.

use std::path::Path;

#[derive(Clone, Debug, PartialEq)]
struct Pattern {
    /// Cleaned pattern, split on `/` and compiled.
    segments: Vec<Segment>,
    exclusion: bool,
    text: String,
}

/// One `/`-separated piece of a pattern.
#[derive(Clone, Debug, PartialEq)]
enum Segment {
    /// `**`: any number of path segments.
    Any,
    Literal(String),
    Glob(Vec<char>),
}

impl Segment {
    fn new(s: &str) -> Segment {
        if s == "**" {
            Segment::Any
        } else if s.contains(['*', '?', '[', '\\']) {
            Segment::Glob(s.chars().collect())
        } else {
            Segment::Literal(s.to_string())
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Segment::Any => true,
            Segment::Literal(l) => l == name,
            Segment::Glob(g) => crate::shell::glob(g, name),
        }
    }
}

/// A compiled `.dockerignore`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    has_exclusions: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid .dockerignore pattern {0:?}: {1}")]
pub struct PatternError(pub String, pub String);

/// Reads `.dockerignore` text: one pattern a line, `#` comments, blank lines skipped.
pub fn read_patterns(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.starts_with('#'))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// The ignore file for a Dockerfile: `<name>.dockerignore` beside it wins over
/// the context's `.dockerignore`.
pub fn ignore_file_for(context: &Path, dockerfile: &Path) -> Option<std::path::PathBuf> {
    let name = dockerfile.file_name()?.to_string_lossy().into_owned();
    let beside = dockerfile.with_file_name(format!("{name}.dockerignore"));
    if beside.is_file() {
        return Some(beside);
    }
    let plain = context.join(".dockerignore");
    plain.is_file().then_some(plain)
}

/// `path.Clean` for patterns: no `.` segments, `..` folded, no leading or doubled slashes.
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !p.starts_with('/') {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

impl Matcher {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, PatternError> {
        let mut out = Vec::new();
        for raw in patterns {
            let raw = raw.as_ref().trim();
            let (exclusion, body) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, raw),
            };
            if body.is_empty() {
                return Err(PatternError(
                    raw.into(),
                    "illegal exclusion pattern: \"!\"".into(),
                ));
            }
            let cleaned = clean(body);
            if cleaned.is_empty() {
                continue;
            }
            validate(&cleaned).map_err(|e| PatternError(raw.into(), e))?;
            out.push(Pattern {
                segments: cleaned.split('/').map(Segment::new).collect(),
                exclusion,
                text: cleaned,
            });
        }
        let has_exclusions = out.iter().any(|p| p.exclusion);
        Ok(Matcher {
            patterns: out,
            has_exclusions,
        })
    }

    pub fn from_text(text: &str) -> Result<Matcher, PatternError> {
        Matcher::new(&read_patterns(text))
    }

    /// Whether `path` (relative to the context root, `/`-separated) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let cleaned;
        let path = if is_clean(path) {
            path
        } else {
            cleaned = clean(path);
            &cleaned
        };
        let segs: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for p in &self.patterns {
            // Once settled, only patterns that could flip the answer matter.
            if p.exclusion != excluded {
                continue;
            }
            if matches_path(&p.segments, &segs) {
                excluded = !p.exclusion;
            }
        }
        excluded
    }

    /// Whether a walk must still enter an excluded directory, because some
    /// `!` pattern could re-include something below it.
    pub fn must_walk_excluded_dir(&self, dir: &str) -> bool {
        if !self.has_exclusions {
            return false;
        }
        let dir = clean(dir);
        let segs: Vec<&str> = dir.split('/').collect();
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| could_match_below(&p.segments, &segs))
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns, cleaned, as given (with `!` for exceptions).
    pub fn patterns(&self) -> Vec<String> {
        self.patterns
            .iter()
            .map(|p| {
                if p.exclusion {
                    format!("!{}", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }
}

/// Whether `clean` would return `p` unchanged (the common case: no copy needed).
fn is_clean(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.ends_with('/')
        && !p.contains("//")
        && p.split('/').all(|s| s != "." && s != "..")
}

fn validate(p: &str) -> Result<(), String> {
    let mut depth = 0;
    let mut escaped = false;
    for c in p.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '[') => depth += 1,
            (false, ']') if depth > 0 => depth -= 1,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("syntax error in pattern: unclosed [".into());
    }
    Ok(())
}

/// A pattern matches a path itself or any of its parents (moby: `a` excludes `a/b/c`).
fn matches_path(pat: &[Segment], path: &[&str]) -> bool {
    // Without `**`, only the prefix as long as the pattern can match.
    if !pat.contains(&Segment::Any) {
        return pat.len() <= path.len() && match_segments(pat, &path[..pat.len()]);
    }
    (1..=path.len()).any(|n| match_segments(pat, &path[..n]))
}

fn match_segments(pat: &[Segment], path: &[&str]) -> bool {
    match pat.first() {
        None => path.is_empty(),
        Some(Segment::Any) => (0..=path.len()).any(|i| match_segments(&pat[1..], &path[i..])),
        Some(s) => !path.is_empty() && s.matches(path[0]) && match_segments(&pat[1..], &path[1..]),
    }
}

/// Whether `pat` could match something strictly below the directory `dir`.
fn could_match_below(pat: &[Segment], dir: &[&str]) -> bool {
    fn go(pat: &[Segment], dir: &[&str]) -> bool {
        if dir.is_empty() {
            return !pat.is_empty();
        }
        match pat.first() {
            None => false,
            Some(Segment::Any) => true,
            Some(s) => s.matches(dir[0]) && go(&pat[1..], &dir[1..]),
        }
    }
    go(pat, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(lines: &[&str]) -> Matcher {
        Matcher::new(lines).unwrap()
    }

    #[test]
    fn moby_semantics() {
        let x = m(&[
            "*.md",
            "!README.md",
            "/build",
            "./tmp/*",
            "**/*.pyc",
            "docs/**/secret?.txt",
            "# not a comment here",
        ]);
        assert!(x.excluded("CHANGES.md"));
        assert!(!x.excluded("README.md"));
        assert!(!x.excluded("sub/CHANGES.md"), "* stays in one segment");
        assert!(x.excluded("build") && x.excluded("build/out/x"));
        assert!(x.excluded("tmp/a") && !x.excluded("tmp"));
        assert!(x.excluded("a/b/c.pyc") && x.excluded("c.pyc"));
        assert!(x.excluded("docs/secret1.txt") && x.excluded("docs/a/b/secret2.txt"));
        assert!(!x.excluded("src/main.rs"));
    }

    #[test]
    fn later_lines_win_and_walk_into_excluded_dirs() {
        let x = m(&["vendor", "!vendor/keep", "vendor/keep/drop"]);
        assert!(x.excluded("vendor/a"));
        assert!(!x.excluded("vendor/keep/file"));
        assert!(x.excluded("vendor/keep/drop"));
        assert!(x.must_walk_excluded_dir("vendor"));
        assert!(!m(&["vendor"]).must_walk_excluded_dir("vendor"));
        assert!(m(&["*", "!README.md"]).excluded("src"));
    }

    #[test]
    fn reading_and_errors() {
        assert_eq!(read_patterns("# c\n\n  a  \r\n!b\n"), vec!["a", "!b"]);
        assert!(Matcher::new(&["!"]).is_err());
        assert!(Matcher::new(&["[a-"]).is_err());
        assert_eq!(m(&["a/../b", "/c/"]).patterns(), vec!["b", "c"]);
    }
}
