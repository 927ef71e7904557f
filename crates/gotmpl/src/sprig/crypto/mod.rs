//! Sprig's crypto functions: private keys, certificates (`genCA`, `genSignedCert`, …),
//! `bcrypt`/`htpasswd`, `derivePassword` and `encryptAES`/`decryptAES`.
//!
//! Every key is generated fresh on each call, as in Helm. Functions that Go declares with typed
//! parameters (`cn string`, `daysValid int`, `ca certificate`) check their arguments the way
//! `text/template` does, so a `float64` from values where Go wants an `int` fails as in Helm.

mod cert;
mod der;
mod keys;
mod rsagen;
mod secrets;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::FuncError;
use crate::funcs::FuncMap;
use crate::value::{IntKind, Object, Value};

use super::reg;
use cert::Template;
use keys::PrivateKey;

/// The size of the RSA keys Sprig's certificate functions generate.
const CERT_RSA_BITS: usize = 2048;

/// Sprig's `certificate` struct: PEM `Cert` and `Key`.
pub struct Certificate {
    cert: String,
    key: String,
}

impl Certificate {
    /// The PEM certificate.
    pub fn cert(&self) -> &str {
        &self.cert
    }
    /// The PEM private key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl Object for Certificate {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::str(self.cert.as_str())),
            "Key" => Some(Value::str(self.key.as_str())),
            _ => None,
        }
    }
    fn print(&self) -> String {
        format!("{{{} {}}}", self.cert, self.key)
    }
    fn kind_name(&self) -> &'static str {
        "struct"
    }
    fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert("Cert".to_string(), Value::str(self.cert.as_str()));
        m.insert("Key".to_string(), Value::str(self.key.as_str()));
        Value::map(m)
    }
}

fn certificate(cert: String, key: String) -> Value {
    Value::Object(Arc::new(Certificate { cert, key }))
}

fn want(a: &[Value], n: usize, name: &str) -> Result<(), FuncError> {
    if a.len() != n {
        return Err(FuncError::Arity(format!(
            "wrong number of args for {name}: want {n} got {}",
            a.len()
        )));
    }
    Ok(())
}

fn wrong_type(expected: &str, v: &Value) -> FuncError {
    // A missing value is a nil interface{} in Go, which text/template reports by that type.
    let got = match v {
        Value::Nil => "interface {}".to_string(),
        other => other.type_name(),
    };
    FuncError::Arity(format!(
        "wrong type for value; expected {expected}; got {got}"
    ))
}

/// A Go `string` parameter.
fn string_param(v: &Value) -> Result<&str, FuncError> {
    v.as_str().ok_or_else(|| wrong_type("string", v))
}

/// A Go `int` parameter (template integer literals and Sprig's `int` are Go `int`s).
fn int_param(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(i, IntKind::Int) => Ok(*i),
        other => Err(wrong_type("int", other)),
    }
}

/// A Go `uint32` parameter (only integer constants convert to it in a template).
fn uint32_param(v: &Value) -> Result<u32, FuncError> {
    match v {
        Value::Int(i, IntKind::Int) => u32::try_from(*i).map_err(|_| wrong_type("uint32", v)),
        other => Err(wrong_type("uint32", other)),
    }
}

/// A Go `[]interface{}` parameter; `nil` is an empty slice.
fn list_param(v: &Value) -> Result<Vec<Value>, FuncError> {
    match v.collection_view() {
        Value::Nil => Ok(Vec::new()),
        Value::List(l) => Ok(l.as_ref().clone()),
        other => Err(wrong_type("[]interface {}", &other)),
    }
}

/// A Sprig `certificate` parameter: (Cert, Key).
fn certificate_param(v: &Value) -> Result<(String, String), FuncError> {
    if let Value::Object(o) = v
        && o.type_name() == "sprig.certificate"
    {
        let get = |f: &str| o.field(f).and_then(|v| v.as_str().map(str::to_string));
        return Ok((
            get("Cert").unwrap_or_default(),
            get("Key").unwrap_or_default(),
        ));
    }
    Err(wrong_type("sprig.certificate", v))
}

/// Sprig's `getNetIPs` and `getAlternateDNSStrs`.
fn sans(ips: &Value, dns: &Value) -> Result<(Vec<std::net::IpAddr>, Vec<String>), FuncError> {
    let mut out_ips = Vec::new();
    for ip in list_param(ips)? {
        let Some(s) = ip.as_str() else {
            return Err(FuncError::msg(format!(
                "error parsing ip: {} is not a string",
                crate::gofmt::sprint_value(&ip)
            )));
        };
        out_ips.push(
            cert::parse_ip(s).ok_or_else(|| FuncError::msg(format!("error parsing ip: {s}")))?,
        );
    }
    let mut out_dns = Vec::new();
    for d in list_param(dns)? {
        let Some(s) = d.as_str() else {
            return Err(FuncError::msg(format!(
                "error processing alternate dns name: {} is not a string",
                crate::gofmt::sprint_value(&d)
            )));
        };
        out_dns.push(s.to_string());
    }
    Ok((out_ips, out_dns))
}

fn rsa_key() -> Result<PrivateKey, FuncError> {
    keys::generate_rsa(CERT_RSA_BITS)
        .map_err(|e| FuncError::msg(format!("error generating rsa key: {e}")))
}

fn pem_key(v: &Value) -> Result<PrivateKey, FuncError> {
    keys::parse_pem(string_param(v)?)
        .map_err(|e| FuncError::msg(format!("parsing private key: {e}")))
}

fn make(
    t: &Template,
    key: &PrivateKey,
    parent: Option<(&cert::Parent, &PrivateKey)>,
) -> Result<Value, FuncError> {
    let (c, k) = cert::create(t, key, parent)
        .map_err(|e| FuncError::msg(format!("error creating certificate: {e}")))?;
    Ok(certificate(c, k))
}

/// `genCA` / `genCAWithKey` after the key is known.
fn ca(a: &[Value], key: &PrivateKey) -> Result<Value, FuncError> {
    let t = Template {
        cn: string_param(&a[0])?.to_string(),
        ips: Vec::new(),
        dns: Vec::new(),
        days: int_param(&a[1])?,
        is_ca: true,
    };
    make(&t, key, None)
}

/// The (cn, ips, dns, days) template of the self-signed and signed certificate functions.
fn leaf_template(a: &[Value]) -> Result<Template, FuncError> {
    let cn = string_param(&a[0])?.to_string();
    let days = int_param(&a[3])?;
    let (ips, dns) = sans(&a[1], &a[2])?;
    Ok(Template {
        cn,
        ips,
        dns,
        days,
        is_ca: false,
    })
}

/// `genSignedCert` (no `key_pem`: a fresh RSA key) / `genSignedCertWithKey`, checking
/// arguments in Sprig's order; a key is generated only once everything else is valid.
fn signed(a: &[Value], key_pem: Option<&Value>) -> Result<Value, FuncError> {
    string_param(&a[0])?;
    list_param(&a[1])?;
    list_param(&a[2])?;
    int_param(&a[3])?;
    let (ca_cert, ca_key) = certificate_param(&a[4])?;
    let given = key_pem.map(pem_key).transpose()?;
    let parent = cert::parse_parent(&ca_cert).map_err(FuncError::Msg)?;
    let signer = keys::parse_pem(&ca_key)
        .map_err(|e| FuncError::msg(format!("error parsing private key: {e}")))?;
    let t = leaf_template(a)?;
    let key = match given {
        Some(k) => k,
        None => rsa_key()?,
    };
    make(&t, &key, Some((&parent, &signer)))
}

/// Sprig's `buildCustomCert`.
fn build_custom(b64cert: &str, b64key: &str) -> Result<Value, FuncError> {
    let cert = super::encoding::go_b64_decode(b64cert)
        .map_err(|_| FuncError::msg("unable to decode base64 certificate"))?;
    let key = super::encoding::go_b64_decode(b64key)
        .map_err(|_| FuncError::msg("unable to decode base64 private key"))?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let Some((_, der_bytes)) = der::pem_decode(&cert) else {
        return Err(FuncError::msg("unable to decode certificate"));
    };
    cert::parse_certificate(&der_bytes).map_err(|e| {
        FuncError::msg(format!("error parsing certificate: decodedCert.Bytes: {e}"))
    })?;
    keys::parse_pem(&key).map_err(|e| FuncError::msg(format!("error parsing private key: {e}")))?;
    Ok(certificate(cert, key))
}

pub(crate) fn register(m: &mut FuncMap) {
    reg(m, "genPrivateKey", |a| {
        want(a, 1, "genPrivateKey")?;
        let s = match keys::generate(string_param(&a[0])?) {
            Ok(k) => k.to_pem().unwrap_or_else(|e| e),
            Err(e) => e,
        };
        Ok(Value::from(s))
    });
    reg(m, "genCA", |a| {
        want(a, 2, "genCA")?;
        string_param(&a[0])?;
        int_param(&a[1])?;
        ca(a, &rsa_key()?)
    });
    reg(m, "genCAWithKey", |a| {
        want(a, 3, "genCAWithKey")?;
        string_param(&a[0])?;
        int_param(&a[1])?;
        ca(a, &pem_key(&a[2])?)
    });
    reg(m, "genSelfSignedCert", |a| {
        want(a, 4, "genSelfSignedCert")?;
        string_param(&a[0])?;
        int_param(&a[3])?;
        let t = leaf_template(a)?;
        make(&t, &rsa_key()?, None)
    });
    reg(m, "genSelfSignedCertWithKey", |a| {
        want(a, 5, "genSelfSignedCertWithKey")?;
        string_param(&a[0])?;
        list_param(&a[1])?;
        list_param(&a[2])?;
        int_param(&a[3])?;
        let key = pem_key(&a[4])?;
        make(&leaf_template(a)?, &key, None)
    });
    reg(m, "genSignedCert", |a| {
        want(a, 5, "genSignedCert")?;
        signed(a, None)
    });
    reg(m, "genSignedCertWithKey", |a| {
        want(a, 6, "genSignedCertWithKey")?;
        string_param(&a[5])?;
        signed(a, Some(&a[5]))
    });
    reg(m, "buildCustomCert", |a| {
        want(a, 2, "buildCustomCert")?;
        build_custom(string_param(&a[0])?, string_param(&a[1])?)
    });
    reg(m, "bcrypt", |a| {
        want(a, 1, "bcrypt")?;
        Ok(Value::from(secrets::bcrypt(string_param(&a[0])?)))
    });
    reg(m, "htpasswd", |a| {
        want(a, 2, "htpasswd")?;
        Ok(Value::from(secrets::htpasswd(
            string_param(&a[0])?,
            string_param(&a[1])?,
        )))
    });
    reg(m, "derivePassword", |a| {
        want(a, 5, "derivePassword")?;
        let counter = uint32_param(&a[0])?;
        let [kind, password, user, site] = [&a[1], &a[2], &a[3], &a[4]].map(string_param);
        Ok(Value::from(secrets::derive_password(
            counter, kind?, password?, user?, site?,
        )))
    });
    reg(m, "encryptAES", |a| {
        want(a, 2, "encryptAES")?;
        Ok(Value::from(secrets::encrypt_aes(
            string_param(&a[0])?,
            string_param(&a[1])?,
        )))
    });
    reg(m, "decryptAES", |a| {
        want(a, 2, "decryptAES")?;
        secrets::decrypt_aes(string_param(&a[0])?, string_param(&a[1])?)
            .map(Value::from)
            .map_err(FuncError::Msg)
    });
}
