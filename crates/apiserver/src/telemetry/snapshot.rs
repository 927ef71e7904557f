//! Series computed at scrape time (object state, simulated usage): families of constant
//! samples, encoded by `prometheus-client` like any registered metric, so names, `HELP`/`TYPE`
//! lines and label escaping follow the exposition formats exactly.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Label pairs of one sample, in exposition order.
pub type Labels = Vec<(&'static str, String)>;

/// One metric family: its descriptor and its samples.
#[derive(Debug)]
pub struct FamilyData {
    /// The name; a counter's `_total` suffix is added by the encoder.
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: Vec<(Labels, f64)>,
    histograms: Vec<(Labels, Histogram)>,
}

/// A histogram's state: sum, count and per-bucket (not cumulative) counts by upper bound.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
    /// (upper bound, observations in that bucket); the last bound is +Inf.
    pub buckets: Vec<(f64, u64)>,
}

/// A scrape's worth of computed families.
#[derive(Debug, Default)]
pub struct Snapshot {
    families: Vec<FamilyData>,
}

impl Snapshot {
    /// Adds a gauge family; returns its index for [`Snapshot::add`].
    pub fn gauge(&mut self, name: &'static str, help: &'static str) -> usize {
        self.family(name, help, MetricType::Gauge)
    }

    /// Adds a counter family (exposed as `{name}_total`); returns its index.
    pub fn counter(&mut self, name: &'static str, help: &'static str) -> usize {
        self.family(name, help, MetricType::Counter)
    }

    /// Adds a histogram family; returns its index for [`Snapshot::add_histogram`].
    pub fn histogram(&mut self, name: &'static str, help: &'static str) -> usize {
        self.family(name, help, MetricType::Histogram)
    }

    fn family(&mut self, name: &'static str, help: &'static str, kind: MetricType) -> usize {
        self.families.push(FamilyData {
            name,
            help,
            kind,
            samples: Vec::new(),
            histograms: Vec::new(),
        });
        self.families.len() - 1
    }

    /// Adds a sample to the family at `index`.
    pub fn add(&mut self, index: usize, labels: Labels, value: f64) {
        if let Some(f) = self.families.get_mut(index) {
            f.samples.push((labels, value));
        }
    }

    /// Adds a histogram to the family at `index`.
    pub fn add_histogram(&mut self, index: usize, labels: Labels, h: Histogram) {
        if let Some(f) = self.families.get_mut(index) {
            f.histograms.push((labels, h));
        }
    }

    /// The samples of a family by name, for tests.
    #[cfg(test)]
    pub fn samples(&self, name: &str) -> Vec<(Labels, f64)> {
        self.families
            .iter()
            .filter(|f| f.name == name)
            .flat_map(|f| f.samples.clone())
            .collect()
    }
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.families {
            // A family with no samples says nothing a scraper can use; kube-state-metrics
            // prints its descriptor anyway, but OpenMetrics parsers accept either.
            if f.samples.is_empty() && f.histograms.is_empty() {
                continue;
            }
            let mut family = encoder.encode_descriptor(f.name, f.help, None, f.kind)?;
            for (labels, h) in &f.histograms {
                let mut metric = family.encode_family(labels)?;
                metric.encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
            }
            for (labels, value) in &f.samples {
                let metric = family.encode_family(labels)?;
                match f.kind {
                    MetricType::Counter => ConstCounter::new(*value).encode(metric)?,
                    _ => ConstGauge::new(*value).encode(metric)?,
                }
            }
        }
        Ok(())
    }
}
