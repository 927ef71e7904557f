//! Go's `%q` string quoting, which kube-apiserver uses in most of its messages.

/// Quotes `s` the way Go's `strconv.Quote` (and `fmt`'s `%q`) does.
pub fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `appendQuotedWith`: `s` between `q`s, escaping `q`, backslashes and unprintable
/// characters (every non-ASCII one too when `ascii_only`, as `strconv.QuoteToASCII` and `%+q`).
pub fn quote_with(s: &str, q: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        quote_rune_into(&mut out, c, q, ascii_only);
    }
    out.push(q);
    out
}

/// Go's `appendEscapedRune`: one character as it appears inside a `q`-quoted literal.
pub fn quote_rune_into(out: &mut String, c: char, q: char, ascii_only: bool) {
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if c == '\u{FFFD}' {
        // Go writes invalid bytes as \x escapes; Rust strings are valid UTF-8, so U+FFFD stays.
        out.push(c);
        return;
    }
    let printable = if ascii_only {
        c.is_ascii() && is_print(c)
    } else {
        is_print(c)
    };
    if printable {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// The two-character escapes that JSON and TOML strings share (`\"`, `\\`, `\n`, `\r`, `\t`,
/// `\b`, `\f`): Go's `encoding/json` and BurntSushi's TOML encoder write these characters
/// so and differ only in how they spell the other control characters.
pub fn short_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '"' => "\\\"",
        '\\' => "\\\\",
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        '\u{8}' => "\\b",
        '\u{c}' => "\\f",
        _ => return None,
    })
}

/// Approximates Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and
/// the ASCII space; Go's tables are not available, so control, format and non-ASCII space
/// characters are the ones treated as unprintable.
pub fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
        | 0x2028..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff | 0xfff9..=0xfffb
        | 0xd800..=0xdfff | 0xe000..=0xf8ff | 0xfffe | 0xffff | 0xe0000..=0xe007f
        | 0xf0000..=0x10ffff)
}

#[cfg(test)]
mod tests {
    use super::quote as go_quote;

    #[test]
    fn quotes_plain_and_escapes() {
        assert_eq!(go_quote("foo"), "\"foo\"");
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("a\nb\tc\r"), "\"a\\nb\\tc\\r\"");
        assert_eq!(go_quote("\u{1}\u{7f}"), "\"\\x01\\x7f\"");
        assert_eq!(go_quote("\u{7}\u{8}\u{b}\u{c}"), "\"\\a\\b\\v\\f\"");
    }

    #[test]
    fn keeps_printable_unicode_and_escapes_invisible() {
        assert_eq!(go_quote("héllo 世界"), "\"héllo 世界\"");
        assert_eq!(go_quote("\u{a0}"), "\"\\u00a0\"");
        assert_eq!(go_quote("\u{feff}"), "\"\\ufeff\"");
        assert_eq!(go_quote("\u{e0001}"), "\"\\U000e0001\"");
    }
}
