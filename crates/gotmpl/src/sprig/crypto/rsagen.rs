//! Faster RSA key generation than `rsa::RsaPrivateKey::new`: the two primes are searched for
//! on two threads at once, and candidates go through an incremental sieve of small odd primes
//! (below 2^14, or 2^18 for the 2048-bit primes of 4096-bit keys, where an exponentiation
//! costs more than sieving with the extra primes) before the (expensive) Miller-Rabin test,
//! so far fewer modular exponentiations are spent on composites. The key itself is assembled
//! and validated by the `rsa` crate.

use std::sync::OnceLock;

use num_bigint_dig::BigUint;
use num_bigint_dig::prime::probably_prime;
use rand_core::{OsRng, RngCore};

/// Odd primes below this bound sieve candidates of fewer than `LARGE_PRIME_BITS` bits.
const SIEVE_BOUND: u32 = 1 << 14;
/// The bound for large candidates.
const LARGE_SIEVE_BOUND: u32 = 1 << 18;
/// From this size on, candidates use the large sieve.
const LARGE_PRIME_BITS: usize = 1536;
/// Random-base Miller-Rabin rounds on top of the Baillie-PSW test `probably_prime` always does
/// (base-2 Miller-Rabin plus a strong Lucas test, with no known counterexample). For random
/// candidates of this size a handful of extra rounds leaves an error far below 2^-100 (FIPS
/// 186-5 asks for 4-5 rounds at these sizes); each round saved is one modular exponentiation.
const MR_ROUNDS: usize = 5;
/// How far a search walks from one random start before drawing a new one.
const MAX_DELTA: u32 = 1 << 20;

fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let n = LARGE_SIEVE_BOUND as usize;
        let mut composite = vec![false; n];
        let mut out = Vec::new();
        for i in 2..n {
            if !composite[i] {
                if i > 2 {
                    out.push(i as u32);
                }
                let mut j = i * i;
                while j < n {
                    composite[j] = true;
                    j += i;
                }
            }
        }
        out
    })
}

/// A random prime of exactly `bits` bits with its top two bits set (so a product of two such
/// primes has exactly twice the bits), as Go and `rsa` require.
pub fn random_prime(bits: usize) -> BigUint {
    let bound = if bits >= LARGE_PRIME_BITS {
        LARGE_SIEVE_BOUND
    } else {
        SIEVE_BOUND
    };
    let all = small_primes();
    let primes = &all[..all.partition_point(|p| *p < bound)];
    let nbytes = bits.div_ceil(8);
    let top = bits - (nbytes - 1) * 8; // bits used in the first byte, 1..=8
    let mut buf = vec![0u8; nbytes];
    loop {
        OsRng.fill_bytes(&mut buf);
        buf[0] &= ((1u16 << top) - 1) as u8;
        if top >= 2 {
            buf[0] |= 3 << (top - 2);
        } else {
            buf[0] |= 1;
            if nbytes > 1 {
                buf[1] |= 0x80;
            }
        }
        buf[nbytes - 1] |= 1;
        let base = BigUint::from_bytes_be(&buf);
        let rems = residues(&base, primes);
        let mut delta: u32 = 0;
        while delta < MAX_DELTA {
            let survives = primes
                .iter()
                .zip(&rems)
                .all(|(p, r)| !(r + delta % p).is_multiple_of(*p));
            if survives {
                let candidate = &base + delta;
                if candidate.bits() != bits {
                    break;
                }
                if probably_prime(&candidate, MR_ROUNDS) {
                    return candidate;
                }
            }
            delta += 2;
        }
    }
}

/// `n mod p` for every prime: one pass over `n` per group of primes whose product fits in a
/// `u64`, then cheap machine-word remainders.
fn residues(n: &BigUint, primes: &[u32]) -> Vec<u32> {
    // Big-endian 64-bit limbs of n.
    let bytes = n.to_bytes_be();
    let pad = (8 - bytes.len() % 8) % 8;
    let mut padded = vec![0u8; pad];
    padded.extend_from_slice(&bytes);
    let limbs: Vec<u64> = padded
        .chunks(8)
        .map(|c| c.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
        .collect();
    let mut out = Vec::with_capacity(primes.len());
    let mut i = 0;
    while i < primes.len() {
        let mut m: u64 = 1;
        let mut j = i;
        while j < primes.len() && m.checked_mul(u64::from(primes[j])).is_some() {
            m *= u64::from(primes[j]);
            j += 1;
        }
        let r = limbs.iter().fold(0u128, |r, limb| {
            ((r << 64) | u128::from(*limb)) % u128::from(m)
        }) as u64;
        out.extend(primes[i..j].iter().map(|p| (r % u64::from(*p)) as u32));
        i = j;
    }
    out
}

/// A fresh RSA key of `bits` bits with public exponent 65537.
pub fn generate(bits: usize) -> Result<rsa::RsaPrivateKey, rsa::Error> {
    if bits < 64 {
        return rsa::RsaPrivateKey::new(&mut OsRng, bits);
    }
    let (pbits, qbits) = (bits - bits / 2, bits / 2);
    let mut last_err = rsa::Error::InvalidPrime;
    for _ in 0..16 {
        let (p, q) = std::thread::scope(|s| {
            let q = s.spawn(|| random_prime(qbits));
            let p = random_prime(pbits);
            (p, q.join().unwrap_or_else(|_| random_prime(qbits)))
        });
        match rsa::RsaPrivateKey::from_p_q(p, q, BigUint::from(65537u32)) {
            Ok(k) if rsa::traits::PublicKeyParts::n(&k).bits() == bits => return Ok(k),
            Ok(_) => {}
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_have_exact_size_and_are_prime() {
        for bits in [64, 65, 127, 256] {
            let p = random_prime(bits);
            assert_eq!(p.bits(), bits);
            assert!(probably_prime(&p, 20));
            // Top two bits set.
            assert!(p >= BigUint::from(3u32) << (bits - 2));
        }
        assert_eq!(small_primes()[..4], [3, 5, 7, 11]);
        assert!(small_primes().iter().all(|p| *p < LARGE_SIEVE_BOUND));
        assert_eq!(random_prime(LARGE_PRIME_BITS).bits(), LARGE_PRIME_BITS);
    }

    #[test]
    fn residues_match_bigint_remainders() {
        let n = random_prime(700) * random_prime(300) + BigUint::from(12345u32);
        let primes = &small_primes()[..3000];
        let want: Vec<u32> = primes
            .iter()
            .map(|p| {
                (&n % *p)
                    .to_bytes_le()
                    .iter()
                    .rev()
                    .fold(0u32, |a, b| (a << 8) | u32::from(*b))
            })
            .collect();
        assert_eq!(residues(&n, primes), want);
    }

    #[test]
    fn keys_validate() {
        let k = generate(512).unwrap_or_else(|e| panic!("{e}"));
        assert!(k.validate().is_ok());
        assert_eq!(rsa::traits::PublicKeyParts::n(&k).bits(), 512);
    }
}
