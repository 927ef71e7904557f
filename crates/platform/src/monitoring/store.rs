//! The in-process time series store: samples on a fixed grid, compressed, a bounded window.
//!
//! Built for "a day of one-minute samples of every pod of a cluster in well under 100 MiB":
//!
//! * timestamps are implicit: a series is a start slot on the sampling grid plus one record per
//!   slot, so a point costs no time bytes at all;
//! * values are quantised to integers (per metric, see [`scale_for`]: CPU seconds to the
//!   millisecond, bytes to the KiB, everything else to the thousandth) and written as the
//!   zig-zag varint of their delta-of-delta, so a counter growing steadily or a gauge standing
//!   still costs nothing but a run-length record;
//! * label names and values are interned once per store and a series keeps `(u32, u32)` pairs;
//! * the window is bounded: [`Store::compact`] re-encodes series that ran past the retention
//!   and drops series with nothing left in it.
//!
//! Records (each one varint `header`): `abs(q) << 2 | 3` an absolute value (the first one,
//! and the first after a gap), `zigzag(dod) << 2 | 0` one value, `n << 2 | 1` n values whose
//! delta-of-delta is zero, `n << 2 | 2` a gap of n slots without a sample.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A series' labels, `__name__` included, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// Decides on a series from its labels, borrowed as `(name, value)` pairs.
pub type LabelFilter<'a> = dyn Fn(&[(&str, &str)]) -> bool + 'a;

/// Receives a series: its labels borrowed from the store (`(name, value)` pairs, in any order)
/// and its points; returns `false` to stop.
pub type SeriesVisitor<'s, 'f> = dyn FnMut(&[(&'s str, &'s str)], &[(i64, f64)]) -> bool + 'f;

/// The label holding the metric name.
pub const NAME: &str = "__name__";

/// How values of a metric are quantised: the integer stored is `round(value * scale)`.
///
/// CPU seconds are kept to the millisecond (a rate over a minute is then exact to 1/60000 of a
/// core), bytes to the KiB (metrics-server reports KiB anyway), the rest (counts, phases,
/// ratios) to the thousandth.
pub fn scale_for(name: &str) -> f64 {
    if name.ends_with("_bytes") {
        1.0 / 1024.0
    } else {
        1000.0
    }
}

const TAG_VALUE: u64 = 0;
const TAG_RUN: u64 = 1;
const TAG_GAP: u64 = 2;
const TAG_ABS: u64 = 3;

/// Appends to a series' bytes growing them by an eighth at a time (not doubling), so that a
/// day of many small series does not hold a quarter of its memory as spare capacity.
fn put_record(out: &mut Vec<u8>, v: u64) {
    if out.capacity() - out.len() < 10 {
        out.reserve_exact((out.len() / 8).max(16));
    }
    put_varint(out, v);
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift >= 64 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// One series: its labels (interned ids) and its encoded points.
#[derive(Debug, Clone)]
struct Series {
    labels: Box<[(u32, u32)]>,
    scale: f64,
    /// First slot covered.
    start: u32,
    /// Slots covered (gaps included).
    count: u32,
    bytes: Vec<u8>,
    last_q: i64,
    last_delta: i64,
    /// Zero delta-of-delta values not yet written as a run record.
    run: u32,
    /// Whether the series ended with a staleness marker (it was not in the last sample).
    stale: bool,
}

impl Series {
    fn end(&self) -> u32 {
        self.start + self.count
    }

    fn flush_run(&mut self) {
        if self.run > 0 {
            put_record(&mut self.bytes, (u64::from(self.run) << 2) | TAG_RUN);
            self.run = 0;
        }
    }

    fn push_abs(&mut self, q: i64) {
        put_record(&mut self.bytes, (zigzag(q) << 2) | TAG_ABS);
        self.last_q = q;
        self.last_delta = 0;
    }

    /// Marks the series stale at its next slot (Prometheus' staleness marker: queries stop
    /// seeing it at once instead of for the lookback).
    fn push_stale(&mut self) {
        if self.count == 0 || self.stale {
            return;
        }
        self.flush_run();
        put_record(&mut self.bytes, TAG_GAP);
        self.count += 1;
        self.stale = true;
    }

    /// Appends `q` at `slot`; an earlier or repeated slot is ignored (the grid moves forward).
    fn push(&mut self, slot: u32, q: i64) {
        if self.count == 0 {
            self.stale = false;
            self.start = slot;
            self.count = 1;
            self.push_abs(q);
            return;
        }
        let end = self.end();
        if slot < end {
            return;
        }
        if slot > end || self.stale {
            self.stale = false;
            self.flush_run();
            if slot > end {
                put_record(&mut self.bytes, (u64::from(slot - end) << 2) | TAG_GAP);
            }
            self.push_abs(q);
            self.count = slot - self.start + 1;
            return;
        }
        let delta = q.wrapping_sub(self.last_q);
        let dod = delta.wrapping_sub(self.last_delta);
        if dod == 0 {
            self.run += 1;
        } else {
            self.flush_run();
            put_record(&mut self.bytes, (zigzag(dod) << 2) | TAG_VALUE);
        }
        self.last_delta = delta;
        self.last_q = q;
        self.count += 1;
    }

    /// Calls `f(slot, Some(q))` for every stored point and `f(slot, None)` for a staleness
    /// marker, in slot order.
    fn decode(&self, mut f: impl FnMut(u32, Option<i64>)) {
        let mut pos = 0;
        let mut slot = self.start;
        let (mut q, mut delta) = (0i64, 0i64);
        while let Some(h) = get_varint(&self.bytes, &mut pos) {
            let arg = h >> 2;
            match h & 3 {
                TAG_ABS => {
                    q = unzigzag(arg);
                    delta = 0;
                    f(slot, Some(q));
                    slot += 1;
                }
                TAG_VALUE => {
                    delta = delta.wrapping_add(unzigzag(arg));
                    q = q.wrapping_add(delta);
                    f(slot, Some(q));
                    slot += 1;
                }
                TAG_RUN => {
                    for _ in 0..arg {
                        q = q.wrapping_add(delta);
                        f(slot, Some(q));
                        slot += 1;
                    }
                }
                _ if arg == 0 => {
                    f(slot, None);
                    slot += 1;
                }
                _ => slot += arg as u32,
            }
        }
        for _ in 0..self.run {
            q = q.wrapping_add(delta);
            f(slot, Some(q));
            slot += 1;
        }
    }

    /// Like [`Series::decode`] for the slots in `first..=last` only: runs before the window are
    /// skipped arithmetically and decoding stops after it (an instant query over a day of a
    /// constant series reads a few records, not 1,440 points).
    fn decode_window(&self, first: u32, last: u32, mut f: impl FnMut(u32, Option<i64>)) {
        let mut pos = 0;
        let mut slot = self.start;
        let (mut q, mut delta) = (0i64, 0i64);
        while slot <= last {
            let Some(h) = get_varint(&self.bytes, &mut pos) else {
                break;
            };
            let arg = h >> 2;
            match h & 3 {
                TAG_ABS => {
                    q = unzigzag(arg);
                    delta = 0;
                    if slot >= first {
                        f(slot, Some(q));
                    }
                    slot += 1;
                }
                TAG_VALUE => {
                    delta = delta.wrapping_add(unzigzag(arg));
                    q = q.wrapping_add(delta);
                    if slot >= first {
                        f(slot, Some(q));
                    }
                    slot += 1;
                }
                TAG_RUN => {
                    let n = arg as u32;
                    self.run_window(&mut slot, &mut q, delta, n, first, last, &mut f);
                }
                _ if arg == 0 => {
                    if slot >= first {
                        f(slot, None);
                    }
                    slot += 1;
                }
                _ => slot += arg as u32,
            }
        }
        if slot <= last {
            self.run_window(&mut slot, &mut q, delta, self.run, first, last, &mut f);
        }
    }

    /// `n` values each `delta` above the previous, from `slot`: those in `first..=last` go to
    /// `f`, the rest are stepped over at once.
    #[allow(clippy::too_many_arguments)]
    fn run_window(
        &self,
        slot: &mut u32,
        q: &mut i64,
        delta: i64,
        n: u32,
        first: u32,
        last: u32,
        f: &mut impl FnMut(u32, Option<i64>),
    ) {
        let skip = first.saturating_sub(*slot).min(n);
        *q = q.wrapping_add(delta.wrapping_mul(i64::from(skip)));
        *slot += skip;
        for _ in skip..n {
            *q = q.wrapping_add(delta);
            if *slot <= last {
                f(*slot, Some(*q));
            }
            *slot += 1;
        }
    }

    fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.labels.len() * std::mem::size_of::<(u32, u32)>()
    }
}

/// Points of one selected series: `(milliseconds since the epoch, value)` in time order.
#[derive(Debug, Clone)]
pub struct Selected {
    /// The series' labels.
    pub labels: Labels,
    /// Its points inside the asked window.
    pub points: Vec<(i64, f64)>,
}

/// Why a selection stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// More series matched than a query may touch.
    TooManySeries(usize),
}

/// A store of series sampled on one grid.
#[derive(Debug, Clone)]
pub struct Store {
    step_ms: i64,
    retention: u32,
    strings: Vec<Arc<str>>,
    string_ids: HashMap<Arc<str>, u32>,
    series: Vec<Series>,
    /// Series by the hash of their label ids (the labels themselves live in the series once);
    /// a series whose hash another already has goes to `collisions`.
    by_key: HashMap<u64, u32>,
    collisions: HashMap<Box<[(u32, u32)]>, u32>,
    /// Series indices by metric-name string id.
    by_name: HashMap<u32, Vec<u32>>,
    /// Slots of free (dropped) series entries, reused first.
    free: Vec<u32>,
    /// The last slot written.
    last_slot: Option<u32>,
}

fn key_hash(key: &[(u32, u32)]) -> u64 {
    use std::hash::{Hash, Hasher};
    // Fixed keys: the same labels hash the same in every replica and run.
    let mut f = FnvHasher(0xcbf2_9ce4_8422_2325);
    key.hash(&mut f);
    f.finish()
}

/// FNV-1a, enough to spread label-id lists.
struct FnvHasher(u64);

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Store {
    fn find(&self, key: &[(u32, u32)]) -> Option<u32> {
        if let Some(i) = self.by_key.get(&key_hash(key))
            && *self.series[*i as usize].labels == *key
        {
            return Some(*i);
        }
        self.collisions.get(key).copied()
    }

    fn index(&mut self, key: Box<[(u32, u32)]>, i: u32) {
        let h = key_hash(&key);
        match self.by_key.get(&h) {
            Some(other) if *other != i => {
                self.collisions.insert(key, i);
            }
            _ => {
                self.by_key.insert(h, i);
            }
        }
    }

    fn unindex(&mut self, key: &[(u32, u32)], i: u32) {
        let h = key_hash(key);
        if self.by_key.get(&h) == Some(&i) {
            self.by_key.remove(&h);
        } else {
            self.collisions.remove(key);
        }
    }

    /// An empty store on a grid of `step` keeping `retention_slots` slots.
    pub fn new(step: std::time::Duration, retention_slots: u32) -> Store {
        Store {
            step_ms: i64::try_from(step.as_millis()).unwrap_or(60_000).max(1),
            retention: retention_slots.max(2),
            strings: Vec::new(),
            string_ids: HashMap::new(),
            series: Vec::new(),
            by_key: HashMap::new(),
            collisions: HashMap::new(),
            by_name: HashMap::new(),
            free: Vec::new(),
            last_slot: None,
        }
    }

    /// The grid step in milliseconds.
    pub fn step_ms(&self) -> i64 {
        self.step_ms
    }

    /// The slot of a time (milliseconds since the epoch), rounded to the nearest grid point.
    pub fn slot_of(&self, ms: i64) -> u32 {
        u32::try_from((ms + self.step_ms / 2).div_euclid(self.step_ms)).unwrap_or(0)
    }

    /// The time of a slot, in milliseconds since the epoch.
    pub fn time_of(&self, slot: u32) -> i64 {
        i64::from(slot) * self.step_ms
    }

    /// The last slot written, if any.
    pub fn last_slot(&self) -> Option<u32> {
        self.last_slot
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.string_ids.get(s) {
            return *id;
        }
        let id = self.strings.len() as u32;
        let arc: Arc<str> = Arc::from(s);
        self.strings.push(arc.clone());
        self.string_ids.insert(arc, id);
        id
    }

    /// Records `value` for the series `labels` (which must carry `__name__`) at `slot`.
    /// Non-finite values and slots before the series' last one are ignored.
    pub fn append(&mut self, labels: &Labels, slot: u32, value: f64) {
        if !value.is_finite() {
            return;
        }
        let Some(name) = labels.get(NAME) else {
            return;
        };
        let scale = scale_for(name);
        let mut key: Vec<(u32, u32)> = labels
            .iter()
            .map(|(k, v)| (self.intern(k), self.intern(v)))
            .collect();
        key.sort_unstable();
        let key = key.into_boxed_slice();
        let idx = match self.find(&key) {
            Some(i) => i,
            None => {
                let name_id = self.intern(name);
                let s = Series {
                    labels: key.clone(),
                    scale,
                    start: slot,
                    count: 0,
                    bytes: Vec::new(),
                    last_q: 0,
                    last_delta: 0,
                    run: 0,
                    stale: false,
                };
                let i = match self.free.pop() {
                    Some(i) => {
                        self.series[i as usize] = s;
                        i
                    }
                    None => {
                        self.series.push(s);
                        (self.series.len() - 1) as u32
                    }
                };
                self.index(key, i);
                self.by_name.entry(name_id).or_default().push(i);
                i
            }
        };
        let q = (value * scale).round() as i64;
        self.series[idx as usize].push(slot, q);
        self.last_slot = Some(self.last_slot.map_or(slot, |l| l.max(slot)));
    }

    /// The last value written to the series `labels`, if it exists.
    pub fn last_value(&self, labels: &Labels) -> Option<f64> {
        let mut key = Vec::with_capacity(labels.len());
        for (k, v) in labels {
            key.push((
                *self.string_ids.get(k.as_str())?,
                *self.string_ids.get(v.as_str())?,
            ));
        }
        key.sort_unstable();
        let s = &self.series[self.find(&key)? as usize];
        (s.count > 0).then(|| s.last_q as f64 / s.scale)
    }

    /// Marks stale every live series that has no point at `slot` (it was not in the sample just
    /// recorded): the marker goes right after its last point.
    pub fn mark_stale(&mut self, slot: u32) {
        for s in &mut self.series {
            if s.count > 0 && !s.stale && s.end() <= slot {
                s.push_stale();
            }
        }
    }

    /// Drops what is older than the retention window before `now_slot`: series whose last
    /// point is older go; series that start earlier are re-encoded from the window's start.
    /// Re-encoding waits until a series holds a tenth of the window too much, so that its cost
    /// is spread out.
    pub fn compact(&mut self, now_slot: u32) {
        let first = now_slot.saturating_sub(self.retention - 1);
        let slack = (self.retention / 10).max(1);
        let mut dropped = Vec::new();
        for (i, s) in self.series.iter_mut().enumerate() {
            if s.count == 0 {
                continue;
            }
            if s.end() <= first {
                dropped.push(i as u32);
                continue;
            }
            if s.start + slack <= first {
                let mut points = Vec::with_capacity(s.count as usize);
                s.decode(|slot, q| {
                    if slot >= first {
                        points.push((slot, q));
                    }
                });
                let mut fresh = Series {
                    labels: s.labels.clone(),
                    scale: s.scale,
                    start: 0,
                    count: 0,
                    bytes: Vec::new(),
                    last_q: 0,
                    last_delta: 0,
                    run: 0,
                    stale: false,
                };
                for (slot, q) in points {
                    match q {
                        Some(q) => fresh.push(slot, q),
                        None => fresh.push_stale(),
                    }
                }
                fresh.bytes.shrink_to_fit();
                *s = fresh;
            }
        }
        for i in dropped {
            let s = &mut self.series[i as usize];
            let labels = std::mem::take(&mut s.labels);
            s.count = 0;
            s.bytes = Vec::new();
            self.unindex(&labels, i);
            for list in self.by_name.values_mut() {
                list.retain(|x| *x != i);
            }
            self.free.push(i);
        }
    }

    /// The series named `name` (any when `None`) whose labels pass `keep`, with their points in
    /// `(from_ms, to_ms]`. At most `max_series` series; more is an error.
    pub fn select(
        &self,
        name: Option<&str>,
        keep: &LabelFilter,
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
    ) -> Result<Vec<Selected>, SelectError> {
        let mut out = Vec::new();
        self.visit(
            name,
            keep,
            from_ms,
            to_ms,
            max_series,
            &mut |labels, points| {
                out.push(Selected {
                    labels: labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    points: points.to_vec(),
                });
                true
            },
        )?;
        Ok(out)
    }

    /// Like [`Store::select`] without copying anything: `f` is called with each series' labels
    /// borrowed from the store (as `(name, value)` pairs, in no particular order) and its points
    /// in the window, series after series; it returns `false` to stop early. Series with no
    /// point in the window are skipped; the `max_series`-plus-first one is an error.
    pub fn visit<'s>(
        &'s self,
        name: Option<&str>,
        keep: &LabelFilter,
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
        f: &mut SeriesVisitor<'s, '_>,
    ) -> Result<(), SelectError> {
        let mut view: Vec<(&'s str, &'s str)> = Vec::with_capacity(16);
        let mut points: Vec<(i64, f64)> = Vec::new();
        let all: Vec<u32>;
        let candidates: &[u32] = match name {
            Some(n) => match self.string_ids.get(n).and_then(|id| self.by_name.get(id)) {
                Some(list) => list,
                None => return Ok(()),
            },
            None => {
                all = (0..self.series.len() as u32).collect();
                &all
            }
        };
        let step = self.step_ms;
        // The slots of (from_ms, to_ms].
        let first = u32::try_from((from_ms.div_euclid(step) + 1).max(0)).unwrap_or(u32::MAX);
        let last = u32::try_from(to_ms.div_euclid(step).max(0)).unwrap_or(u32::MAX);
        let mut delivered = 0usize;
        for i in candidates {
            let s = &self.series[*i as usize];
            if s.count == 0
                || self.time_of(s.end().saturating_sub(1)) <= from_ms
                || self.time_of(s.start) > to_ms
            {
                continue;
            }
            view.clear();
            view.extend(
                s.labels
                    .iter()
                    .map(|(k, v)| (&*self.strings[*k as usize], &*self.strings[*v as usize])),
            );
            if !keep(&view) {
                continue;
            }
            if delivered >= max_series {
                return Err(SelectError::TooManySeries(max_series));
            }
            points.clear();
            s.decode_window(first, last, |slot, q| {
                let t = i64::from(slot) * step;
                if t > from_ms && t <= to_ms {
                    // A staleness marker reads as NaN, as in Prometheus.
                    points.push((t, q.map_or(f64::NAN, |q| q as f64 / s.scale)));
                }
            });
            if points.is_empty() {
                continue;
            }
            delivered += 1;
            if !f(&view, &points) {
                break;
            }
        }
        Ok(())
    }

    /// Live series.
    pub fn series_count(&self) -> usize {
        self.series.iter().filter(|s| s.count > 0).count()
    }

    /// Encoded point bytes (records only).
    pub fn encoded_bytes(&self) -> usize {
        self.series.iter().map(|s| s.bytes.len()).sum()
    }

    /// An estimate of the heap the store holds: encoded bytes (capacity), label ids, the
    /// series table, the indexes and the interned strings.
    pub fn heap_bytes(&self) -> usize {
        let series: usize = self.series.iter().map(Series::heap_bytes).sum::<usize>()
            + self.series.capacity() * std::mem::size_of::<Series>();
        // A hashbrown entry is its key and value plus one control byte.
        let by_key = self.by_key.capacity() * (8 + 4 + 1)
            + self.collisions.capacity() * (std::mem::size_of::<Box<[(u32, u32)]>>() + 4 + 1);
        let by_name = self.by_name.capacity() * (4 + std::mem::size_of::<Vec<u32>>() + 1)
            + self
                .by_name
                .values()
                .map(|v| v.capacity() * 4)
                .sum::<usize>();
        let strings = self.strings.capacity() * std::mem::size_of::<Arc<str>>()
            + self.strings.iter().map(|s| s.len() + 16).sum::<usize>()
            + self.string_ids.capacity() * (std::mem::size_of::<Arc<str>>() + 4 + 1);
        series + by_key + by_name + strings + self.free.capacity() * 4
    }

    /// The store as bytes (see [`Store::decode`]), for the other replicas.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_bytes() + self.strings.len() * 16 + 64);
        out.extend_from_slice(b"ORTS1");
        put_varint(&mut out, self.step_ms as u64);
        put_varint(&mut out, u64::from(self.retention));
        put_varint(&mut out, self.last_slot.map_or(0, |s| u64::from(s) + 1));
        put_varint(&mut out, self.strings.len() as u64);
        for s in &self.strings {
            put_varint(&mut out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        let live: Vec<&Series> = self.series.iter().filter(|s| s.count > 0).collect();
        put_varint(&mut out, live.len() as u64);
        for s in live {
            put_varint(&mut out, s.labels.len() as u64);
            for (k, v) in s.labels.iter() {
                put_varint(&mut out, u64::from(*k));
                put_varint(&mut out, u64::from(*v));
            }
            out.extend_from_slice(&s.scale.to_le_bytes());
            put_varint(&mut out, u64::from(s.start));
            put_varint(&mut out, u64::from(s.count));
            put_varint(&mut out, zigzag(s.last_q));
            put_varint(&mut out, zigzag(s.last_delta));
            put_varint(&mut out, u64::from(s.run));
            put_varint(&mut out, u64::from(s.stale));
            put_varint(&mut out, s.bytes.len() as u64);
            out.extend_from_slice(&s.bytes);
        }
        out
    }

    /// Reads what [`Store::encode`] wrote; `None` when it is not a store.
    pub fn decode(buf: &[u8]) -> Option<Store> {
        let rest = buf.strip_prefix(b"ORTS1")?;
        let mut pos = 0;
        let num = |pos: &mut usize| get_varint(rest, pos);
        let step_ms = i64::try_from(num(&mut pos)?).ok()?;
        let retention = u32::try_from(num(&mut pos)?).ok()?;
        let last = num(&mut pos)?;
        let n_strings = usize::try_from(num(&mut pos)?).ok()?;
        let mut store = Store::new(
            std::time::Duration::from_millis(u64::try_from(step_ms).ok()?),
            retention,
        );
        store.last_slot = last.checked_sub(1).and_then(|s| u32::try_from(s).ok());
        for _ in 0..n_strings.min(rest.len()) {
            let len = usize::try_from(num(&mut pos)?).ok()?;
            let s = std::str::from_utf8(rest.get(pos..pos.checked_add(len)?)?).ok()?;
            pos += len;
            let arc: Arc<str> = Arc::from(s);
            store
                .string_ids
                .insert(arc.clone(), store.strings.len() as u32);
            store.strings.push(arc);
        }
        let n_series = usize::try_from(num(&mut pos)?).ok()?;
        let name_id = store.string_ids.get(NAME).copied();
        for _ in 0..n_series.min(rest.len()) {
            let n_labels = usize::try_from(num(&mut pos)?).ok()?;
            let mut labels = Vec::with_capacity(n_labels.min(64));
            for _ in 0..n_labels.min(rest.len()) {
                let k = u32::try_from(num(&mut pos)?).ok()?;
                let v = u32::try_from(num(&mut pos)?).ok()?;
                if k as usize >= store.strings.len() || v as usize >= store.strings.len() {
                    return None;
                }
                labels.push((k, v));
            }
            let scale = f64::from_le_bytes(rest.get(pos..pos + 8)?.try_into().ok()?);
            pos += 8;
            let start = u32::try_from(num(&mut pos)?).ok()?;
            let count = u32::try_from(num(&mut pos)?).ok()?;
            let last_q = unzigzag(num(&mut pos)?);
            let last_delta = unzigzag(num(&mut pos)?);
            let run = u32::try_from(num(&mut pos)?).ok()?;
            let stale = num(&mut pos)? == 1;
            let len = usize::try_from(num(&mut pos)?).ok()?;
            let bytes = rest.get(pos..pos.checked_add(len)?)?.to_vec();
            pos += len;
            let labels = labels.into_boxed_slice();
            let metric = name_id.and_then(|n| labels.iter().find(|(k, _)| *k == n).map(|l| l.1));
            let i = store.series.len() as u32;
            store.series.push(Series {
                labels: labels.clone(),
                scale,
                start,
                count,
                bytes,
                last_q,
                last_delta,
                run,
                stale,
            });
            store.index(labels, i);
            if let Some(m) = metric {
                store.by_name.entry(m).or_default().push(i);
            }
        }
        Some(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn labels(name: &str, pod: &str) -> Labels {
        [(NAME, name), ("namespace", "ns"), ("pod", pod)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn all(store: &Store, name: &str) -> Vec<Selected> {
        store
            .select(Some(name), &|_| true, i64::MIN, i64::MAX, 1000)
            .unwrap_or_default()
    }

    #[test]
    fn values_round_trip_at_their_quantisation() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let l = labels("container_cpu_usage_seconds_total", "a");
        let vals = [1.0, 2.5, 4.0, 5.5, 7.0, 7.0, 7.0, 100.123, 0.0];
        for (i, v) in vals.iter().enumerate() {
            s.append(&l, 100 + i as u32, *v);
        }
        let got = all(&s, "container_cpu_usage_seconds_total");
        assert_eq!(got.len(), 1);
        let values: Vec<f64> = got[0].points.iter().map(|p| p.1).collect();
        assert_eq!(values, vals);
        let times: Vec<i64> = got[0].points.iter().map(|p| p.0).collect();
        assert_eq!(times[0], 100 * 60_000);
        assert_eq!(times[8], 108 * 60_000);
    }

    #[test]
    fn windows_decode_what_full_decoding_gives() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let l = labels("m", "a");
        let values = [1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0];
        for (i, v) in values.iter().enumerate() {
            if i != 8 {
                s.append(&l, 5 + i as u32, *v);
            }
        }
        s.mark_stale(20);
        for (from, to) in [(0, 100), (6, 7), (8, 9), (10, 12), (14, 30), (3, 5)] {
            let got = s
                .select(Some("m"), &|_| true, from * 60_000, to * 60_000, 10)
                .unwrap_or_default();
            let got: Vec<String> = got
                .iter()
                .flat_map(|x| x.points.iter().map(|p| format!("{}:{}", p.0 / 60_000, p.1)))
                .collect();
            let mut want = Vec::new();
            s.series[0].decode(|slot, q| {
                if i64::from(slot) > from && i64::from(slot) <= to {
                    want.push(format!(
                        "{}:{}",
                        slot,
                        q.map_or(f64::NAN, |q| q as f64 / 1000.0)
                    ));
                }
            });
            assert_eq!(got, want, "({from}, {to}]");
        }
    }

    #[test]
    fn bytes_are_kept_to_the_kib() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let l = labels("container_memory_working_set_bytes", "a");
        s.append(&l, 1, 10.0 * 1024.0 * 1024.0 + 100.0);
        let got = all(&s, "container_memory_working_set_bytes");
        assert_eq!(got[0].points[0].1, 10.0 * 1024.0 * 1024.0);
    }

    #[test]
    fn gaps_are_kept_and_later_values_are_absolute() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let l = labels("kube_pod_info", "a");
        s.append(&l, 10, 1.0);
        s.append(&l, 11, 1.0);
        s.append(&l, 15, 3.0);
        s.append(&l, 16, 4.0);
        s.append(&l, 16, 9.0); // repeated slot: ignored
        s.append(&l, 12, 9.0); // earlier slot: ignored
        let got = all(&s, "kube_pod_info");
        let slots: Vec<(i64, f64)> = got[0]
            .points
            .iter()
            .map(|(t, v)| (t / 60_000, *v))
            .collect();
        assert_eq!(slots, vec![(10, 1.0), (11, 1.0), (15, 3.0), (16, 4.0)]);
    }

    #[test]
    fn staleness_markers_end_a_series_and_it_can_come_back() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let (a, b) = (labels("m", "a"), labels("m", "b"));
        s.append(&a, 1, 1.0);
        s.append(&b, 1, 1.0);
        s.append(&a, 2, 2.0);
        s.mark_stale(2);
        s.append(&a, 3, 3.0);
        s.mark_stale(3);
        s.append(&b, 4, 4.0);
        // A round that skipped slots still marks what it did not see.
        s.append(&b, 7, 7.0);
        s.mark_stale(7);
        assert!(
            s.select(
                Some("m"),
                &|l| l.contains(&("pod", "a")),
                i64::MIN,
                i64::MAX,
                10
            )
            .unwrap_or_default()[0]
                .points
                .last()
                .is_some_and(|p| p.1.is_nan())
        );
        let got = s
            .select(Some("m"), &|_| true, i64::MIN, i64::MAX, 10)
            .unwrap_or_default();
        let b_points: Vec<String> = got[1]
            .points
            .iter()
            .map(|p| format!("{}:{}", p.0 / 60_000, p.1))
            .collect();
        assert_eq!(b_points, ["1:1", "2:NaN", "4:4", "7:7"]);
        let bytes = s.encode();
        let back = Store::decode(&bytes).expect("decodes");
        let again = back
            .select(Some("m"), &|_| true, i64::MIN, i64::MAX, 10)
            .unwrap_or_default();
        assert_eq!(again[1].points.len(), 4);
        assert!(again[1].points[1].1.is_nan());
    }

    #[test]
    fn constant_and_linear_series_cost_almost_nothing() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        let c = labels("kube_pod_status_phase", "a");
        let lin = labels("container_cpu_usage_seconds_total", "a");
        for i in 0..1440 {
            s.append(&c, i, 1.0);
            s.append(&lin, i, f64::from(i) * 1.5);
        }
        // Flushing happens on read and encode; the runs are pending until then.
        let enc = s.encode();
        assert!(enc.len() < 200, "{} bytes", enc.len());
        let got = all(&s, "container_cpu_usage_seconds_total");
        assert_eq!(got[0].points.len(), 1440);
        assert_eq!(got[0].points[1439].1, 1439.0 * 1.5);
    }

    #[test]
    fn compaction_keeps_the_window_and_drops_dead_series() {
        let mut s = Store::new(Duration::from_secs(60), 100);
        let live = labels("m", "live");
        let dead = labels("m", "dead");
        for i in 0..300u32 {
            s.append(&live, i, f64::from(i));
            if i < 50 {
                s.append(&dead, i, 1.0);
            }
        }
        s.compact(299);
        let got = all(&s, "m");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels["pod"], "live");
        assert_eq!(got[0].points.first().map(|p| p.1), Some(200.0));
        assert_eq!(got[0].points.len(), 100);
        // Appending continues the re-encoded series.
        s.append(&live, 300, 300.0);
        let got = all(&s, "m");
        assert_eq!(got[0].points.last().map(|p| p.1), Some(300.0));
        // The freed entry is reused.
        s.append(&dead, 301, 2.0);
        assert_eq!(s.series_count(), 2);
    }

    #[test]
    fn select_filters_by_window_and_labels_and_bounds_series() {
        let mut s = Store::new(Duration::from_secs(60), 1440);
        for p in ["a", "b", "c"] {
            for i in 0..10 {
                s.append(&labels("m", p), i, 1.0);
            }
        }
        let got = s
            .select(
                Some("m"),
                &|l| !l.contains(&("pod", "b")),
                2 * 60_000,
                5 * 60_000,
                10,
            )
            .unwrap_or_default();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].points.len(), 3);
        assert_eq!(
            s.select(Some("m"), &|_| true, 0, i64::MAX, 2).err(),
            Some(SelectError::TooManySeries(2))
        );
        assert!(all(&s, "other").is_empty());
    }

    #[test]
    fn encode_decode_round_trips_and_appends_continue() {
        let mut s = Store::new(Duration::from_secs(1), 50);
        for i in 0..30u32 {
            s.append(&labels("m", "a"), i, f64::from(i % 7));
            s.append(&labels("n_bytes", "b"), i, 4096.0 * f64::from(i));
        }
        let bytes = s.encode();
        let mut back = Store::decode(&bytes).expect("decodes");
        assert_eq!(back.last_slot(), Some(29));
        assert_eq!(all(&back, "m")[0].points, all(&s, "m")[0].points);
        back.append(&labels("m", "a"), 30, 2.0);
        s.append(&labels("m", "a"), 30, 2.0);
        assert_eq!(all(&back, "m")[0].points, all(&s, "m")[0].points);
        assert!(Store::decode(b"garbage").is_none());
        assert!(Store::decode(&bytes[..bytes.len() / 2]).is_none());
    }
}
