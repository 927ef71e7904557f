//! `resource.Quantity`: parsing, exact arithmetic at nano precision, and the canonical string
//! kube-apiserver prints (`1500m`, `512Mi`, `1k`, `1e3`), as quota and limit messages show
//! quantities.

use std::cmp::Ordering;
use std::fmt;

/// How a quantity was written, which decides how it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `m`, ``, `k`, `M`… (powers of 1000).
    DecimalSi,
    /// `Ki`, `Mi`, `Gi`… (powers of 1024).
    BinarySi,
    /// `1e3`.
    DecimalExponent,
}

/// A quantity, held exactly in nano-units (values beyond nano precision round up, as kube
/// rounds them when it prints).
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    /// Its format.
    pub format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}
impl Eq for Quantity {}
impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

const NANO: i128 = 1_000_000_000;
const BINARY: [(&str, u32); 6] = [
    ("Ki", 1),
    ("Mi", 2),
    ("Gi", 3),
    ("Ti", 4),
    ("Pi", 5),
    ("Ei", 6),
];
const DECIMAL: [(&str, i32); 10] = [
    ("n", -9),
    ("u", -6),
    ("m", -3),
    ("", 0),
    ("k", 3),
    ("M", 6),
    ("G", 9),
    ("T", 12),
    ("P", 15),
    ("E", 18),
];

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError(pub String);

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

impl Quantity {
    /// Zero, printed as DecimalSI.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSi,
    };

    /// A whole number (object counts).
    pub fn from_int(n: i64) -> Quantity {
        Quantity {
            nanos: i128::from(n) * NANO,
            format: Format::DecimalSi,
        }
    }

    /// Parses kube's quantity grammar.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        let bad = || {
            QuantityError("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".into())
        };
        let s = s.trim();
        let num_end = s
            .char_indices()
            .find(|(i, c)| {
                !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '+' || *c == '-')))
            })
            .map_or(s.len(), |(i, _)| i);
        let (num, suffix) = s.split_at(num_end);
        let (negative, digits) = match num.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, num.strip_prefix('+').unwrap_or(num)),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
            return Err(bad());
        }
        let mantissa_digits = format!("{int_part}{frac_part}");
        let mantissa: i128 = mantissa_digits.parse().map_err(|_| bad())?;
        let frac = frac_part.len() as i32;
        let (format, exp10, exp2) = if let Some((_, k)) = BINARY.iter().find(|(x, _)| *x == suffix)
        {
            (Format::BinarySi, 0, 10 * k)
        } else if let Some((_, e)) = DECIMAL.iter().find(|(x, _)| *x == suffix) {
            (Format::DecimalSi, *e, 0)
        } else if let Some(e) = suffix.strip_prefix(['e', 'E']) {
            (
                Format::DecimalExponent,
                e.parse::<i32>().map_err(|_| bad())?,
                0,
            )
        } else {
            return Err(bad());
        };
        // nanos = mantissa * 10^(exp10 - frac + 9) * 2^exp2, rounded up.
        let shift = exp10 - frac + 9;
        let mut nanos = if shift >= 0 {
            mantissa
                .checked_mul(pow10(shift as u32).ok_or_else(bad)?)
                .ok_or_else(bad)?
        } else {
            let d = pow10((-shift) as u32).ok_or_else(bad)?;
            (mantissa + d - 1) / d
        };
        nanos = nanos.checked_mul(1i128 << exp2).ok_or_else(bad)?;
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// Whether it is zero.
    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Its value as a float in base units (cores, bytes), as kube's `AsApproximateFloat64`
    /// (for metrics, which are floats).
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANO as f64
    }
}

/// The sum, in the left quantity's format (as kube's `Quantity.Add`).
impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            // As kube's `Add`: a zero takes the other's format (`0` + `256Mi` is `256Mi`).
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }
}

/// The difference, in the left quantity's format.
impl std::ops::Sub for Quantity {
    type Output = Quantity;
    fn sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: if self.nanos == 0 {
                other.format
            } else {
                self.format
            },
        }
    }
}

impl fmt::Display for Quantity {
    /// kube's canonical form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let v = self.nanos.abs();
        let whole = v % NANO == 0;
        let mut format = self.format;
        if format == Format::BinarySi && (v < 1024 * NANO || !whole) {
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let mut n = v / NANO;
            let mut k = 0;
            while k < 6 && n % 1024 == 0 {
                n /= 1024;
                k += 1;
            }
            let suffix = if k == 0 { "" } else { BINARY[k - 1].0 };
            return write!(f, "{sign}{n}{suffix}");
        }
        // Largest exponent (multiple of 3, -9..=18) leaving an integer mantissa.
        let mut exp = -9;
        let mut mantissa = v;
        while exp < 18 && mantissa % 1000 == 0 {
            mantissa /= 1000;
            exp += 3;
        }
        if format == Format::DecimalExponent {
            return if exp == 0 {
                write!(f, "{sign}{mantissa}")
            } else {
                write!(f, "{sign}{mantissa}e{exp}")
            };
        }
        let suffix = DECIMAL
            .iter()
            .find(|(_, e)| *e == exp)
            .map_or("", |(s, _)| s);
        write!(f, "{sign}{mantissa}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn canonical_forms_match_kube() {
        for (input, canonical) in [
            ("1000m", "1"),
            ("1.5", "1500m"),
            ("0.5", "500m"),
            ("100m", "100m"),
            ("1000", "1k"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("512", "512"),
            ("1Ki", "1Ki"),
            ("1e3", "1e3"),
            ("0", "0"),
            ("2Gi", "2Gi"),
            ("1G", "1G"),
            ("0.1Gi", "107374182400m"),
            ("-100m", "-100m"),
        ] {
            assert_eq!(q(input).to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn arithmetic_and_order_are_exact() {
        assert_eq!((q("500m") + q("500m")).to_string(), "1");
        assert_eq!((q("1Gi") + q("512Mi")).to_string(), "1536Mi");
        assert!(q("1") > q("999m"));
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!((q("2") - q("500m")).to_string(), "1500m");
    }

    #[test]
    fn a_zero_takes_the_format_of_what_is_added_to_it() {
        // kube's Add: quota usage starts at "0" and must still print "512Mi".
        assert_eq!((q("0") + q("256Mi") + q("256Mi")).to_string(), "512Mi");
        assert_eq!((Quantity::ZERO + q("1Gi")).to_string(), "1Gi");
        assert_eq!((q("0") - q("1Gi")).to_string(), "-1Gi");
        assert_eq!((q("1k") + q("1Ki")).to_string(), "2024");
    }

    #[test]
    fn approximate_floats() {
        assert_eq!(q("250m").as_f64(), 0.25);
        assert_eq!(q("1Gi").as_f64(), 1073741824.0);
        assert_eq!(q("-1.5").as_f64(), -1.5);
    }

    #[test]
    fn garbage_is_refused() {
        for bad in ["", "abc", "1.2.3", "1Qi", "--1", "1e", "."] {
            assert!(Quantity::parse(bad).is_err(), "{bad}");
        }
    }
}
