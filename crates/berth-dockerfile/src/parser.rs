//! The Dockerfile parser, with BuildKit's semantics: parser directives, line
//! continuations (comments and blank lines inside them skipped), instruction
//! flags, JSON (exec) and shell forms, heredocs, and the per-instruction
//! argument rules (ENV/LABEL key-value forms, ARG, HEALTHCHECK, ONBUILD).

use std::fmt;

use crate::quote::go_quote;
use crate::shell::Lex;

/// A parsed Dockerfile.
#[derive(Clone, Debug, PartialEq)]
pub struct Dockerfile {
    pub directives: Directives,
    pub instructions: Vec<Instruction>,
    pub warnings: Vec<Warning>,
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
}

/// Parser directives from the top of the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directives {
    pub syntax: Option<String>,
    pub escape: Option<String>,
    pub check: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

/// One instruction, as BuildKit's parser sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Instruction {
    /// The instruction word as written (`RUN`, `run`, `Copy`).
    pub command: String,
    /// `--flag[=value]` words before the arguments.
    pub flags: Vec<String>,
    /// The arguments after this instruction's own parsing rule.
    pub args: Vec<String>,
    /// Whether the arguments were given in JSON (exec) form.
    pub json: bool,
    /// The logical line, continuations joined.
    pub original: String,
    /// 1-based, inclusive.
    pub start_line: usize,
    /// 1-based column where the instruction word starts.
    pub column: usize,
    pub end_line: usize,
    pub heredocs: Vec<Heredoc>,
    /// The instruction an ONBUILD wraps.
    pub sub: Option<Box<Instruction>>,
    /// Comment lines just above the instruction.
    pub comments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    /// False when the delimiter was quoted (`<<"EOF"`): no expansion inside.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped.
    pub chomp: bool,
    pub file_descriptor: u32,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ParseError {
    pub start_line: usize,
    pub end_line: usize,
    /// 1-based column of what is wrong on the first line.
    pub column: usize,
    pub message: String,
}

impl ParseError {
    /// `Dockerfile:12:5: message`, as a person reads errors in a file.
    pub fn located(&self, file: &str) -> String {
        format!(
            "{file}:{}:{}: {}",
            self.start_line, self.column, self.message
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.start_line, self.column, self.message
        )
    }
}

impl Instruction {
    /// The instruction in lower case (`run`).
    pub fn name(&self) -> String {
        self.command.to_ascii_lowercase()
    }

    /// BuildKit's `Node.Dump()` for this instruction, as in its `result` files.
    pub fn dump(&self) -> String {
        let mut s = self.name();
        if !self.flags.is_empty() {
            let flags: Vec<String> = self.flags.iter().map(|f| go_quote(f)).collect();
            s.push_str(&format!(" [{}]", flags.join(" ")));
        }
        if let Some(sub) = &self.sub {
            s.push_str(&format!(" ({})", sub.dump()));
        }
        for a in &self.args {
            s.push(' ');
            s.push_str(&go_quote(a));
        }
        s
    }

    /// The value of `--name=value` (or `--name value`-less `--name`, as "true").
    pub fn flag(&self, name: &str) -> Option<String> {
        self.flags.iter().find_map(|f| {
            let f = f.strip_prefix("--")?;
            match f.split_once('=') {
                Some((k, v)) if k == name => Some(v.to_string()),
                None if f == name => Some("true".into()),
                _ => None,
            }
        })
    }
}

impl Dockerfile {
    /// BuildKit's dump of the whole AST: one `(instruction ...)` line each.
    pub fn dump(&self) -> String {
        self.instructions
            .iter()
            .map(|i| format!("({})\n", i.dump()))
            .collect()
    }
}

const DIRECTIVES: [&str; 3] = ["syntax", "escape", "check"];

struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveParser {
    /// Looks at one physical line; directives only count before anything else.
    fn line(&mut self, line: &str) -> Result<Option<(String, String)>, String> {
        if self.done {
            return Ok(None);
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(None);
        };
        if !DIRECTIVES.contains(&name.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        self.seen.push(name.clone());
        Ok(Some((name, value)))
    }
}

/// `# name = value` (BuildKit's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value.to_string()))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Removes a trailing escape character (the line continues), keeping what
/// came before it; an escaped escape character (`\\`) does not continue.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(before) = trimmed.strip_suffix(escape) {
        if !before.ends_with(escape) {
            return (before.to_string(), false);
        }
    }
    (line.to_string(), true)
}

/// Parses Dockerfile text.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = split_lines(text);
    let mut escape = '\\';
    let mut directives = Directives::default();
    let mut dp = DirectiveParser {
        done: false,
        seen: Vec::new(),
    };
    let mut instructions = Vec::new();
    let mut warnings = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    let mut i = 0;
    let err = |start: usize, end: usize, column: usize, message: String| ParseError {
        start_line: start,
        end_line: end,
        column,
        message,
    };

    let mut process_directive =
        |line: &str, escape: &mut char, directives: &mut Directives| -> Result<(), String> {
            if let Some((name, value)) = dp.line(line)? {
                match name.as_str() {
                    "escape" => {
                        if value != "`" && value != "\\" {
                            return Err(format!(
                                "invalid escape token '{value}' does not match ` or \\"
                            ));
                        }
                        *escape = value.chars().next().unwrap();
                        directives.escape = Some(value);
                    }
                    "syntax" => directives.syntax = Some(value),
                    _ => directives.check = Some(value),
                }
            }
            Ok(())
        };

    while i < lines.len() {
        let raw = lines[i];
        if is_comment(raw) {
            let c = raw.trim_start()[1..].trim();
            if c.is_empty() {
                comments.clear();
            } else {
                comments.push(c.to_string());
            }
        }
        let stripped = raw.trim_start();
        process_directive(stripped, &mut escape, &mut directives)
            .map_err(|m| err(i + 1, i + 1, 1, m))?;
        let column = raw.chars().count() - stripped.chars().count() + 1;
        let first = if is_comment(raw) { "" } else { stripped };
        i += 1;
        let start = i;
        let (first, mut done) = trim_continuation(first, escape);
        if done && first.is_empty() {
            continue;
        }
        let mut logical = first;
        let mut empty_continuation = false;
        while !done && i < lines.len() {
            let raw = lines[i];
            process_directive(raw, &mut escape, &mut directives)
                .map_err(|m| err(i + 1, i + 1, 1, m))?;
            i += 1;
            if is_comment(raw) {
                continue;
            }
            if raw.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, end) = trim_continuation(raw, escape);
            logical.push_str(&part);
            done = end;
        }
        if empty_continuation {
            warnings.push(Warning {
                line: start,
                message: "Empty continuation line found in: ".to_string() + &logical,
            });
        }
        let mut inst =
            instruction_from_line(&logical, escape).map_err(|m| err(start, i, column, m))?;
        inst.start_line = start;
        inst.column = column;
        inst.comments = std::mem::take(&mut comments);
        if inst.can_have_heredoc() && logical.contains("<<") {
            for mut doc in heredocs_in(&logical) {
                let mut terminated = false;
                while i < lines.len() {
                    let line = lines[i];
                    i += 1;
                    let candidate = if doc.chomp {
                        line.trim_start_matches('\t')
                    } else {
                        line
                    };
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(line);
                    doc.content.push('\n');
                }
                if !terminated {
                    // Pointing at the `<<` that opened it.
                    let at = logical
                        .find("<<")
                        .map(|p| logical[..p].chars().count())
                        .unwrap_or(0);
                    return Err(err(
                        start,
                        i,
                        column + at,
                        format!(
                            "unterminated heredoc {} (expected a line with {} alone)",
                            doc.name, doc.name
                        ),
                    ));
                }
                inst.heredocs.push(doc);
            }
        }
        inst.end_line = i;
        instructions.push(inst);
    }
    if instructions.is_empty() {
        return Err(err(
            i.max(1),
            i.max(1),
            1,
            "file with no instructions".into(),
        ));
    }
    Ok(Dockerfile {
        directives,
        instructions,
        warnings,
        escape,
    })
}

/// Lines as Go's bufio.ScanLines gives them: without `\n` or a trailing `\r`.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if text.ends_with('\n') || text.is_empty() {
        lines.pop();
    }
    lines
}

impl Instruction {
    fn can_have_heredoc(&self) -> bool {
        matches!(self.name().as_str(), "run" | "copy" | "add") && !self.json
    }
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF` words of a line.
fn heredocs_in(line: &str) -> Vec<Heredoc> {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    let words = lex.process_words(line, &|_| None).unwrap_or_default();
    words.iter().filter_map(|w| parse_heredoc(w)).collect()
}

/// One heredoc word, or None.
pub fn parse_heredoc(word: &str) -> Option<Heredoc> {
    let digits = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let rest = word[digits..].strip_prefix("<<")?;
    if rest.contains('<') {
        return None;
    }
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() {
        return None;
    }
    let name = Lex::new('\\').process_word(rest, &|_| None).ok()?;
    let quoted = name != rest;
    Some(Heredoc {
        name,
        content: String::new(),
        expand: !quoted,
        chomp,
        file_descriptor: word[..digits].parse().unwrap_or(0),
    })
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0b' | '\x0c' | '\r')
}

/// Splits on runs of BuildKit's whitespace (`[\t\v\f\r ]+`), at most `limit` parts.
fn split_ws(s: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while out.len() + 1 < limit {
        match rest.find(is_space) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start_matches(is_space);
            }
            None => break,
        }
    }
    out.push(rest.to_string());
    out
}

fn instruction_from_line(line: &str, escape: char) -> Result<Instruction, String> {
    let trimmed = line.trim();
    let parts = split_ws(trimmed, 2);
    let command = parts[0].clone();
    let (args, flags) = match parts.get(1) {
        Some(rest) => extract_flags(rest),
        None => (String::new(), Vec::new()),
    };
    let args = args.trim();
    let (args, json, sub) = match command.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => maybe_json_to_list(args)?,
        "arg" => (parse_words(args, escape), false, None),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(args)?,
        "env" => (name_val(args, "ENV", escape)?, false, None),
        "label" => (name_val(args, "LABEL", escape)?, false, None),
        "expose" | "from" => (whitespace_list(args), false, None),
        "healthcheck" => health(args)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => (
            if args.is_empty() {
                vec![]
            } else {
                vec![args.to_string()]
            },
            false,
            None,
        ),
        "onbuild" => {
            if args.is_empty() {
                (vec![], false, None)
            } else {
                (
                    vec![],
                    false,
                    Some(Box::new(instruction_from_line(args, escape)?)),
                )
            }
        }
        // Unknown instructions parse (as BuildKit's parser does) and are refused later.
        _ => (vec![], false, None),
    };
    Ok(Instruction {
        command,
        flags,
        args,
        json,
        original: line.to_string(),
        start_line: 0,
        column: 1,
        end_line: 0,
        heredocs: Vec::new(),
        sub,
        comments: Vec::new(),
    })
}

type Parsed = (Vec<String>, bool, Option<Box<Instruction>>);

/// Leading `--flag` words (quotes and backslashes as BuildKit's
/// extractBuilderFlags), stopping at the first other word or `--`.
fn extract_flags(line: &str) -> (String, Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut i = 0;
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let mut phase = Phase::Spaces;
    let mut blank_ok = false;
    loop {
        let at_end = i >= chars.len();
        let ch = if at_end { '\0' } else { chars[i].1 };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                i += 1;
                continue;
            }
            if ch != '-' || i + 1 >= chars.len() || chars[i + 1].1 != '-' {
                return (line[chars[i].0..].to_string(), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        match phase {
            Phase::Word => {
                if ch.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (line[chars[i].0..].to_string(), words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                } else if ch == '\'' || ch == '"' {
                    phase = Phase::Quote(ch);
                    blank_ok = true;
                } else if ch == '\\' {
                    if i + 1 < chars.len() {
                        i += 1;
                        word.push(chars[i].1);
                    }
                } else {
                    word.push(ch);
                }
            }
            Phase::Quote(q) => {
                if ch == q {
                    phase = Phase::Word;
                } else if ch == '\\' {
                    if i + 1 < chars.len() {
                        i += 1;
                        word.push(chars[i].1);
                    } else {
                        phase = Phase::Word;
                    }
                } else {
                    word.push(ch);
                }
            }
            Phase::Spaces => unreachable!(),
        }
        i += 1;
    }
    (String::new(), words)
}

/// Space-separated words, quotes kept (BuildKit's parseWords).
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut i = 0;
    while i <= chars.len() {
        let at_end = i == chars.len();
        let ch = if at_end { '\0' } else { chars[i] };
        if !in_word && quote.is_none() {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                i += 1;
                continue;
            }
            in_word = true;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        // The escape keeps the next character as it is, except inside single quotes;
        // a trailing escape is dropped.
        if ch == escape && quote != Some('\'') {
            match chars.get(i + 1) {
                Some(&next) => {
                    word.push(ch);
                    word.push(next);
                    i += 2;
                }
                None => i += 1,
            }
            continue;
        }
        match quote {
            None if ch.is_whitespace() => {
                in_word = false;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
            }
            None => {
                if ch == '\'' || ch == '"' {
                    quote = Some(ch);
                    blank_ok = true;
                }
                word.push(ch);
            }
            Some(q) => {
                if ch == q {
                    quote = None;
                }
                word.push(ch);
            }
        }
        i += 1;
    }
    words
}

/// ENV and LABEL: `KEY value...` (old form) or `K=V K2=V2` (each a triple key, value, separator).
fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return Ok(vec![]);
    }
    if !words[0].contains('=') {
        let parts = split_ws(rest, 2);
        if parts.len() < 2 {
            return Err(format!("{key} must have two arguments"));
        }
        return Ok(vec![parts[0].clone(), parts[1].clone(), String::new()]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                go_quote(&w)
            ));
        };
        out.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(out)
}

fn whitespace_list(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return vec![];
    }
    split_ws(rest, usize::MAX)
}

#[derive(Debug)]
enum JsonError {
    NotJson,
    NotStrings,
}

fn parse_json(rest: &str) -> Result<Vec<String>, JsonError> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Err(JsonError::NotJson);
    }
    let value: serde_json::Value = serde_json::from_str(rest).map_err(|_| JsonError::NotJson)?;
    let serde_json::Value::Array(items) = value else {
        return Err(JsonError::NotJson);
    };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(JsonError::NotStrings),
        })
        .collect()
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

fn maybe_json(rest: &str) -> Result<Parsed, String> {
    if rest.is_empty() {
        return Ok((vec![], false, None));
    }
    match parse_json(rest) {
        Ok(v) => Ok((v, true, None)),
        Err(JsonError::NotStrings) => Err(NOT_STRINGS.into()),
        Err(JsonError::NotJson) => Ok((vec![rest.to_string()], false, None)),
    }
}

fn maybe_json_to_list(rest: &str) -> Result<Parsed, String> {
    match parse_json(rest) {
        Ok(v) => Ok((v, true, None)),
        Err(JsonError::NotStrings) => Err(NOT_STRINGS.into()),
        Err(JsonError::NotJson) => Ok((whitespace_list(rest), false, None)),
    }
}

fn health(rest: &str) -> Result<Parsed, String> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok((vec![], false, None));
    }
    let kind = rest[..sep].to_string();
    let (mut cmd, json, _) = maybe_json(rest[sep..].trim_start())?;
    cmd.insert(0, kind);
    Ok((cmd, json, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_flags_and_heredocs() {
        let df = parse("# syntax=docker/dockerfile:1\nFROM alpine AS build\nRUN --mount=type=cache,target=/root/.cache \\\n    pip install x\nCOPY <<EOF /app/conf\nhello $NAME\nEOF\nRUN <<-\"END\" bash\n\techo hi\n\tEND\n").unwrap();
        assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        let run = &df.instructions[1];
        assert_eq!((run.start_line, run.end_line), (3, 4));
        assert_eq!(
            run.flag("mount").as_deref(),
            Some("type=cache,target=/root/.cache")
        );
        let copy = &df.instructions[2];
        assert_eq!(copy.heredocs[0].name, "EOF");
        assert_eq!(copy.heredocs[0].content, "hello $NAME\n");
        assert!(copy.heredocs[0].expand);
        assert_eq!((copy.start_line, copy.end_line), (5, 7));
        let run2 = &df.instructions[3];
        assert!(run2.heredocs[0].chomp && !run2.heredocs[0].expand);
        assert_eq!(run2.heredocs[0].content, "\techo hi\n");
        let e = parse("FROM a\nRUN <<EOF\necho\n").unwrap_err();
        assert!(e.message.contains("unterminated heredoc"), "{e}");
    }

    #[test]
    fn directives_only_at_the_top() {
        let e = parse("# escape=\\\n# escape=`\nFROM a").unwrap_err();
        assert!(e.message.contains("only one escape parser directive"));
        assert!(parse("# escape=x\nFROM a")
            .unwrap_err()
            .message
            .contains("invalid escape token"));
        let df = parse("FROM a\n# escape=`\nRUN a \\\n b").unwrap();
        assert_eq!(df.escape, '\\');
    }
}

/// Every instruction and the flags it takes.
const INSTRUCTIONS: &[(&str, &[&str])] = &[
    (
        "add",
        &[
            "chown",
            "chmod",
            "link",
            "exclude",
            "checksum",
            "keep-git-dir",
            "unpack",
        ],
    ),
    ("arg", &[]),
    ("cmd", &[]),
    (
        "copy",
        &["from", "chown", "chmod", "link", "exclude", "parents"],
    ),
    ("entrypoint", &[]),
    ("env", &[]),
    ("expose", &[]),
    ("from", &["platform"]),
    (
        "healthcheck",
        &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
    ),
    ("label", &[]),
    ("maintainer", &[]),
    ("onbuild", &[]),
    ("run", &["mount", "network", "security"]),
    ("shell", &[]),
    ("stopsignal", &[]),
    ("user", &[]),
    ("volume", &[]),
    ("workdir", &[]),
];

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Checks what BuildKit's parser lets through but a build refuses: unknown
/// instructions (with a suggestion), flags an instruction does not take,
/// instructions missing their arguments, and a first instruction other than FROM/ARG.
pub fn validate(df: &Dockerfile) -> Result<(), ParseError> {
    let mut seen_from = false;
    for inst in &df.instructions {
        check_instruction(inst)?;
        if let Some(sub) = &inst.sub {
            check_instruction(sub)?;
            if matches!(sub.name().as_str(), "onbuild" | "from" | "maintainer") {
                return Err(at(
                    inst,
                    format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        sub.command.to_uppercase()
                    ),
                ));
            }
        }
        match inst.name().as_str() {
            "from" => seen_from = true,
            "arg" => {}
            other if !seen_from => {
                return Err(at(
                    inst,
                    format!(
                        "no build stage in current context: {} comes before the first FROM",
                        other.to_uppercase()
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn at(inst: &Instruction, message: String) -> ParseError {
    at_column(inst, inst.column, message)
}

fn at_column(inst: &Instruction, column: usize, message: String) -> ParseError {
    ParseError {
        start_line: inst.start_line,
        end_line: inst.end_line,
        column,
        message: format!("{message}\n  {}", inst.original.trim()),
    }
}

fn check_instruction(inst: &Instruction) -> Result<(), ParseError> {
    let name = inst.name();
    let Some((_, flags)) = INSTRUCTIONS.iter().find(|(n, _)| *n == name) else {
        let guess = INSTRUCTIONS
            .iter()
            .map(|(n, _)| (edit_distance(n, &name), *n))
            .min()
            .filter(|(d, _)| *d <= 2);
        let hint = guess
            .map(|(_, n)| format!(" (did you mean {}?)", n.to_uppercase()))
            .unwrap_or_default();
        return Err(at(
            inst,
            format!("unknown instruction: {}{hint}", inst.command),
        ));
    };
    for f in &inst.flags {
        let key = f.trim_start_matches('-').split('=').next().unwrap_or("");
        if !flags.contains(&key) {
            let takes = if flags.is_empty() {
                "no flags".to_string()
            } else {
                flags
                    .iter()
                    .map(|f| format!("--{f}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let column = inst.column
                + inst
                    .original
                    .find(f.as_str())
                    .map(|p| inst.original[..p].chars().count())
                    .unwrap_or(0);
            return Err(at_column(
                inst,
                column,
                format!(
                    "unknown flag: --{key} ({} takes {takes})",
                    inst.command.to_uppercase()
                ),
            ));
        }
    }
    let needs_args = !matches!(
        name.as_str(),
        "healthcheck" | "cmd" | "entrypoint" | "shell"
    );
    if needs_args
        && inst.args.is_empty()
        && inst.sub.is_none()
        && !(inst.json && matches!(name.as_str(), "run" | "volume"))
    {
        return Err(at(
            inst,
            format!(
                "{} requires at least one argument",
                inst.command.to_uppercase()
            ),
        ));
    }
    if matches!(name.as_str(), "copy" | "add")
        && inst.args.len() + inst.heredocs.len() < 2
        && inst.heredocs.is_empty()
    {
        return Err(at(inst, format!("{} requires at least two arguments, but only one was provided. Destination could not be determined", inst.command.to_uppercase())));
    }
    if name == "from"
        && !(inst.args.len() == 1
            || (inst.args.len() == 3 && inst.args[1].eq_ignore_ascii_case("as")))
    {
        return Err(at(
            inst,
            "FROM requires either one or three arguments: FROM <image> [AS <name>]".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod validate_tests {
    use super::*;

    fn v(text: &str) -> Result<(), ParseError> {
        validate(&parse(text).unwrap())
    }

    #[test]
    fn refuses_what_a_build_would() {
        let e = v("FROM a\nRUNN echo").unwrap_err();
        assert!(
            e.message
                .starts_with("unknown instruction: RUNN (did you mean RUN?)"),
            "{}",
            e.message
        );
        assert_eq!(e.start_line, 2);
        assert!(v("FROM a\nCOPY --form=x a b")
            .unwrap_err()
            .message
            .contains("unknown flag: --form (COPY takes --from"));
        assert!(v("RUN x")
            .unwrap_err()
            .message
            .contains("comes before the first FROM"));
        assert!(v("FROM a b")
            .unwrap_err()
            .message
            .contains("FROM requires either one or three arguments"));
        assert!(v("FROM a\nCOPY a")
            .unwrap_err()
            .message
            .contains("requires at least two arguments"));
        assert!(v("FROM a\nONBUILD FROM b")
            .unwrap_err()
            .message
            .contains("isn't allowed as an ONBUILD trigger"));
        v("ARG V=1\nFROM a:$V AS b\nRUN --mount=type=cache,target=/c x\nCOPY --from=b <<EOF /x\nhi\nEOF\nHEALTHCHECK NONE\nCMD []").unwrap();
    }
}
