//! The case conversions of `huandu/xstrings` that Sprig uses for `snakecase`, `kebabcase` and
//! `camelcase` (xstrings' `ToPascalCase`), reimplemented word for word: strings are split into
//! runs of upper-case letters, lower-case letters, digits, connectors and punctuation, and
//! the runs are joined by rules that handle acronyms ("HTTPServer") and digits ("Bld4Floor").

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// Go's `unicode.IsPunct` (category P). Exact for ASCII; other scripts' punctuation is rare in
/// chart names and is treated like any other non-letter.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() && !matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~')
        || matches!(
            c,
            '\u{a1}' | '\u{a7}' | '\u{ab}' | '\u{b6}' | '\u{b7}' | '\u{bb}' | '\u{bf}'
        )
        || ('\u{2010}'..='\u{2027}').contains(&c)
        || ('\u{3001}'..='\u{3003}').contains(&c)
}

/// xstrings' `isAlphabet`: a letter that is not a CJK ideograph.
fn is_alphabet(c: char) -> bool {
    c.is_alphabetic()
        && !(('\u{4e00}'..='\u{9fcc}').contains(&c)
            || ('\u{3400}'..='\u{4d85}').contains(&c)
            || ('\u{20000}'..='\u{2b81d}').contains(&c))
}

/// The next run of `s`: its kind, the run, and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut chars = s.char_indices().peekable();
    let Some((_, first)) = chars.next() else {
        return (Word::Invalid, "", "");
    };
    let run_while = |start: usize, pred: &dyn Fn(char) -> bool| -> usize {
        s[start..]
            .char_indices()
            .find(|(_, c)| !pred(*c))
            .map(|(i, _)| start + i)
            .unwrap_or(s.len())
    };
    let after_first = first.len_utf8();
    let (kind, end) = if is_connector(first) {
        (Word::Connector, run_while(after_first, &is_connector))
    } else if is_punct(first) {
        (Word::Punct, run_while(after_first, &is_punct))
    } else if first.is_uppercase() {
        match s[after_first..].chars().next() {
            None => (Word::Upper, after_first),
            Some(c) if c.is_uppercase() => {
                // "HTTPStatus" splits into "HTTP" and "Status": the last upper-case letter
                // starts the next word when a letter follows it.
                let end = run_while(after_first, &|c: char| c.is_uppercase());
                match s[end..].chars().next() {
                    Some(next) if is_alphabet(next) => {
                        let last = s[..end].chars().next_back().map_or(0, char::len_utf8);
                        (Word::Upper, end - last)
                    }
                    _ => (Word::Upper, end),
                }
            }
            Some(c) if is_alphabet(c) => (
                Word::Upper,
                run_while(after_first, &|c: char| is_alphabet(c) && !c.is_uppercase()),
            ),
            Some(_) => (Word::Upper, after_first),
        }
    } else if is_alphabet(first) {
        (
            Word::Alphabet,
            run_while(after_first, &|c: char| is_alphabet(c) && !c.is_uppercase()),
        )
    } else if first.is_numeric() {
        (Word::Number, run_while(after_first, &char::is_numeric))
    } else {
        (
            Word::Other,
            run_while(after_first, &|c: char| {
                !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c))
            }),
        )
    };
    (kind, &s[..end], &s[end..])
}

fn write_lower(out: &mut String, kind: Word, word: &str, connector: char) {
    if kind != Word::Upper && kind != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase` (`ToSnakeCase` with '_', `ToKebabCase` with '-').
pub fn to_lower_case(s: &str, connector: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(s.len() + 4);
    let (mut wt, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if wt != Word::Connector {
            write_lower(&mut out, wt, word, connector);
        }
        let (prev, last) = (wt, word);
        (wt, word, rest) = next_word(rest);
        match prev {
            Word::Number => {
                while wt == Word::Alphabet || wt == Word::Number {
                    write_lower(&mut out, wt, word, connector);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Word::Invalid | Word::Punct | Word::Connector) {
                    out.push(connector);
                }
            }
            Word::Connector => write_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let number = word;
                (wt, word, rest) = next_word(rest);
                // A number is part of the previous word ("Bld4Floor" → "bld4_floor") unless
                // letters follow it ("HTTP2xx" → "http_2xx").
                if wt != Word::Alphabet {
                    write_lower(&mut out, Word::Number, number, connector);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                write_lower(&mut out, Word::Number, number, connector);
                while wt == Word::Alphabet || wt == Word::Number {
                    write_lower(&mut out, wt, word, connector);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Word::Invalid | Word::Connector | Word::Punct) {
                    out.push(connector);
                }
            }
        }
    }
    write_lower(&mut out, wt, word, connector);
    out
}

/// xstrings' `ToPascalCase` (Sprig's `camelcase`): connectors are dropped and each word's
/// first letter upper-cased; a word that starts with a run of capitals keeps only the first
/// ("HTTP_SERVER" → "HttpServer", "NoHTTPS" stays). Leading connectors stay, runs of
/// connectors keep all but the last, and a string of only connectors repeats its last one.
pub fn to_pascal_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next_if(|c| is_connector(*c)) {
        out.push(c);
    }
    if chars.peek().is_none() {
        out.extend(s.chars().next_back());
        return out;
    }
    let mut word_start = true;
    // Whether we are in the capital run that opens a word.
    let mut capital_run = false;
    let mut pending_connector: Option<char> = None;
    for c in chars {
        if is_connector(c) {
            if let Some(prev) = pending_connector.replace(c) {
                out.push(prev);
            }
            word_start = true;
            capital_run = false;
            continue;
        }
        pending_connector = None;
        if word_start {
            capital_run = c.is_uppercase();
            out.extend(c.to_uppercase());
            word_start = false;
        } else if capital_run && c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            capital_run = false;
            out.push(c);
        }
    }
    out.extend(pending_connector);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xstrings_documented_examples() {
        for (input, snake) in [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("NoHTTPS", "no_https"),
            ("GO_PATH", "go_path"),
            ("GO PATH", "go_path"),
            ("GO-PATH", "go_path"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
        ] {
            assert_eq!(to_lower_case(input, '_'), snake, "{input}");
        }
        for (input, pascal) in [
            ("some_words", "SomeWords"),
            ("http_server", "HttpServer"),
            ("no_https", "NoHttps"),
            ("_complex__case_", "_Complex_Case_"),
            ("some words", "SomeWords"),
            // Recorded from Helm v4 (xstrings v1.5.0).
            ("HTTP_SERVER", "HttpServer"),
            ("a_BCD_e", "ABcdE"),
            ("NoHTTPS", "NoHTTPS"),
            ("aBC_dEF", "ABCDEF"),
            ("A__BC", "A_Bc"),
            ("ÉTÉ", "Été"),
            ("AB1CD", "Ab1CD"),
            ("", ""),
            ("_", "__"),
            ("a", "A"),
        ] {
            assert_eq!(to_pascal_case(input), pascal, "{input}");
        }
    }
}
