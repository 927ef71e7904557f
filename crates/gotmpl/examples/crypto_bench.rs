//! Times Sprig's key and certificate functions (each call generates a fresh key, as in Helm).
//!
//! Run with `cargo run --release -p gotmpl --example crypto_bench [ROUNDS]`.

use std::time::Instant;

use std::sync::Arc;

use gotmpl::{Limits, TemplateSet, Value, sprig};

fn time(label: &str, src: &str, rounds: usize) -> Result<(), gotmpl::TemplateError> {
    let mut set = TemplateSet::new(Arc::new(sprig()));
    set.parse("t", src)?;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let mut out = String::new();
        set.execute("t", &Value::Nil, &mut out, &Limits::default())?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "{label:<28} mean {mean:8.1} ms  min {:8.1} ms  max {:8.1} ms",
        times[0],
        times[times.len() - 1]
    );
    Ok(())
}

fn main() -> Result<(), gotmpl::TemplateError> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(1);
    time("genCA (RSA 2048)", r#"{{ genCA "ca" 365 }}"#, rounds)?;
    time(
        "genCA+genSignedCert",
        r#"{{ $ca := genCA "ca" 365 }}{{ genSignedCert "x" nil (list "x") 365 $ca }}"#,
        rounds,
    )?;
    time(
        "genPrivateKey rsa (4096)",
        r#"{{ genPrivateKey "rsa" }}"#,
        rounds,
    )?;
    let mut plain = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        let _ = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 4096);
        plain.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "{:<28} mean {:8.1} ms  (the rsa crate's own generator, for comparison)",
        "rsa::RsaPrivateKey::new 4096",
        plain.iter().sum::<f64>() / plain.len() as f64
    );
    time(
        "genPrivateKey ecdsa",
        r#"{{ genPrivateKey "ecdsa" }}"#,
        rounds,
    )?;
    time(
        "genPrivateKey ed25519",
        r#"{{ genPrivateKey "ed25519" }}"#,
        rounds,
    )?;
    time(
        "genPrivateKey dsa",
        r#"{{ genPrivateKey "dsa" }}"#,
        rounds.min(3),
    )?;
    time("bcrypt", r#"{{ bcrypt "pw" }}"#, rounds)?;
    time(
        "derivePassword",
        r#"{{ derivePassword 1 "long" "password" "user" "example.com" }}"#,
        rounds,
    )?;
    Ok(())
}
