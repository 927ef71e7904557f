//! Stack growth for the recursive parser and executor: deep but legal nesting (Helm allows
//! 1000 nested includes) must not overflow whatever thread the caller renders on.

/// Below this much remaining stack, recursion continues on a new segment.
const RED_ZONE: usize = 256 * 1024;
/// Size of each new stack segment.
const SEGMENT: usize = 4 * 1024 * 1024;

/// Runs `f`, on a fresh heap-allocated stack segment if the current one is nearly used up.
pub(crate) fn grow<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}
