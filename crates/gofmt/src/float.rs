//! Floats as Go writes them: `strconv.FormatFloat` and `encoding/json`.

/// Decimal digits and decimal-point position of a finite float (`0.0123` → "123", -1).
fn float_digits(f: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        None => format!("{:e}", f.abs()),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    if digits.iter().all(|d| *d == b'0') {
        return (Vec::new(), 0);
    }
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exp + 1)
}

fn fmt_e(digits: &[u8], dp: i32, prec: usize, e: char) -> String {
    let mut s = String::new();
    s.push(digits.first().map(|d| *d as char).unwrap_or('0'));
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(digits.get(i).map(|d| *d as char).unwrap_or('0'));
        }
    }
    s.push(e);
    let exp = if digits.is_empty() { 0 } else { dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

fn fmt_f(digits: &[u8], dp: i32, prec: usize) -> String {
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp as usize {
            s.push(digits.get(i).map(|d| *d as char).unwrap_or('0'));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec as i32 {
            let j = dp + i - 1;
            let c = if j >= 0 {
                digits.get(j as usize).map(|d| *d as char).unwrap_or('0')
            } else {
                '0'
            };
            s.push(c);
        }
    }
    s
}

/// `strconv.FormatFloat(f, verb, prec, 64)` (`prec` < 0 means shortest).
pub fn format_float(f: f64, verb: char, prec: i32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // Integer-valued floats below 1e6 (ports, replicas, counts from YAML) print as integers
    // under Go's shortest %g/%v; skip the digit extraction for them.
    if matches!(verb, 'g' | 'G') && prec < 0 && f != 0.0 && f.fract() == 0.0 && f.abs() < 1e6 {
        return (f as i64).to_string();
    }
    let neg = f.is_sign_negative();
    let body = match verb {
        'e' | 'E' => {
            if prec < 0 {
                let (d, dp) = float_digits(f, None);
                fmt_e(&d, dp, d.len().saturating_sub(1), verb)
            } else {
                let (d, dp) = float_digits(f, Some(prec as usize + 1));
                fmt_e(&d, dp, prec as usize, verb)
            }
        }
        'f' | 'F' => {
            if prec < 0 {
                let (d, dp) = float_digits(f, None);
                fmt_f(&d, dp, (d.len() as i32 - dp).max(0) as usize)
            } else {
                format!("{:.*}", prec as usize, f.abs())
            }
        }
        _ => {
            let e = if verb == 'G' { 'E' } else { 'e' };
            let shortest = prec < 0;
            let (d, dp) = if shortest {
                float_digits(f, None)
            } else {
                float_digits(f, Some(if prec == 0 { 1 } else { prec as usize }))
            };
            let nd = d.len() as i32;
            let mut p = if shortest {
                nd
            } else if prec == 0 {
                1
            } else {
                prec
            };
            let mut eprec = p;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            if d.is_empty() {
                "0".to_string()
            } else if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(&d, dp, (p - 1).max(0) as usize, e)
            } else {
                if p > dp {
                    p = nd;
                }
                fmt_f(&d, dp, (p - dp).max(0) as usize)
            }
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// A float as `encoding/json` writes it (`None` for NaN and infinities, which it refuses).
pub fn json_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format_float(f, 'e', -1);
        // encoding/json trims "e-09" to "e-9".
        if let Some(i) = s.find("e-0") {
            return Some(format!("{}e-{}", &s[..i], &s[i + 3..]));
        }
        return Some(s);
    }
    Some(format_float(f, 'f', -1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        for (f, g, json) in [
            (0.0, "0", "0"),
            (-0.0, "-0", "-0"),
            (1.5, "1.5", "1.5"),
            (8080.0, "8080", "8080"),
            (1e6, "1e+06", "1000000"),
            (1e21, "1e+21", "1e+21"),
            (1e-7, "1e-07", "1e-7"),
            (123456789.0, "1.23456789e+08", "123456789"),
        ] {
            assert_eq!(format_float(f, 'g', -1), g, "{f}");
            assert_eq!(json_float(f).as_deref(), Some(json), "{f}");
        }
        assert_eq!(format_float(f64::NAN, 'g', -1), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY, 'g', -1), "-Inf");
        assert_eq!(json_float(f64::INFINITY), None);
    }
}
