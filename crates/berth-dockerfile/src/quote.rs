//! Go's `strconv.Quote`, which BuildKit's AST dump uses.

/// Quotes `s` as Go's `strconv.Quote` does: printable characters as they are,
/// the usual backslash escapes, `\xNN` and `\uNNNN` for the rest.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Close enough to Go's `unicode.IsPrint` for Dockerfiles: not a control,
/// not a private-use or unassigned-looking code point, not a format character.
fn is_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || (0x80..0xa0).contains(&u)
        || u == 0xad
        || (0x200b..=0x200f).contains(&u)
        || (0x2028..=0x202e).contains(&u)
        || u == 0xfeff
        || (0xe000..=0xf8ff).contains(&u))
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn like_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("\u{0}\t\n"), r#""\x00\t\n""#);
        assert_eq!(go_quote("♥☃"), "\"♥☃\"");
    }
}
