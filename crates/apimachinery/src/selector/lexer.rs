//! The label selector tokenizer, a byte-for-byte port of kube's `labels.Lexer` so that odd
//! input (NUL bytes, runs of symbols) is split exactly as kube splits it.

/// A lexical token of the label selector grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits a selector into tokens, ending with exactly one `EndOfString`.
pub(super) fn tokenize(s: &str) -> Vec<(Token, &str)> {
    let mut lexer = Lexer { s, pos: 0 };
    let mut out = Vec::new();
    loop {
        let item = lexer.lex();
        out.push(item);
        if item.0 == Token::EndOfString {
            return out;
        }
    }
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// Like kube's `read`, a NUL byte reads the same as the end of input.
    fn read(&mut self) -> u8 {
        match self.s.as_bytes().get(self.pos) {
            Some(b) => {
                self.pos += 1;
                *b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos -= 1;
    }

    fn lex(&mut self) -> (Token, &'a str) {
        let mut c = self.read();
        while is_whitespace(c) {
            c = self.read();
        }
        if c == 0 {
            return (Token::EndOfString, "");
        }
        self.unread();
        if is_special(c) {
            self.scan_special()
        } else {
            self.scan_identifier()
        }
    }

    fn scan_identifier(&mut self) -> (Token, &'a str) {
        let start = self.pos;
        let end;
        loop {
            let c = self.read();
            if c == 0 {
                // kube does not unread at a NUL or the end, so a NUL is skipped over.
                end = if self.pos > start && self.s.as_bytes().get(self.pos - 1) == Some(&0) {
                    self.pos - 1
                } else {
                    self.pos
                };
                break;
            }
            if is_special(c) || is_whitespace(c) {
                self.unread();
                end = self.pos;
                break;
            }
        }
        let lit = &self.s[start..end];
        (keyword(lit).unwrap_or(Token::Identifier), lit)
    }

    fn scan_special(&mut self) -> (Token, &'a str) {
        let start = self.pos;
        let mut last: Option<(Token, usize)> = None;
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if !is_special(c) {
                self.unread();
                break;
            }
            match keyword(&self.s[start..self.pos]) {
                Some(tok) => last = Some((tok, self.pos)),
                None if last.is_some() => {
                    self.unread();
                    break;
                }
                None => {}
            }
        }
        match last {
            Some((tok, end)) => (tok, &self.s[start..end]),
            // Every special byte is a token by itself, so this cannot be reached; kube
            // reports it as an error token, which the parser rejects like any other.
            None => (Token::EndOfString, ""),
        }
    }
}
