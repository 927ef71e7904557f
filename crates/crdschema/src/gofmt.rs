//! The bits of Go's `fmt` that kube-openapi's messages depend on (floats come from the
//! `gofmt` crate).

use serde_json::{Number, Value};

/// Go's `%v` of a `float64` (`strconv.FormatFloat(f, 'g', -1, 64)`).
pub(crate) fn go_float(f: f64) -> String {
    ::gofmt::format_float(f, 'g', -1)
}

/// A JSON number printed as Go prints the value kube decoded it into: integers as
/// `int64`, everything else as `float64`.
pub(crate) fn go_number(n: &Number) -> String {
    match n.as_i64() {
        Some(i) => i.to_string(),
        None => match n.as_u64() {
            Some(u) => u.to_string(),
            None => go_float(n.as_f64().unwrap_or(0.0)),
        },
    }
}

/// The JSON type kube-openapi infers for a decoded value.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go_percent_v() {
        assert_eq!(go_float(10.0), "10");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(1.25e7), "1.25e+07");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.5), "-2.5");
    }
}
