//! Helm's `--set` syntax (`pkg/strvals`): `a.b=c,d[0]=e`, `{x,y}` lists, `\` escapes, and
//! type inference (`int64`, booleans, `null`) unless parsing `--set-string`; `--set-json`
//! takes JSON values.

use std::collections::BTreeMap;

use gotmpl::{IntKind, Value};

use super::coalesce::Map;

/// A malformed `--set` expression.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("{0}")]
pub struct SetError(pub String);

const MAX_INDEX: i64 = 65536;
const MAX_NESTED: usize = 30;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Typed,
    String,
    Json,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    mode: Mode,
}

/// End of input, or the error to report.
enum Stop {
    Eof,
    Err(SetError),
}

impl From<SetError> for Stop {
    fn from(e: SetError) -> Stop {
        Stop::Err(e)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Err(SetError(msg.into())))
}

impl Parser {
    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Reads up to a stop rune (unescaped); `Err(Eof)` carries what was read.
    fn until(&mut self, stop: &[char]) -> (Vec<char>, Option<char>) {
        let mut v = Vec::new();
        loop {
            match self.read() {
                None => return (v, None),
                Some(c) if stop.contains(&c) => return (v, Some(c)),
                Some('\\') => match self.read() {
                    None => return (v, None),
                    Some(n) => v.push(n),
                },
                Some(c) => v.push(c),
            }
        }
    }

    fn typed(&self, rs: &[char]) -> Value {
        let s: String = rs.iter().collect();
        if self.mode == Mode::String {
            return Value::str(s);
        }
        if s.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if s.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if s.eq_ignore_ascii_case("null") {
            return Value::Nil;
        }
        if s == "0" {
            return Value::Int(0, IntKind::Int64);
        }
        if !s.is_empty() && !s.starts_with('0') {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
            if !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && let Ok(i) = s.parse::<i64>()
            {
                return Value::Int(i, IntKind::Int64);
            }
        }
        Value::str(s)
    }

    fn key(&mut self, data: &mut Map, level: usize) -> Result<(), Stop> {
        let (k, last) = self.until(&['=', '[', ',', '.']);
        let key: String = k.iter().collect();
        match last {
            None => {
                if k.is_empty() {
                    return Err(Stop::Eof);
                }
                err(format!("key {key:?} has no value"))
            }
            Some('[') => {
                let i = self.key_index()?;
                let list = match data.get(&key) {
                    None => Vec::new(),
                    Some(Value::List(l)) => l.to_vec(),
                    Some(_) => return err(format!("unable to parse key: {key:?} is not a list")),
                };
                let (list, res) = self.list_item(list, i, level);
                set(data, &key, Value::list(list));
                res
            }
            Some('=') => {
                if self.mode == Mode::Json {
                    let v = self.json_value()?;
                    set(data, &key, v);
                    return Ok(());
                }
                match self.val_list() {
                    Ok(vl) => {
                        set(data, &key, Value::list(vl));
                        Ok(())
                    }
                    Err(ListErr::Eof) => {
                        set(data, &key, Value::str(""));
                        Err(Stop::Eof)
                    }
                    Err(ListErr::NotList) => {
                        let (rs, _) = self.until(&[',']);
                        let v = self.typed(&rs);
                        set(data, &key, v);
                        Ok(())
                    }
                    Err(ListErr::Err(e)) => Err(Stop::Err(e)),
                }
            }
            Some(',') => {
                set(data, &key, Value::str(""));
                err(format!("key {key:?} has no value (cannot end with ,)"))
            }
            Some(_) => {
                let level = level + 1;
                if level > MAX_NESTED {
                    return err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED}"
                    ));
                }
                let mut inner = match data.get(&key) {
                    None => Map::new(),
                    Some(Value::Map(m)) => m.to_btree(),
                    Some(_) => return err(format!("unable to parse key: {key:?} is not a map")),
                };
                let e = self.key(&mut inner, level);
                if e.is_ok() && inner.is_empty() {
                    return err(format!("key map {key:?} has no value"));
                }
                if !inner.is_empty() {
                    set(data, &key, Value::map(inner));
                }
                e
            }
        }
    }

    fn key_index(&mut self) -> Result<i64, Stop> {
        let (v, last) = self.until(&[']']);
        if last.is_none() {
            return Err(Stop::Eof);
        }
        let s: String = v.iter().collect();
        s.parse::<i64>().map_err(|_| {
            Stop::Err(SetError(format!(
                "error parsing index: strconv.Atoi: parsing {s:?}: invalid syntax"
            )))
        })
    }

    fn list_item(
        &mut self,
        mut list: Vec<Value>,
        i: i64,
        level: usize,
    ) -> (Vec<Value>, Result<(), Stop>) {
        if i < 0 {
            return (list, err(format!("negative {i} index not allowed")));
        }
        let (k, last) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            let s: String = k.iter().collect();
            return (
                list,
                err(format!("unexpected data at end of array index: {s:?}")),
            );
        }
        match last {
            None => (list, Err(Stop::Eof)),
            Some('=') => {
                let v = if self.mode == Mode::Json {
                    match self.json_value() {
                        Ok(v) => v,
                        Err(e) => return (list, Err(e)),
                    }
                } else {
                    match self.val_list() {
                        Ok(vl) => Value::list(vl),
                        Err(ListErr::Eof) => Value::str(""),
                        Err(ListErr::NotList) => {
                            let (rs, _) = self.until(&[',']);
                            self.typed(&rs)
                        }
                        Err(ListErr::Err(e)) => return (list, Err(Stop::Err(e))),
                    }
                };
                let r = set_index(&mut list, i, v);
                (list, r)
            }
            Some('[') => {
                let next = match self.key_index() {
                    Ok(n) => n,
                    Err(e) => return (list, Err(e)),
                };
                let cur = match list.get(i as usize) {
                    Some(Value::List(l)) => l.to_vec(),
                    Some(Value::Nil) | None => Vec::new(),
                    Some(_) => return (list, err("unable to parse key: not a list")),
                };
                let (inner, res) = self.list_item(cur, next, level);
                if let Err(e) = res {
                    return (list, Err(e));
                }
                let r = set_index(&mut list, i, Value::list(inner));
                (list, r)
            }
            Some(_) => {
                let mut inner = match list.get(i as usize) {
                    Some(Value::Map(m)) => m.to_btree(),
                    _ => Map::new(),
                };
                if let Err(e) = self.key(&mut inner, level) {
                    return (list, Err(e));
                }
                let r = set_index(&mut list, i, Value::map(inner));
                (list, r)
            }
        }
    }

    fn val_list(&mut self) -> Result<Vec<Value>, ListErr> {
        match self.read() {
            None => return Err(ListErr::Eof),
            Some('{') => {}
            Some(_) => {
                self.unread();
                return Err(ListErr::NotList);
            }
        }
        let mut list = Vec::new();
        loop {
            let (rs, last) = self.until(&[',', '}']);
            match last {
                None => {
                    return Err(ListErr::Err(SetError(
                        "list must terminate with '}'".into(),
                    )));
                }
                Some('}') => {
                    if let Some(c) = self.read()
                        && c != ','
                    {
                        self.unread();
                    }
                    list.push(self.typed(&rs));
                    return Ok(list);
                }
                Some(_) => list.push(self.typed(&rs)),
            }
        }
    }

    /// Skips blanks; true at end of input or after a `,`.
    fn empty_val(&mut self) -> bool {
        loop {
            match self.read() {
                None | Some(',') => return true,
                Some(c) if c.is_whitespace() => {}
                Some(_) => {
                    self.unread();
                    return false;
                }
            }
        }
    }

    fn json_value(&mut self) -> Result<Value, Stop> {
        if self.empty_val() {
            return Ok(Value::Nil);
        }
        let rest: String = self.chars[self.pos..].iter().collect();
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<serde_json::Value>();
        let v = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return err(e.to_string()),
            None => return err("unexpected end of JSON input"),
        };
        let used = rest[..stream.byte_offset()].chars().count();
        self.pos += used;
        self.empty_val();
        Ok(json_to_value(&v))
    }
}

enum ListErr {
    Eof,
    NotList,
    Err(SetError),
}

fn set(data: &mut Map, key: &str, v: Value) {
    if !key.is_empty() {
        data.insert(key.to_string(), v);
    }
}

fn set_index(list: &mut Vec<Value>, i: i64, v: Value) -> Result<(), Stop> {
    if i < 0 {
        return err(format!("negative {i} index not allowed"));
    }
    if i > MAX_INDEX {
        return err(format!(
            "index of {i} is greater than maximum supported index of {MAX_INDEX}"
        ));
    }
    let i = i as usize;
    if list.len() <= i {
        list.resize(i + 1, Value::Nil);
    }
    list[i] = v;
    Ok(())
}

/// JSON as Go's `encoding/json` decodes it into `interface{}` (numbers are `float64`).
pub fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s.as_str()),
        serde_json::Value::Array(a) => Value::list(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::map(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

fn parse_into(s: &str, dest: &mut Map, mode: Mode) -> Result<(), SetError> {
    let mut p = Parser {
        chars: s.chars().collect(),
        pos: 0,
        mode,
    };
    loop {
        match p.key(dest, 0) {
            Ok(()) => {}
            Err(Stop::Eof) => return Ok(()),
            Err(Stop::Err(e)) => return Err(e),
        }
    }
}

/// `--set`: parses `s` into `dest` with type inference.
pub fn parse_set(s: &str, dest: &mut Map) -> Result<(), SetError> {
    parse_into(s, dest, Mode::Typed)
}

/// `--set-string`: every value stays a string.
pub fn parse_set_string(s: &str, dest: &mut Map) -> Result<(), SetError> {
    parse_into(s, dest, Mode::String)
}

/// `--set-json`: every value is a JSON document.
pub fn parse_set_json(s: &str, dest: &mut Map) -> Result<(), SetError> {
    parse_into(s, dest, Mode::Json)
}

/// Helm's `MergeMaps` for `-f` files: nested maps merge, everything else is replaced.
pub fn merge_maps(dst: &mut Map, src: &Map) {
    for (k, v) in src {
        if let (Value::Map(sv), Some(Value::Map(dv))) = (v, dst.get(k)) {
            let mut merged = dv.to_btree();
            merge_maps(&mut merged, &sv.snapshot());
            dst.insert(k.clone(), Value::map(merged));
            continue;
        }
        dst.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str, mode: Mode) -> String {
        let mut m = Map::new();
        match parse_into(s, &mut m, mode) {
            Ok(()) => crate::yaml::to_yaml(&Value::map(m)).unwrap_or_default(),
            Err(e) => format!("ERR {e}"),
        }
    }

    #[test]
    fn basics() {
        assert_eq!(
            y("a=1,b.c=two,ports={80,443}", Mode::Typed),
            "a: 1\nb:\n  c: two\nports:\n- 80\n- 443"
        );
        assert_eq!(
            y("a=true,b=NULL,c=0,d=012,e=", Mode::Typed),
            "a: true\nb: null\nc: 0\nd: \"012\"\ne: \"\""
        );
        assert_eq!(y("port=80", Mode::String), "port: \"80\"");
    }

    #[test]
    fn int64_inference() {
        let mut m = Map::new();
        assert!(parse_set("a=5,b=-3,c=1.5", &mut m).is_ok());
        assert_eq!(m.get("a"), Some(&Value::Int(5, IntKind::Int64)));
        assert_eq!(m.get("b"), Some(&Value::Int(-3, IntKind::Int64)));
        assert_eq!(m.get("c"), Some(&Value::str("1.5")));
    }

    #[test]
    fn indexes_and_escapes() {
        assert_eq!(y("a[1]=x,a[0].b=w", Mode::Typed), "a:\n- b: w\n- x");
        assert_eq!(y(r"a\.b=c\,d", Mode::Typed), "a.b: c,d");
        assert_eq!(y("a[0][1]=z", Mode::Typed), "a:\n- - null\n  - z");
    }

    #[test]
    fn json_values() {
        assert_eq!(
            y(r#"a={"b":[1,2]},c=null"#, Mode::Json),
            "a:\n  b:\n  - 1\n  - 2\nc: null"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(y("a", Mode::Typed), "ERR key \"a\" has no value");
        assert_eq!(
            y("a,", Mode::Typed),
            "ERR key \"a\" has no value (cannot end with ,)"
        );
        assert_eq!(
            y("a[-1]=x", Mode::Typed),
            "ERR negative -1 index not allowed"
        );
        assert_eq!(
            y("a[99999999]=x", Mode::Typed),
            "ERR index of 99999999 is greater than maximum supported index of 65536"
        );
        assert_eq!(y("a={x", Mode::Typed), "ERR list must terminate with '}'");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let mut m = Map::new();
            let _ = parse_set(&s, &mut m);
            let _ = parse_set_string(&s, &mut m);
            let _ = parse_set_json(&s, &mut m);
        }

        #[test]
        fn simple_assignments_round_trip(
            pairs in proptest::collection::btree_map("[a-z][a-z0-9]{0,6}", "[a-zA-Z][a-zA-Z ]{0,8}", 1..5)
        ) {
            let expr: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let mut m = Map::new();
            prop_assert!(parse_set_string(&expr.join(","), &mut m).is_ok());
            let want: Map = pairs.iter().map(|(k, v)| (k.clone(), Value::str(v.as_str()))).collect();
            prop_assert_eq!(m, want);
        }
    }
}
