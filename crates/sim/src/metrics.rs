//! Synthetic metrics.
