//! Kinds with nothing of their own beyond their registry entry.

use super::{Kind, Spec};

/// A kind that only has a [`Spec`]: generic defaulting, validation and columns.
pub struct Plain(pub Spec);

impl Kind for Plain {
    fn spec(&self) -> Spec {
        self.0
    }
}
