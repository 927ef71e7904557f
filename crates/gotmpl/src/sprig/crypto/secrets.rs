//! Sprig's password and secret functions: `bcrypt`, `htpasswd`, `derivePassword` (the Master
//! Password algorithm) and `encryptAES`/`decryptAES`.

use base64::Engine;

/// Go's `bcrypt.DefaultCost`.
const BCRYPT_COST: u32 = 10;

/// Sprig's `bcrypt`: a `$2a$10$` hash, or Sprig's error text in place of the hash.
pub fn bcrypt(input: &str) -> String {
    // x/crypto/bcrypt refuses passwords over 72 bytes (ErrPasswordTooLong).
    if input.len() > 72 {
        return "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
            .into();
    }
    match bcrypt::hash_with_result(input, BCRYPT_COST) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

/// Sprig v3.3's `htpasswd`: `user:bcrypt-hash`.
pub fn htpasswd(user: &str, password: &str) -> String {
    if user.contains(':') {
        return format!("invalid username: {user}");
    }
    format!("{user}:{}", bcrypt(password))
}

const MASTER_PASSWORD_SEED: &[u8] = b"com.lyndir.masterpassword";

fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_characters(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// Sprig's `derivePassword` (Master Password v3: scrypt N=32768 r=8 p=2, then HMAC-SHA256).
pub fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(templates) = password_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    match master_key(password, user) {
        Ok(key) => site_password(&key, templates, counter, site),
        Err(e) => format!("failed to derive password: {e}"),
    }
}

/// The scrypt master key for a user (the slow part).
fn master_key(password: &str, user: &str) -> Result<[u8; 64], String> {
    let mut salt = MASTER_PASSWORD_SEED.to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = scrypt::Params::new(15, 8, 2, 64).map_err(|e| e.to_string())?;
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key).map_err(|e| e.to_string())?;
    Ok(key)
}

/// The password for a site from the master key and one of the templates of a kind.
fn site_password(key: &[u8; 64], templates: &[&str], counter: u32, site: &str) -> String {
    use hmac::Mac;
    let mut msg = MASTER_PASSWORD_SEED.to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return "failed to derive password: invalid key".into();
    };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let temp = templates[seed[0] as usize % templates.len()].as_bytes();
    temp.iter()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_characters(*c);
            chars[seed[i + 1] as usize % chars.len()] as char
        })
        .collect()
}

/// The AES-256 key Sprig derives from a password: its bytes, zero-padded or cut to 32.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let n = password.len().min(32);
    key[..n].copy_from_slice(&password.as_bytes()[..n]);
    key
}

/// Sprig's `encryptAES`: AES-256-CBC with a random IV in front, PKCS#7 padding, base64.
pub fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    if plaintext.is_empty() {
        return String::new();
    }
    let iv = super::super::random::bytes(16);
    let mut iv_arr = [0u8; 16];
    iv_arr.copy_from_slice(&iv);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv_arr.into());
    let ct = enc.encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
    let mut out = iv;
    out.extend_from_slice(&ct);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Sprig's `decryptAES`, with the errors (and recovered panics) Go reports for bad input.
pub fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, String> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = super::super::encoding::go_b64_decode(crypt64)?;
    if crypt.len() < 16 {
        // Go's DecodeString buffer has capacity DecodedLen(len(s)).
        return Err(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt64.len() / 4 * 3
        ));
    }
    let (iv, body) = crypt.split_at(16);
    if !body.len().is_multiple_of(16) {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let mut iv_arr = [0u8; 16];
    iv_arr.copy_from_slice(iv);
    let dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv_arr.into());
    let plain = dec
        .decrypt_padded_vec_mut::<NoPadding>(body)
        .map_err(|_| "crypto/cipher: input not full blocks".to_string())?;
    let Some(&pad) = plain.last() else {
        return Err("runtime error: index out of range [-1]".into());
    };
    let keep = plain.len() as i64 - i64::from(pad);
    if keep < 0 {
        return Err(format!(
            "runtime error: slice bounds out of range [:{keep}]"
        ));
    }
    Ok(String::from_utf8_lossy(&plain[..keep as usize]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypts_sprigs_documented_ciphertext() {
        // From Sprig's docs/crypto.md, produced by Sprig's encryptAES.
        assert_eq!(
            decrypt_aes("secretkey", "30tEfhuJSVRhpG97XCuWgz2okj7L8vQ1s6V9zVUPeDQ="),
            Ok("plaintext".to_string())
        );
    }

    #[test]
    fn aes_round_trip_and_bad_input() {
        for (pw, text) in [
            ("secretkey", "plaintext"),
            ("", "x"),
            (
                "a-password-longer-than-thirty-two-bytes!",
                "exactly sixteen!",
            ),
        ] {
            let c = encrypt_aes(pw, text);
            assert_ne!(c, encrypt_aes(pw, text), "random IV");
            assert_eq!(decrypt_aes(pw, &c).as_deref(), Ok(text));
        }
        assert_eq!(encrypt_aes("k", ""), "");
        assert_eq!(decrypt_aes("k", ""), Ok(String::new()));
        assert_eq!(
            decrypt_aes("k", "YWJj"),
            Err("runtime error: slice bounds out of range [:16] with capacity 3".into())
        );
        let iv_only = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
        assert_eq!(
            decrypt_aes("k", &iv_only),
            Err("runtime error: index out of range [-1]".into())
        );
        let ragged = base64::engine::general_purpose::STANDARD.encode([0u8; 20]);
        assert_eq!(
            decrypt_aes("k", &ragged),
            Err("crypto/cipher: input not full blocks".into())
        );
        assert!(decrypt_aes("k", "!!!!").is_err_and(|e| e.starts_with("illegal base64")));
    }

    #[test]
    fn htpasswd_and_bcrypt_verify() {
        let line = htpasswd("myUser", "myPassword");
        let (user, hash) = line.split_once(':').unwrap_or_default();
        assert_eq!(user, "myUser");
        assert!(hash.starts_with("$2a$10$"));
        assert!(bcrypt::verify("myPassword", hash).unwrap_or(false));
        assert!(!bcrypt::verify("other", hash).unwrap_or(true));
        assert_eq!(htpasswd("wrongus:er", "x"), "invalid username: wrongus:er");
        let special = htpasswd(
            "special'o79Cv_*qFe,)<user",
            "special<j7+3p#6-.Jx2U:m8G;kGypassword",
        );
        let hash = special.split_once(':').map(|x| x.1).unwrap_or_default();
        assert!(bcrypt::verify("special<j7+3p#6-.Jx2U:m8G;kGypassword", hash).unwrap_or(false));
        assert_eq!(
            self::bcrypt(&"x".repeat(73)),
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
        );
    }

    #[test]
    fn derive_password_matches_sprig_vectors() {
        // Sprig's crypto_test.go TestDerivePassword (password "password", user "user").
        let cases = [
            (1, "long", "ZedaFaxcZaso9*"),
            (2, "long", "Fovi2@JifpTupx"),
            (1, "maximum", "pf4zS1LjCg&LjhsZ7T2~"),
            (1, "medium", "ZedJuz8$"),
            (1, "basic", "pIS54PLs"),
            (1, "short", "Zed5"),
            (1, "pin", "6685"),
        ];
        let key = master_key("password", "user").unwrap_or([0; 64]);
        for (counter, kind, want) in cases {
            let templates = password_templates(kind).unwrap_or_default();
            assert_eq!(
                site_password(&key, templates, counter, "example.com"),
                want,
                "{counter} {kind}"
            );
        }
        assert_eq!(
            derive_password(1, "long", "password", "user", "example.com"),
            "ZedaFaxcZaso9*"
        );
        assert_eq!(
            derive_password(1, "nope", "p", "u", "s"),
            "cannot find password template nope"
        );
    }
}
