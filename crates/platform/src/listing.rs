//! KubeSphere list conventions: `page`, `limit`, `sortBy`, `ascending`, `name`, `labelSelector`
//! → `{items, totalItems}` (pure).

use std::cmp::Ordering;

use apimachinery::LabelSelector;
use serde_json::{Value, json};

/// Parsed list query parameters.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// 1-based page.
    pub page: usize,
    /// Page size; `None` returns everything.
    pub limit: Option<usize>,
    /// `name` or `createTime` (alias `creationTimestamp`) or any `a.b.c` JSON path.
    pub sort_by: String,
    /// Sort ascending (default descending, newest first, as KubeSphere does).
    pub ascending: bool,
    /// Substring the object name must contain.
    pub name: Option<String>,
    /// Label selector the object must match.
    pub label_selector: LabelSelector,
}

/// A list query that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid list query: {0}")]
pub struct ListQueryError(pub String);

impl ListQuery {
    /// Parses a URL query string.
    pub fn parse(query: &str) -> Result<ListQuery, ListQueryError> {
        let mut q = ListQuery {
            page: 1,
            limit: None,
            sort_by: "createTime".into(),
            ascending: false,
            name: None,
            label_selector: LabelSelector::everything(),
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "page" => {
                    q.page = v.parse::<usize>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                        ListQueryError(format!("page {v:?} is not a positive integer"))
                    })?;
                }
                "limit" => {
                    let n: i64 = v
                        .parse()
                        .map_err(|_| ListQueryError(format!("limit {v:?} is not an integer")))?;
                    q.limit = usize::try_from(n).ok().filter(|n| *n > 0);
                }
                "sortBy" => q.sort_by = v.into_owned(),
                "ascending" => q.ascending = v == "true",
                "name" if !v.is_empty() => q.name = Some(v.into_owned()),
                "labelSelector" => {
                    q.label_selector = LabelSelector::parse(&v)
                        .map_err(|e| ListQueryError(format!("labelSelector: {e}")))?;
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// Whether an object passes the `name` and `labelSelector` filters.
    pub fn matches(&self, obj: &Value) -> bool {
        let meta = &obj["metadata"];
        if let Some(n) = &self.name {
            let name = meta["name"].as_str().unwrap_or_default();
            let display = obj["spec"]["displayName"].as_str().unwrap_or_default();
            if !name.contains(n.as_str()) && !display.contains(n.as_str()) {
                return false;
            }
        }
        self.label_selector.matches(&meta["labels"])
    }

    fn sort_key<'a>(&self, obj: &'a Value) -> &'a Value {
        let path: &str = match self.sort_by.as_str() {
            "name" => "metadata.name",
            "createTime" | "creationTimestamp" | "" => "metadata.creationTimestamp",
            other => other,
        };
        let mut v = obj;
        for part in path.split('.') {
            v = &v[part];
        }
        v
    }

    /// Which of `objects` pass the filters, and the positions of those on the page asked for,
    /// in order: (positions, how many passed). Each object's sort key is looked up once.
    fn select(&self, objects: &[&Value]) -> (Vec<usize>, usize) {
        let mut keyed: Vec<(&Value, &str, usize)> = objects
            .iter()
            .enumerate()
            .filter(|(_, o)| self.matches(o))
            .map(|(i, o)| {
                let name = o["metadata"]["name"].as_str().unwrap_or_default();
                (self.sort_key(o), name, i)
            })
            .collect();
        let total = keyed.len();
        keyed.sort_by(|a, b| {
            let ord = cmp_json(a.0, b.0).then_with(|| a.1.cmp(b.1));
            if self.ascending { ord } else { ord.reverse() }
        });
        let (start, take) = match self.limit {
            Some(limit) => ((self.page - 1).saturating_mul(limit), limit),
            None => (0, total),
        };
        let page = keyed
            .into_iter()
            .skip(start)
            .take(take)
            .map(|(_, _, i)| i)
            .collect();
        (page, total)
    }

    /// Filters, sorts and pages `objects` into `{items, totalItems}`.
    pub fn apply<I>(&self, objects: I) -> Value
    where
        I: IntoIterator<Item = Value>,
    {
        let mut objects: Vec<Value> = objects.into_iter().collect();
        let (page, total) = self.select(&objects.iter().collect::<Vec<_>>());
        let items: Vec<Value> = page
            .into_iter()
            .map(|i| std::mem::take(&mut objects[i]))
            .collect();
        json!({"items": items, "totalItems": total})
    }

    /// [`ListQuery::apply`] over borrowed objects (a cache's): only the page is copied.
    pub fn apply_refs<'a, I>(&self, objects: I) -> Value
    where
        I: IntoIterator<Item = &'a Value>,
    {
        let objects: Vec<&Value> = objects.into_iter().collect();
        let (page, total) = self.select(&objects);
        let items: Vec<Value> = page.into_iter().map(|i| objects[i].clone()).collect();
        json!({"items": items, "totalItems": total})
    }
}

fn cmp_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => a.to_string().cmp(&b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obj(name: &str, ts: &str, env: &str) -> Value {
        json!({"metadata": {"name": name, "creationTimestamp": ts, "labels": {"env": env}}})
    }

    fn names(v: &Value) -> Vec<&str> {
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["metadata"]["name"].as_str())
            .collect()
    }

    fn sample() -> Vec<Value> {
        vec![
            obj("b", "2024-01-02T00:00:00Z", "prod"),
            obj("a", "2024-01-03T00:00:00Z", "dev"),
            obj("c", "2024-01-01T00:00:00Z", "prod"),
        ]
    }

    #[test]
    fn default_is_newest_first_all_items() {
        let q = ListQuery::parse("").unwrap_or_else(|e| panic!("{e}"));
        let out = q.apply(sample());
        assert_eq!(names(&out), ["a", "b", "c"]);
        assert_eq!(out["totalItems"], 3);
    }

    #[test]
    fn sort_page_filter() {
        let q = ListQuery::parse("sortBy=name&ascending=true&limit=2&page=2")
            .unwrap_or_else(|e| panic!("{e}"));
        let out = q.apply(sample());
        assert_eq!(names(&out), ["c"]);
        assert_eq!(out["totalItems"], 3);
        let q = ListQuery::parse("labelSelector=env%3Dprod&sortBy=name")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&q.apply(sample())), ["c", "b"]);
        let q = ListQuery::parse("name=a").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&q.apply(sample())), ["a"]);
    }

    #[test]
    fn borrowed_objects_page_like_owned_ones() {
        let all = sample();
        for query in [
            "",
            "sortBy=name&ascending=true&limit=2&page=2",
            "name=a",
            "limit=1&labelSelector=env%3Dprod",
        ] {
            let q = ListQuery::parse(query).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(q.apply_refs(&all), q.apply(all.clone()), "{query}");
        }
    }

    #[test]
    fn bad_queries_are_errors() {
        assert!(ListQuery::parse("page=0").is_err());
        assert!(ListQuery::parse("limit=x").is_err());
        assert!(ListQuery::parse("labelSelector=a%20in%20(").is_err());
    }

    proptest! {
        #[test]
        fn pages_partition_the_list(n in 0usize..40, limit in 1usize..10) {
            let objs: Vec<Value> = (0..n).map(|i| obj(&format!("o{i:02}"), "2024-01-01T00:00:00Z", "x")).collect();
            let mut seen = Vec::new();
            let mut page = 1;
            loop {
                let q = ListQuery::parse(&format!("limit={limit}&page={page}&sortBy=name")).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let out = q.apply(objs.clone());
                prop_assert_eq!(out["totalItems"].as_u64(), Some(n as u64));
                let got: Vec<String> = names(&out).into_iter().map(String::from).collect();
                if got.is_empty() { break; }
                seen.extend(got);
                page += 1;
            }
            prop_assert_eq!(seen.len(), n);
        }

        #[test]
        fn arbitrary_queries_do_not_panic(q in ".{0,60}") {
            let _ = ListQuery::parse(&q).map(|q| q.apply(vec![obj("a", "t", "b")]));
        }
    }
}
