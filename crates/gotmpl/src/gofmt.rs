//! Go's `fmt` printing of template values (`%v` and all `printf` verbs) and `strconv.Quote`.

use crate::value::Value;

/// `fmt.Sprint(v)`: the `%v` form of one value.
pub fn sprint_value(v: &Value) -> String {
    let mut p = Printer::default();
    p.print_arg(v, 'v', 0);
    p.buf
}

/// `fmt.Sprint(args...)`: spaces between operands when neither side is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Value::String(_));
        if i > 0 && !is_str && !matches!(args[i - 1], Value::String(_)) {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v', 0);
    }
    p.buf
}

/// `fmt.Sprintln(args...)`: always spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut p = Printer::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(a, 'v', 0);
    }
    p.buf.push('\n');
    p.buf
}

/// `fmt.Sprintf(format, args...)`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut p = Printer::default();
    p.do_printf(format, args);
    p.buf
}

/// `strconv.Quote`.
pub fn quote(s: &str) -> String {
    ::gofmt::quote(s)
}

/// `%#U` of a rune: `U+0041 'A'`.
pub(crate) fn unicode_u_sharp(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

/// Go's `unicode.IsPrint` (the one approximation in [`gofmt`]).
pub(crate) fn is_print(c: char) -> bool {
    ::gofmt::is_print(c)
}

use ::gofmt::{quote_rune_into, quote_with};

fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

pub use ::gofmt::format_float;

#[derive(Default, Clone, Copy)]
struct Flags {
    sharp: bool,
    zero: bool,
    plus: bool,
    minus: bool,
    space: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Where `do_printf` is: the format position, the next argument, whether the last explicit
/// index was good, and whether any index reordered the arguments.
struct Cursor {
    i: usize,
    arg_num: usize,
    good_arg: bool,
    reordered: bool,
}

impl Cursor {
    /// Reads an explicit argument index (`[n]`) if there is one; true when one was read.
    fn arg_index(&mut self, b: &[u8], nargs: usize) -> bool {
        let after_index;
        (self.arg_num, self.i, after_index, self.good_arg) = arg_number(
            b,
            self.i,
            self.arg_num,
            nargs,
            self.good_arg,
            &mut self.reordered,
        );
        after_index
    }
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
}

fn parse_num(b: &[u8], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add((b[i] - b'0') as usize)
            .min(1_000_000);
        i += 1;
    }
    if i == start { (None, i) } else { (Some(n), i) }
}

fn int_from_arg(args: &[Value], n: usize) -> (Option<i64>, usize) {
    match args.get(n) {
        Some(Value::Int(i, _)) => (Some(*i), n + 1),
        Some(Value::Uint(u)) => (i64::try_from(*u).ok(), n + 1),
        Some(_) => (None, n + 1),
        None => (None, n),
    }
}

impl Printer {
    fn pad(&mut self, s: &str) {
        let Some(w) = self.f.wid else {
            self.buf.push_str(s);
            return;
        };
        let n = s.chars().count();
        if n >= w {
            self.buf.push_str(s);
            return;
        }
        let fill = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        if self.f.minus {
            self.buf.push_str(s);
            self.buf.extend(std::iter::repeat_n(' ', w - n));
        } else {
            self.buf.extend(std::iter::repeat_n(fill, w - n));
            self.buf.push_str(s);
        }
    }

    fn do_printf(&mut self, format: &str, args: &[Value]) {
        let b = format.as_bytes();
        let end = b.len();
        let mut c = Cursor {
            i: 0,
            arg_num: 0,
            good_arg: true,
            reordered: false,
        };
        while c.i < end {
            let last = c.i;
            while c.i < end && b[c.i] != b'%' {
                c.i += 1;
            }
            if c.i > last {
                self.buf.push_str(&format[last..c.i]);
            }
            if c.i >= end {
                break;
            }
            c.i += 1;
            self.parse_flags(b, &mut c.i);
            c.good_arg = true;
            let after_index = c.arg_index(b, args.len());
            let after_index = self.width(b, args, &mut c, after_index);
            let after_index = self.precision(b, args, &mut c, after_index);
            if !after_index {
                c.arg_index(b, args.len());
            }
            if c.i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }
            let verb = format[c.i..].chars().next().unwrap_or('%');
            c.i += verb.len_utf8();
            self.verb(verb, args, &mut c);
        }
        if !c.reordered && c.arg_num < args.len() {
            self.extra(&args[c.arg_num..]);
        }
    }

    /// The flags after `%` (`#0+- `).
    fn parse_flags(&mut self, b: &[u8], i: &mut usize) {
        self.f = Flags::default();
        while *i < b.len() {
            match b[*i] {
                b'#' => self.f.sharp = true,
                b'0' => self.f.zero = !self.f.minus,
                b'+' => self.f.plus = true,
                b'-' => {
                    self.f.minus = true;
                    self.f.zero = false;
                }
                b' ' => self.f.space = true,
                _ => break,
            }
            *i += 1;
        }
    }

    /// The width: a number or `*` (taken from the arguments); returns the new after-index.
    fn width(&mut self, b: &[u8], args: &[Value], c: &mut Cursor, after_index: bool) -> bool {
        if c.i < b.len() && b[c.i] == b'*' {
            c.i += 1;
            let (w, n) = int_from_arg(args, c.arg_num);
            c.arg_num = n;
            match w {
                Some(w) if w.unsigned_abs() < 1_000_000 => {
                    if w < 0 {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    self.f.wid = Some(w.unsigned_abs() as usize);
                }
                _ => self.buf.push_str("%!(BADWIDTH)"),
            }
            return false;
        }
        let (w, ni) = parse_num(b, c.i);
        self.f.wid = w;
        c.i = ni;
        if after_index && w.is_some() {
            c.good_arg = false;
        }
        after_index
    }

    /// The precision after `.`: a number or `*`; returns the new after-index.
    fn precision(
        &mut self,
        b: &[u8],
        args: &[Value],
        c: &mut Cursor,
        mut after_index: bool,
    ) -> bool {
        if !(c.i + 1 < b.len() && b[c.i] == b'.') {
            return after_index;
        }
        c.i += 1;
        if after_index {
            c.good_arg = false;
        }
        after_index = c.arg_index(b, args.len());
        if c.i < b.len() && b[c.i] == b'*' {
            c.i += 1;
            let (p, n) = int_from_arg(args, c.arg_num);
            c.arg_num = n;
            match p {
                Some(p) if (0..1_000_000).contains(&p) => self.f.prec = Some(p as usize),
                Some(_) => self.f.prec = None,
                None => self.buf.push_str("%!(BADPREC)"),
            }
            return false;
        }
        let (p, ni) = parse_num(b, c.i);
        self.f.prec = Some(p.unwrap_or(0));
        c.i = ni;
        after_index
    }

    /// Prints one verb's argument (or `%%`, or the BADINDEX and MISSING forms).
    fn verb(&mut self, verb: char, args: &[Value], c: &mut Cursor) {
        if verb == '%' {
            self.buf.push('%');
        } else if !c.good_arg {
            self.buf.push_str(&format!("%!{verb}(BADINDEX)"));
        } else if c.arg_num >= args.len() {
            self.buf.push_str(&format!("%!{verb}(MISSING)"));
        } else {
            if verb == 'v' {
                // Go moves '+' to "plusV" (struct field names) for %v: no sign on numbers.
                self.f.plus = false;
            }
            self.print_arg(&args[c.arg_num], verb, 0);
            c.arg_num += 1;
        }
    }

    /// `%!(EXTRA type=value, …)` for arguments no verb used.
    fn extra(&mut self, rest: &[Value]) {
        self.f = Flags::default();
        self.buf.push_str("%!(EXTRA ");
        for (k, a) in rest.iter().enumerate() {
            if k > 0 {
                self.buf.push_str(", ");
            }
            if a.is_nil() {
                self.buf.push_str("<nil>");
            } else {
                self.buf.push_str(&a.type_name());
                self.buf.push('=');
                self.print_arg(a, 'v', 0);
            }
        }
        self.buf.push(')');
    }

    fn bad_verb(&mut self, v: &Value, verb: char) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        if v.is_nil() {
            self.buf.push_str("<nil>");
        } else {
            self.buf.push_str(&v.type_name());
            self.buf.push('=');
            self.print_arg(v, 'v', 1);
        }
        self.buf.push(')');
    }

    fn print_arg(&mut self, v: &Value, verb: char, depth: usize) {
        if verb == 'T' {
            let t = v.type_name();
            self.pad(&t);
            return;
        }
        match v {
            Value::Nil => match verb {
                'v' => self.pad("<nil>"),
                _ if depth > 0 => self.pad("<nil>"),
                _ => self.bad_verb(v, verb),
            },
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(v, verb),
            },
            Value::Int(i, _) => self.fmt_integer(*i < 0, i.unsigned_abs(), v, verb),
            Value::Uint(u) => self.fmt_integer(false, *u, v, verb),
            Value::Float(x) => self.fmt_float(*x, v, verb),
            Value::String(s) => self.fmt_string(s, v, verb),
            Value::Bytes(bytes) => match verb {
                's' | 'q' | 'x' | 'X' => {
                    let s = String::from_utf8_lossy(bytes).into_owned();
                    self.fmt_string(&s, v, verb)
                }
                _ => {
                    self.buf.push('[');
                    for (k, byte) in bytes.iter().enumerate() {
                        if k > 0 {
                            self.buf.push(' ');
                        }
                        self.print_arg(&Value::Uint(*byte as u64), verb, depth + 1);
                    }
                    self.buf.push(']');
                }
            },
            Value::List(items) => {
                self.buf.push('[');
                for (k, e) in items.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.print_arg(e, verb, depth + 1);
                }
                self.buf.push(']');
            }
            Value::Map(m) => {
                let m = m.snapshot();
                self.buf.push_str("map[");
                for (k, (key, val)) in m.iter().enumerate() {
                    if k > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_string(key, &Value::Nil, verb);
                    self.buf.push(':');
                    self.print_arg(val, verb, depth + 1);
                }
                self.buf.push(']');
            }
            Value::Object(o) => {
                let s = o.print();
                self.pad(&s);
            }
        }
    }

    fn fmt_string(&mut self, s: &str, v: &Value, verb: char) {
        match verb {
            'v' | 's' => {
                if let Some(p) = self.f.prec {
                    let t: String = s.chars().take(p).collect();
                    self.pad(&t);
                } else {
                    self.pad(s);
                }
            }
            'q' => {
                let t: String = match self.f.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.to_string(),
                };
                let q = if self.f.sharp && can_backquote(&t) {
                    format!("`{t}`")
                } else {
                    quote_with(&t, '"', self.f.plus)
                };
                self.pad(&q);
            }
            'x' | 'X' => {
                let bytes = s.as_bytes();
                let bytes = match self.f.prec {
                    Some(p) if p < bytes.len() => &bytes[..p],
                    _ => bytes,
                };
                let mut out = String::new();
                for (k, byte) in bytes.iter().enumerate() {
                    if self.f.space && k > 0 {
                        out.push(' ');
                    }
                    if self.f.sharp && (self.f.space || k == 0) {
                        out.push_str(if verb == 'x' { "0x" } else { "0X" });
                    }
                    if verb == 'x' {
                        out.push_str(&format!("{byte:02x}"));
                    } else {
                        out.push_str(&format!("{byte:02X}"));
                    }
                }
                self.pad(&out);
            }
            _ => {
                if v.is_nil() {
                    self.bad_verb(&Value::str(s), verb);
                } else {
                    self.bad_verb(v, verb);
                }
            }
        }
    }

    fn fmt_integer(&mut self, neg: bool, mag: u64, v: &Value, verb: char) {
        let (base, upper) = match verb {
            'v' | 'd' => (10, false),
            'b' => (2, false),
            'o' | 'O' => (8, false),
            'x' => (16, false),
            'X' => (16, true),
            'c' => {
                let c = char::from_u32(mag as u32)
                    .filter(|_| !neg && mag <= 0x10FFFF)
                    .unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
                return;
            }
            'q' => {
                let c = char::from_u32(mag as u32)
                    .filter(|_| !neg && mag <= 0x10FFFF)
                    .unwrap_or('\u{FFFD}');
                let mut s = String::from("'");
                if c == '\'' {
                    s.push_str("\\'");
                } else if c == '"' {
                    s.push('"');
                } else {
                    quote_rune_into(&mut s, c, '\'', self.f.plus);
                }
                s.push('\'');
                self.pad(&s);
                return;
            }
            'U' => {
                let mut s = format!("U+{mag:04X}");
                if self.f.sharp
                    && let Some(c) = char::from_u32(mag as u32)
                    && is_print(c)
                {
                    s.push_str(&format!(" '{c}'"));
                }
                self.pad(&s);
                return;
            }
            _ => {
                self.bad_verb(v, verb);
                return;
            }
        };
        let mut digits = match (base, upper) {
            (10, _) => mag.to_string(),
            (2, _) => format!("{mag:b}"),
            (8, _) => format!("{mag:o}"),
            (16, false) => format!("{mag:x}"),
            _ => format!("{mag:X}"),
        };
        let mut prec = self.f.prec;
        if prec == Some(0) && mag == 0 {
            digits.clear();
        }
        let sign_len = usize::from(neg || self.f.plus || self.f.space);
        if prec.is_none()
            && self.f.zero
            && !self.f.minus
            && let Some(w) = self.f.wid
        {
            prec = Some(w.saturating_sub(sign_len));
        }
        if let Some(p) = prec
            && digits.len() < p
        {
            digits = format!("{}{}", "0".repeat(p - digits.len()), digits);
        }
        let mut prefix = String::new();
        if self.f.sharp {
            match verb {
                'b' => prefix.push_str("0b"),
                'o' if !digits.starts_with('0') => prefix.push('0'),
                'x' => prefix.push_str("0x"),
                'X' => prefix.push_str("0X"),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix.push_str("0o");
        }
        let sign = if neg {
            "-"
        } else if self.f.plus {
            "+"
        } else if self.f.space {
            " "
        } else {
            ""
        };
        let s = format!("{sign}{prefix}{digits}");
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_float(&mut self, x: f64, v: &Value, verb: char) {
        let (fverb, prec) = match verb {
            'v' => ('g', -1),
            'g' | 'G' => (verb, -1),
            'e' | 'E' | 'f' | 'F' => (verb, 6),
            'b' | 'x' | 'X' => ('g', -1),
            _ => {
                self.bad_verb(v, verb);
                return;
            }
        };
        let prec = self.f.prec.map(|p| p as i32).unwrap_or(prec);
        let mut num = format_float(x, fverb, prec);
        if !num.starts_with(['-', '+']) {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        if num[1..].starts_with('I') || num[1..].starts_with('N') {
            if num[1..].starts_with('N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            let zero = self.f.zero;
            self.f.zero = false;
            self.pad(&num);
            self.f.zero = zero;
            return;
        }
        if self.f.sharp && fverb != 'b' && !num.contains('.') {
            let epos = num.find(['e', 'E']).unwrap_or(num.len());
            num.insert(epos, '.');
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero
                && !self.f.minus
                && let Some(w) = self.f.wid
                && w > num.len()
            {
                let (sign, rest) = num.split_at(1);
                let s = format!("{sign}{}{rest}", "0".repeat(w - num.len()));
                self.buf.push_str(&s);
                return;
            }
            self.pad(&num.clone());
            return;
        }
        let rest = num[1..].to_string();
        self.pad(&rest);
    }
}

fn arg_number(
    b: &[u8],
    i: usize,
    arg_num: usize,
    nargs: usize,
    good: bool,
    reordered: &mut bool,
) -> (usize, usize, bool, bool) {
    if i >= b.len() || b[i] != b'[' {
        return (arg_num, i, false, good);
    }
    *reordered = true;
    let mut j = i + 1;
    while j < b.len() && b[j] != b']' {
        j += 1;
    }
    if j >= b.len() {
        return (arg_num, i + 1, false, false);
    }
    let (n, ni) = parse_num(b, i + 1);
    if ni != j {
        return (arg_num, j + 1, false, false);
    }
    match n {
        Some(n) if n >= 1 && n <= nargs => (n - 1, j + 1, true, good),
        _ => (arg_num, j + 1, true, false),
    }
}
