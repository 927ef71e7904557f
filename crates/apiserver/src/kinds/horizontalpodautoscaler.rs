//! HorizontalPodAutoscaler, served as `autoscaling/v2` (preferred) and `autoscaling/v1`.

use super::*;

/// The `HorizontalPodAutoscaler` kind at one version.
pub struct HorizontalPodAutoscaler(pub &'static str);

impl Kind for HorizontalPodAutoscaler {
    fn spec(&self) -> Spec {
        spec(
            "autoscaling",
            self.0,
            "horizontalpodautoscalers",
            "HorizontalPodAutoscaler",
        )
        .short(&["hpa"])
        .all()
        .status()
    }
}
