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
//!
//! Labels are not copied to group or match series: `sum`, `avg`, `min`, `max`, `count` and
//! `group` of a selector (or of a range function of one) read each series straight from the
//! [`Source`] with its labels borrowed ([`Source::visit`]) and fold it into its group at once,
//! a group's labels (only the `by` ones, or none) copied once for the result; the other
//! aggregations and the binary operators key their rows on borrowed labels. Both go through
//! one helper (`Grouping`) picking the labels a `by` / `without` / `on` / `ignoring` looks at.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use promql_parser::label::{MatchOp, Matchers};
use promql_parser::parser::{
    AggregateExpr, BinaryExpr, Call, Expr, LabelModifier, Offset, VectorMatchCardinality,
    VectorSelector,
};

use super::store::{LabelFilter, Labels, NAME, SelectError, Selected, SeriesVisitor, Store};

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
    /// Calls `f` with each series whose metric name is `name` (any when `None`) passing
    /// `keep`: its labels, borrowed from the source as `(name, value)` pairs in any order, and
    /// its points in `(from_ms, to_ms]` (series without any are skipped); `f` returns `false`
    /// to stop. More than `max_series` series is an error.
    fn visit<'s>(
        &'s self,
        name: Option<&str>,
        keep: &LabelFilter,
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
        f: &mut SeriesVisitor<'s, '_>,
    ) -> Result<(), QueryError>;
}

impl Source for Store {
    fn visit<'s>(
        &'s self,
        name: Option<&str>,
        keep: &LabelFilter,
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
        f: &mut SeriesVisitor<'s, '_>,
    ) -> Result<(), QueryError> {
        Store::visit(self, name, keep, from_ms, to_ms, max_series, f).map_err(|e| match e {
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
    /// Whether aggregations of a selector (or of a range function of one) read the series
    /// straight from the source with borrowed labels ([`aggregate`]); off only in tests, to
    /// compare with the path through rows.
    stream: bool,
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
    instant_with(src, expr, at_ms, limits, confine, true)
}

fn instant_with(
    src: &dyn Source,
    expr: &Expr,
    at_ms: i64,
    limits: Limits,
    confine: Option<&str>,
    stream: bool,
) -> Result<QueryValue, QueryError> {
    let mut ctx = Ctx {
        src,
        steps: vec![at_ms],
        limits,
        deadline: Instant::now() + limits.timeout,
        points: 0,
        confine,
        stream,
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
    range_with(
        src,
        expr,
        (start_ms, end_ms, step_ms),
        limits,
        confine,
        true,
    )
}

fn range_with(
    src: &dyn Source,
    expr: &Expr,
    (start_ms, end_ms, step_ms): (i64, i64, i64),
    limits: Limits,
    confine: Option<&str>,
    stream: bool,
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
        stream,
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

/// Calls `f` with each series of a selector — its labels borrowed from the source and its
/// points in the windows of `range_ms` before every step — counting series and points against
/// the limits and checking the deadline as it goes.
fn each_series<'a>(
    ctx: &mut Ctx<'a>,
    v: &VectorSelector,
    range_ms: i64,
    mut f: impl FnMut(&[(&'a str, &'a str)], &[(i64, f64)]),
) -> Result<(), QueryError> {
    ctx.tick()?;
    let off = offset_ms(&v.offset);
    let first = ctx.steps.first().copied().unwrap_or(0) - off - range_ms;
    let last = ctx.steps.last().copied().unwrap_or(0) - off;
    let name = pinned_name(v);
    let confine = ctx.confine;
    let keep = |l: &[(&str, &str)]| matches(v, l, confine);
    let src: &'a dyn Source = ctx.src;
    let (limits, deadline) = (ctx.limits, ctx.deadline);
    let mut points = ctx.points;
    let mut series = 0usize;
    let mut stopped = None;
    src.visit(
        name.as_deref(),
        &keep,
        first,
        last,
        limits.max_series,
        &mut |labels, p| {
            points += p.len();
            if points > limits.max_points {
                stopped = Some(QueryError::TooLarge(format!(
                    "more than {} points fetched",
                    limits.max_points
                )));
                return false;
            }
            series += 1;
            if series.is_multiple_of(1024) && Instant::now() > deadline {
                stopped = Some(QueryError::Timeout(limits.timeout));
                return false;
            }
            f(labels, p);
            true
        },
    )?;
    ctx.points = points;
    stopped.map_or(Ok(()), Err)
}

/// Borrowed labels as an owned label set.
fn owned(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An owned label set as borrowed pairs.
fn borrowed(l: &Labels) -> impl Iterator<Item = (&str, &str)> {
    l.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// Fetches the series of a selector with the points a window of `range_ms` before every step
/// needs, each with its own copy of its labels.
fn fetch(ctx: &mut Ctx, v: &VectorSelector, range_ms: i64) -> Result<Vec<Selected>, QueryError> {
    let mut out = Vec::new();
    each_series(ctx, v, range_ms, |labels, points| {
        out.push(Selected {
            labels: owned(labels),
            points: points.to_vec(),
        });
    })?;
    Ok(out)
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
            let per_step = PerStep::Instant {
                off: offset_ms(&v.offset),
            };
            let series = fetch(ctx, v, LOOKBACK_MS)?;
            let steps = ctx.steps.clone();
            Ok(Val::Vector(
                series
                    .into_iter()
                    .map(|s| {
                        let mut vals = Vec::with_capacity(steps.len());
                        per_step.values(&s.points, &steps, &mut vals);
                        Row {
                            vals,
                            labels: s.labels,
                        }
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

/// How a series' points become a value per step.
#[derive(Debug, Clone, Copy)]
enum PerStep<'e> {
    /// A selector's: the last point within the lookback.
    Instant { off: i64 },
    /// A range function's over the window of `range` before each step.
    Range { func: &'e str, range: i64, off: i64 },
}

impl PerStep<'_> {
    /// Appends the value at each step to `out`.
    fn values(&self, points: &[(i64, f64)], steps: &[i64], out: &mut Vec<Option<f64>>) {
        match *self {
            PerStep::Instant { off } => instant_values(points, steps, off, out),
            PerStep::Range { func, range, off } => {
                let f = |w: &[(i64, f64)], t| range_fn(func, w, t, range);
                // Staleness markers are not samples.
                if points.iter().any(|p| p.1.is_nan()) {
                    let samples: Vec<(i64, f64)> =
                        points.iter().filter(|p| !p.1.is_nan()).copied().collect();
                    windows(&samples, steps, off, range, f, out);
                } else {
                    windows(points, steps, off, range, f, out);
                }
            }
        }
    }

    /// Whether the result keeps the metric name (only a selector and `last_over_time` do).
    fn keeps_name(&self) -> bool {
        match self {
            PerStep::Instant { .. } => true,
            PerStep::Range { func, .. } => *func == "last_over_time",
        }
    }
}

/// The value of a series at each step: its last point in `(t - lookback, t]`.
fn instant_values(points: &[(i64, f64)], steps: &[i64], off: i64, out: &mut Vec<Option<f64>>) {
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
}

/// Calls `f` with the points in `(t - range, t]` for each step, appending what it gives to
/// `out`.
fn windows(
    points: &[(i64, f64)],
    steps: &[i64],
    off: i64,
    range: i64,
    f: impl Fn(&[(i64, f64)], i64) -> Option<f64>,
    out: &mut Vec<Option<f64>>,
) {
    let (mut lo, mut hi) = (0, 0);
    out.extend(steps.iter().map(|t| {
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
    }));
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

fn range_ms(m: &promql_parser::parser::MatrixSelector) -> i64 {
    i64::try_from(m.range.as_millis()).unwrap_or(i64::MAX / 4)
}

fn range_per_step<'e>(func: &'e str, m: &promql_parser::parser::MatrixSelector) -> PerStep<'e> {
    PerStep::Range {
        func,
        range: range_ms(m),
        off: offset_ms(&m.vs.offset),
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
        return range_call(ctx, c);
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
        "clamp_min" | "clamp_max" => clamp_one_side(ctx, c, name),
        "clamp" => clamp(ctx, c),
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
        "absent" => absent(ctx, c),
        "label_replace" => label_replace(ctx, c),
        other => Err(QueryError::Unsupported(format!("function {other}"))),
    }
}

/// A function over a range vector (`rate(m[5m])`…), evaluated per step.
fn range_call(ctx: &mut Ctx, c: &Call) -> Result<Val, QueryError> {
    let name = c.func.name;
    let Expr::MatrixSelector(m) = arg(c, 0)? else {
        return Err(QueryError::Invalid(format!(
            "{name}() takes a range vector such as m[5m]"
        )));
    };
    let per_step = range_per_step(name, m);
    let series = fetch(ctx, &m.vs, range_ms(m))?;
    let steps = ctx.steps.clone();
    let keep_name = per_step.keeps_name();
    let mut rows = Vec::with_capacity(series.len());
    for s in series {
        ctx.tick()?;
        let mut vals = Vec::with_capacity(steps.len());
        per_step.values(&s.points, &steps, &mut vals);
        let labels = if keep_name {
            s.labels
        } else {
            drop_name(s.labels)
        };
        rows.push(Row { labels, vals });
    }
    Ok(Val::Vector(rows))
}

/// `clamp_min` and `clamp_max`.
fn clamp_one_side(ctx: &mut Ctx, c: &Call, name: &str) -> Result<Val, QueryError> {
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

/// `clamp(v, lo, hi)`: no sample where lo > hi, as Prometheus.
fn clamp(ctx: &mut Ctx, c: &Call) -> Result<Val, QueryError> {
    let n = ctx.steps.len();
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

/// `absent(v)`: 1 with the selector's equality labels where `v` has no sample.
fn absent(ctx: &mut Ctx, c: &Call) -> Result<Val, QueryError> {
    let n = ctx.steps.len();
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

/// `label_replace(v, dst, replacement, src, regex)`.
fn label_replace(ctx: &mut Ctx, c: &Call) -> Result<Val, QueryError> {
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

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Go's `$1` / `${1}` expansion syntax is the regex crate's too; only `$$` differs in nothing.
fn go_template(s: &str) -> String {
    s.to_string()
}

/// Which labels of a series an aggregation's `by` / `without` or a vector match's `on` /
/// `ignoring` looks at. The one place labels are picked for grouping and matching: the key is
/// built from borrowed labels, so grouping or matching series copies no label.
#[derive(Debug, Clone, Copy)]
enum Grouping<'m> {
    /// No label (an aggregation without `by` / `without`).
    Nothing,
    /// Every label but the metric name (a vector match without `on` / `ignoring`).
    AllButName,
    /// These labels (`by`, `on`).
    Only(&'m [String]),
    /// Every label but these and the metric name (`without`, `ignoring`).
    AllBut(&'m [String]),
}

/// A grouping or matching key: `(name, value)` pairs borrowed from a series, sorted by name
/// (so keys compare as the label sets they stand for).
type Key<'a> = Vec<(&'a str, &'a str)>;

impl<'m> Grouping<'m> {
    fn aggregation(m: &'m Option<LabelModifier>) -> Grouping<'m> {
        match m {
            None => Grouping::Nothing,
            Some(LabelModifier::Include(ls)) => Grouping::Only(&ls.labels),
            Some(LabelModifier::Exclude(ls)) => Grouping::AllBut(&ls.labels),
        }
    }

    fn matching(m: &'m Option<LabelModifier>) -> Grouping<'m> {
        match m {
            None => Grouping::AllButName,
            Some(LabelModifier::Include(ls)) => Grouping::Only(&ls.labels),
            Some(LabelModifier::Exclude(ls)) => Grouping::AllBut(&ls.labels),
        }
    }

    fn keeps(&self, label: &str) -> bool {
        match self {
            Grouping::Nothing => false,
            Grouping::AllButName => label != NAME,
            Grouping::Only(ls) => ls.iter().any(|l| l == label),
            Grouping::AllBut(ls) => label != NAME && !ls.iter().any(|l| l == label),
        }
    }

    /// Puts the labels of `labels` this grouping keeps into `key` (cleared first).
    fn key<'a>(&self, labels: impl IntoIterator<Item = (&'a str, &'a str)>, key: &mut Key<'a>) {
        key.clear();
        if matches!(self, Grouping::Nothing) {
            return;
        }
        key.extend(labels.into_iter().filter(|(k, _)| self.keeps(k)));
        key.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
}

/// Rows by their key under `g`: the keys borrow from the rows.
fn groups_of<'r>(rows: &'r [Row], g: Grouping) -> HashMap<Key<'r>, Vec<usize>> {
    let mut groups: HashMap<Key<'r>, Vec<usize>> = HashMap::new();
    let mut key = Key::new();
    for (i, r) in rows.iter().enumerate() {
        g.key(borrowed(&r.labels), &mut key);
        match groups.get_mut(key.as_slice()) {
            Some(members) => members.push(i),
            None => {
                groups.insert(key.clone(), vec![i]);
            }
        }
    }
    groups
}

/// The aggregations that fold a group's values one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fold {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Group,
}

impl Fold {
    fn of(op: &str) -> Option<Fold> {
        Some(match op {
            "sum" => Fold::Sum,
            "avg" => Fold::Avg,
            "min" => Fold::Min,
            "max" => Fold::Max,
            "count" => Fold::Count,
            "group" => Fold::Group,
            _ => return None,
        })
    }

    /// The accumulator after a group's first value. Each matches folding from the neutral
    /// element bit for bit: `-0.0 + x` is `x` (Rust's `f64` sum starts at `-0.0`), the average's
    /// sum starts at `0.0`, `min` / `max` start at the infinities (so a NaN is passed over).
    fn first(self, x: f64) -> (f64, usize) {
        match self {
            Fold::Sum => (x, 1),
            Fold::Avg => (0.0 + x, 1),
            Fold::Min => (f64::INFINITY.min(x), 1),
            Fold::Max => (f64::NEG_INFINITY.max(x), 1),
            Fold::Count | Fold::Group => (0.0, 1),
        }
    }

    fn add(self, (a, n): (f64, usize), x: f64) -> (f64, usize) {
        match self {
            Fold::Sum | Fold::Avg => (a + x, n + 1),
            Fold::Min => (a.min(x), n + 1),
            Fold::Max => (a.max(x), n + 1),
            Fold::Count | Fold::Group => (a, n + 1),
        }
    }

    fn result(self, (a, n): (f64, usize)) -> f64 {
        match self {
            Fold::Sum | Fold::Min | Fold::Max => a,
            Fold::Avg => a / n as f64,
            Fold::Count => n as f64,
            Fold::Group => 1.0,
        }
    }
}

/// A group's accumulated value and count at each step (none before its first value).
type Accumulators = Vec<Option<(f64, usize)>>;

/// An aggregation under way: groups found by their borrowed key, one accumulator per step.
/// Series are added one at a time (from rows or straight from the source), and a group's
/// labels are copied once, when the result is made.
struct Aggregation<'a, 'm> {
    fold: Fold,
    grouping: Grouping<'m>,
    steps: usize,
    index: HashMap<Key<'a>, usize>,
    groups: Vec<(Key<'a>, Accumulators)>,
    key: Key<'a>,
}

impl<'a, 'm> Aggregation<'a, 'm> {
    fn new(fold: Fold, grouping: Grouping<'m>, steps: usize) -> Aggregation<'a, 'm> {
        Aggregation {
            fold,
            grouping,
            steps,
            index: HashMap::new(),
            groups: Vec::new(),
            key: Key::new(),
        }
    }

    /// Adds a series (its labels and a value or none per step).
    fn add(&mut self, labels: impl IntoIterator<Item = (&'a str, &'a str)>, vals: &[Option<f64>]) {
        self.grouping.key(labels, &mut self.key);
        let g = match self.index.get(self.key.as_slice()) {
            Some(g) => *g,
            None => {
                let g = self.groups.len();
                self.index.insert(self.key.clone(), g);
                self.groups.push((self.key.clone(), vec![None; self.steps]));
                g
            }
        };
        let fold = self.fold;
        for (acc, v) in self.groups[g].1.iter_mut().zip(vals) {
            if let Some(x) = *v {
                *acc = Some(match *acc {
                    None => fold.first(x),
                    Some(a) => fold.add(a, x),
                });
            }
        }
    }

    /// The groups in the order of their labels.
    fn finish(self) -> Vec<Row> {
        let fold = self.fold;
        let mut groups = self.groups;
        groups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        groups
            .into_iter()
            .map(|(key, accs)| Row {
                labels: owned(&key),
                vals: accs
                    .into_iter()
                    .map(|a| a.map(|a| fold.result(a)))
                    .collect(),
            })
            .collect()
    }
}

/// An operation between each value of a series and a number, as [`vector_scalar`] does it.
#[derive(Debug, Clone)]
struct ScalarOp {
    op: String,
    number: f64,
    number_left: bool,
    return_bool: bool,
}

impl ScalarOp {
    fn apply(&self, v: f64) -> Option<f64> {
        if self.number_left {
            apply(&self.op, self.number, v, self.return_bool, v)
        } else {
            apply(&self.op, v, self.number, self.return_bool, v)
        }
    }

    fn drops_name(&self) -> bool {
        arith(&self.op, 0.0, 0.0).is_some() || self.return_bool
    }
}

/// What an aggregation can read straight from the source: a selector, how its series' points
/// become values (a selector's or a range function's), then arithmetic or comparisons with
/// numbers (`x > 0`, `2 * rate(x[5m])`), innermost first.
struct Streamed<'e> {
    selector: &'e VectorSelector,
    per_step: PerStep<'e>,
    ops: Vec<ScalarOp>,
}

fn number(e: &Expr) -> Option<f64> {
    match e {
        Expr::Paren(p) => number(&p.expr),
        Expr::NumberLiteral(n) => Some(n.val),
        _ => None,
    }
}

fn streamable(e: &Expr) -> Option<Streamed<'_>> {
    match e {
        Expr::Paren(p) => streamable(&p.expr),
        Expr::VectorSelector(v) => Some(Streamed {
            selector: v,
            per_step: PerStep::Instant {
                off: offset_ms(&v.offset),
            },
            ops: Vec::new(),
        }),
        Expr::Call(c) if RANGE_FUNCTIONS.contains(&c.func.name) => match c.args.args.first() {
            Some(arg) => match arg.as_ref() {
                Expr::MatrixSelector(m) => Some(Streamed {
                    selector: &m.vs,
                    per_step: range_per_step(c.func.name, m),
                    ops: Vec::new(),
                }),
                _ => None,
            },
            None => None,
        },
        Expr::Binary(b) => {
            let op = b.op.to_string();
            if arith(&op, 0.0, 0.0).is_none() && compare(&op, 0.0, 0.0).is_none() {
                return None;
            }
            let (mut inner, number, number_left) = match (number(&b.lhs), number(&b.rhs)) {
                (None, Some(n)) => (streamable(&b.lhs)?, n, false),
                (Some(n), None) => (streamable(&b.rhs)?, n, true),
                _ => return None,
            };
            inner.ops.push(ScalarOp {
                op,
                number,
                number_left,
                return_bool: b.return_bool(),
            });
            Some(inner)
        }
        _ => None,
    }
}

fn aggregate<'a>(ctx: &mut Ctx<'a>, a: &AggregateExpr) -> Result<Val, QueryError> {
    let op = a.op.to_string();
    let n = ctx.steps.len();
    let fold = Fold::of(&op);
    if let Some(fold) = fold
        && ctx.stream
        && let Some(streamed) = streamable(&a.expr)
    {
        // Straight from the source: each series' labels are only borrowed, for its group key.
        let Streamed {
            selector,
            per_step,
            ops,
        } = streamed;
        let range = match per_step {
            PerStep::Instant { .. } => LOOKBACK_MS,
            PerStep::Range { range, .. } => range,
        };
        let steps = ctx.steps.clone();
        let keep_name = per_step.keeps_name() && !ops.iter().any(ScalarOp::drops_name);
        let mut agg = Aggregation::new(fold, Grouping::aggregation(&a.modifier), n);
        let mut vals = Vec::with_capacity(n);
        let got = each_series(ctx, selector, range, |labels, points| {
            vals.clear();
            per_step.values(points, &steps, &mut vals);
            if !ops.is_empty() {
                for v in &mut vals {
                    *v = v.and_then(|x| ops.iter().try_fold(x, |x, op| op.apply(x)));
                }
                // A series left without values is dropped, as vector_scalar drops its row.
                if vals.iter().all(Option::is_none) {
                    return;
                }
            }
            agg.add(
                labels
                    .iter()
                    .copied()
                    .filter(|(k, _)| keep_name || *k != NAME),
                &vals,
            );
        });
        got?;
        ctx.tick()?;
        return Ok(Val::Vector(agg.finish()));
    }
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
    ctx.tick()?;
    let grouping = Grouping::aggregation(&a.modifier);
    if let Some(fold) = fold {
        let mut agg = Aggregation::new(fold, grouping, n);
        for r in &rows {
            agg.add(borrowed(&r.labels), &r.vals);
        }
        return Ok(Val::Vector(agg.finish()));
    }
    // topk / bottomk: the rows themselves, fewer values.
    let k = param.ok_or_else(|| QueryError::Invalid(format!("{op} needs k")))?;
    let mut keep: Vec<Vec<Option<f64>>> = vec![vec![None; n]; rows.len()];
    for members in groups_of(&rows, grouping).values() {
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
    Ok(Val::Vector(
        rows.into_iter()
            .zip(keep)
            .filter(|(_, v)| v.iter().any(Option::is_some))
            .map(|(r, vals)| Row {
                labels: r.labels,
                vals,
            })
            .collect(),
    ))
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

/// Per match key, at which steps `rows` have a value.
fn presence<'r>(rows: &'r [Row], g: Grouping, n: usize) -> HashMap<Key<'r>, Vec<bool>> {
    let mut out: HashMap<Key<'r>, Vec<bool>> = HashMap::new();
    let mut key = Key::new();
    for row in rows {
        g.key(borrowed(&row.labels), &mut key);
        let e = match out.get_mut(key.as_slice()) {
            Some(e) => e,
            None => out.entry(key.clone()).or_insert_with(|| vec![false; n]),
        };
        for (i, v) in row.vals.iter().enumerate() {
            e[i] |= v.is_some();
        }
    }
    out
}

fn set_operation(
    op: &str,
    l: Vec<Row>,
    r: Vec<Row>,
    matching: &Option<LabelModifier>,
    n: usize,
) -> Vec<Row> {
    let g = Grouping::matching(matching);
    let mut key = Key::new();
    // The values kept of each row, worked out while the keys borrow from the rows; the rows
    // are moved into the result afterwards.
    let left_vals: Vec<Vec<Option<f64>>> = if op == "or" {
        l.iter().map(|row| row.vals.clone()).collect()
    } else {
        let right = presence(&r, g, n);
        l.iter()
            .map(|row| {
                g.key(borrowed(&row.labels), &mut key);
                let there = right.get(key.as_slice());
                row.vals
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let present = there.is_some_and(|p| p[i]);
                        v.filter(|_| present == (op == "and"))
                    })
                    .collect()
            })
            .collect()
    };
    let right_vals: Vec<Vec<Option<f64>>> = if op == "or" {
        let left = presence(&l, g, n);
        r.iter()
            .map(|row| {
                g.key(borrowed(&row.labels), &mut key);
                let there = left.get(key.as_slice());
                row.vals
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.filter(|_| !there.is_some_and(|p| p[i])))
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut out: Vec<Row> = l
        .into_iter()
        .zip(left_vals)
        .map(|(row, vals)| Row {
            labels: row.labels,
            vals,
        })
        .collect();
    if op == "or" {
        out.extend(r.into_iter().zip(right_vals).map(|(row, vals)| Row {
            labels: row.labels,
            vals,
        }));
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
    let g = Grouping::matching(matching);
    let duplicate = |rows: &[Row], members: &[usize]| {
        (0..n).any(|i| {
            members
                .iter()
                .filter(|m| rows[**m].vals[i].is_some())
                .count()
                > 1
        })
    };
    let right = groups_of(&r, g);
    if right
        .values()
        .any(|members| members.len() > 1 && duplicate(&r, members))
    {
        return Err(QueryError::Invalid(
            "found duplicate series for the match group on the right-hand side; \
             many-to-one matching (group_left) is not supported"
                .into(),
        ));
    }
    if groups_of(&l, g)
        .values()
        .any(|members| members.len() > 1 && duplicate(&l, members))
    {
        return Err(QueryError::Invalid(
            "found duplicate series for the match group on the left-hand side; \
             one-to-many matching (group_right) is not supported"
                .into(),
        ));
    }
    // The values of each left row against its partners, while the keys borrow from the rows.
    let mut key = Key::new();
    let results: Vec<Option<Vec<Option<f64>>>> = l
        .iter()
        .map(|row| {
            g.key(borrowed(&row.labels), &mut key);
            let partners = right.get(key.as_slice())?;
            let vals: Vec<Option<f64>> = (0..n)
                .map(|i| {
                    let a = row.vals[i]?;
                    let b = partners.iter().find_map(|p| r[*p].vals[i])?;
                    apply(op, a, b, return_bool, a)
                })
                .collect();
            vals.iter().any(Option::is_some).then_some(vals)
        })
        .collect();
    drop(right);
    let drop = arith(op, 0.0, 0.0).is_some() || return_bool;
    let mut out = Vec::new();
    for (row, vals) in l.into_iter().zip(results) {
        let Some(vals) = vals else {
            continue;
        };
        let mut labels = row.labels;
        if drop {
            labels.remove(NAME);
        }
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

    // --- The aggregation read straight from the source, and borrowed-key matching ---

    /// Results with NaN comparing equal to NaN and every other value compared bit for bit.
    fn same(a: &Result<QueryValue, QueryError>, b: &Result<QueryValue, QueryError>) -> bool {
        let bits = |v: &[(Labels, f64)]| -> Vec<(Labels, u64)> {
            v.iter().map(|(l, x)| (l.clone(), x.to_bits())).collect()
        };
        match (a, b) {
            (Ok(QueryValue::Vector(x)), Ok(QueryValue::Vector(y))) => bits(x) == bits(y),
            (Ok(QueryValue::Matrix(x)), Ok(QueryValue::Matrix(y))) => {
                x.len() == y.len()
                    && x.iter().zip(y).all(|(p, q)| {
                        p.0 == q.0
                            && p.1.len() == q.1.len()
                            && p.1
                                .iter()
                                .zip(&q.1)
                                .all(|(u, v)| u.0 == v.0 && u.1.to_bits() == v.1.to_bits())
                    })
            }
            (Ok(QueryValue::Scalar(x)), Ok(QueryValue::Scalar(y))) => x.to_bits() == y.to_bits(),
            (x, y) => x == y,
        }
    }

    /// The query streamed and through rows, instant at `t` and over a range ending at `t`.
    fn both_ways(s: &Store, q: &str, t: i64, confine: Option<&str>) {
        let e = parse(q).expect("parses");
        let l = Limits::default();
        let fast = instant_with(s, &e, t, l, confine, true);
        let rows = instant_with(s, &e, t, l, confine, false);
        assert!(same(&fast, &rows), "{q} at {t}: {fast:?} != {rows:?}");
        let span = (t - 40 * MIN, t, 3 * MIN);
        let fast = range_with(s, &e, span, l, confine, true);
        let rows = range_with(s, &e, span, l, confine, false);
        assert!(same(&fast, &rows), "{q} over a range: {fast:?} != {rows:?}");
    }

    #[test]
    fn streamed_aggregations_equal_the_row_path() {
        let s = store();
        for q in [
            "sum(container_memory_working_set_bytes)",
            "count(container_memory_working_set_bytes)",
            "avg(container_memory_working_set_bytes)",
            "min by (namespace) (container_memory_working_set_bytes)",
            "max without (pod) (container_memory_working_set_bytes)",
            "group by (namespace, container) (container_memory_working_set_bytes)",
            "sum by (__name__) (container_memory_working_set_bytes)",
            "sum by (__name__) (rate(container_cpu_usage_seconds_total[5m]))",
            "sum by (__name__) (last_over_time(container_cpu_usage_seconds_total[5m]))",
            "sum by (namespace) (rate(container_cpu_usage_seconds_total[5m] offset 10m))",
            "sum by (nothing) ((container_memory_working_set_bytes))",
            r#"count({__name__=~"container_.+", pod!="p2"})"#,
            r#"sum(container_memory_working_set_bytes{namespace="b"} offset 70m)"#,
            "count(container_memory_working_set_bytes > 1048576)",
            "count by (namespace) (container_memory_working_set_bytes >= bool 1048576)",
            "sum by (__name__) (container_memory_working_set_bytes > 1048576)",
            "sum by (__name__) ((container_memory_working_set_bytes > 0) / 1024)",
            "max(2 * rate(container_cpu_usage_seconds_total[5m]) - 1)",
            "min without (pod) (1048576 < container_memory_working_set_bytes)",
            "sum(container_memory_working_set_bytes == 0)",
        ] {
            for t in [0, 30 * MIN, 60 * MIN, 63 * MIN, 70 * MIN] {
                both_ways(&s, q, t, None);
                both_ways(&s, q, t, Some("a"));
            }
        }
    }

    #[test]
    fn streamed_aggregations_keep_the_limits() {
        let s = store();
        let e = parse("sum(container_memory_working_set_bytes)").expect("parses");
        let t = 60 * MIN;
        let small = Limits {
            max_series: 2,
            ..Limits::default()
        };
        let few_points = Limits {
            max_points: 3,
            ..Limits::default()
        };
        for stream in [true, false] {
            assert!(matches!(
                instant_with(&s, &e, t, small, None, stream),
                Err(QueryError::TooLarge(m)) if m.contains("series")
            ));
            assert!(matches!(
                instant_with(&s, &e, t, few_points, None, stream),
                Err(QueryError::TooLarge(m)) if m.contains("points")
            ));
        }
        // Two series fit when confined to a namespace holding two.
        assert!(instant_with(&s, &e, t, small, Some("a"), true).is_ok());
    }

    #[test]
    fn grouping_keys_borrow_and_sort_like_label_sets() {
        let l = labels(&[(NAME, "m"), ("b", "2"), ("a", "1"), ("c", "3")]);
        // The store hands labels over in any order: the key comes out sorted.
        let unsorted = [(NAME, "m"), ("c", "3"), ("a", "1"), ("b", "2")];
        let by = vec!["c".to_string(), "a".to_string(), NAME.to_string()];
        let mut key = Key::new();
        Grouping::Only(&by).key(unsorted, &mut key);
        assert_eq!(key, vec![(NAME, "m"), ("a", "1"), ("c", "3")]);
        Grouping::AllBut(&by).key(unsorted, &mut key);
        assert_eq!(key, vec![("b", "2")]);
        Grouping::AllButName.key(borrowed(&l), &mut key);
        assert_eq!(key, vec![("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(owned(&key), drop_name(l.clone()));
        Grouping::Nothing.key(borrowed(&l), &mut key);
        assert!(key.is_empty());
        // Keys order as the label sets they stand for do.
        let sets = [
            labels(&[("a", "1")]),
            labels(&[("a", "1"), ("b", "0")]),
            labels(&[("a", "10")]),
            labels(&[("a", "2")]),
            labels(&[("b", "0")]),
        ];
        for x in &sets {
            for y in &sets {
                let (kx, ky): (Key, Key) = (borrowed(x).collect(), borrowed(y).collect());
                assert_eq!(kx.cmp(&ky), x.cmp(y), "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn matching_errors_and_label_results_are_unchanged() {
        let s = store();
        let t = 60 * MIN;
        // Two series on the right per namespace: many-to-one is refused.
        let many = at(
            &s,
            "sum by (namespace) (container_memory_working_set_bytes) / on (namespace) container_memory_working_set_bytes",
            t,
        );
        assert!(
            matches!(&many, Err(QueryError::Invalid(m)) if m.contains("right-hand")),
            "{many:?}"
        );
        let one_to_many = at(
            &s,
            "container_memory_working_set_bytes / on (namespace) sum by (namespace) (container_memory_working_set_bytes)",
            t,
        );
        assert!(
            matches!(&one_to_many, Err(QueryError::Invalid(m)) if m.contains("left-hand")),
            "{one_to_many:?}"
        );
        // A comparison without bool keeps the left side's name and labels; on() keeps only the
        // matched labels; ignoring() drops the ignored ones.
        let cmp = vector(
            &s,
            "container_memory_working_set_bytes > ignoring (container) (container_memory_working_set_bytes * 0)",
            t,
        );
        assert_eq!(cmp.len(), 3);
        assert!(cmp.iter().all(|(l, _)| l.get(NAME).map(String::as_str)
            == Some("container_memory_working_set_bytes")
            && !l.contains_key("container")));
        let share = vector(
            &s,
            "container_memory_working_set_bytes / on (namespace, pod) (rate(container_cpu_usage_seconds_total[5m]) * 1048576)",
            t,
        );
        assert_eq!(share.len(), 3);
        assert!(
            share
                .iter()
                .all(|(l, v)| l.keys().eq(["namespace", "pod"].iter()) && close(*v, 1.0))
        );
        let unless_on = vector(
            &s,
            r#"container_memory_working_set_bytes unless on (namespace) container_memory_working_set_bytes{pod="p3"}"#,
            t,
        );
        assert_eq!(
            by_pod(&unless_on)
                .iter()
                .map(|p| p.0.as_str())
                .collect::<Vec<_>>(),
            ["p1", "p2"]
        );
        let or_ignoring = vector(
            &s,
            r#"container_memory_working_set_bytes{namespace="a"} or ignoring (container) rate(container_cpu_usage_seconds_total[5m])"#,
            t,
        );
        // p3's rate has no left partner (its labels differ only in the name): it is added.
        assert_eq!(or_ignoring.len(), 3, "{or_ignoring:?}");
        assert!(
            or_ignoring
                .iter()
                .any(|(l, _)| l.get("pod").map(String::as_str) == Some("p3")
                    && !l.contains_key(NAME))
        );
    }

    /// The aggregation as it was computed before keys were borrowed: label sets copied per
    /// series into a sorted map, then folded.
    fn reference_aggregate(
        rows: &[(Labels, f64)],
        op: &str,
        g: &Option<(bool, Vec<String>)>,
    ) -> Vec<(Labels, f64)> {
        let mut groups: std::collections::BTreeMap<Labels, Vec<f64>> = Default::default();
        for (l, v) in rows {
            let key: Labels = match g {
                None => Labels::new(),
                Some((true, ls)) => l
                    .iter()
                    .filter(|(k, _)| ls.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                Some((false, ls)) => l
                    .iter()
                    .filter(|(k, _)| k.as_str() != NAME && !ls.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            groups.entry(key).or_default().push(*v);
        }
        groups
            .into_iter()
            .map(|(k, vs)| {
                let it = vs.iter().copied();
                let v = match op {
                    "sum" => it.sum(),
                    "avg" => {
                        let (s, c) = it.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
                        s / c as f64
                    }
                    "min" => it.fold(f64::INFINITY, f64::min),
                    "max" => it.fold(f64::NEG_INFINITY, f64::max),
                    "count" => it.count() as f64,
                    _ => 1.0,
                };
                (k, v)
            })
            .collect()
    }

    /// Vector matching as it was computed before keys were borrowed (instant vectors).
    fn reference_binary(
        l: &[(Labels, f64)],
        r: &[(Labels, f64)],
        op: &str,
        return_bool: bool,
        m: &Option<(bool, Vec<String>)>,
    ) -> Result<Vec<(Labels, f64)>, ()> {
        let sig = |x: &Labels| -> Labels {
            match m {
                None => drop_name(x.clone()),
                Some((true, ls)) => x
                    .iter()
                    .filter(|(k, _)| ls.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                Some((false, ls)) => x
                    .iter()
                    .filter(|(k, _)| k.as_str() != NAME && !ls.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }
        };
        let rs: Vec<Labels> = r.iter().map(|x| sig(&x.0)).collect();
        let ls: Vec<Labels> = l.iter().map(|x| sig(&x.0)).collect();
        if matches!(op, "and" | "or" | "unless") {
            let mut out: Vec<(Labels, f64)> = Vec::new();
            for (x, s) in l.iter().zip(&ls) {
                let there = rs.contains(s);
                if op == "or" || there == (op == "and") {
                    out.push(x.clone());
                }
            }
            if op == "or" {
                out.extend(
                    r.iter()
                        .zip(&rs)
                        .filter(|(_, s)| !ls.contains(s))
                        .map(|(x, _)| x.clone()),
                );
            }
            return Ok(out);
        }
        let dup = |sigs: &[Labels]| sigs.iter().enumerate().any(|(i, s)| sigs[..i].contains(s));
        if dup(&rs) || dup(&ls) {
            return Err(());
        }
        let drop = arith(op, 0.0, 0.0).is_some() || return_bool;
        let mut out = Vec::new();
        for (x, s) in l.iter().zip(&ls) {
            let Some(j) = rs.iter().position(|y| y == s) else {
                continue;
            };
            let Some(v) = apply(op, x.1, r[j].1, return_bool, x.1) else {
                continue;
            };
            let mut labels = if drop {
                drop_name(x.0.clone())
            } else {
                x.0.clone()
            };
            match m {
                Some((true, keep)) => labels.retain(|k, _| keep.contains(k)),
                Some((false, ignore)) => labels.retain(|k, _| !ignore.contains(k)),
                None => {}
            }
            out.push((labels, v));
        }
        Ok(out)
    }

    /// Namespace, pod, phase and tier picks, and a value or none per slot.
    type RandomSeries = (u8, u8, u8, u8, Vec<Option<i8>>);

    /// A random store: series of two metrics over a few namespaces, pods, phases and an
    /// optional label, with gaps, staleness and values of any sign (zeros of both signs).
    fn random_store(series: &[RandomSeries]) -> Store {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let slots = series.iter().map(|x| x.4.len()).max().unwrap_or(0);
        for slot in 0..slots {
            for (ns, pod, phase, tier, vals) in series {
                let mut l = labels(&[
                    (NAME, if pod % 3 == 0 { "c_total" } else { "m1" }),
                    ("namespace", ["a", "b", "c"][*ns as usize % 3]),
                    ("pod", &format!("p{}", pod % 6)),
                    (
                        "phase",
                        ["Running", "Pending", "Failed"][*phase as usize % 3],
                    ),
                ]);
                if tier % 3 != 0 {
                    l.insert("tier".into(), ["x", "y"][*tier as usize % 2].into());
                }
                if let Some(Some(v)) = vals.get(slot) {
                    let v = if *v == 0 && tier % 2 == 0 {
                        -0.0
                    } else {
                        f64::from(*v) / 4.0
                    };
                    // The counter only grows (but for its resets).
                    let v = if l[NAME] == "c_total" {
                        f64::from(slot as u32) * v.abs()
                    } else {
                        v
                    };
                    s.append(&l, slot as u32, v);
                }
            }
            s.mark_stale(slot as u32);
        }
        s
    }

    fn grouping_text(g: &Option<(bool, Vec<String>)>, by: &str, without: &str) -> String {
        match g {
            None => String::new(),
            Some((include, ls)) => format!(
                " {} ({}) ",
                if *include { by } else { without },
                ls.join(", ")
            ),
        }
    }

    fn grouping_strategy() -> impl proptest::strategy::Strategy<Value = Option<(bool, Vec<String>)>>
    {
        use proptest::prelude::*;
        let names = proptest::sample::subsequence(
            vec!["namespace", "pod", "phase", "tier", NAME, "missing"],
            0..=3,
        )
        .prop_map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
        proptest::option::of((any::<bool>(), names))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        #[test]
        fn streamed_aggregations_match_rows_and_the_reference(
            series in proptest::collection::vec(
                (0u8..3, 0u8..6, 0u8..3, 0u8..6, proptest::collection::vec(proptest::option::weighted(0.8, -8i8..8), 0..25)),
                0..24,
            ),
            op in proptest::sample::select(vec!["sum", "avg", "min", "max", "count", "group"]),
            inner in proptest::sample::select(vec![
                "m1",
                r#"m1{phase=~"Running|Pending"}"#,
                r#"{__name__=~"m1|c_total", tier!="y"}"#,
                "rate(c_total[5m])",
                "last_over_time(m1[3m])",
                "max_over_time(m1[10m] offset 2m)",
                "(c_total)",
                "m1 > 0",
                "m1 >= bool 0.5",
                "(0.5 < m1) * -2",
                "-1 / rate(c_total[5m])",
            ]),
            g in grouping_strategy(),
            t in 0i64..30,
            confine in proptest::option::of(proptest::sample::select(vec!["a", "b"])),
        ) {
            let s = random_store(&series);
            let q = format!("{op}{}({inner})", grouping_text(&g, "by", "without"));
            let t = t * MIN;
            both_ways(&s, &q, t, confine);
            // Instant results against the aggregation as it was.
            let rows = match instant(&s, &parse(inner).expect("parses"), t, Limits::default(), confine) {
                Ok(QueryValue::Vector(v)) => v,
                other => panic!("{inner}: {other:?}"),
            };
            let want = reference_aggregate(&rows, op, &g);
            let got = instant(&s, &parse(&q).expect("parses"), t, Limits::default(), confine);
            proptest::prop_assert!(same(&got, &Ok(QueryValue::Vector(want.clone()))), "{q}: {got:?} != {want:?}");
        }

        #[test]
        fn vector_matching_matches_the_reference(
            series in proptest::collection::vec(
                (0u8..3, 0u8..6, 0u8..3, 0u8..6, proptest::collection::vec(proptest::option::weighted(0.8, -8i8..8), 0..25)),
                0..24,
            ),
            lhs in proptest::sample::select(vec!["m1", r#"m1{phase="Running"}"#, "sum by (namespace, pod) (m1)", "c_total"]),
            rhs in proptest::sample::select(vec!["m1", r#"m1{tier="x"}"#, "sum by (namespace) (c_total)", "rate(c_total[5m])"]),
            op in proptest::sample::select(vec!["+", "/", "^", ">", "==", "and", "or", "unless"]),
            return_bool in proptest::bool::ANY,
            m in grouping_strategy(),
            t in 0i64..30,
        ) {
            let s = random_store(&series);
            let comparison = matches!(op, ">" | "==");
            let return_bool = return_bool && comparison;
            let q = format!(
                "({lhs}) {op}{}{}({rhs})",
                if return_bool { " bool" } else { "" },
                grouping_text(&m, "on", "ignoring"),
            );
            let t = t * MIN;
            let side = |e: &str| match at(&s, e, t) {
                Ok(QueryValue::Vector(v)) => v,
                other => panic!("{e}: {other:?}"),
            };
            let want = reference_binary(&side(lhs), &side(rhs), op, return_bool, &m);
            let got = at(&s, &q, t);
            match want {
                Ok(want) => proptest::prop_assert!(same(&got, &Ok(QueryValue::Vector(want.clone()))), "{q}: {got:?} != {want:?}"),
                Err(()) => proptest::prop_assert!(matches!(got, Err(QueryError::Invalid(_))), "{q}: {got:?}"),
            }
        }
    }
}
