//! Helm's dependency processing (`ProcessDependencies`): aliases, `condition`, `tags`, and
//! `import-values`, applied to a loaded chart before rendering.

use std::collections::{BTreeMap, HashSet};

use gotmpl::Value;

use super::coalesce::{
    CoalesceError, Map, coalesce_tables, coalesce_values, merge_values, path_value, table,
};
use super::semver::is_compatible_range;
use crate::chart::Chart;

/// Enables/disables subcharts by conditions and tags, applies aliases, then imports values.
pub fn process_dependencies(chart: &mut Chart, vals: &Map) -> Result<(), CoalesceError> {
    process_enabled(chart, vals, "")?;
    process_import_values_rec(chart);
    Ok(())
}

fn alias_dependency(charts: &[Chart], dep: &crate::chart::Dependency) -> Option<Chart> {
    let c = charts
        .iter()
        .find(|c| c.name() == dep.name && is_compatible_range(&dep.version, &c.metadata.version))?;
    let mut out = c.clone();
    if !dep.alias.is_empty() {
        out.metadata.name = dep.alias.clone();
    }
    Some(out)
}

fn process_enabled(c: &mut Chart, v: &Map, path: &str) -> Result<(), CoalesceError> {
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let mut chart_deps: Vec<Chart> = c
        .dependencies
        .iter()
        .filter(|existing| {
            !c.metadata.dependencies.iter().any(|req| {
                existing.name() == req.name
                    && is_compatible_range(&req.version, &existing.metadata.version)
            })
        })
        .cloned()
        .collect();
    for req in c.metadata.dependencies.iter_mut() {
        if let Some(cd) = alias_dependency(&c.dependencies, req) {
            chart_deps.push(cd);
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
    }
    c.dependencies = chart_deps;
    for req in c.metadata.dependencies.iter_mut() {
        req.enabled = true;
    }
    let cvals = coalesce_values(c, v)?;
    process_tags(&mut c.metadata.dependencies, &cvals);
    process_conditions(&mut c.metadata.dependencies, &cvals, path);
    let rm: HashSet<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies.retain(|d| !rm.contains(d.name()));
    c.metadata.dependencies.retain(|r| !rm.contains(&r.name));
    for t in c.dependencies.iter_mut() {
        let sub = format!("{path}{}.", t.name());
        process_enabled(t, &cvals, &sub)?;
    }
    Ok(())
}

fn process_tags(reqs: &mut [crate::chart::Dependency], cvals: &Map) {
    let Some(tags) = table(cvals, "tags") else {
        return;
    };
    for r in reqs {
        let (mut has_true, mut has_false) = (false, false);
        for k in &r.tags {
            if let Some(Value::Bool(b)) = tags.get(k) {
                if *b {
                    has_true = true;
                } else {
                    has_false = true;
                }
            }
        }
        if !has_true && has_false {
            r.enabled = false;
        } else if has_true || !has_false {
            r.enabled = true;
        }
    }
}

fn process_conditions(reqs: &mut [crate::chart::Dependency], cvals: &Map, path: &str) {
    for r in reqs {
        for cond in r.condition.trim().split(',') {
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(cvals, &format!("{path}{cond}")) {
                r.enabled = b;
                break;
            }
        }
    }
}

fn path_to_map(path: &str, data: Map) -> Map {
    if path == "." {
        return data;
    }
    let mut cur = data;
    for part in path.split('.').rev() {
        let mut m = BTreeMap::new();
        m.insert(part.to_string(), Value::map(cur));
        cur = m;
    }
    cur
}

fn go_print(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Nil) => "<nil>".into(),
        Some(Value::String(s)) => s.to_string(),
        Some(Value::Float(f)) => gofmt::format_float(*f, 'g', -1),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
    }
}

fn process_import_values(c: &mut Chart) {
    if c.metadata.dependencies.is_empty() {
        return;
    }
    let Ok(cvals) = merge_values(c, &Map::new()) else {
        return;
    };
    let mut b = Map::new();
    for r in c.metadata.dependencies.iter_mut() {
        let mut out = Vec::new();
        for iv in &r.import_values {
            let (child, parent) = match iv {
                Value::Map(m) => (
                    go_print(m.get("child").as_ref()),
                    go_print(m.get("parent").as_ref()),
                ),
                Value::String(s) => (format!("exports.{s}"), ".".to_string()),
                _ => continue,
            };
            let mut entry = BTreeMap::new();
            entry.insert("child".to_string(), Value::str(child.as_str()));
            entry.insert("parent".to_string(), Value::str(parent.as_str()));
            out.push(Value::map(entry));
            if let Some(vv) = table(&cvals, &format!("{}.{child}", r.name)) {
                coalesce_tables(&mut b, path_to_map(&parent, vv), true);
            }
        }
        r.import_values = out;
    }
    let mut vals = cvals;
    coalesce_tables(&mut vals, b, true);
    c.values = vals;
}

fn process_import_values_rec(c: &mut Chart) {
    for d in c.dependencies.iter_mut() {
        process_import_values_rec(d);
    }
    process_import_values(c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Dependency;
    use crate::yaml::parse_map;

    fn chart(name: &str, version: &str, values: &str) -> Chart {
        let mut c = Chart::default();
        c.metadata.name = name.into();
        c.metadata.version = version.into();
        c.values = parse_map(values).unwrap_or_default();
        c
    }

    fn dep(name: &str, condition: &str, tags: &[&str], alias: &str) -> Dependency {
        Dependency {
            name: name.into(),
            version: "*".into(),
            condition: condition.into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            alias: alias.into(),
            ..Dependency::default()
        }
    }

    fn names(c: &Chart) -> Vec<String> {
        let mut n: Vec<String> = c
            .dependencies
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn conditions_and_tags() {
        let mut top = chart("top", "1.0.0", "a: {enabled: false}\ntags: {front: true}\n");
        top.dependencies = vec![
            chart("a", "1.0.0", ""),
            chart("b", "1.0.0", ""),
            chart("c", "1.0.0", ""),
        ];
        top.metadata.dependencies = vec![
            dep("a", "a.enabled", &[], ""),
            dep("b", "", &["front"], ""),
            dep("c", "", &["back"], ""),
        ];
        let user = parse_map("tags: {back: false}").unwrap_or_default();
        assert!(process_dependencies(&mut top, &user).is_ok());
        assert_eq!(names(&top), vec!["b"]);
    }

    #[test]
    fn alias_renames_and_condition_uses_alias() {
        let mut top = chart("top", "1.0.0", "ic: {enabled: true}\n");
        top.dependencies = vec![chart("ingress", "1.0.0", "x: 1\n")];
        top.metadata.dependencies = vec![dep("ingress", "ic.enabled", &[], "ic")];
        assert!(process_dependencies(&mut top, &Map::new()).is_ok());
        assert_eq!(names(&top), vec!["ic"]);
    }

    #[test]
    fn import_values_exports_and_child_parent() {
        let mut top = chart("top", "1.0.0", "");
        top.dependencies = vec![chart(
            "sub",
            "1.0.0",
            "exports: {data: {p: 1}}\ninner: {q: 2}\n",
        )];
        let mut d = dep("sub", "", &[], "");
        let mut cp = BTreeMap::new();
        cp.insert("child".to_string(), Value::str("inner"));
        cp.insert("parent".to_string(), Value::str("fromchild"));
        d.import_values = vec![Value::str("data"), Value::map(cp)];
        top.metadata.dependencies = vec![d];
        assert!(process_dependencies(&mut top, &Map::new()).is_ok());
        assert_eq!(top.values.get("p"), Some(&Value::Float(1.0)));
        let fc = top
            .values
            .get("fromchild")
            .and_then(Value::as_map)
            .and_then(|m| m.get("q").cloned());
        assert_eq!(fc, Some(Value::Float(2.0)));
    }
}
