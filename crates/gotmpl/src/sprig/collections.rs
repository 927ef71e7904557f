//! Sprig's list and dict functions, with Go map sharing (`set` changes the map in place) and
//! `mergo`'s merge rules.

use std::collections::BTreeMap;

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::{Dict, Value};

use super::conv::{empty, int_arg, list_of, str_arg, string_list, strval};
use super::reg;

type R = Result<Value, FuncError>;

fn dict_arg(v: Option<&Value>, fname: &str) -> Result<Dict, FuncError> {
    match v {
        Some(Value::Map(m)) => Ok(m.clone()),
        Some(Value::Nil) | None => Ok(Dict::default()),
        Some(other) => Err(FuncError::msg(format!(
            "wrong type for value; expected map[string]interface {{}}; got {} (in {fname})",
            other.type_name()
        ))),
    }
}

fn must(name: &str, v: Result<Value, String>) -> R {
    let _ = name;
    v.map_err(FuncError::Msg)
}

/// Deep copy: new Go maps all the way down.
pub fn deep_copy(v: &Value) -> Value {
    match v {
        Value::Map(m) => {
            let c: BTreeMap<String, Value> = m
                .snapshot()
                .iter()
                .map(|(k, v)| (k.clone(), deep_copy(v)))
                .collect();
            Value::map(c)
        }
        Value::List(l) => Value::list(l.iter().map(deep_copy).collect()),
        other => other.clone(),
    }
}

/// `mergo.Merge` / `mergo.MergeWithOverwrite` of `src` into `dst`, in place.
pub fn merge_into(dst: &Dict, src: &Dict, overwrite: bool, depth: usize) {
    if depth > 100 || dst.ptr_eq(src) {
        return;
    }
    let src = src.snapshot();
    for (k, sv) in src.iter() {
        let dv = dst.get(k);
        match sv {
            Value::Nil => {
                if overwrite {
                    dst.insert(k.clone(), Value::Nil);
                }
                continue;
            }
            Value::Map(sm) => {
                if let Some(Value::Map(dm)) = &dv {
                    merge_into(dm, sm, overwrite, depth + 1);
                }
            }
            Value::List(_) if overwrite => {
                dst.insert(k.clone(), sv.clone());
            }
            _ => {}
        }
        let dv_now = dst.get(k);
        if let Some(d) = &dv_now
            && !empty(d)
            && (matches!(sv, Value::List(_))
                || (matches!(sv, Value::Map(_)) && matches!(d, Value::Map(_))))
        {
            continue;
        }
        if overwrite || dv.is_none() || dv.as_ref().is_some_and(empty) {
            dst.insert(k.clone(), sv.clone());
        }
    }
}

fn uniq(l: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in l {
        if !out.iter().any(|o| o == v) {
            out.push(v.clone());
        }
    }
    out
}

fn sprig_slice(a: &[Value]) -> Result<Value, String> {
    let l = match a.first() {
        Some(Value::List(l)) => l.clone(),
        Some(v) => {
            return Err(format!(
                "list should be type of slice or array but {}",
                v.kind_name()
            ));
        }
        None => return Err("list should be type of slice or array but invalid".into()),
    };
    let len = l.len() as i64;
    let start = a.get(1).map(super::conv::to_int64).unwrap_or(0);
    let end = a.get(2).map(super::conv::to_int64).unwrap_or(len);
    if start < 0 || end > len || start > end {
        return Err(format!(
            "runtime error: slice bounds out of range [{start}:{end}]"
        ));
    }
    Ok(Value::list(l[start as usize..end as usize].to_vec()))
}

pub(crate) fn register(m: &mut FuncMap) {
    register_dicts(m);
    register_dict_merges(m);
    register_lists(m);
    register_list_queries(m);
}

/// Registers the dictionary functions.
fn register_dicts(m: &mut FuncMap) {
    for name in ["list", "tuple"] {
        reg(m, name, |a| Ok(Value::list(a.to_vec())));
    }
    reg(m, "dict", |a| {
        let mut d = BTreeMap::new();
        let mut i = 0;
        while i < a.len() {
            let k = strval(&a[i]);
            d.insert(k, a.get(i + 1).cloned().unwrap_or_else(|| Value::str("")));
            i += 2;
        }
        Ok(Value::map(d))
    });
    reg(m, "get", |a| {
        let d = dict_arg(a.first(), "get")?;
        Ok(d.get(&str_arg(a.get(1))).unwrap_or_else(|| Value::str("")))
    });
    reg(m, "set", |a| {
        let d = dict_arg(a.first(), "set")?;
        d.insert(str_arg(a.get(1)), a.get(2).cloned().unwrap_or_default());
        Ok(Value::Map(d))
    });
    reg(m, "unset", |a| {
        let d = dict_arg(a.first(), "unset")?;
        d.remove(&str_arg(a.get(1)));
        Ok(Value::Map(d))
    });
    reg(m, "hasKey", |a| {
        Ok(Value::Bool(
            dict_arg(a.first(), "hasKey")?.contains_key(&str_arg(a.get(1))),
        ))
    });
    reg(m, "pluck", |a| {
        let key = str_arg(a.first());
        let mut out = Vec::new();
        for d in a.iter().skip(1) {
            if let Some(v) = dict_arg(Some(d), "pluck")?.get(&key) {
                out.push(v);
            }
        }
        Ok(Value::list(out))
    });
    reg(m, "keys", |a| {
        let mut out = Vec::new();
        for d in a {
            out.extend(dict_arg(Some(d), "keys")?.snapshot().keys().cloned());
        }
        Ok(string_list(out))
    });
    reg(m, "values", |a| {
        Ok(Value::list(
            dict_arg(a.first(), "values")?
                .snapshot()
                .values()
                .cloned()
                .collect(),
        ))
    });
    reg(m, "pick", |a| {
        let d = dict_arg(a.first(), "pick")?.snapshot();
        let mut out = BTreeMap::new();
        for k in a.iter().skip(1).map(|k| str_arg(Some(k))) {
            if let Some(v) = d.get(&k) {
                out.insert(k, v.clone());
            }
        }
        Ok(Value::map(out))
    });
    reg(m, "omit", |a| {
        let d = dict_arg(a.first(), "omit")?.snapshot();
        let drop: Vec<String> = a.iter().skip(1).map(|k| str_arg(Some(k))).collect();
        Ok(Value::map(
            d.iter()
                .filter(|(k, _)| !drop.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ))
    });
}

/// Registers the dictionary merging, copying and digging functions.
fn register_dict_merges(m: &mut FuncMap) {
    for (name, overwrite) in [
        ("merge", false),
        ("mustMerge", false),
        ("mergeOverwrite", true),
        ("mustMergeOverwrite", true),
    ] {
        reg(m, name, move |a| {
            let dst = dict_arg(a.first(), "merge")?;
            for s in a.iter().skip(1) {
                let src = dict_arg(Some(s), "merge")?;
                merge_into(&dst, &src, overwrite, 0);
            }
            Ok(Value::Map(dst))
        });
    }
    for name in ["deepCopy", "mustDeepCopy"] {
        reg(m, name, |a| Ok(deep_copy(a.first().unwrap_or(&Value::Nil))));
    }
    reg(m, "dig", |a| {
        if a.len() < 3 {
            return Err(FuncError::msg("dig needs at least three arguments"));
        }
        let mut cur = dict_arg(a.last(), "dig")?;
        let def = a[a.len() - 2].clone();
        let keys = &a[..a.len() - 2];
        for (i, k) in keys.iter().enumerate() {
            let Some(step) = cur.get(&str_arg(Some(k))) else {
                return Ok(def);
            };
            if i == keys.len() - 1 {
                return Ok(step);
            }
            cur = match step {
                Value::Map(m) => m,
                other => {
                    return Err(FuncError::msg(format!(
                        "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                        other.type_name()
                    )));
                }
            };
        }
        Ok(def)
    });
}

/// Registers the list functions.
fn register_lists(m: &mut FuncMap) {
    // Lists. The non-must variants fail the same way (Go panics, the template reports it).
    for (name, fname) in [
        ("append", "push"),
        ("push", "push"),
        ("mustAppend", "push"),
        ("mustPush", "push"),
    ] {
        reg(m, name, move |a| {
            let mut l = list_of(a.first().unwrap_or(&Value::Nil), fname)
                .map_err(|_| cannot("push on", a.first()))?;
            l.push(a.get(1).cloned().unwrap_or_default());
            Ok(Value::list(l))
        });
    }
    for name in ["prepend", "mustPrepend"] {
        reg(m, name, |a| {
            let mut l = list_of(a.first().unwrap_or(&Value::Nil), "prepend")
                .map_err(|_| cannot("prepend on", a.first()))?;
            l.insert(0, a.get(1).cloned().unwrap_or_default());
            Ok(Value::list(l))
        });
    }
    for name in ["first", "mustFirst"] {
        reg(m, name, |a| {
            Ok(get_list(a, "find first on")?
                .first()
                .cloned()
                .unwrap_or_default())
        });
    }
    for name in ["last", "mustLast"] {
        reg(m, name, |a| {
            Ok(get_list(a, "find last on")?
                .last()
                .cloned()
                .unwrap_or_default())
        });
    }
    for name in ["rest", "mustRest"] {
        reg(m, name, |a| {
            let l = get_list(a, "find rest on")?;
            Ok(if l.is_empty() {
                Value::list(vec![])
            } else {
                Value::list(l[1..].to_vec())
            })
        });
    }
    for name in ["initial", "mustInitial"] {
        reg(m, name, |a| {
            let l = get_list(a, "find initial on")?;
            Ok(if l.is_empty() {
                Value::list(vec![])
            } else {
                Value::list(l[..l.len() - 1].to_vec())
            })
        });
    }
    for name in ["reverse", "mustReverse"] {
        reg(m, name, |a| {
            let mut l = get_list(a, "find reverse on")?;
            l.reverse();
            Ok(Value::list(l))
        });
    }
    for name in ["uniq", "mustUniq"] {
        reg(m, name, |a| {
            Ok(Value::list(uniq(&get_list(a, "find uniq on")?)))
        });
    }
    for name in ["compact", "mustCompact"] {
        reg(m, name, |a| {
            Ok(Value::list(
                get_list(a, "compact on")?
                    .into_iter()
                    .filter(|v| !empty(v))
                    .collect(),
            ))
        });
    }
    for name in ["without", "mustWithout"] {
        reg(m, name, |a| {
            let l = get_list(a, "find without on")?;
            let omit = &a[1.min(a.len())..];
            Ok(Value::list(
                l.into_iter().filter(|v| !omit.contains(v)).collect(),
            ))
        });
    }
}

/// Registers the list query and slicing functions.
fn register_list_queries(m: &mut FuncMap) {
    for name in ["has", "mustHas"] {
        reg(m, name, |a| {
            let needle = a.first().cloned().unwrap_or_default();
            match a.get(1) {
                None | Some(Value::Nil) => Ok(Value::Bool(false)),
                Some(Value::List(l)) => Ok(Value::Bool(l.contains(&needle))),
                Some(other) => Err(FuncError::msg(format!(
                    "Cannot find has on type {}",
                    other.kind_name()
                ))),
            }
        });
    }
    for name in ["slice", "mustSlice"] {
        reg(m, name, |a| must("slice", sprig_slice(a)));
    }
    reg(m, "concat", |a| {
        let mut out = Vec::new();
        for l in a {
            match l {
                Value::List(l) => out.extend(l.iter().cloned()),
                Value::Nil => return Err(FuncError::msg(super::conv::NIL_DEREF)),
                other => {
                    return Err(FuncError::msg(format!(
                        "Cannot concat type {} as list",
                        other.kind_name()
                    )));
                }
            }
        }
        Ok(Value::list(out))
    });
    for name in ["chunk", "mustChunk"] {
        reg(m, name, |a| {
            let l = match a.get(1) {
                Some(Value::List(l)) => l.clone(),
                other => return Err(cannot("chunk", other)),
            };
            // Go computes the chunk count in floats; sizes below 1 make a negative length.
            let size = int_arg(a.first());
            if size < 1 {
                return Err(FuncError::msg("runtime error: makeslice: len out of range"));
            }
            let size = size as usize;
            Ok(Value::list(
                l.chunks(size).map(|c| Value::list(c.to_vec())).collect(),
            ))
        });
    }
}

fn cannot(what: &str, v: Option<&Value>) -> FuncError {
    if v.is_none_or(Value::is_nil) {
        return FuncError::msg(super::conv::NIL_DEREF);
    }
    let k = v.map(|v| v.kind_name()).unwrap_or("invalid");
    if what == "chunk" {
        return FuncError::msg(format!("Cannot chunk type {k}"));
    }
    FuncError::msg(format!("Cannot {what} type {k}"))
}

fn get_list(a: &[Value], what: &str) -> Result<Vec<Value>, FuncError> {
    match a.first() {
        Some(Value::List(l)) => Ok(l.as_ref().clone()),
        Some(Value::Bytes(b)) => Ok(b.iter().map(|x| Value::Uint(*x as u64)).collect()),
        other => Err(cannot(what, other)),
    }
}
