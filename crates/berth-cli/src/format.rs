//! Output as docker prints it: aligned tables, `--format` Go templates
//! (with docker's extra functions: json, join, table, upper, lower, title,
//! split, truncate, pad), and `--format json`.

use std::collections::HashMap;
use std::io::Write;

use gtmpl::{Context, FuncError, Template, Value};
use serde_json::Value as Json;

/// How to print a list of rows.
pub enum Format {
    /// `table` plus a template: a header line from the field names, aligned columns.
    Table(String),
    /// `json`: each row as one JSON object.
    Json,
    /// A raw template, rendered once per row.
    Raw(String),
}

impl Format {
    /// Parses `--format`; `None` means `default_table`.
    pub fn parse(arg: Option<&str>, default_table: &str) -> Format {
        let default = default_table
            .strip_prefix("table")
            .unwrap_or(default_table)
            .trim_start();
        match arg.map(str::trim) {
            None | Some("") | Some("table") => Format::Table(default.into()),
            Some("json") => Format::Json,
            Some(s) => match s.strip_prefix("table") {
                Some(rest) if rest.starts_with(char::is_whitespace) => {
                    Format::Table(unescape(rest.trim_start()))
                }
                _ => Format::Raw(unescape(s)),
            },
        }
    }
}

/// docker turns `\t` and `\n` typed on the command line into real ones.
fn unescape(s: &str) -> String {
    s.replace("\\t", "\t").replace("\\n", "\n")
}

/// Prints `rows` (objects of named fields) in `format`. `headers` names the
/// column header for each field (`ID` → `CONTAINER ID`).
pub fn print_rows(
    out: &mut dyn Write,
    format: &Format,
    rows: &[Json],
    headers: &[(&str, &str)],
) -> Result<(), String> {
    match format {
        Format::Json => {
            for r in rows {
                writeln!(out, "{}", serde_json::to_string(r).unwrap())
                    .map_err(|e| e.to_string())?;
            }
        }
        Format::Raw(t) => {
            let tmpl = RowTemplate::new(t)?;
            for r in rows {
                writeln!(out, "{}", tmpl.render(r)?).map_err(|e| e.to_string())?;
            }
        }
        Format::Table(t) => {
            let tmpl = RowTemplate::new(t)?;
            let header: serde_json::Map<String, Json> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), Json::String(v.to_string())))
                .collect();
            let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
            writeln!(tw, "{}", tmpl.render(&Json::Object(header))?).map_err(|e| e.to_string())?;
            for r in rows {
                writeln!(tw, "{}", tmpl.render(r)?).map_err(|e| e.to_string())?;
            }
            let text = tw.into_inner().map_err(|e| e.to_string())?;
            // tabwriter pads every cell, the last one included; docker does not.
            for line in String::from_utf8_lossy(&text).lines() {
                writeln!(out, "{}", line.trim_end()).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// A template rendered once per row. One of only text and `{{.Field}}`s
/// (every default table, most `--format`s) is filled in directly where the
/// fields are strings: gtmpl's conversion of each row is most of a big
/// listing's printing.
struct RowTemplate {
    go: Template,
    plain: Option<Vec<Piece>>,
}

enum Piece {
    Text(String),
    Field(String),
}

impl RowTemplate {
    fn new(text: &str) -> Result<RowTemplate, String> {
        Ok(RowTemplate {
            go: compile(text)?,
            plain: plain_pieces(text),
        })
    }

    fn render(&self, row: &Json) -> Result<String, String> {
        match self.plain.as_deref().and_then(|p| substitute(p, row)) {
            Some(s) => Ok(s),
            None => render(&self.go, row),
        }
    }
}

/// `text` as text and `{{.Field}}`s, if that is all it is.
fn plain_pieces(text: &str) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        pieces.push(Piece::Text(rest[..open].to_string()));
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let name = after[..close].trim_matches(' ').strip_prefix('.')?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        pieces.push(Piece::Field(name.to_string()));
        rest = &after[close + 2..];
    }
    pieces.push(Piece::Text(rest.to_string()));
    Some(pieces)
}

/// The pieces filled in from `row`; `None` where a field is not a string
/// (gtmpl then prints it as Go would).
fn substitute(pieces: &[Piece], row: &Json) -> Option<String> {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(name) => out.push_str(row.get(name)?.as_str()?),
        }
    }
    Some(out)
}

/// Renders one template against one JSON value (inspect's `-f`).
pub fn render_one(template: &str, value: &Json) -> Result<String, String> {
    render(&compile(&unescape(template))?, value)
}

fn compile(text: &str) -> Result<Template, String> {
    let mut t = Template::default();
    t.add_funcs(&[
        ("json", json as gtmpl::Func),
        ("join", join as gtmpl::Func),
        ("upper", upper as gtmpl::Func),
        ("lower", lower as gtmpl::Func),
        ("title", title as gtmpl::Func),
        ("split", split as gtmpl::Func),
        ("truncate", truncate as gtmpl::Func),
        ("pad", pad as gtmpl::Func),
        ("len", len as gtmpl::Func),
    ]);
    t.parse(text)
        .map_err(|e| format!("template parsing error: {e}"))?;
    Ok(t)
}

fn render(t: &Template, value: &Json) -> Result<String, String> {
    t.render(&Context::from(to_gtmpl(value)))
        .map(|s| go_lists(&s))
        .map_err(|e| format!("template: {e}"))
}

/// gtmpl prints a list of strings in Rust's debug form
/// (`[String("a"), String("b")]`); Go templates print `[a b]`. Rewrites
/// each such list; anything else is left as it is.
fn go_lists(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("[String(\"") {
        out.push_str(&rest[..start]);
        match debug_list(&rest[start..]) {
            Some((items, used)) => {
                out.push('[');
                out.push_str(&items.join(" "));
                out.push(']');
                rest = &rest[start + used..];
            }
            None => {
                out.push('[');
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses `[String("a"), String("b")]` at the start of `s`: the items and
/// the bytes taken.
fn debug_list(s: &str) -> Option<(Vec<String>, usize)> {
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        let rest = &s[i..];
        let body = rest.strip_prefix("String(\"")?;
        let mut item = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            let (at, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => item.push('\n'),
                    't' => item.push('\t'),
                    other => item.push(other),
                },
                '"' => break at,
                c => item.push(c),
            }
        };
        items.push(item);
        let after = &body[end + 1..];
        let after = after.strip_prefix(')')?;
        i = s.len() - after.len();
        if let Some(more) = after.strip_prefix(", ") {
            i = s.len() - more.len();
        } else if after.starts_with(']') {
            return Some((items, i + 1));
        } else {
            return None;
        }
    }
}

pub fn to_gtmpl(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(to_gtmpl).collect()),
        Json::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

fn to_json(v: &Value) -> Json {
    match v {
        Value::NoValue | Value::Nil | Value::Function(_) => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0))
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            }
        }
        Value::Array(a) => Json::Array(a.iter().map(to_json).collect()),
        Value::Object(o) | Value::Map(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), to_json(&o[k])))
                    .collect(),
            )
        }
    }
}

fn arg_str(args: &[Value], i: usize, name: &str) -> Result<String, FuncError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => Err(FuncError::AtLeastXArgs(name.into(), i + 1)),
    }
}

fn json(args: &[Value]) -> Result<Value, FuncError> {
    let v = args
        .first()
        .ok_or_else(|| FuncError::ExactlyXArgs("json".into(), 1))?;
    Ok(Value::String(serde_json::to_string(&to_json(v)).unwrap()))
}

/// Go's len, which also counts a map's keys (gtmpl's leaves maps out).
fn len(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [Value::Map(m)] => Ok(Value::from(m.len() as i64)),
        _ => gtmpl::funcs::len(args),
    }
}

fn join(args: &[Value]) -> Result<Value, FuncError> {
    let sep = arg_str(args, 1, "join")?;
    match &args[0] {
        Value::Array(a) => Ok(Value::String(
            a.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(&sep),
        )),
        other => Ok(Value::String(other.to_string())),
    }
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_str(args, 0, "upper")?.to_uppercase()))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    Ok(Value::String(arg_str(args, 0, "lower")?.to_lowercase()))
}

fn title(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str(args, 0, "title")?;
    let mut c = s.chars();
    Ok(Value::String(
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default(),
    ))
}

fn split(args: &[Value]) -> Result<Value, FuncError> {
    let (s, sep) = (arg_str(args, 0, "split")?, arg_str(args, 1, "split")?);
    Ok(Value::Array(
        s.split(sep.as_str())
            .map(|p| Value::String(p.into()))
            .collect(),
    ))
}

fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str(args, 0, "truncate")?;
    let n: usize = arg_str(args, 1, "truncate")?
        .parse()
        .map_err(|_| FuncError::UnableToConvertFromValue)?;
    Ok(Value::String(s.chars().take(n).collect()))
}

fn pad(args: &[Value]) -> Result<Value, FuncError> {
    let s = arg_str(args, 0, "pad")?;
    let before: usize = arg_str(args, 1, "pad")?
        .parse()
        .map_err(|_| FuncError::UnableToConvertFromValue)?;
    let after: usize = arg_str(args, 2, "pad")?
        .parse()
        .map_err(|_| FuncError::UnableToConvertFromValue)?;
    Ok(Value::String(format!(
        "{}{}{}",
        " ".repeat(before),
        s,
        " ".repeat(after)
    )))
}

/// docker's `stringutils.Ellipsis`: at most `n` characters, the last an ellipsis.
pub fn ellipsis(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_print_as_go_prints_them() {
        assert_eq!(go_lists(r#"[String("a"), String("b c")]|x"#), "[a b c]|x");
        assert_eq!(go_lists(r#"[String("q\"uote")]"#), "[q\"uote]");
        assert_eq!(go_lists("[plain] [String(oops)]"), "[plain] [String(oops)]");
        let v: Json = serde_json::json!({"L": ["sha256:1", "sha256:2"]});
        assert_eq!(render_one("{{.L}}", &v).unwrap(), "[sha256:1 sha256:2]");
    }
    use serde_json::json;

    #[test]
    fn tables_templates_and_json() {
        let rows = vec![
            json!({"ID": "abc", "Name": "web"}),
            json!({"ID": "defghijkl", "Name": "db"}),
        ];
        let headers = [("ID", "CONTAINER ID"), ("Name", "NAMES")];
        let mut out = Vec::new();
        print_rows(
            &mut out,
            &Format::parse(None, "table {{.ID}}\t{{.Name}}"),
            &rows,
            &headers,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\ndefghijkl      db\n"
        );
        let mut out = Vec::new();
        print_rows(
            &mut out,
            &Format::parse(Some("{{.Name}}:{{upper .ID}}"), ""),
            &rows,
            &headers,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "web:ABC\ndb:DEFGHIJKL\n");
        let mut out = Vec::new();
        print_rows(
            &mut out,
            &Format::parse(Some("json"), ""),
            &rows[..1],
            &headers,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"ID\":\"abc\",\"Name\":\"web\"}\n"
        );
        assert!(print_rows(
            &mut Vec::new(),
            &Format::parse(Some("{{.ID"), ""),
            &rows,
            &headers
        )
        .is_err());
    }

    #[test]
    fn plain_templates_print_as_gtmpl_does() {
        let rows = [
            json!({"ID": "abc", "Name": "web", "N": 3, "L": ["x", "y"]}),
            json!({"ID": "", "Name": "tab\there"}),
        ];
        let templates = [
            "{{.ID}}\t{{.Name}}",
            "id={{ .ID }} } {{.Name}}!",
            "{{.N}} {{.L}}",
            "{{.Missing}}",
            "{{.ID}}{{upper .Name}}",
            "{{- .ID -}}",
        ];
        for t in templates {
            let plain = RowTemplate::new(t).unwrap();
            let go = compile(t).unwrap();
            for r in &rows {
                assert_eq!(plain.render(r), render(&go, r), "{t} on {r}");
            }
        }
        assert!(plain_pieces("{{.ID}}\t{{.Name}}").is_some());
        assert!(plain_pieces("{{.State.Status}}").is_none());
        assert!(plain_pieces("{{json .}}").is_none());
    }

    #[test]
    fn inspect_templates() {
        let v = json!({"State": {"Status": "exited", "ExitCode": 3}, "Config": {"Env": ["A=1", "B=2"]}});
        assert_eq!(
            render_one("{{.State.Status}} {{.State.ExitCode}}", &v).unwrap(),
            "exited 3"
        );
        assert_eq!(
            render_one("{{json .State}}", &v).unwrap(),
            r#"{"ExitCode":3,"Status":"exited"}"#
        );
        assert_eq!(
            render_one("{{join .Config.Env \",\"}}", &v).unwrap(),
            "A=1,B=2"
        );
        assert_eq!(ellipsis("abcdef", 4), "abc…");
    }
}
