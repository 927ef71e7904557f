//! Randomness for `randAlphaNum`, `shuffle`, `uuidv4` and friends.

use rand::Rng;

/// A random `u64`.
pub fn u64() -> u64 {
    rand::rng().random()
}

/// A random string of `n` characters drawn from `chars`.
pub fn string_from(chars: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| chars[rng.random_range(0..chars.len())] as char)
        .collect()
}

/// Shuffles in place.
pub fn shuffle<T>(v: &mut [T]) {
    use rand::seq::SliceRandom;
    v.shuffle(&mut rand::rng());
}

/// Random bytes.
pub fn bytes(n: usize) -> Vec<u8> {
    let mut rng = rand::rng();
    (0..n).map(|_| rng.random()).collect()
}
