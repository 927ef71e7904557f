//! A PromQL evaluator for a documented subset (docs/observability.md, "Monitoring"), over any
//! [`Source`] of raw series; parsing is `promql-parser`'s.
//!
//! Supported: vector selectors with `=`, `!=`, `=~`, `!~` matchers (and `or` groups) and
//! `offset`; range vectors as function arguments; `rate`, `irate`, `increase`, `delta`,
//! `idelta`, `{avg,min,max,sum,count,last}_over_time`, `absent`, `clamp_min`, `clamp_max`,
//! `clamp`, `abs`, `ceil`, `floor`, `round`, `scalar`, `vector`, `time`, `sort`, `sort_desc`,
//! `label_replace`; `sum`, `avg`, `min`, `max`, `count`, `group`, `topk`, `bottomk` with `by` /
//! `without`; arithmetic (`+ - * / % ^`), comparison (with `bool`) and set (`and or unless`)
//! operators between vectors and scalars, with `on` / `ignoring` one-to-one matching; unary
//! minus; parentheses. Anything else (subqueries, `@`, `group_left`, other functions and
//! aggregations) is refused with an error naming it.
//!
//! Every node is evaluated once for all the steps of a query (a value per step and series),
//! as Prometheus does. Work is bounded by [`Limits`]: series per selector, points fetched,
//! steps, and a deadline checked as evaluation goes.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use promql_parser::label::{MatchOp, Matchers};
use promql_parser::parser::{
    AggregateExpr, BinaryExpr, Call, Expr, LabelModifier, Offset, VectorMatchCardinality,
    VectorSelector,
};

use super::store::{LabelFilter, Labels, NAME, SelectError, Selected, Store};

/// How far back an instant selector looks for a sample (Prometheus' default).
pub const LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The expression does not parse.
    #[error("parse error: {0}")]
    Parse(String),
    /// A construct outside the supported subset.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Valid but wrong (types, duplicate series, bad arguments).
    #[error("{0}")]
    Invalid(String),
    /// The query would do more work than allowed.
    #[error("query too large: {0}")]
    TooLarge(String),
    /// The deadline passed.
    #[error("query timed out after {0:?}")]
    Timeout(Duration),
}

/// Bounds on one query's work.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Series one selector may match.
    pub max_series: usize,
    /// Points all selectors together may fetch.
    pub max_points: usize,
    /// Steps of a range query.
    pub max_steps: usize,
    /// Wall-clock budget.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_series: 50_000,
            max_points: 50_000_000,
            max_steps: 11_000,
            timeout: Duration::from_secs(20),
        }
    }
}

/// Where raw series come from.
pub trait Source {
    /// Series whose metric name is `name` (any when `None`) passing `keep`, with their points
    /// in `(from_ms, to_ms]`.
    fn select(
        &self,
        name: Option<&str>,
        keep: &LabelFilter,
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
    ) -> Result<Vec<Selected>, QueryError>;
}

impl Source for Store {
    fn select(
        &self,
        name: Option<&str>,
        keep: &LabelFilter,
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
    ) -> Result<Vec<Selected>, QueryError> {
        Store::select(self, name, keep, from_ms, to_ms, max_series).map_err(|e| match e {
            SelectError::TooManySeries(n) => {
                QueryError::TooLarge(format!("a selector matches more than {n} series"))
            }
        })
    }
}

/// A query's result.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// Series with a value each (instant queries).
    Vector(Vec<(Labels, f64)>),
    /// Series with their points `(ms, value)` (range queries).
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    /// One number (an instant query of a scalar expression).
    Scalar(f64),
    /// A string literal.
    String(String),
}

/// Parses `expr` and checks that it stays inside the supported subset.
pub fn parse(expr: &str) -> Result<Expr, QueryError> {
    let e = promql_parser::parser::parse(expr).map_err(QueryError::Parse)?;
    check(&e)?;
    Ok(e)
}

const RANGE_FUNCTIONS: [&str; 11] = [
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
];
const OTHER_FUNCTIONS: [&str; 14] = [
    "absent",
    "clamp_min",
    "clamp_max",
    "clamp",
    "abs",
    "ceil",
    "floor",
    "round",
    "scalar",
    "vector",
    "time",
    "sort",
    "sort_desc",
    "label_replace",
];
const AGGREGATIONS: [&str; 8] = [
    "sum", "avg", "min", "max", "count", "group", "topk", "bottomk",
];

/// Refuses what the evaluator does not do, naming it.
fn check(e: &Expr) -> Result<(), QueryError> {
    let unsupported = |what: String| Err(QueryError::Unsupported(what));
    match e {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return unsupported(format!("aggregation {op}"));
            }
            check(&a.expr)?;
            if let Some(p) = &a.param {
                check(p)?;
            }
            Ok(())
        }
        Expr::Unary(u) => check(&u.expr),
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier {
                match &m.card {
                    VectorMatchCardinality::ManyToOne(_) => {
                        return unsupported("group_left".into());
                    }
                    VectorMatchCardinality::OneToMany(_) => {
                        return unsupported("group_right".into());
                    }
                    _ => {}
                }
                if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                    return unsupported("fill modifiers".into());
                }
            }
            check(&b.lhs)?;
            check(&b.rhs)
        }
        Expr::Paren(p) => check(&p.expr),
        Expr::Subquery(_) => unsupported("subqueries".into()),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::VectorSelector(v) => check_selector(v),
        Expr::MatrixSelector(m) => check_selector(&m.vs),
        Expr::Call(c) => {
            let name = c.func.name;
            if !RANGE_FUNCTIONS.contains(&name) && !OTHER_FUNCTIONS.contains(&name) {
                return unsupported(format!("function {name}"));
            }
            for a in &c.args.args {
                check(a)?;
            }
            Ok(())
        }
        Expr::Extension(_) => unsupported("extension expressions".into()),
    }
}

fn check_selector(v: &VectorSelector) -> Result<(), QueryError> {
    if v.at.is_some() {
        return Err(QueryError::Unsupported("the @ modifier".into()));
    }
    Ok(())
}

/// Adds `namespace="ns"` to every selector of `expr` (in every `or` group), as prom-label-proxy
/// does, so that what a Prometheus answers stays inside the namespace whatever the selector
/// asked: a user's own `namespace` matcher is kept and can only narrow it further.
pub fn confine(expr: &mut Expr, namespace: &str) {
    fn add(m: &mut Matchers, ns: &str) {
        let forced = promql_parser::label::Matcher::new(MatchOp::Equal, "namespace", ns);
        if m.or_matchers.is_empty() {
            m.matchers.push(forced);
        } else {
            for g in &mut m.or_matchers {
                g.push(forced.clone());
            }
            if !m.matchers.is_empty() {
                m.matchers.push(forced);
            }
        }
    }
    match expr {
        Expr::Aggregate(a) => {
            confine(&mut a.expr, namespace);
            if let Some(p) = &mut a.param {
                confine(p, namespace);
            }
        }
        Expr::Unary(u) => confine(&mut u.expr, namespace),
        Expr::Binary(b) => {
            confine(&mut b.lhs, namespace);
            confine(&mut b.rhs, namespace);
        }
        Expr::Paren(p) => confine(&mut p.expr, namespace),
        Expr::Subquery(s) => confine(&mut s.expr, namespace),
        Expr::VectorSelector(v) => add(&mut v.matchers, namespace),
        Expr::MatrixSelector(m) => add(&mut m.vs.matchers, namespace),
        Expr::Call(c) => {
            for a in &mut c.args.args {
                confine(a, namespace);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// A series with one optional value per step.
#[derive(Debug, Clone)]
struct Row {
    labels: Labels,
    vals: Vec<Option<f64>>,
}

#[derive(Debug, Clone)]
enum Val {
    Vector(Vec<Row>),
    Scalar(Vec<f64>),
    Str(String),
}

struct Ctx<'a> {
    src: &'a dyn Source,
    steps: Vec<i64>,
    limits: Limits,
    deadline: Instant,
    points: usize,
    /// The namespace every selected series must be in, when confined.
    confine: Option<&'a str>,
}

impl Ctx<'_> {
    fn tick(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout(self.limits.timeout));
        }
        Ok(())
    }
}

/// Evaluates `expr` at one time (ms since the epoch).
pub fn instant(
    src: &dyn Source,
    expr: &Expr,
    at_ms: i64,
    limits: Limits,
    confine: Option<&str>,
) -> Result<QueryValue, QueryError> {
    let mut ctx = Ctx {
        src,
        steps: vec![at_ms],
        limits,
        deadline: Instant::now() + limits.timeout,
        points: 0,
        confine,
    };
    Ok(match eval(&mut ctx, expr)? {
        Val::Scalar(v) => QueryValue::Scalar(v.first().copied().unwrap_or(f64::NAN)),
        Val::Str(s) => QueryValue::String(s),
        Val::Vector(rows) => QueryValue::Vector(
            rows.into_iter()
                .filter_map(|r| r.vals.first().copied().flatten().map(|v| (r.labels, v)))
                .collect(),
        ),
    })
}

/// Evaluates `expr` at every step from `start_ms` to `end_ms`; always a matrix.
pub fn range(
    src: &dyn Source,
    expr: &Expr,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    limits: Limits,
    confine: Option<&str>,
) -> Result<QueryValue, QueryError> {
    if step_ms <= 0 {
        return Err(QueryError::Invalid("the step must be positive".into()));
    }
    if end_ms < start_ms {
        return Err(QueryError::Invalid("the end is before the start".into()));
    }
    let n = (end_ms - start_ms) / step_ms + 1;
    if n as u64 > limits.max_steps as u64 {
        return Err(QueryError::TooLarge(format!(
            "{n} steps (at most {}); use a larger step",
            limits.max_steps
        )));
    }
    let steps: Vec<i64> = (0..n).map(|i| start_ms + i * step_ms).collect();
    let mut ctx = Ctx {
        src,
        steps,
        limits,
        deadline: Instant::now() + limits.timeout,
        points: 0,
        confine,
    };
    let val = eval(&mut ctx, expr)?;
    let steps = ctx.steps;
    let zip = |vals: &[Option<f64>]| -> Vec<(i64, f64)> {
        steps
            .iter()
            .zip(vals)
            .filter_map(|(t, v)| v.map(|v| (*t, v)))
            .collect()
    };
    Ok(match val {
        Val::Str(s) => QueryValue::String(s),
        Val::Scalar(v) => {
            let vals: Vec<Option<f64>> = v.into_iter().map(Some).collect();
            QueryValue::Matrix(vec![(Labels::new(), zip(&vals))])
        }
        Val::Vector(rows) => QueryValue::Matrix(
            rows.into_iter()
                .map(|r| (r.labels, zip(&r.vals)))
                .filter(|(_, p)| !p.is_empty())
                .collect(),
        ),
    })
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4),
        Some(Offset::Neg(d)) => -i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4),
        None => 0,
    }
}

fn matches(v: &VectorSelector, labels: &[(&str, &str)], confine: Option<&str>) -> bool {
    let value = |name: &str| {
        labels
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| *v)
    };
    if let Some(ns) = confine
        && value("namespace") != ns
    {
        return false;
    }
    if let Some(n) = &v.name
        && value(NAME) != n
    {
        return false;
    }
    let all = |ms: &[promql_parser::label::Matcher]| ms.iter().all(|m| m.is_match(value(&m.name)));
    if v.matchers.or_matchers.is_empty() {
        all(&v.matchers.matchers)
    } else {
        all(&v.matchers.matchers) && v.matchers.or_matchers.iter().any(|g| all(g))
    }
}

/// The metric name a selector pins, if any (an index lookup instead of a scan).
fn pinned_name(v: &VectorSelector) -> Option<String> {
    if let Some(n) = &v.name {
        return Some(n.clone());
    }
    if v.matchers.or_matchers.is_empty() {
        v.matchers
            .matchers
            .iter()
            .find(|m| m.name == NAME && matches!(m.op, MatchOp::Equal))
            .map(|m| m.value.clone())
    } else {
        None
    }
}

/// Fetches the series of a selector with the points a window of `range_ms` before every step
/// needs.
fn fetch(ctx: &mut Ctx, v: &VectorSelector, range_ms: i64) -> Result<Vec<Selected>, QueryError> {
    ctx.tick()?;
    let off = offset_ms(&v.offset);
    let first = ctx.steps.first().copied().unwrap_or(0) - off - range_ms;
    let last = ctx.steps.last().copied().unwrap_or(0) - off;
    let name = pinned_name(v);
    let confine = ctx.confine;
    let keep = |l: &[(&str, &str)]| matches(v, l, confine);
    let got = ctx
        .src
        .select(name.as_deref(), &keep, first, last, ctx.limits.max_series)?;
    ctx.points += got.iter().map(|s| s.points.len()).sum::<usize>();
    if ctx.points > ctx.limits.max_points {
        return Err(QueryError::TooLarge(format!(
            "more than {} points fetched",
            ctx.limits.max_points
        )));
    }
    Ok(got)
}

fn drop_name(mut l: Labels) -> Labels {
    l.remove(NAME);
    l
}

fn eval(ctx: &mut Ctx, e: &Expr) -> Result<Val, QueryError> {
    ctx.tick()?;
    match e {
        Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; ctx.steps.len()])),
        Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
        Expr::Paren(p) => eval(ctx, &p.expr),
        Expr::Unary(u) => match eval(ctx, &u.expr)? {
            Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
            Val::Vector(rows) => Ok(Val::Vector(
                rows.into_iter()
                    .map(|r| Row {
                        labels: drop_name(r.labels),
                        vals: r.vals.into_iter().map(|v| v.map(|x| -x)).collect(),
                    })
                    .collect(),
            )),
            Val::Str(_) => Err(QueryError::Invalid("unary minus on a string".into())),
        },
        Expr::VectorSelector(v) => {
            let off = offset_ms(&v.offset);
            let series = fetch(ctx, v, LOOKBACK_MS)?;
            let steps = ctx.steps.clone();
            Ok(Val::Vector(
                series
                    .into_iter()
                    .map(|s| Row {
                        vals: instant_values(&s.points, &steps, off),
                        labels: s.labels,
                    })
                    .collect(),
            ))
        }
        Expr::MatrixSelector(_) => Err(QueryError::Invalid(
            "a range vector must be the argument of a function such as rate()".into(),
        )),
        Expr::Subquery(_) => Err(QueryError::Unsupported("subqueries".into())),
        Expr::Extension(_) => Err(QueryError::Unsupported("extension expressions".into())),
        Expr::Call(c) => call(ctx, c),
        Expr::Aggregate(a) => aggregate(ctx, a),
        Expr::Binary(b) => binary(ctx, b),
    }
}

/// The value of a series at each step: its last point in `(t - lookback, t]`.
fn instant_values(points: &[(i64, f64)], steps: &[i64], off: i64) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(steps.len());
    let mut i = 0;
    for t in steps {
        let t = t - off;
        while i < points.len() && points[i].0 <= t {
            i += 1;
        }
        out.push(match i.checked_sub(1).map(|j| points[j]) {
            // NaN is a staleness marker: the series ended.
            Some((pt, v)) if pt > t - LOOKBACK_MS && !v.is_nan() => Some(v),
            _ => None,
        });
    }
    out
}

/// Calls `f` with the points in `(t - range, t]` for each step.
fn windows(
    points: &[(i64, f64)],
    steps: &[i64],
    off: i64,
    range: i64,
    f: impl Fn(&[(i64, f64)], i64) -> Option<f64>,
) -> Vec<Option<f64>> {
    let (mut lo, mut hi) = (0, 0);
    steps
        .iter()
        .map(|t| {
            let t = t - off;
            while hi < points.len() && points[hi].0 <= t {
                hi += 1;
            }
            while lo < hi && points[lo].0 <= t - range {
                lo += 1;
            }
            if lo >= hi {
                None
            } else {
                f(&points[lo..hi], t)
            }
        })
        .collect()
}

/// Prometheus' extrapolated rate / increase / delta.
fn extrapolated(w: &[(i64, f64)], t: i64, range: i64, counter: bool, rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (first, last) = (w[0], w[w.len() - 1]);
    let mut result = last.1 - first.1;
    if counter {
        for p in w.windows(2) {
            if p[1].1 < p[0].1 {
                result += p[0].1;
            }
        }
    }
    let range_start = t - range;
    let mut to_start = (first.0 - range_start) as f64 / 1000.0;
    let to_end = (t - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let avg = sampled / (w.len() - 1) as f64;
    if counter && result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg / 2.0
    };
    let mut factor = interval / sampled;
    if rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

fn instant_delta(w: &[(i64, f64)], rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (a, b) = (w[w.len() - 2], w[w.len() - 1]);
    let mut d = b.1 - a.1;
    if rate {
        if d < 0.0 {
            d = b.1;
        }
        let secs = (b.0 - a.0) as f64 / 1000.0;
        if secs == 0.0 {
            return None;
        }
        return Some(d / secs);
    }
    Some(d)
}

fn range_fn(name: &str, w: &[(i64, f64)], t: i64, range: i64) -> Option<f64> {
    let vals = || w.iter().map(|p| p.1);
    match name {
        "rate" => extrapolated(w, t, range, true, true),
        "increase" => extrapolated(w, t, range, true, false),
        "delta" => extrapolated(w, t, range, false, false),
        "irate" => instant_delta(w, true),
        "idelta" => instant_delta(w, false),
        "avg_over_time" => Some(vals().sum::<f64>() / w.len() as f64),
        "min_over_time" => vals().reduce(f64::min),
        "max_over_time" => vals().reduce(f64::max),
        "sum_over_time" => Some(vals().sum()),
        "count_over_time" => Some(w.len() as f64),
        "last_over_time" => w.last().map(|p| p.1),
        _ => None,
    }
}

fn arg(c: &Call, i: usize) -> Result<&Expr, QueryError> {
    c.args
        .args
        .get(i)
        .map(|b| b.as_ref())
        .ok_or_else(|| QueryError::Invalid(format!("{}() needs argument {}", c.func.name, i + 1)))
}

fn vector_arg(ctx: &mut Ctx, c: &Call, i: usize) -> Result<Vec<Row>, QueryError> {
    match eval(ctx, arg(c, i)?)? {
        Val::Vector(rows) => Ok(rows),
        _ => Err(QueryError::Invalid(format!(
            "argument {} of {}() must be an instant vector",
            i + 1,
            c.func.name
        ))),
    }
}

fn scalar_arg(ctx: &mut Ctx, c: &Call, i: usize) -> Result<Vec<f64>, QueryError> {
    match eval(ctx, arg(c, i)?)? {
        Val::Scalar(v) => Ok(v),
        _ => Err(QueryError::Invalid(format!(
            "argument {} of {}() must be a scalar",
            i + 1,
            c.func.name
        ))),
    }
}

fn string_arg(c: &Call, i: usize) -> Result<String, QueryError> {
    match arg(c, i)? {
        Expr::StringLiteral(s) => Ok(s.val.clone()),
        _ => Err(QueryError::Invalid(format!(
            "argument {} of {}() must be a string",
            i + 1,
            c.func.name
        ))),
    }
}

fn map_rows(rows: Vec<Row>, f: impl Fn(f64) -> f64) -> Val {
    Val::Vector(
        rows.into_iter()
            .map(|r| Row {
                labels: drop_name(r.labels),
                vals: r.vals.into_iter().map(|v| v.map(&f)).collect(),
            })
            .collect(),
    )
}

fn call(ctx: &mut Ctx, c: &Call) -> Result<Val, QueryError> {
    let name = c.func.name;
    let n = ctx.steps.len();
    if RANGE_FUNCTIONS.contains(&name) {
        let Expr::MatrixSelector(m) = arg(c, 0)? else {
            return Err(QueryError::Invalid(format!(
                "{name}() takes a range vector such as m[5m]"
            )));
        };
        let range = i64::try_from(m.range.as_millis()).unwrap_or(i64::MAX / 4);
        let off = offset_ms(&m.vs.offset);
        let series = fetch(ctx, &m.vs, range)?;
        let steps = ctx.steps.clone();
        let keep_name = name == "last_over_time";
        let mut rows = Vec::with_capacity(series.len());
        for mut s in series {
            ctx.tick()?;
            // Staleness markers are not samples.
            s.points.retain(|p| !p.1.is_nan());
            let vals = windows(&s.points, &steps, off, range, |w, t| {
                range_fn(name, w, t, range)
            });
            let labels = if keep_name {
                s.labels
            } else {
                drop_name(s.labels)
            };
            rows.push(Row { labels, vals });
        }
        return Ok(Val::Vector(rows));
    }
    match name {
        "time" => Ok(Val::Scalar(
            ctx.steps.iter().map(|t| *t as f64 / 1000.0).collect(),
        )),
        "abs" => Ok(map_rows(vector_arg(ctx, c, 0)?, f64::abs)),
        "ceil" => Ok(map_rows(vector_arg(ctx, c, 0)?, f64::ceil)),
        "floor" => Ok(map_rows(vector_arg(ctx, c, 0)?, f64::floor)),
        "round" => {
            if c.args.args.len() > 1 {
                return Err(QueryError::Unsupported("round() with a to_nearest".into()));
            }
            // Prometheus rounds half up.
            Ok(map_rows(vector_arg(ctx, c, 0)?, |x| (x + 0.5).floor()))
        }
        "clamp_min" | "clamp_max" => {
            let rows = vector_arg(ctx, c, 0)?;
            let bound = scalar_arg(ctx, c, 1)?;
            let max = name == "clamp_max";
            Ok(Val::Vector(
                rows.into_iter()
                    .map(|r| Row {
                        labels: drop_name(r.labels),
                        vals: r
                            .vals
                            .iter()
                            .zip(&bound)
                            .map(|(v, b)| v.map(|x| if max { x.min(*b) } else { x.max(*b) }))
                            .collect(),
                    })
                    .collect(),
            ))
        }
        "clamp" => {
            let rows = vector_arg(ctx, c, 0)?;
            let lo = scalar_arg(ctx, c, 1)?;
            let hi = scalar_arg(ctx, c, 2)?;
            Ok(Val::Vector(
                rows.into_iter()
                    .map(|r| Row {
                        labels: drop_name(r.labels),
                        vals: (0..n)
                            .map(|i| match r.vals[i] {
                                Some(_) if lo[i] > hi[i] => None,
                                Some(x) => Some(x.max(lo[i]).min(hi[i])),
                                None => None,
                            })
                            .collect(),
                    })
                    .collect(),
            ))
        }
        "scalar" => {
            let rows = vector_arg(ctx, c, 0)?;
            Ok(Val::Scalar(
                (0..n)
                    .map(|i| {
                        let mut present = rows.iter().filter_map(|r| r.vals[i]);
                        match (present.next(), present.next()) {
                            (Some(v), None) => v,
                            _ => f64::NAN,
                        }
                    })
                    .collect(),
            ))
        }
        "vector" => {
            let v = scalar_arg(ctx, c, 0)?;
            Ok(Val::Vector(vec![Row {
                labels: Labels::new(),
                vals: v.into_iter().map(Some).collect(),
            }]))
        }
        "sort" | "sort_desc" => {
            let mut rows = vector_arg(ctx, c, 0)?;
            let desc = name == "sort_desc";
            // Order by the first step's value (sorting only means something for instant queries).
            rows.sort_by(|a, b| {
                let (x, y) = (
                    a.vals.first().copied().flatten().unwrap_or(f64::NAN),
                    b.vals.first().copied().flatten().unwrap_or(f64::NAN),
                );
                let o = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
                if desc { o.reverse() } else { o }
            });
            Ok(Val::Vector(rows))
        }
        "absent" => {
            let rows = vector_arg(ctx, c, 0)?;
            let mut labels = Labels::new();
            if let Expr::VectorSelector(v) = arg(c, 0)? {
                let mut seen: HashMap<&str, usize> = HashMap::new();
                for m in &v.matchers.matchers {
                    if matches!(m.op, MatchOp::Equal) && m.name != NAME {
                        *seen.entry(m.name.as_str()).or_default() += 1;
                        labels.insert(m.name.clone(), m.value.clone());
                    }
                }
                // A label matched twice for equality is left out (Prometheus' rule).
                for (k, count) in seen {
                    if count > 1 {
                        labels.remove(k);
                    }
                }
            }
            Ok(Val::Vector(vec![Row {
                labels,
                vals: (0..n)
                    .map(|i| {
                        if rows.iter().any(|r| r.vals[i].is_some()) {
                            None
                        } else {
                            Some(1.0)
                        }
                    })
                    .collect(),
            }]))
        }
        "label_replace" => {
            let rows = vector_arg(ctx, c, 0)?;
            let dst = string_arg(c, 1)?;
            let replacement = string_arg(c, 2)?;
            let src = string_arg(c, 3)?;
            let regex = string_arg(c, 4)?;
            let re = regex::Regex::new(&format!("^(?s:{regex})$"))
                .map_err(|e| QueryError::Invalid(format!("invalid regular expression: {e}")))?;
            if !is_label_name(&dst) {
                return Err(QueryError::Invalid(format!("invalid label name {dst:?}")));
            }
            let mut out = Vec::with_capacity(rows.len());
            for mut r in rows {
                let value = r.labels.get(&src).cloned().unwrap_or_default();
                if let Some(caps) = re.captures(&value) {
                    let mut res = String::new();
                    caps.expand(&go_template(&replacement), &mut res);
                    if res.is_empty() {
                        r.labels.remove(&dst);
                    } else {
                        r.labels.insert(dst.clone(), res);
                    }
                }
                out.push(r);
            }
            Ok(Val::Vector(out))
        }
        other => Err(QueryError::Unsupported(format!("function {other}"))),
    }
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Go's `$1` / `${1}` expansion syntax is the regex crate's too; only `$$` differs in nothing.
fn go_template(s: &str) -> String {
    s.to_string()
}

fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::new(),
        Some(LabelModifier::Include(ls)) => labels
            .iter()
            .filter(|(k, _)| ls.labels.iter().any(|l| l == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(LabelModifier::Exclude(ls)) => labels
            .iter()
            .filter(|(k, _)| k.as_str() != NAME && !ls.labels.iter().any(|l| l == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn aggregate(ctx: &mut Ctx, a: &AggregateExpr) -> Result<Val, QueryError> {
    let op = a.op.to_string();
    let n = ctx.steps.len();
    let param = match &a.param {
        Some(p) => match eval(ctx, p)? {
            Val::Scalar(v) => Some(v),
            _ => {
                return Err(QueryError::Invalid(format!(
                    "the parameter of {op} must be a scalar"
                )));
            }
        },
        None => None,
    };
    let Val::Vector(rows) = eval(ctx, &a.expr)? else {
        return Err(QueryError::Invalid(format!(
            "{op} aggregates an instant vector"
        )));
    };
    let mut groups: BTreeMap<Labels, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        groups
            .entry(group_labels(&r.labels, &a.modifier))
            .or_default()
            .push(i);
    }
    ctx.tick()?;
    if op == "topk" || op == "bottomk" {
        let k = param.ok_or_else(|| QueryError::Invalid(format!("{op} needs k")))?;
        let mut keep: Vec<Vec<Option<f64>>> = vec![vec![None; n]; rows.len()];
        for members in groups.values() {
            for (i, k) in k.iter().enumerate() {
                let k = if k.is_finite() && *k >= 1.0 {
                    *k as usize
                } else {
                    0
                };
                let mut present: Vec<(usize, f64)> = members
                    .iter()
                    .filter_map(|m| rows[*m].vals[i].map(|v| (*m, v)))
                    .collect();
                present.sort_by(|x, y| {
                    let o = x.1.partial_cmp(&y.1).unwrap_or(std::cmp::Ordering::Equal);
                    if op == "topk" { o.reverse() } else { o }
                });
                for (m, v) in present.into_iter().take(k) {
                    keep[m][i] = Some(v);
                }
            }
        }
        return Ok(Val::Vector(
            rows.into_iter()
                .zip(keep)
                .filter(|(_, v)| v.iter().any(Option::is_some))
                .map(|(r, vals)| Row {
                    labels: r.labels,
                    vals,
                })
                .collect(),
        ));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (labels, members) in groups {
        let vals = (0..n)
            .map(|i| {
                let mut present = members.iter().filter_map(|m| rows[*m].vals[i]).peekable();
                present.peek()?;
                Some(match op.as_str() {
                    "sum" => present.sum(),
                    "avg" => {
                        let (s, c) = present.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
                        s / c as f64
                    }
                    "min" => present.fold(f64::INFINITY, f64::min),
                    "max" => present.fold(f64::NEG_INFINITY, f64::max),
                    "count" => present.count() as f64,
                    _ => 1.0, // group
                })
            })
            .collect();
        out.push(Row { labels, vals });
    }
    Ok(Val::Vector(out))
}

fn arith(op: &str, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        "/" => a / b,
        "%" => a % b,
        "^" => a.powf(b),
        _ => return None,
    })
}

fn compare(op: &str, a: f64, b: f64) -> Option<bool> {
    Some(match op {
        "==" => a == b,
        "!=" => a != b,
        ">" => a > b,
        "<" => a < b,
        ">=" => a >= b,
        "<=" => a <= b,
        _ => return None,
    })
}

/// Applies `op` to a pair of values; `None` drops the point (a false comparison).
fn apply(op: &str, a: f64, b: f64, return_bool: bool, keep: f64) -> Option<f64> {
    if let Some(r) = arith(op, a, b) {
        return Some(r);
    }
    match compare(op, a, b) {
        Some(t) if return_bool => Some(if t { 1.0 } else { 0.0 }),
        Some(true) => Some(keep),
        _ => None,
    }
}

fn signature(labels: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(ls)) => labels
            .iter()
            .filter(|(k, _)| ls.labels.iter().any(|l| l == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(LabelModifier::Exclude(ls)) => labels
            .iter()
            .filter(|(k, _)| k.as_str() != NAME && !ls.labels.iter().any(|l| l == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => drop_name(labels.clone()),
    }
}

fn binary(ctx: &mut Ctx, b: &BinaryExpr) -> Result<Val, QueryError> {
    let op = b.op.to_string();
    let return_bool = b.return_bool();
    let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
    let lhs = eval(ctx, &b.lhs)?;
    let rhs = eval(ctx, &b.rhs)?;
    let n = ctx.steps.len();
    let is_comparison = compare(&op, 0.0, 0.0).is_some();
    let set_op = matches!(op.as_str(), "and" | "or" | "unless");
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => {
            if set_op {
                return Err(QueryError::Invalid(format!("{op} needs vectors")));
            }
            if is_comparison && !return_bool {
                return Err(QueryError::Invalid(
                    "comparisons between scalars must use bool".into(),
                ));
            }
            Ok(Val::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(a, b)| apply(&op, *a, *b, true, *a).unwrap_or(f64::NAN))
                    .collect(),
            ))
        }
        (Val::Vector(rows), Val::Scalar(s)) | (Val::Scalar(s), Val::Vector(rows)) if set_op => {
            let _ = (rows, s);
            Err(QueryError::Invalid(format!(
                "{op} is defined between vectors only"
            )))
        }
        (Val::Vector(rows), Val::Scalar(s)) => Ok(Val::Vector(vector_scalar(
            rows,
            &s,
            &op,
            return_bool,
            false,
        ))),
        (Val::Scalar(s), Val::Vector(rows)) => {
            Ok(Val::Vector(vector_scalar(rows, &s, &op, return_bool, true)))
        }
        (Val::Vector(l), Val::Vector(r)) => {
            ctx.tick()?;
            if set_op {
                return Ok(Val::Vector(set_operation(&op, l, r, &matching, n)));
            }
            vector_vector(l, r, &op, return_bool, &matching, n)
        }
        _ => Err(QueryError::Invalid(format!(
            "operator {op} is not defined on strings"
        ))),
    }
}

fn vector_scalar(
    rows: Vec<Row>,
    s: &[f64],
    op: &str,
    return_bool: bool,
    scalar_left: bool,
) -> Vec<Row> {
    let drop = arith(op, 0.0, 0.0).is_some() || return_bool;
    rows.into_iter()
        .map(|r| Row {
            labels: if drop { drop_name(r.labels) } else { r.labels },
            vals: r
                .vals
                .iter()
                .zip(s)
                .map(|(v, s)| {
                    v.and_then(|v| {
                        if scalar_left {
                            apply(op, *s, v, return_bool, v)
                        } else {
                            apply(op, v, *s, return_bool, v)
                        }
                    })
                })
                .collect(),
        })
        .filter(|r| r.vals.iter().any(Option::is_some))
        .collect()
}

fn set_operation(
    op: &str,
    l: Vec<Row>,
    r: Vec<Row>,
    matching: &Option<LabelModifier>,
    n: usize,
) -> Vec<Row> {
    // Per step, which signatures the right side has.
    let mut right: HashMap<Labels, Vec<bool>> = HashMap::new();
    for row in &r {
        let e = right
            .entry(signature(&row.labels, matching))
            .or_insert_with(|| vec![false; n]);
        for (i, v) in row.vals.iter().enumerate() {
            e[i] |= v.is_some();
        }
    }
    let present = |sig: &Labels, i: usize| right.get(sig).is_some_and(|v| v[i]);
    let mut out = Vec::new();
    let mut left_sigs: HashMap<Labels, Vec<bool>> = HashMap::new();
    for row in l {
        let sig = signature(&row.labels, matching);
        let e = left_sigs
            .entry(sig.clone())
            .or_insert_with(|| vec![false; n]);
        for (i, v) in row.vals.iter().enumerate() {
            e[i] |= v.is_some();
        }
        let vals: Vec<Option<f64>> = row
            .vals
            .iter()
            .enumerate()
            .map(|(i, v)| match op {
                "and" => v.filter(|_| present(&sig, i)),
                "unless" => v.filter(|_| !present(&sig, i)),
                _ => *v,
            })
            .collect();
        out.push(Row {
            labels: row.labels,
            vals,
        });
    }
    if op == "or" {
        for row in r {
            let sig = signature(&row.labels, matching);
            let vals: Vec<Option<f64>> = row
                .vals
                .iter()
                .enumerate()
                .map(|(i, v)| v.filter(|_| !left_sigs.get(&sig).is_some_and(|l| l[i])))
                .collect();
            out.push(Row {
                labels: row.labels,
                vals,
            });
        }
    }
    out.retain(|r| r.vals.iter().any(Option::is_some));
    out
}

fn vector_vector(
    l: Vec<Row>,
    r: Vec<Row>,
    op: &str,
    return_bool: bool,
    matching: &Option<LabelModifier>,
    n: usize,
) -> Result<Val, QueryError> {
    let mut right: HashMap<Labels, Vec<usize>> = HashMap::new();
    for (i, row) in r.iter().enumerate() {
        right
            .entry(signature(&row.labels, matching))
            .or_default()
            .push(i);
    }
    let duplicate =
        |rows: &[&Row]| (0..n).any(|i| rows.iter().filter(|r| r.vals[i].is_some()).count() > 1);
    for members in right.values() {
        let rows: Vec<&Row> = members.iter().map(|m| &r[*m]).collect();
        if rows.len() > 1 && duplicate(&rows) {
            return Err(QueryError::Invalid(
                "found duplicate series for the match group on the right-hand side; \
                 many-to-one matching (group_left) is not supported"
                    .into(),
            ));
        }
    }
    let mut left: HashMap<Labels, Vec<usize>> = HashMap::new();
    for (i, row) in l.iter().enumerate() {
        left.entry(signature(&row.labels, matching))
            .or_default()
            .push(i);
    }
    for members in left.values() {
        let rows: Vec<&Row> = members.iter().map(|m| &l[*m]).collect();
        if rows.len() > 1 && duplicate(&rows) {
            return Err(QueryError::Invalid(
                "found duplicate series for the match group on the left-hand side; \
                 one-to-many matching (group_right) is not supported"
                    .into(),
            ));
        }
    }
    let drop = arith(op, 0.0, 0.0).is_some() || return_bool;
    let mut out = Vec::new();
    for row in &l {
        let sig = signature(&row.labels, matching);
        let Some(partners) = right.get(&sig) else {
            continue;
        };
        let vals: Vec<Option<f64>> = (0..n)
            .map(|i| {
                let a = row.vals[i]?;
                let b = partners.iter().find_map(|p| r[*p].vals[i])?;
                apply(op, a, b, return_bool, a)
            })
            .collect();
        if vals.iter().all(Option::is_none) {
            continue;
        }
        let mut labels = if drop {
            drop_name(row.labels.clone())
        } else {
            row.labels.clone()
        };
        match matching {
            Some(LabelModifier::Include(ls)) => {
                labels.retain(|k, _| ls.labels.iter().any(|l| l == k));
            }
            Some(LabelModifier::Exclude(ls)) => {
                labels.retain(|k, _| !ls.labels.iter().any(|l| l == k));
            }
            None => {}
        }
        out.push(Row { labels, vals });
    }
    Ok(Val::Vector(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MIN: i64 = 60_000;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Two namespaces, three pods; a CPU counter growing at 0.5, 1 and 2 cores; memory gauges;
    /// one sample a minute for an hour (slots 0..=60).
    fn store() -> Store {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let pods = [("a", "p1", 0.5), ("a", "p2", 1.0), ("b", "p3", 2.0)];
        for slot in 0..=60u32 {
            for (ns, pod, cores) in pods {
                let l = labels(&[
                    (NAME, "container_cpu_usage_seconds_total"),
                    ("namespace", ns),
                    ("pod", pod),
                    ("container", "app"),
                ]);
                s.append(&l, slot, cores * 60.0 * f64::from(slot));
                let m = labels(&[
                    (NAME, "container_memory_working_set_bytes"),
                    ("namespace", ns),
                    ("pod", pod),
                    ("container", "app"),
                ]);
                s.append(&m, slot, cores * 1024.0 * 1024.0);
            }
        }
        s
    }

    fn at(s: &Store, q: &str, t: i64) -> Result<QueryValue, QueryError> {
        let e = parse(q)?;
        instant(s, &e, t, Limits::default(), None)
    }

    fn vector(s: &Store, q: &str, t: i64) -> Vec<(Labels, f64)> {
        match at(s, q, t) {
            Ok(QueryValue::Vector(v)) => v,
            other => panic!("{q}: {other:?}"),
        }
    }

    fn by_pod(v: &[(Labels, f64)]) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = v
            .iter()
            .map(|(l, x)| (l.get("pod").cloned().unwrap_or_default(), *x))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6 * b.abs().max(1.0)
    }

    #[test]
    fn selectors_use_every_matcher_kind() {
        let s = store();
        let t = 60 * MIN;
        let q = |m: &str| vector(&s, &format!("container_memory_working_set_bytes{{{m}}}"), t);
        assert_eq!(q(r#"namespace="a""#).len(), 2);
        assert_eq!(q(r#"namespace!="a""#).len(), 1);
        assert_eq!(q(r#"pod=~"p[12]""#).len(), 2);
        assert_eq!(q(r#"pod!~"p[12]""#).len(), 1);
        assert_eq!(q(r#"pod=~"p""#).len(), 0, "regexes are anchored");
        let v = vector(
            &s,
            r#"{__name__="container_memory_working_set_bytes", pod="p3"}"#,
            t,
        );
        assert_eq!(by_pod(&v), vec![("p3".into(), 2.0 * 1024.0 * 1024.0)]);
        // The lookback: 5 minutes after the last sample nothing is left.
        assert!(vector(&s, "container_memory_working_set_bytes", t + 5 * MIN).is_empty());
        assert_eq!(
            vector(&s, "container_memory_working_set_bytes", t + 4 * MIN).len(),
            3
        );
    }

    #[test]
    fn rate_irate_increase_delta() {
        let s = store();
        let t = 60 * MIN;
        let rate = by_pod(&vector(
            &s,
            "rate(container_cpu_usage_seconds_total[5m])",
            t,
        ));
        assert_eq!(rate.len(), 3);
        assert!(
            close(rate[0].1, 0.5) && close(rate[1].1, 1.0) && close(rate[2].1, 2.0),
            "{rate:?}"
        );
        let irate = by_pod(&vector(
            &s,
            "irate(container_cpu_usage_seconds_total[5m])",
            t,
        ));
        assert!(close(irate[2].1, 2.0), "{irate:?}");
        let inc = by_pod(&vector(
            &s,
            "increase(container_cpu_usage_seconds_total[10m])",
            t,
        ));
        assert!(close(inc[0].1, 0.5 * 600.0), "{inc:?}");
        let d = by_pod(&vector(
            &s,
            "delta(container_memory_working_set_bytes[10m])",
            t,
        ));
        assert!(close(d[0].1, 0.0));
        // The metric name is dropped by functions.
        let v = vector(&s, "rate(container_cpu_usage_seconds_total[5m])", t);
        assert!(v.iter().all(|(l, _)| !l.contains_key(NAME)));
    }

    #[test]
    fn a_counter_reset_is_not_a_negative_rate() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let l = labels(&[(NAME, "c"), ("namespace", "a")]);
        for (slot, v) in [(0u32, 100.0), (1, 160.0), (2, 20.0), (3, 80.0)] {
            s.append(&l, slot, v);
        }
        let v = vector(&s, "increase(c[3m])", 3 * MIN);
        assert!(v[0].1 > 0.0, "{v:?}");
    }

    #[test]
    fn aggregations_group_as_asked() {
        let s = store();
        let t = 60 * MIN;
        let v = vector(&s, "sum(rate(container_cpu_usage_seconds_total[5m]))", t);
        assert_eq!(v.len(), 1);
        assert!(v[0].0.is_empty());
        assert!(close(v[0].1, 3.5));
        let mut by_ns = vector(
            &s,
            "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m]))",
            t,
        );
        by_ns.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(by_ns[0].0, labels(&[("namespace", "a")]));
        assert!(close(by_ns[0].1, 1.5) && close(by_ns[1].1, 2.0));
        let without = vector(
            &s,
            "max without (pod, container) (container_memory_working_set_bytes)",
            t,
        );
        assert_eq!(without.len(), 2);
        assert!(
            without
                .iter()
                .all(|(l, _)| l.keys().eq(["namespace"].iter()))
        );
        let count = vector(&s, "count(container_memory_working_set_bytes)", t);
        assert_eq!(count[0].1, 3.0);
        let avg = vector(&s, "avg(container_memory_working_set_bytes)", t);
        assert!(close(avg[0].1, 3.5 / 3.0 * 1024.0 * 1024.0));
        let min = vector(&s, "min(container_memory_working_set_bytes)", t);
        assert!(close(min[0].1, 0.5 * 1024.0 * 1024.0));
        let top = by_pod(&vector(
            &s,
            "topk(2, container_memory_working_set_bytes)",
            t,
        ));
        assert_eq!(
            top.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            ["p2", "p3"]
        );
        let bottom = by_pod(&vector(
            &s,
            "bottomk(1, container_memory_working_set_bytes)",
            t,
        ));
        assert_eq!(bottom[0].0, "p1");
    }

    #[test]
    fn binary_operators_between_vectors_and_scalars() {
        let s = store();
        let t = 60 * MIN;
        let mib = by_pod(&vector(
            &s,
            "container_memory_working_set_bytes / 1024 / 1024",
            t,
        ));
        assert_eq!(
            mib,
            vec![("p1".into(), 0.5), ("p2".into(), 1.0), ("p3".into(), 2.0)]
        );
        let big = by_pod(&vector(
            &s,
            "container_memory_working_set_bytes > 1048576",
            t,
        ));
        assert_eq!(big, vec![("p3".into(), 2.0 * 1048576.0)]);
        let flags = by_pod(&vector(
            &s,
            "container_memory_working_set_bytes >= bool 1048576",
            t,
        ));
        assert_eq!(
            flags.iter().map(|f| f.1).collect::<Vec<_>>(),
            [0.0, 1.0, 1.0]
        );
        // Vector / vector, matched on all labels but the name.
        let ratio = by_pod(&vector(
            &s,
            "rate(container_cpu_usage_seconds_total[5m]) / (container_memory_working_set_bytes / 1048576)",
            t,
        ));
        assert!(ratio.iter().all(|(_, v)| close(*v, 1.0)), "{ratio:?}");
        // on() keeps only the matching labels.
        let on = vector(
            &s,
            "sum by (namespace) (container_memory_working_set_bytes) / on (namespace) count by (namespace) (container_memory_working_set_bytes)",
            t,
        );
        assert_eq!(on.len(), 2);
        // ignoring().
        let ig = vector(
            &s,
            "container_memory_working_set_bytes - ignoring (container) container_memory_working_set_bytes",
            t,
        );
        assert!(
            ig.iter()
                .all(|(l, v)| *v == 0.0 && !l.contains_key("container"))
        );
        assert!(matches!(at(&s, "1 + 2 * 3", t), Ok(QueryValue::Scalar(x)) if x == 7.0));
        assert!(vector(&s, "-container_memory_working_set_bytes", t)[0].1 < 0.0);
    }

    #[test]
    fn set_operators() {
        let s = store();
        let t = 60 * MIN;
        let and = vector(
            &s,
            r#"container_memory_working_set_bytes and container_memory_working_set_bytes{pod="p1"}"#,
            t,
        );
        assert_eq!(by_pod(&and).len(), 1);
        let unless = vector(
            &s,
            r#"container_memory_working_set_bytes unless container_memory_working_set_bytes{pod="p1"}"#,
            t,
        );
        assert_eq!(by_pod(&unless).len(), 2);
        let or = vector(
            &s,
            r#"container_memory_working_set_bytes{pod="p1"} or container_cpu_usage_seconds_total{pod="p2"}"#,
            t,
        );
        assert_eq!(by_pod(&or).len(), 2);
    }

    #[test]
    fn over_time_absent_clamp_label_replace() {
        let s = store();
        let t = 60 * MIN;
        let sum = by_pod(&vector(
            &s,
            "sum_over_time(container_memory_working_set_bytes[3m])",
            t,
        ));
        assert_eq!(sum[0].1, 3.0 * 0.5 * 1048576.0);
        let count = vector(
            &s,
            "count_over_time(container_memory_working_set_bytes[10m])",
            t,
        );
        assert_eq!(count[0].1, 10.0);
        for f in ["avg", "max", "min"] {
            let v = by_pod(&vector(
                &s,
                &format!("{f}_over_time(container_memory_working_set_bytes[10m])"),
                t,
            ));
            assert_eq!(v[1].1, 1048576.0);
        }
        let absent = vector(&s, r#"absent(nothing{namespace="x"})"#, t);
        assert_eq!(absent, vec![(labels(&[("namespace", "x")]), 1.0)]);
        assert!(vector(&s, "absent(container_memory_working_set_bytes)", t).is_empty());
        let clamped = by_pod(&vector(
            &s,
            "clamp_min(container_memory_working_set_bytes, 1048576)",
            t,
        ));
        assert_eq!(clamped[0].1, 1048576.0);
        let clamped = by_pod(&vector(
            &s,
            "clamp_max(container_memory_working_set_bytes, 1048576)",
            t,
        ));
        assert_eq!(clamped[2].1, 1048576.0);
        let replaced = vector(
            &s,
            r#"label_replace(container_memory_working_set_bytes{pod="p1"}, "short", "x-$1", "pod", "p(.*)")"#,
            t,
        );
        assert_eq!(replaced[0].0.get("short").map(String::as_str), Some("x-1"));
    }

    #[test]
    fn range_queries_give_a_point_per_step() {
        let s = store();
        let e = parse("sum(rate(container_cpu_usage_seconds_total[5m]))").expect("parses");
        let got = range(&s, &e, 10 * MIN, 60 * MIN, 5 * MIN, Limits::default(), None);
        let Ok(QueryValue::Matrix(m)) = got else {
            panic!("{got:?}")
        };
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].1.len(), 11);
        assert!(m[0].1.iter().all(|(_, v)| close(*v, 3.5)));
        assert_eq!(m[0].1[0].0, 10 * MIN);
        let too_many = range(&s, &e, 0, 1_000_000 * MIN, 1, Limits::default(), None);
        assert!(matches!(too_many, Err(QueryError::TooLarge(_))));
    }

    #[test]
    fn unsupported_constructs_are_named() {
        for (q, what) in [
            ("rate(m[5m:1m])", "subqueries"),
            ("m @ 100", "@"),
            ("quantile(0.9, m)", "quantile"),
            ("histogram_quantile(0.9, m)", "histogram_quantile"),
            ("a * on(x) group_left b", "group_left"),
        ] {
            match parse(q) {
                Err(QueryError::Unsupported(m)) => assert!(m.contains(what), "{q}: {m}"),
                other => panic!("{q}: {other:?}"),
            }
        }
        assert!(matches!(parse("sum("), Err(QueryError::Parse(_))));
    }

    #[test]
    fn limits_bound_the_work() {
        let s = store();
        let e = parse("container_memory_working_set_bytes").expect("parses");
        let small = Limits {
            max_series: 2,
            ..Limits::default()
        };
        assert!(matches!(
            instant(&s, &e, 60 * MIN, small, None),
            Err(QueryError::TooLarge(_))
        ));
        let few_points = Limits {
            max_points: 3,
            ..Limits::default()
        };
        assert!(matches!(
            instant(&s, &e, 60 * MIN, few_points, None),
            Err(QueryError::TooLarge(_))
        ));
        let no_time = Limits {
            timeout: Duration::ZERO,
            ..Limits::default()
        };
        assert!(matches!(
            instant(&s, &e, 60 * MIN, no_time, None),
            Err(QueryError::Timeout(_))
        ));
    }

    #[test]
    fn confinement_cannot_be_widened() {
        let s = store();
        let t = 60 * MIN;
        for q in [
            r#"container_memory_working_set_bytes{namespace=~".+"}"#,
            r#"container_memory_working_set_bytes{namespace="b"}"#,
            r#"container_memory_working_set_bytes or container_memory_working_set_bytes{namespace="b"}"#,
            r#"{__name__=~".+", namespace="b" or namespace="a"}"#,
            r#"label_replace(container_memory_working_set_bytes{namespace="b"}, "namespace", "a", "", "")"#,
            r#"sum(container_memory_working_set_bytes)"#,
        ] {
            let e = parse(q).expect("parses");
            let got = instant(&s, &e, t, Limits::default(), Some("a"));
            let Ok(QueryValue::Vector(v)) = got else {
                panic!("{q}: {got:?}")
            };
            assert!(
                v.iter()
                    .all(|(l, _)| l.get("pod").map(String::as_str) != Some("p3")),
                "{q}: {v:?}"
            );
            if q.starts_with("sum") {
                assert!(close(v[0].1, 1.5 * 1048576.0));
            }
        }
    }

    #[test]
    fn confine_rewrites_every_selector_for_a_prometheus() {
        let mut e = parse(r#"sum(rate(a{namespace=~".+"}[5m])) + on() b or c{x="1" or y="2"}"#)
            .expect("parses");
        confine(&mut e, "ns1");
        let text = e.to_string();
        assert_eq!(text.matches(r#"namespace="ns1""#).count(), 4, "{text}");
        // The rewritten text still parses.
        assert!(parse(&text).is_ok(), "{text}");
    }
}
