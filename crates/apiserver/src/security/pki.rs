//! The cluster's certificate authority, serving certificate, admin credentials and kubeconfig,
//! generated at first start and kept in the data dir.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Errors while creating or loading key material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Certificate generation or parsing failed.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), PkiError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(contents).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// The cluster CA: signs the serving certificate and client certificates.
pub struct CertificateAuthority {
    /// PEM of the CA certificate.
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl CertificateAuthority {
    /// Loads the CA from `dir`, or creates it there.
    pub fn load_or_create(dir: &Path) -> Result<CertificateAuthority, PkiError> {
        let cert_path = dir.join("ca.crt");
        let key_path = dir.join("ca.key");
        if cert_path.exists() && key_path.exists() {
            let cert_pem = fs::read_to_string(&cert_path).map_err(io_err(&cert_path))?;
            let key_pem = fs::read_to_string(&key_path).map_err(io_err(&key_path))?;
            let key = KeyPair::from_pem(&key_pem)?;
            let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
            return Ok(CertificateAuthority { cert_pem, issuer });
        }
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "orrery-ca");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(3650);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        write_private(&cert_path, cert_pem.as_bytes())?;
        let issuer = Issuer::new(params, key);
        Ok(CertificateAuthority { cert_pem, issuer })
    }

    /// Issues a certificate for `common_name` with the given SANs, groups (O=) and usage.
    pub fn issue(
        &self,
        common_name: &str,
        organizations: &[String],
        dns: &[String],
        ips: &[IpAddr],
        server: bool,
        valid_days: u64,
    ) -> Result<(String, String), PkiError> {
        let mut params = CertificateParams::new(dns.to_vec())?;
        for ip in ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        for o in organizations {
            params
                .distinguished_name
                .push(DnType::OrganizationName, o.as_str());
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(valid_days as i64);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

/// Everything the API server needs to serve TLS and recognise its administrator.
pub struct ClusterCredentials {
    /// The cluster CA.
    pub ca: CertificateAuthority,
    /// PEM of the serving certificate (leaf first).
    pub serving_cert_pem: String,
    /// PEM of the serving key.
    pub serving_key_pem: String,
    /// The bearer token of the cluster administrator (`system:admin`, group `system:masters`).
    pub admin_token: String,
    /// PKCS#8 PEM of the key that signs ServiceAccount tokens.
    pub sa_key_pem: String,
    /// SPKI PEM of its public key.
    pub sa_pub_pem: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl ClusterCredentials {
    /// Loads the credentials from `dir/pki`, creating what is missing. The serving certificate
    /// is re-issued when it does not cover `ips`.
    pub fn load_or_create(dir: &Path, ips: &[IpAddr]) -> Result<ClusterCredentials, PkiError> {
        let pki = dir.join("pki");
        fs::create_dir_all(&pki).map_err(io_err(&pki))?;
        let ca = CertificateAuthority::load_or_create(&pki)?;
        let mut ips: Vec<IpAddr> = ips.to_vec();
        for ip in ["127.0.0.1", "::1"] {
            if let Ok(ip) = ip.parse::<IpAddr>()
                && !ips.contains(&ip)
            {
                ips.push(ip);
            }
        }
        ips.sort();
        let sans_line: String = ips
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let cert_path = pki.join("apiserver.crt");
        let key_path = pki.join("apiserver.key");
        let sans_path = pki.join("apiserver.sans");
        let current = fs::read_to_string(&sans_path).unwrap_or_default();
        let (serving_cert_pem, serving_key_pem) =
            if current.trim() == sans_line && cert_path.exists() && key_path.exists() {
                (
                    fs::read_to_string(&cert_path).map_err(io_err(&cert_path))?,
                    fs::read_to_string(&key_path).map_err(io_err(&key_path))?,
                )
            } else {
                let dns = [
                    "localhost",
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local",
                ]
                .map(String::from);
                let (cert, key) = ca.issue("kube-apiserver", &[], &dns, &ips, true, 3650)?;
                write_private(&key_path, key.as_bytes())?;
                write_private(&cert_path, cert.as_bytes())?;
                write_private(&sans_path, sans_line.as_bytes())?;
                (cert, key)
            };
        let token_path = pki.join("admin.token");
        let admin_token = match fs::read_to_string(&token_path) {
            Ok(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let t = random_token();
                write_private(&token_path, t.as_bytes())?;
                t
            }
        };
        let sa_key_path = pki.join("sa.key");
        let sa_key_pem = match fs::read_to_string(&sa_key_path) {
            Ok(k) if !k.trim().is_empty() => k,
            _ => {
                let k = KeyPair::generate()?.serialize_pem();
                write_private(&sa_key_path, k.as_bytes())?;
                k
            }
        };
        let sa_pub_pem = KeyPair::from_pem(&sa_key_pem)?.public_key_pem();
        Ok(ClusterCredentials {
            ca,
            serving_cert_pem,
            serving_key_pem,
            admin_token,
            sa_key_pem,
            sa_pub_pem,
        })
    }
}

/// How a kubeconfig's user authenticates.
pub enum KubeconfigAuth<'a> {
    /// A bearer token.
    Token(&'a str),
    /// A client certificate and key, both PEM.
    ClientCert {
        /// Certificate PEM.
        cert_pem: &'a str,
        /// Key PEM.
        key_pem: &'a str,
    },
}

/// Renders a kubeconfig with one cluster, user and context, all named `name`.
pub fn kubeconfig_yaml(
    name: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    auth: KubeconfigAuth<'_>,
) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let auth_lines = match auth {
        KubeconfigAuth::Token(t) => format!("    token: {t}\n"),
        KubeconfigAuth::ClientCert { cert_pem, key_pem } => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(cert_pem),
            b64(key_pem)
        ),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n{auth_lines}contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {user}\ncurrent-context: {name}\npreferences: {{}}\n",
        ca = b64(ca_pem),
    )
}
