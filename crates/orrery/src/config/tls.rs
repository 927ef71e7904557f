//! The platform listener's TLS from the configuration: the operator's PEM pair (read and
//! checked at start, so a wrong path, a file without a certificate or a key that does not
//! belong to the certificate stops `orrery serve` with the file's name; the platform re-reads
//! the files when they change), the generated self-signed pair, or none; and the warning a
//! non-loopback listener deserves.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use platform::serve::{TlsMaterial, TlsSource};

use super::tunables::PlatformTunables;

/// Where the platform's certificate comes from.
pub fn source(t: &PlatformTunables) -> anyhow::Result<TlsSource> {
    if !t.tls {
        return Ok(TlsSource::Off);
    }
    let (Some(cert_path), Some(key_path)) = (&t.tls_cert, &t.tls_key) else {
        return Ok(TlsSource::SelfSigned);
    };
    let cert = read_pem(cert_path, "--tls-cert")?;
    let key = read_pem(key_path, "--tls-key")?;
    anyhow::ensure!(
        cert.contains("-----BEGIN CERTIFICATE-----"),
        "--tls-cert {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
        cert_path.display()
    );
    anyhow::ensure!(
        key.contains("PRIVATE KEY-----"),
        "--tls-key {}: no PEM private key (-----BEGIN … PRIVATE KEY-----) in the file",
        key_path.display()
    );
    let material = TlsMaterial {
        cert_pem: cert,
        key_pem: key,
    };
    platform::serve::server_config(&material).map_err(|e| {
        anyhow::anyhow!(
            "--tls-cert {} and --tls-key {} cannot be served ({e}); the key must be the \
             certificate's, both in PEM",
            cert_path.display(),
            key_path.display()
        )
    })?;
    Ok(TlsSource::Files {
        cert: cert_path.clone(),
        key: key_path.clone(),
    })
}

fn read_pem(path: &Path, flag: &str) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("{flag} {}", path.display()))?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{flag} {}: not a PEM (text) file", path.display()))
}

/// What to tell the operator about how `listen` is served, if anything.
pub fn listener_warning(listen: SocketAddr, tls: &TlsSource) -> Option<String> {
    if listen.ip().is_loopback() {
        return None;
    }
    Some(match tls {
        TlsSource::Off => format!(
            "WARNING: the platform listens on {listen}, a non-loopback address, WITHOUT TLS: \
             passwords and tokens cross the network in clear text. Give --tls-cert and \
             --tls-key (or drop --tls=false to serve a self-signed certificate)."
        ),
        TlsSource::SelfSigned => format!(
            "warning: the platform listens on {listen}, a non-loopback address, with a \
             self-signed certificate that clients cannot verify; give --tls-cert and \
             --tls-key. Plain HTTP is answered on the same port too: let clients use https://."
        ),
        TlsSource::Pem { .. } | TlsSource::Files { .. } => format!(
            "note: the platform listens on {listen} with the configured certificate; plain \
             HTTP is answered on the same port too: let clients use https://."
        ),
    })
}

/// What to tell the operator when clients would be sent to an address nobody can reach.
pub fn public_url_warning(listen: SocketAddr, public_url: Option<&str>) -> Option<String> {
    (listen.ip().is_unspecified() && public_url.is_none()).then(|| {
        format!(
            "warning: --public-url is not set and the platform listens on {listen}: the \
             kubeconfigs it issues and the quota webhooks of member clusters would name that \
             address; set --public-url (publicURL) to the URL clients reach the platform at"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_needs_a_public_url() {
        let any: SocketAddr = "0.0.0.0:30880".parse().expect("addr");
        let lo: SocketAddr = "127.0.0.1:30880".parse().expect("addr");
        assert!(public_url_warning(any, None).is_some());
        assert!(public_url_warning(any, Some("https://orrery.example.com")).is_none());
        assert!(public_url_warning(lo, None).is_none());
    }

    #[test]
    fn only_non_loopback_listeners_are_warned_about_and_no_tls_loudest() {
        let lo: SocketAddr = "127.0.0.1:30880".parse().expect("addr");
        let lo6: SocketAddr = "[::1]:30880".parse().expect("addr");
        let any: SocketAddr = "0.0.0.0:30880".parse().expect("addr");
        assert_eq!(listener_warning(lo, &TlsSource::Off), None);
        assert_eq!(listener_warning(lo6, &TlsSource::Off), None);
        let off = listener_warning(any, &TlsSource::Off).expect("warned");
        assert!(
            off.starts_with("WARNING") && off.contains("WITHOUT TLS"),
            "{off}"
        );
        let self_signed = listener_warning(any, &TlsSource::SelfSigned).expect("warned");
        assert!(self_signed.contains("self-signed"), "{self_signed}");
    }
}
