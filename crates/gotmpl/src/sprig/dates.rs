//! Sprig's date functions with Go's reference-time layouts (`2006-01-02 15:04:05`). Times are
//! in UTC (Helm runs them in the process's local zone, UTC in containers).

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::{Object, Value};

use super::conv::str_arg;
use super::reg;

/// A Go `time.Time`.
#[derive(Clone, Debug)]
pub struct Time(pub DateTime<Utc>);

impl Object for Time {
    fn type_name(&self) -> &str {
        "time.Time"
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Unix" => Value::int64(self.0.timestamp()),
            "UnixNano" => Value::int64(self.0.timestamp_nanos_opt().unwrap_or(0)),
            "Year" => Value::int(self.0.year() as i64),
            "Day" => Value::int(self.0.day() as i64),
            "Hour" => Value::int(self.0.hour() as i64),
            "Minute" => Value::int(self.0.minute() as i64),
            "Second" => Value::int(self.0.second() as i64),
            "Nanosecond" => Value::int(self.0.nanosecond() as i64),
            "String" => Value::from(self.print()),
            _ => return None,
        })
    }
    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Format" => Some(Ok(Value::from(format(&self.0, &str_arg(args.first()))))),
            _ => None,
        }
    }
    fn print(&self) -> String {
        format(&self.0, "2006-01-02 15:04:05.999999999 -0700 MST")
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Formats with a Go layout.
pub fn format(t: &DateTime<Utc>, layout: &str) -> String {
    let mut out = String::new();
    let b = layout.as_bytes();
    let mut i = 0;
    let h12 = |h: u32| if h.is_multiple_of(12) { 12 } else { h % 12 };
    while i < b.len() {
        let rest = &layout[i..];
        let take = |s: &str| rest.starts_with(s);
        let (text, n): (String, usize) = if take("January") {
            (MONTHS[t.month0() as usize].into(), 7)
        } else if take("Jan") {
            (MONTHS[t.month0() as usize][..3].into(), 3)
        } else if take("Monday") {
            (DAYS[t.weekday().num_days_from_sunday() as usize].into(), 6)
        } else if take("Mon") {
            (
                DAYS[t.weekday().num_days_from_sunday() as usize][..3].into(),
                3,
            )
        } else if take("MST") {
            ("UTC".into(), 3)
        } else if take("2006") {
            (format!("{:04}", t.year()), 4)
        } else if take("002") {
            (format!("{:03}", t.ordinal()), 3)
        } else if take("01") {
            (format!("{:02}", t.month()), 2)
        } else if take("02") {
            (format!("{:02}", t.day()), 2)
        } else if take("03") {
            (format!("{:02}", h12(t.hour())), 2)
        } else if take("04") {
            (format!("{:02}", t.minute()), 2)
        } else if take("05") {
            (format!("{:02}", t.second()), 2)
        } else if take("06") {
            (format!("{:02}", t.year() % 100), 2)
        } else if take("15") {
            (format!("{:02}", t.hour()), 2)
        } else if take("_2") {
            (format!("{:>2}", t.day()), 2)
        } else if take("1") {
            (t.month().to_string(), 1)
        } else if take("2") {
            (t.day().to_string(), 1)
        } else if take("3") {
            (h12(t.hour()).to_string(), 1)
        } else if take("4") {
            (t.minute().to_string(), 1)
        } else if take("5") {
            (t.second().to_string(), 1)
        } else if take("PM") {
            ((if t.hour() >= 12 { "PM" } else { "AM" }).into(), 2)
        } else if take("pm") {
            ((if t.hour() >= 12 { "pm" } else { "am" }).into(), 2)
        } else if take("Z07:00") {
            ("Z".into(), 6)
        } else if take("Z0700") {
            ("Z".into(), 5)
        } else if take("-07:00") {
            ("+00:00".into(), 6)
        } else if take("-0700") {
            ("+0000".into(), 5)
        } else if take("-07") {
            ("+00".into(), 3)
        } else if (take(".0") || take(".9") || take(",0") || take(",9")) && {
            let d = rest.as_bytes()[1];
            let k = rest[1..].bytes().take_while(|c| *c == d).count();
            !rest
                .as_bytes()
                .get(1 + k)
                .is_some_and(|c| c.is_ascii_digit())
        } {
            let d = rest.as_bytes()[1];
            let k = rest[1..].bytes().take_while(|c| *c == d).count();
            let nanos = format!("{:09}", t.nanosecond());
            let mut frac = nanos[..k.min(9)].to_string();
            if d == b'9' {
                frac = frac.trim_end_matches('0').to_string();
                if frac.is_empty() {
                    (String::new(), 1 + k)
                } else {
                    (format!("{}{frac}", &rest[..1]), 1 + k)
                }
            } else {
                (format!("{}{frac}", &rest[..1]), 1 + k)
            }
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            (c.to_string(), c.len_utf8())
        };
        out.push_str(&text);
        i += n;
    }
    out
}

/// Parses with a Go layout (numeric fields, month names and AM/PM; UTC).
pub fn parse(layout: &str, value: &str) -> Result<DateTime<Utc>, String> {
    let mut p = TimeParser {
        layout,
        value,
        li: 0,
        vi: 0,
        y: 1,
        mo: 1,
        d: 1,
        h: 0,
        mi: 0,
        s: 0,
        pm: None,
        offset: 0,
        nanos: 0,
    };
    while p.li < layout.len() {
        p.step()?;
    }
    if p.vi != value.len() {
        return Err(p.err());
    }
    p.finish()
}

/// `time.Parse` in progress: positions in the layout and the value, and the fields read.
struct TimeParser<'a> {
    layout: &'a str,
    value: &'a str,
    li: usize,
    vi: usize,
    y: i32,
    mo: u32,
    d: u32,
    h: u32,
    mi: u32,
    s: u32,
    pm: Option<bool>,
    /// Zone offset east of UTC, in seconds.
    offset: i64,
    nanos: u32,
}

impl TimeParser<'_> {
    /// Go's error for a value that does not match the layout.
    fn err(&self) -> String {
        format!(
            "parsing time {} as {}: cannot parse",
            crate::gofmt::quote(self.value),
            crate::gofmt::quote(self.layout)
        )
    }

    /// The value byte at `i`.
    fn vb(&self, i: usize) -> Option<u8> {
        self.value.as_bytes().get(i).copied()
    }

    /// Up to `max` digits of the value, as a number.
    fn num(&mut self, max: usize) -> Result<u32, String> {
        let st = self.vi;
        while self.vb(self.vi).is_some_and(|c| c.is_ascii_digit()) && self.vi - st < max {
            self.vi += 1;
        }
        self.value[st..self.vi]
            .parse::<u32>()
            .map_err(|_| self.err())
    }

    /// Digits after a decimal point, as nanoseconds; returns where they started.
    fn fraction_digits(&mut self) -> usize {
        let st = self.vi;
        while self.vb(self.vi).is_some_and(|c| c.is_ascii_digit()) {
            self.vi += 1;
        }
        self.nanos = frac_nanos(&self.value[st..self.vi]);
        st
    }

    /// Reads what the next layout element asks for.
    fn step(&mut self) -> Result<(), String> {
        let rest = &self.layout[self.li..];
        let t = |s: &str| rest.starts_with(s);
        if t("2006") {
            self.y = self.num(4)? as i32;
            self.li += 4;
        } else if let Some(z) = ["Z07:00", "Z0700", "Z07", "-07:00", "-0700", "-07"]
            .iter()
            .find(|z| t(z))
        {
            self.zone(z)?;
        } else if t("MST") {
            self.zone_abbreviation()?;
        } else if [".0", ".9", ",0", ",9"].iter().any(|f| t(f)) {
            self.fraction(rest)?;
        } else if t("Monday") || t("Mon") {
            self.weekday(if t("Monday") { 6 } else { 3 })?;
        } else if t("_2") && !t("_2006") {
            if self.vb(self.vi) == Some(b' ') {
                self.vi += 1;
            }
            self.d = self.num(2)?;
            self.li += 2;
        } else if ["01", "02", "03", "04", "05", "15", "06"]
            .iter()
            .any(|f| t(f))
        {
            self.two_digits(&rest[..2])?;
        } else if t("January") || t("Jan") {
            self.month_name(if t("January") { 7 } else { 3 })?;
        } else if t("PM") || t("pm") {
            self.pm = Some(self.value[self.vi..].to_ascii_uppercase().starts_with("PM"));
            self.vi += 2;
            self.li += 2;
        } else if ["1", "2", "3", "4", "5"].iter().any(|f| t(f)) {
            let v = self.num(2)?;
            match &rest[..1] {
                "1" => self.mo = v,
                "2" => self.d = v,
                "3" => self.h = v,
                "4" => self.mi = v,
                _ => self.s = v,
            }
            self.li += 1;
        } else {
            if self.vb(self.vi) != self.layout.as_bytes().get(self.li).copied() {
                return Err(self.err());
            }
            self.li += 1;
            self.vi += 1;
        }
        Ok(())
    }

    /// Numeric zones (`-07:00`…); the Z forms also accept a literal "Z" for UTC.
    fn zone(&mut self, z: &str) -> Result<(), String> {
        let n = z.len();
        self.li += n;
        if z.starts_with('Z') && self.vb(self.vi) == Some(b'Z') {
            self.vi += 1;
            return Ok(());
        }
        let sign = match self.vb(self.vi) {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(self.err()),
        };
        self.vi += 1;
        let hh = i64::from(self.num(2)?);
        let colon = z.contains(':');
        let mut mm = 0;
        if n >= 5 || colon {
            if colon {
                if self.vb(self.vi) != Some(b':') {
                    return Err(self.err());
                }
                self.vi += 1;
            }
            mm = i64::from(self.num(2)?);
        }
        self.offset = sign * (hh * 3600 + mm * 60);
        Ok(())
    }

    /// Zone abbreviations: Go assumes offset 0 for ones it does not know.
    fn zone_abbreviation(&mut self) -> Result<(), String> {
        let st = self.vi;
        while self.vb(self.vi).is_some_and(|c| c.is_ascii_uppercase()) {
            self.vi += 1;
        }
        if self.vi - st < 3 {
            return Err(self.err());
        }
        self.li += 3;
        Ok(())
    }

    /// `.000` (exactly that many digits) or `.999` (any, or none).
    fn fraction(&mut self, rest: &str) -> Result<(), String> {
        let lb = self.layout.as_bytes();
        let digit = lb[self.li + 1];
        let n = 1 + rest[1..].bytes().take_while(|c| *c == digit).count();
        let nine = digit == b'9';
        self.li += n;
        if self.vb(self.vi).is_some_and(|c| c == b'.' || c == b',') {
            self.vi += 1;
            let st = self.fraction_digits();
            if !nine && self.vi - st != n - 1 {
                return Err(self.err());
            }
        } else if !nine {
            return Err(self.err());
        }
        Ok(())
    }

    /// `Monday` or `Mon`: read and ignored.
    fn weekday(&mut self, n: usize) -> Result<(), String> {
        let found = DAYS.iter().find(|day| {
            let day = if n == 3 { &day[..3] } else { day };
            self.value[self.vi..].starts_with(day)
        });
        let day = found.ok_or_else(|| self.err())?;
        self.vi += if n == 3 { 3 } else { day.len() };
        self.li += n;
        Ok(())
    }

    /// `January` or `Jan`.
    fn month_name(&mut self, n: usize) -> Result<(), String> {
        let found = MONTHS.iter().position(|m| {
            let m = if n == 3 { &m[..3] } else { m };
            self.value[self.vi..].starts_with(m)
        });
        let idx = found.ok_or_else(|| self.err())?;
        self.vi += if n == 3 { 3 } else { MONTHS[idx].len() };
        self.mo = idx as u32 + 1;
        self.li += n;
        Ok(())
    }

    /// The two-digit fields (`01` month, `02` day, `03`/`15` hour, `04`, `05`, `06` year).
    fn two_digits(&mut self, field: &str) -> Result<(), String> {
        let v = self.num(2)?;
        match field {
            "01" => self.mo = v,
            "02" => self.d = v,
            "03" | "15" => self.h = v,
            "04" => self.mi = v,
            "05" => self.s = v,
            _ => self.y = 2000 + v as i32 - if v >= 69 { 100 } else { 0 },
        }
        self.li += 2;
        // Go accepts a fractional second after the seconds field even if the layout has
        // none (unless the layout itself has one next).
        let lb = self.layout.as_bytes();
        if field == "05"
            && self.vb(self.vi).is_some_and(|c| c == b'.' || c == b',')
            && self.vb(self.vi + 1).is_some_and(|c| c.is_ascii_digit())
            && !(lb.get(self.li).is_some_and(|c| *c == b'.' || *c == b',')
                && lb
                    .get(self.li + 1)
                    .is_some_and(|c| *c == b'0' || *c == b'9'))
        {
            self.vi += 1;
            self.fraction_digits();
        }
        Ok(())
    }

    /// Checks the ranges Go checks and builds the time.
    fn finish(mut self) -> Result<DateTime<Utc>, String> {
        let range = |what: &str| {
            format!(
                "parsing time {}: {what} out of range",
                crate::gofmt::quote(self.value)
            )
        };
        let (mo, h, pm) = (self.mo, self.h, self.pm);
        for (bad, what) in [
            (!(1..=12).contains(&mo), "month"),
            (h >= 24 || (pm.is_some() && !(1..=12).contains(&h)), "hour"),
            (self.mi >= 60, "minute"),
            (self.s >= 60, "second"),
        ] {
            if bad {
                return Err(range(what));
            }
        }
        if let Some(p) = pm {
            self.h = h % 12 + if p { 12 } else { 0 };
        }
        let date = NaiveDate::from_ymd_opt(self.y, mo, self.d).ok_or_else(|| range("day"))?;
        let dt: NaiveDateTime = date
            .and_hms_nano_opt(self.h, self.mi, self.s, self.nanos)
            .ok_or_else(|| self.err())?;
        Ok(Utc.from_utc_datetime(&dt) - chrono::Duration::seconds(self.offset))
    }
}

/// Nanoseconds from the digits after a decimal point (extra digits are cut, like Go).
fn frac_nanos(digits: &str) -> u32 {
    let mut n = 0u32;
    for (i, c) in digits.bytes().take(9).enumerate() {
        n += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
    }
    n
}

/// Go's `time.Duration.String()` for nanoseconds.
pub fn duration_string(ns: i128) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let mut s = if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1u128)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        format!("{}{unit}", frac(u, div))
    } else {
        let secs = u / 1_000_000_000;
        let (h, m) = (secs / 3600, (secs / 60) % 60);
        let sec = frac(u % 60_000_000_000, 1_000_000_000);
        let mut o = String::new();
        if h > 0 {
            o.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            o.push_str(&format!("{m}m"));
        }
        o.push_str(&format!("{sec}s"));
        o
    };
    if neg {
        s.insert(0, '-');
    }
    s
}

fn frac(v: u128, div: u128) -> String {
    let whole = v / div;
    let rem = v % div;
    if rem == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{rem:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

/// Go's `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i128, String> {
    gofmt::parse_duration(s)
        .map(i128::from)
        .map_err(|e| e.to_string())
}

fn time_of(v: Option<&Value>) -> DateTime<Utc> {
    match v {
        // Seconds and nanoseconds, not UnixNano: that overflows outside 1678..2262 (and Go's
        // zero time, year 1, is what a failed toDate gives).
        Some(Value::Object(o)) if o.type_name() == "time.Time" => {
            match (o.field("Unix"), o.field("Nanosecond")) {
                (Some(Value::Int(secs, _)), Some(Value::Int(ns, _))) => Utc
                    .timestamp_opt(secs, ns as u32)
                    .single()
                    .unwrap_or_else(Utc::now),
                _ => Utc::now(),
            }
        }
        Some(Value::Int(i, _)) => Utc.timestamp_opt(*i, 0).single().unwrap_or_else(Utc::now),
        _ => Utc::now(),
    }
}

fn time_value(t: DateTime<Utc>) -> Value {
    Value::Object(Arc::new(Time(t)))
}

pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "now", |_| Ok(time_value(Utc::now())));
    reg(m, "date", |a| {
        Ok(Value::from(format(&time_of(a.get(1)), &str_arg(a.first()))))
    });
    for name in ["dateInZone", "date_in_zone"] {
        reg(m, name, |a| {
            Ok(Value::from(format(&time_of(a.get(1)), &str_arg(a.first()))))
        });
    }
    reg(m, "htmlDate", |a| {
        Ok(Value::from(format(&time_of(a.first()), "2006-01-02")))
    });
    reg(m, "htmlDateInZone", |a| {
        Ok(Value::from(format(&time_of(a.first()), "2006-01-02")))
    });
    reg(m, "toDate", |a| {
        Ok(parse(&str_arg(a.first()), &str_arg(a.get(1)))
            .map(time_value)
            .unwrap_or_else(|_| {
                time_value(
                    Utc.timestamp_opt(-62135596800, 0)
                        .single()
                        .unwrap_or_default(),
                )
            }))
    });
    reg(m, "mustToDate", |a| {
        parse(&str_arg(a.first()), &str_arg(a.get(1)))
            .map(time_value)
            .map_err(FuncError::Msg)
    });
    for name in [
        "dateModify",
        "date_modify",
        "mustDateModify",
        "must_date_modify",
    ] {
        let must = name.starts_with("must");
        reg(m, name, move |a| {
            let t = time_of(a.get(1));
            match parse_duration(&str_arg(a.first())) {
                Ok(d) => Ok(time_value(t + chrono::Duration::nanoseconds(d as i64))),
                Err(e) if must => Err(FuncError::Msg(e)),
                Err(_) => Ok(time_value(t)),
            }
        });
    }
    reg(m, "duration", |a| {
        let n: i64 = match a.first() {
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            Some(Value::Int(i, crate::value::IntKind::Int64)) => *i,
            _ => 0,
        };
        Ok(Value::from(duration_string(n as i128 * 1_000_000_000)))
    });
    reg(m, "durationRound", |a| {
        let d: i128 = match a.first() {
            Some(Value::String(s)) => parse_duration(s).unwrap_or(0),
            Some(Value::Int(i, crate::value::IntKind::Int64)) => *i as i128,
            Some(v @ Value::Object(_)) => (Utc::now() - time_of(Some(v)))
                .num_nanoseconds()
                .unwrap_or(0) as i128,
            _ => 0,
        };
        let u = d.unsigned_abs();
        let hour: u128 = 3_600_000_000_000;
        let units = [
            (hour * 24 * 365, "y"),
            (hour * 24 * 30, "mo"),
            (hour * 24, "d"),
            (hour, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
        ];
        for (size, name) in units {
            if u > size {
                return Ok(Value::from(format!("{}{name}", u / size)));
            }
        }
        Ok(Value::str("0s"))
    });
    reg(m, "unixEpoch", |a| {
        Ok(Value::from(time_of(a.first()).timestamp().to_string()))
    });
    reg(m, "ago", |a| {
        let d = (Utc::now() - time_of(a.first())).num_seconds();
        Ok(Value::from(duration_string(d as i128 * 1_000_000_000)))
    });
}
