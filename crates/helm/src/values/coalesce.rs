//! Helm's value coalescing (`chartutil.CoalesceValues` / `MergeValues`): user values over chart
//! defaults, subchart defaults under their names, `global` pushed down, and `null` deleting a
//! key (coalesce mode) or kept (merge mode, used for `import-values`).

use std::collections::BTreeMap;

use gotmpl::Value;

use crate::chart::Chart;

/// A values table.
pub type Map = BTreeMap<String, Value>;

/// A subchart's values are not a table.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("type mismatch on {0}: %!t(string={0})")]
pub struct CoalesceError(pub String);

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

/// `CoalesceValues`: user values over the chart's (nulls delete keys).
pub fn coalesce_values(chart: &Chart, vals: &Map) -> Result<Map, CoalesceError> {
    let mut dest = vals.clone();
    coalesce(chart, &mut dest, false)?;
    Ok(dest)
}

/// `MergeValues`: like [`coalesce_values`] but nulls are kept.
pub fn merge_values(chart: &Chart, vals: &Map) -> Result<Map, CoalesceError> {
    let mut dest = vals.clone();
    coalesce(chart, &mut dest, true)?;
    Ok(dest)
}

fn coalesce(chart: &Chart, dest: &mut Map, merge: bool) -> Result<(), CoalesceError> {
    coalesce_chart_values(chart, dest, merge);
    coalesce_deps(chart, dest, merge)
}

fn coalesce_deps(chart: &Chart, dest: &mut Map, merge: bool) -> Result<(), CoalesceError> {
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        let mut sub_vals = match dest.get(&name) {
            None => Map::new(),
            Some(Value::Map(m)) => m.to_btree(),
            Some(_) => return Err(CoalesceError(name)),
        };
        coalesce_globals(&mut sub_vals, dest);
        coalesce(sub, &mut sub_vals, merge)?;
        dest.insert(name, Value::map(sub_vals));
    }
    Ok(())
}

fn coalesce_globals(dest: &mut Map, src: &Map) {
    let mut dg = match dest.get("global") {
        None => Map::new(),
        Some(Value::Map(m)) => m.to_btree(),
        Some(_) => return,
    };
    let sg = match src.get("global") {
        None => Map::new(),
        Some(Value::Map(m)) => m.to_btree(),
        Some(_) => return,
    };
    for (key, val) in sg {
        if let Value::Map(vm) = &val {
            let mut vv = vm.to_btree();
            match dg.get(&key) {
                None => {
                    dg.insert(key, Value::map(vv));
                }
                Some(Value::Map(destv)) => {
                    coalesce_tables(&mut vv, destv.to_btree(), true);
                    dg.insert(key, Value::map(vv));
                }
                Some(_) => {}
            }
        } else if dg.get(&key).is_some_and(is_table) {
            // A table in the subchart is not replaced by a scalar from the parent.
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert("global".into(), Value::map(dg));
}

fn child_chart_merge_true(chart: &Chart, key: &str, merge: bool) -> bool {
    merge || chart.dependencies.iter().any(|d| d.name() == key)
}

fn coalesce_chart_values(chart: &Chart, v: &mut Map, merge: bool) {
    for (key, val) in &chart.values {
        match v.get_mut(key) {
            Some(Value::Nil) if !merge => {
                v.remove(key);
            }
            Some(Value::Map(dest)) => {
                if let Value::Map(src) = val {
                    let merge = child_chart_merge_true(chart, key, merge);
                    let mut src = src.to_btree();
                    if !merge {
                        clean_nil_values(&mut src);
                    }
                    let mut d = dest.to_btree();
                    coalesce_tables(&mut d, src, merge);
                    v.insert(key.clone(), Value::map(d));
                }
            }
            Some(_) => {}
            None => {
                let mut val = val.clone();
                if !merge {
                    if val.is_nil() {
                        continue;
                    }
                    if let Value::Map(m) = &val {
                        let mut c = m.to_btree();
                        clean_nil_values(&mut c);
                        val = Value::map(c);
                    }
                }
                v.insert(key.clone(), val);
            }
        }
    }
}

/// `CoalesceTables`/`MergeTables`: `dst` wins over `src`; `src` fills the gaps.
pub fn coalesce_tables(dst: &mut Map, mut src: Map, merge: bool) {
    let src_non_nil: std::collections::HashSet<String> = src
        .iter()
        .filter(|(_, v)| !v.is_nil())
        .map(|(k, _)| k.clone())
        .collect();
    for (k, v) in dst.iter() {
        if v.is_nil() {
            src.insert(k.clone(), Value::Nil);
        }
    }
    for (key, val) in src {
        match dst.get_mut(&key) {
            Some(Value::Nil) if !merge && src_non_nil.contains(&key) => {
                dst.remove(&key);
            }
            None => {
                dst.insert(key, val);
            }
            Some(dv) => {
                if let (Value::Map(sv), Value::Map(dm)) = (&val, &*dv) {
                    let mut d = dm.to_btree();
                    coalesce_tables(&mut d, sv.to_btree(), merge);
                    *dv = Value::map(d);
                }
            }
        }
    }
}

fn clean_nil_values(m: &mut Map) {
    m.retain(|_, v| !v.is_nil());
    for v in m.values_mut() {
        if let Value::Map(sub) = v {
            let mut c = sub.to_btree();
            clean_nil_values(&mut c);
            *v = Value::map(c);
        }
    }
}

/// Looks up a dotted path of tables (`Values.Table`); `None` if a step is missing or not a
/// table.
pub fn table(vals: &Map, path: &str) -> Option<Map> {
    let mut cur = vals.clone();
    for part in path.split('.') {
        match cur.get(part) {
            Some(Value::Map(m)) => cur = m.to_btree(),
            _ => return None,
        }
    }
    Some(cur)
}

/// `Values.PathValue`: the non-table value at a dotted path.
pub fn path_value(vals: &Map, path: &str) -> Option<Value> {
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (table(vals, p)?, k),
        None => (vals.clone(), path),
    };
    parent.get(key).filter(|v| !is_table(v)).cloned()
}

/// A copy of `v` sharing no Go map with it (Helm deep-copies values before every render, and
/// templates may mutate maps in place with `set`/`merge`).
pub fn deep_copy(v: &Value) -> Value {
    match v {
        Value::Map(m) => Value::map(
            m.snapshot()
                .iter()
                .map(|(k, v)| (k.clone(), deep_copy(v)))
                .collect(),
        ),
        Value::List(l) => Value::list(l.iter().map(deep_copy).collect()),
        other => other.clone(),
    }
}

/// [`deep_copy`] of a table.
pub fn deep_copy_map(m: &Map) -> Map {
    m.iter().map(|(k, v)| (k.clone(), deep_copy(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_map;

    fn chart(values: &str, deps: Vec<Chart>, name: &str) -> Chart {
        let mut c = Chart::default();
        c.metadata.name = name.into();
        c.values = parse_map(values).unwrap_or_default();
        c.dependencies = deps;
        c
    }

    fn y(v: &Map) -> String {
        crate::yaml::to_yaml(&Value::map(v.clone())).unwrap_or_default()
    }

    #[test]
    fn user_values_win_and_null_deletes() {
        let c = chart("a: 1\nb: {c: 2, d: 3}\ne: 4\n", vec![], "top");
        let user = parse_map("a: 9\nb: {c: null}\ne: null\nf: null\n").unwrap_or_default();
        let out = coalesce_values(&c, &user).unwrap_or_default();
        assert_eq!(y(&out), "a: 9\nb:\n  d: 3\nf: null");
    }

    #[test]
    fn merge_keeps_nulls() {
        let c = chart("a: 1\nb: {c: 2}\n", vec![], "top");
        let user = parse_map("b: {c: null}\n").unwrap_or_default();
        let out = merge_values(&c, &user).unwrap_or_default();
        assert_eq!(y(&out), "a: 1\nb:\n  c: null");
    }

    #[test]
    fn globals_flow_to_subcharts() {
        let sub = chart("x: 1\nglobal: {g: sub, h: 1}\n", vec![], "sub");
        let c = chart("global: {g: top}\nsub: {x: 2}\n", vec![sub], "top");
        let out = coalesce_values(&c, &Map::new()).unwrap_or_default();
        assert_eq!(
            y(&out),
            "global:\n  g: top\nsub:\n  global:\n    g: top\n    h: 1\n  x: 2"
        );
    }

    #[test]
    fn subchart_values_must_be_a_table() {
        let sub = chart("x: 1\n", vec![], "sub");
        let c = chart("sub: 3\n", vec![sub], "top");
        assert!(coalesce_values(&c, &Map::new()).is_err());
    }

    #[test]
    fn path_lookup() {
        let m = parse_map("a: {b: {c: true}}\n").unwrap_or_default();
        assert_eq!(path_value(&m, "a.b.c"), Some(Value::Bool(true)));
        assert_eq!(path_value(&m, "a.b"), None);
    }
}
