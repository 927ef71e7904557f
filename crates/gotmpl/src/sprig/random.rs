//! Randomness for `randAlphaNum`, `shuffle`, `uuidv4` and friends.

use base64::Engine;

use crate::funcs::FuncMap;
use crate::value::Value;

use super::conv::int_arg;
use super::reg;

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

/// Registers the random and identity functions (`randAlphaNum`… `randBytes`, `uuidv4`).
pub(crate) fn register(m: &mut FuncMap) {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    reg(m, "randAlphaNum", |a| {
        Ok(Value::from(string_from(
            ALNUM,
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randAlpha", |a| {
        Ok(Value::from(string_from(
            &ALNUM[..52],
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randNumeric", |a| {
        Ok(Value::from(string_from(
            &ALNUM[52..],
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randAscii", |a| {
        let chars: Vec<u8> = (32u8..127).collect();
        Ok(Value::from(string_from(
            &chars,
            int_arg(a.first()).clamp(0, 1 << 20) as usize,
        )))
    });
    reg(m, "randBytes", |a| {
        let b = bytes(int_arg(a.first()).clamp(0, 1 << 20) as usize);
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(b),
        ))
    });
    reg(m, "uuidv4", |_| {
        Ok(Value::from(uuid::Uuid::new_v4().to_string()))
    });
}
