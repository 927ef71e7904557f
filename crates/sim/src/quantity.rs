//! Kubernetes resource quantities, as far as the simulation needs them: CPU in millicores and
//! memory in bytes.

/// Parses a CPU quantity (`"2"`, `"500m"`, `"0.5"`, `"100u"`) into millicores, rounding up.
pub fn parse_cpu_millis(q: &str) -> Option<i64> {
    let (num, suffix) = split(q)?;
    let milli = match suffix {
        "" => num * 1000.0,
        "m" => num,
        "u" => num / 1000.0,
        "n" => num / 1_000_000.0,
        "k" => num * 1e6,
        "M" => num * 1e9,
        _ => return None,
    };
    finite(milli.ceil())
}

/// Parses a memory (or storage) quantity (`"128Mi"`, `"1G"`, `"1e3"`) into bytes.
pub fn parse_bytes(q: &str) -> Option<i64> {
    let (num, suffix) = split(q)?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    finite((num * factor).ceil())
}

fn finite(v: f64) -> Option<i64> {
    (0.0..9.0e18).contains(&v).then_some(v as i64)
}

fn split(q: &str) -> Option<(f64, &str)> {
    let q = q.trim();
    let end = q
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit() || c == '.' || c == '+' || (c == '-' && i == 0))
                && !((c == 'e' || c == 'E')
                    && q[i + 1..].starts_with(|d: char| d.is_ascii_digit() || d == '-' || d == '+'))
        })
        .map(|(i, _)| i)
        .unwrap_or(q.len());
    let num: f64 = q[..end].parse().ok()?;
    Some((num, &q[end..]))
}

/// Formats millicores as kube prints them (`"2"` or `"1500m"`).
pub fn format_cpu_millis(m: i64) -> String {
    if m % 1000 == 0 {
        format!("{}", m / 1000)
    } else {
        format!("{m}m")
    }
}

/// Formats bytes as `Ki` (how the kubelet reports node memory).
pub fn format_bytes_ki(b: i64) -> String {
    if b % 1024 == 0 {
        format!("{}Ki", b / 1024)
    } else {
        format!("{b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu() {
        assert_eq!(parse_cpu_millis("2"), Some(2000));
        assert_eq!(parse_cpu_millis("500m"), Some(500));
        assert_eq!(parse_cpu_millis("0.25"), Some(250));
        assert_eq!(parse_cpu_millis("1500u"), Some(2));
        assert_eq!(parse_cpu_millis("abc"), None);
        assert_eq!(format_cpu_millis(1500), "1500m");
        assert_eq!(format_cpu_millis(4000), "4");
    }

    #[test]
    fn memory() {
        assert_eq!(parse_bytes("128Mi"), Some(128 * 1024 * 1024));
        assert_eq!(parse_bytes("1G"), Some(1_000_000_000));
        assert_eq!(parse_bytes("1e3"), Some(1000));
        assert_eq!(parse_bytes("64Ki"), Some(65536));
        assert_eq!(parse_bytes("12Qi"), None);
        assert_eq!(format_bytes_ki(2048), "2Ki");
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(s in ".{0,16}") {
            let _ = parse_cpu_millis(&s);
            let _ = parse_bytes(&s);
        }
    }
}
