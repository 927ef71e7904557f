//! Password hashing (argon2id; bcrypt accepted for imported users) and the password policy.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;

/// The argon2id cost parameters.
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
}

impl Default for HashCost {
    /// OWASP's argon2id minimum (19 MiB, 2 iterations, 1 lane).
    fn default() -> Self {
        HashCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// Hashing failed (only on invalid cost parameters).
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes a password with argon2id into a PHC string.
pub fn hash(password: &str, cost: HashCost) -> Result<String, HashError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
        .map_err(|e| HashError(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut salt = [0u8; 16];
    rand::rng().fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `stored` is a hash this module can verify (rather than a plain-text password).
pub fn is_hash(stored: &str) -> bool {
    stored.starts_with("$argon2") || is_bcrypt(stored)
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// Checks a password against a stored argon2 or bcrypt hash; anything else never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if is_bcrypt(stored) {
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Why a password breaks the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub &'static str);

/// The password policy: 8 to 64 characters with an upper-case letter, a lower-case letter and
/// a digit.
pub fn check_policy(password: &str) -> Result<(), PolicyError> {
    let n = password.chars().count();
    if n < 8 {
        return Err(PolicyError("password must be at least 8 characters"));
    }
    if n > 64 {
        return Err(PolicyError("password must be at most 64 characters"));
    }
    if !password.chars().any(|c| c.is_uppercase()) {
        return Err(PolicyError("password must contain an upper-case letter"));
    }
    if !password.chars().any(|c| c.is_lowercase()) {
        return Err(PolicyError("password must contain a lower-case letter"));
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(PolicyError("password must contain a digit"));
    }
    Ok(())
}

/// A random password that satisfies the policy (20 characters).
pub fn generate() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    let mut rng = rand::rng();
    let all: Vec<u8> = [UPPER, LOWER, DIGIT].concat();
    let mut out: Vec<u8> = (0..17)
        .map(|_| all[rng.random_range(0..all.len())])
        .collect();
    // One of each class at random positions so the policy always holds.
    for class in [UPPER, LOWER, DIGIT] {
        let c = class[rng.random_range(0..class.len())];
        let at = rng.random_range(0..=out.len());
        out.insert(at, c);
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CHEAP: HashCost = HashCost {
        memory_kib: 64,
        iterations: 1,
    };

    #[test]
    fn argon2_round_trip() {
        let h = hash("Passw0rd!", CHEAP).unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(is_hash(&h));
        assert!(verify("Passw0rd!", &h));
        assert!(!verify("passw0rd!", &h));
        assert!(!verify("Passw0rd!", "Passw0rd!"));
    }

    #[test]
    fn bcrypt_accepted() {
        let h = bcrypt::hash("Secret123", 4).unwrap_or_default();
        assert!(h.starts_with("$2b$"));
        assert!(verify("Secret123", &h));
        assert!(!verify("Secret124", &h));
        let a = h.replacen("$2b$", "$2a$", 1);
        assert!(verify("Secret123", &a));
    }

    #[test]
    fn policy() {
        assert!(check_policy("Abcdefg1").is_ok());
        assert!(check_policy("Abcdef1").is_err());
        assert!(check_policy("abcdefg1").is_err());
        assert!(check_policy("ABCDEFG1").is_err());
        assert!(check_policy("Abcdefgh").is_err());
        assert!(check_policy(&format!("A1{}", "b".repeat(62))).is_ok());
        assert!(check_policy(&format!("A1{}", "b".repeat(63))).is_err());
    }

    proptest! {
        #[test]
        fn generated_passwords_pass_the_policy(_i in 0..50u8) {
            prop_assert!(check_policy(&generate()).is_ok());
        }

        #[test]
        fn verify_never_panics(pw in ".{0,20}", stored in ".{0,80}") {
            let _ = verify(&pw, &stored);
            let _ = verify(&pw, &format!("$argon2id${stored}"));
            let _ = verify(&pw, &format!("$2b${stored}"));
        }
    }
}
