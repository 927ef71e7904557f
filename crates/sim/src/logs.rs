//! Synthetic container logs.
