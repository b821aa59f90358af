//! Shell-word expansion with BuildKit's rules: `$VAR`, `${VAR}`, the
//! `:-`, `-`, `:+`, `+`, `:?`, `?`, `#`, `##`, `%`, `%%`, `/` and `//`
//! modifiers, single and double quotes, and the escape character.

/// Looks a variable up: `None` when unset.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ExpandError(pub String);

/// A lexer for one escape character and quoting mode.
#[derive(Clone, Debug)]
pub struct Lex {
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Leave unset variables as written (`$X`, `${X:-y}`).
    pub skip_unset: bool,
}

impl Lex {
    pub fn new(escape: char) -> Lex {
        Lex {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
        }
    }

    /// Expands `word` into one string (quotes removed, no splitting).
    pub fn process_word(&self, word: &str, env: Env) -> Result<String, ExpandError> {
        Ok(self.run(word, env)?.0)
    }

    /// Expands `word` and splits it into words on unquoted white space, as a
    /// shell would (unquoted expansions split too).
    pub fn process_words(&self, word: &str, env: Env) -> Result<Vec<String>, ExpandError> {
        Ok(self.run(word, env)?.1)
    }

    fn run(&self, word: &str, env: Env) -> Result<(String, Vec<String>), ExpandError> {
        let mut w = Word {
            lex: self,
            chars: word.chars().collect(),
            pos: 0,
            env,
        };
        w.stop_on(None, self.raw_escapes)
            .map_err(|e| ExpandError(format!("failed to process \"{word}\": {}", e.0)))
    }
}

struct Word<'a> {
    lex: &'a Lex,
    chars: Vec<char>,
    pos: usize,
    env: Env<'a>,
}

#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }
    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

fn err(s: impl Into<String>) -> ExpandError {
    ExpandError(s.into())
}

impl Word<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ExpandError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '\'' => {
                    let s = self.single_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '"' => {
                    let s = self.double_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    result.push_str(&s);
                    words.add_string(&s);
                }
                _ => {
                    let mut ch = self.next().unwrap();
                    if ch == self.lex.escape {
                        if raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => ch = c,
                        }
                        words.add_raw_char(ch);
                    } else {
                        words.add_char(ch);
                    }
                    result.push(ch);
                }
            }
        }
        if let Some(s) = stop {
            return Err(err(format!(
                "unexpected end of statement while looking for matching {s}"
            )));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> Result<String, ExpandError> {
        let mut out = String::new();
        let open = self.next().unwrap();
        if self.lex.raw_quotes {
            out.push(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(err(
                        "unexpected end of statement while looking for matching single-quote",
                    ))
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, ExpandError> {
        let mut out = String::new();
        let open = self.next().unwrap();
        if self.lex.raw_quotes {
            out.push(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(err(
                        "unexpected end of statement while looking for matching double-quote",
                    ))
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        out.push('"');
                    }
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(_) => {
                    let mut ch = self.next().unwrap();
                    if ch == self.lex.escape {
                        if self.lex.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                                ch = self.next().unwrap()
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek().filter(|c| c.is_ascii_digit()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }

    fn env(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err(err("syntax error: missing '}'")),
            Some('{' | '}' | ':') => return Err(err("syntax error: bad substitution")),
            _ => {}
        }
        let name = self.name();
        let Some(mut ch) = self.next() else {
            return Err(err("syntax error: missing '}'"));
        };
        let mut modifier = ch.to_string();
        match ch {
            '}' => Ok(match self.env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let null_is_unset = ch == ':';
                if null_is_unset {
                    ch = self.next().unwrap_or('\0');
                    modifier.push(ch);
                }
                let raw = ch == '#' || ch == '%';
                if null_is_unset && raw {
                    return Err(err(format!(
                        "unsupported modifier ({modifier}) in substitution"
                    )));
                }
                let word = match self.stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) if self.peek().is_none() => {
                        return Err(err(if e.0.contains("matching }") {
                            "syntax error: missing '}'".into()
                        } else {
                            e.0
                        }))
                    }
                    Err(e) => return Err(e),
                };
                let value = self.env(&name);
                if self.lex.skip_unset && value.is_none() {
                    return Ok(format!("${{{name}{modifier}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let unset_or_null = !set || (null_is_unset && value.is_empty());
                match ch {
                    '-' => Ok(if unset_or_null { word } else { value }),
                    '+' => Ok(if unset_or_null { String::new() } else { word }),
                    '?' => {
                        if !set {
                            Err(err(format!(
                                "{name}: {}",
                                if word.is_empty() {
                                    "is not allowed to be unset"
                                } else {
                                    &word
                                }
                            )))
                        } else if null_is_unset && value.is_empty() {
                            Err(err(format!(
                                "{name}: {}",
                                if word.is_empty() {
                                    "is not allowed to be empty"
                                } else {
                                    &word
                                }
                            )))
                        } else {
                            Ok(value)
                        }
                    }
                    '%' | '#' => {
                        let (greedy, pattern) = match word.strip_prefix(ch) {
                            Some(p) => (true, p.to_string()),
                            None => (false, word),
                        };
                        Ok(if ch == '%' {
                            trim_suffix(&pattern, &value, greedy)
                        } else {
                            trim_prefix(&pattern, &value, greedy)
                        })
                    }
                    _ => Err(err(format!(
                        "unsupported modifier ({modifier}) in substitution"
                    ))),
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let pattern = match self.stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(_) if self.peek().is_none() => {
                        return Err(err("syntax error: missing '/' in ${}"))
                    }
                    Err(e) => return Err(e),
                };
                let replacement = match self.stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(_) if self.peek().is_none() => {
                        return Err(err("syntax error: missing '}'"))
                    }
                    Err(e) => return Err(e),
                };
                let Some(value) = self.env(&name) else {
                    return Ok(if self.lex.skip_unset {
                        format!("${{{name}/{pattern}/{replacement}}}")
                    } else {
                        String::new()
                    });
                };
                Ok(replace(&value, &pattern, &replacement, all))
            }
            _ => Err(err(format!(
                "unsupported modifier ({modifier}) in substitution"
            ))),
        }
    }
}

/// Shell pattern matching of a whole string: `*`, `?`, `[...]`, `\\x`.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    glob(&pattern.chars().collect::<Vec<_>>(), text)
}

/// [`pattern_matches`] with the pattern already split into chars; allocates
/// nothing, and runs in O(pattern × text) even with many `*` (one backtrack
/// point, as in the classic wildcard matcher: every other token takes one char).
pub fn glob(p: &[char], s: &str) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() && p[pi] == '*' {
            while pi < p.len() && p[pi] == '*' {
                pi += 1;
            }
            star = Some((pi, si));
            continue;
        }
        let Some(c) = s[si..].chars().next() else {
            return pi == p.len();
        };
        if let Some(next) = (pi < p.len()).then(|| match_one(p, pi, c)).flatten() {
            pi = next;
            si += c.len_utf8();
            continue;
        }
        match star {
            Some((spi, ssi)) => {
                let Some(skipped) = s[ssi..].chars().next() else {
                    return false;
                };
                star = Some((spi, ssi + skipped.len_utf8()));
                pi = spi;
                si = ssi + skipped.len_utf8();
            }
            None => return false,
        }
    }
}

/// Matches the single-char token at `p[pi]` against `c`; the index after the token.
fn match_one(p: &[char], pi: usize, c: char) -> Option<usize> {
    match p[pi] {
        '?' => Some(pi + 1),
        '[' => {
            let Some(end) = p[pi + 1..]
                .iter()
                .position(|&x| x == ']')
                .map(|i| pi + 1 + i)
            else {
                return (c == '[').then_some(pi + 1);
            };
            let class = &p[pi + 1..end];
            let (negate, class) = match class.first() {
                Some('!' | '^') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            (hit != negate).then_some(end + 1)
        }
        '\\' if pi + 1 < p.len() => (p[pi + 1] == c).then_some(pi + 2),
        lit => (lit == c).then_some(pi + 1),
    }
}

fn char_boundaries(s: &str) -> Vec<usize> {
    s.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(s.len()))
        .collect()
}

/// `${VAR#pat}` (shortest) and `${VAR##pat}` (longest): remove a matching prefix.
fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> String {
    let b = char_boundaries(value);
    let ends: Box<dyn Iterator<Item = &usize>> = if greedy {
        Box::new(b.iter().rev())
    } else {
        Box::new(b.iter())
    };
    for &end in ends {
        if pattern_matches(pattern, &value[..end]) {
            return value[end..].to_string();
        }
    }
    value.to_string()
}

/// `${VAR%pat}` (shortest) and `${VAR%%pat}` (longest): remove a matching suffix.
fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> String {
    let b = char_boundaries(value);
    let starts: Box<dyn Iterator<Item = &usize>> = if greedy {
        Box::new(b.iter())
    } else {
        Box::new(b.iter().rev())
    };
    for &start in starts {
        if pattern_matches(pattern, &value[start..]) {
            return value[..start].to_string();
        }
    }
    value.to_string()
}

/// `${VAR/pat/repl}` (first match) and `${VAR//pat/repl}` (every match), longest at each place.
fn replace(value: &str, pattern: &str, replacement: &str, all: bool) -> String {
    let b = char_boundaries(value);
    let mut out = String::new();
    let mut i = 0;
    let mut replaced = false;
    while i + 1 < b.len() {
        let start = b[i];
        let found = if replaced && !all {
            None
        } else {
            (i..b.len())
                .rev()
                .map(|j| b[j])
                .find(|&end| end > start && pattern_matches(pattern, &value[start..end]))
        };
        match found {
            Some(end) => {
                out.push_str(replacement);
                replaced = true;
                i = b.iter().position(|&x| x == end).unwrap();
            }
            None => {
                out.push_str(&value[start..b[i + 1]]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "FILE" => Some("archive.tar.gz".into()),
            "PATHV" => Some("/usr/local/bin".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn w(s: &str) -> Result<String, ExpandError> {
        Lex::new('\\').process_word(s, &env)
    }

    #[test]
    fn trimming_and_replacement() {
        assert_eq!(w("${FILE%.*}").unwrap(), "archive.tar");
        assert_eq!(w("${FILE%%.*}").unwrap(), "archive");
        assert_eq!(w("${FILE#*.}").unwrap(), "tar.gz");
        assert_eq!(w("${FILE##*.}").unwrap(), "gz");
        assert_eq!(w("${PATHV/local/opt}").unwrap(), "/usr/opt/bin");
        assert_eq!(w("${PATHV//\\//:}").unwrap(), ":usr:local:bin");
        assert_eq!(w("${FILE/a/A}").unwrap(), "Archive.tar.gz");
        assert_eq!(w("${FILE//a/A}").unwrap(), "Archive.tAr.gz");
        // Found by fuzzing: many stars must not explode.
        assert_eq!(
            w(&format!("${{FILE%%{}x}}", "*".repeat(200))).unwrap(),
            "archive.tar.gz"
        );
        assert!(pattern_matches("a*b*c*d", "aXbYcZd") && !pattern_matches("a*b*c*d", "aXbYcZ"));
        assert!(
            pattern_matches("[!a]*", "bcd")
                && pattern_matches("\\*x", "*x")
                && !pattern_matches("?", "")
        );
        assert_eq!(w("${NOPE#x}").unwrap(), "");
        assert!(w("${FILE:#x}").is_err());
        assert_eq!(w("${EMPTY-d}").unwrap(), "");
        assert_eq!(w("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(w("${EMPTY+a}").unwrap(), "a");
        assert_eq!(w("${EMPTY:+a}").unwrap(), "");
        assert_eq!(
            w("${NOPE:?must be set}").unwrap_err().0,
            "failed to process \"${NOPE:?must be set}\": NOPE: must be set"
        );
    }

    #[test]
    fn skip_unset_keeps_them() {
        let mut lex = Lex::new('\\');
        lex.skip_unset = true;
        assert_eq!(
            lex.process_word("$NOPE ${NOPE:-x} $FILE", &env).unwrap(),
            "$NOPE ${NOPE:-x} archive.tar.gz"
        );
    }
}
