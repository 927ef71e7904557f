//! Go's JSON forms of meta/v1 Time, MicroTime and Duration.

use chrono::{DateTime, Datelike, SecondsFormat, Utc};

/// Go's zero `time.Time` (January 1, year 1, UTC) in Unix seconds: it marshals as `null`.
pub(crate) const GO_ZERO_UNIX: i64 = -62_135_596_800;

fn utc(seconds: i64, nanos: u32) -> Option<DateTime<Utc>> {
    // Go's RFC 3339 formatting fails outside years 0..=9999, so these have no JSON form.
    DateTime::from_timestamp(seconds, nanos).filter(|t| (0..=9999).contains(&t.year()))
}

/// Formats a Time as Go does: UTC, whole seconds (`2024-01-02T03:04:05Z`).
pub(crate) fn format_time(seconds: i64) -> Option<String> {
    utc(seconds, 0).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Formats a MicroTime as Go does: UTC with exactly six fractional digits.
pub(crate) fn format_micro_time(seconds: i64, nanos: i32) -> Option<String> {
    let nanos = u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000)?;
    let micros_only = nanos / 1000 * 1000;
    utc(seconds, micros_only).map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Parses an RFC 3339 timestamp into Unix seconds and nanoseconds.
pub(crate) fn parse_time(text: &str) -> Option<(i64, i32)> {
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    let nanos = i32::try_from(t.timestamp_subsec_nanos()).ok()?;
    Some((t.timestamp(), nanos))
}

/// Formats nanoseconds like Go's `time.Duration.String` (`1h2m3.5s`, `1.5ms`, `0s`).
pub(crate) fn format_duration(ns: i64) -> String {
    let neg = ns < 0;
    let mut u = ns.unsigned_abs();
    let mut out = String::new();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0..1_000 => (0, "ns"),
            1_000..1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (frac, whole) = fraction(u, prec);
        out.push_str(&format!("{whole}{frac}{unit}"));
    } else {
        let (frac, secs) = fraction(u, 9);
        u = secs;
        let mut tail = format!("{}{frac}s", u % 60);
        u /= 60;
        if u > 0 {
            tail = format!("{}m{tail}", u % 60);
            u /= 60;
            if u > 0 {
                tail = format!("{u}h{tail}");
            }
        }
        out.push_str(&tail);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into `v / 10^prec` and the fraction text (".5"), trailing zeros removed.
fn fraction(v: u64, prec: u32) -> (String, u64) {
    let scale = 10u64.pow(prec);
    let digits = v % scale;
    if digits == 0 {
        return (String::new(), v / scale);
    }
    let text = format!(".{digits:0width$}", width = prec as usize);
    (text.trim_end_matches('0').to_string(), v / scale)
}

/// Parses a Go duration string (`1h30m`, `-1.5s`, `300ms`, `0`) into nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    gofmt::parse_duration(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats_match_go() {
        assert_eq!(
            format_time(1_704_164_645).as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(format_time(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            format_time(GO_ZERO_UNIX).as_deref(),
            Some("0001-01-01T00:00:00Z")
        );
        assert_eq!(format_time(i64::MAX), None);
        assert_eq!(
            format_micro_time(1_704_164_645, 123_456_789).as_deref(),
            Some("2024-01-02T03:04:05.123456Z")
        );
        assert_eq!(
            format_micro_time(1_704_164_645, 0).as_deref(),
            Some("2024-01-02T03:04:05.000000Z")
        );
        assert_eq!(
            parse_time("2024-01-02T04:04:05+01:00"),
            Some((1_704_164_645, 0))
        );
        assert_eq!(
            parse_time("2024-01-02T03:04:05.5Z"),
            Some((1_704_164_645, 500_000_000))
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn durations_match_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (-90_000_000_000, "-1m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (ns, text) in cases {
            assert_eq!(format_duration(ns), text);
            assert_eq!(parse_duration(text), Some(ns), "{text}");
        }
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration(".5s"), Some(500_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in ["", "1", "1x", "h", "-", "1.s.", "9999999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
