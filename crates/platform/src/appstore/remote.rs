//! Fetching from Helm repositories and OCI registries: the HTTP client a `Repo`'s credential
//! makes (basic auth, its own CA, `insecureSkipTLSVerify`), capped reads that say in words why
//! an answer was refused, and [`download`] — a chart package fetched and checked against the
//! digest its index or manifest gave, and loaded as a chart with Helm's archive checks (sizes,
//! paths, links). A sync downloads through it, and so does a version whose package is fetched
//! on first use ([`super::package::package_of`]).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use super::{ChartInfo, chart_info, package};

const TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP client for the repository's credential.
pub(crate) fn client_for(repo: &Value) -> Result<reqwest::Client, String> {
    let cred = &repo["spec"]["credential"];
    let mut b = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(5));
    if cred["insecureSkipTLSVerify"].as_bool() == Some(true) {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(ca) = cred["caData"].as_str().filter(|s| !s.is_empty()) {
        // KubeSphere keeps it as base64 of the PEM; plain PEM is accepted too.
        let pem = if ca.contains("-----BEGIN") {
            ca.as_bytes().to_vec()
        } else {
            B64.decode(ca.trim())
                .map_err(|_| "credential.caData is neither PEM nor base64 of PEM".to_string())?
        };
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("credential.caData: {e}"))?
        {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().map_err(|e| e.to_string())
}

/// `GET {url}: …` with the error and each of its sources (where the real reason, such as
/// "Connection refused", is).
pub(super) fn request_error(url: &str, e: &reqwest::Error) -> String {
    let mut why = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        why = format!("{why}: {s}");
        src = s.source();
    }
    format!("GET {url}: {why}")
}

/// The body of an answer from a `server` (repository or registry), at most `max` bytes; a
/// refused credential or another failure in words.
pub(super) async fn read_answer(
    mut resp: reqwest::Response,
    url: &str,
    max: usize,
    server: &str,
) -> Result<Vec<u8>, String> {
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(format!(
            "GET {url}: {status}: the {server} refused the credential"
        ));
    }
    if !status.is_success() {
        return Err(format!("GET {url}: {status}"));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| request_error(url, &e))? {
        if out.len() + chunk.len() > max {
            return Err(format!(
                "GET {url}: larger than {} MiB",
                max / (1024 * 1024)
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// GETs `url` with the repository's credential, reading at most `max` bytes.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    repo: &Value,
    url: &str,
    max: usize,
) -> Result<Vec<u8>, String> {
    let cred = &repo["spec"]["credential"];
    let mut req = client.get(url);
    if let Some(user) = cred["username"].as_str().filter(|s| !s.is_empty()) {
        req = req.basic_auth(user, cred["password"].as_str());
    }
    let resp = req.send().await.map_err(|e| request_error(url, &e))?;
    read_answer(resp, url, max, "repository").await
}

/// What a package must be: where it is, the digest it must have, and the chart it must hold.
pub(crate) struct Wanted<'a> {
    /// The package's URL (`oci-blob:…` for a registry's blob).
    pub url: &'a str,
    /// Hex SHA-256, or empty when the source gave none.
    pub digest: &'a str,
    /// The chart's name, when known.
    pub chart: Option<&'a str>,
    /// The chart's version.
    pub version: &'a str,
}

/// Downloads the package `want` names from `repo`, checks its digest and that it loads as
/// that chart; the package and what it says about itself, or why not (in words naming the
/// chart and version).
pub(crate) async fn download(
    client: &reqwest::Client,
    repo: &Value,
    want: &Wanted<'_>,
) -> Result<(ChartInfo, Vec<u8>), String> {
    // A sync names the chart; a version fetched on first use is named by its caller.
    let what = match want.chart {
        Some(c) => format!("{c} {}: ", want.version),
        None => String::new(),
    };
    let pkg = if want.url.starts_with("oci-blob:") {
        super::oci::blob(client, repo, want.url).await?
    } else {
        fetch(client, repo, want.url, package::MAX_PACKAGE).await?
    };
    let digest = package::digest(&pkg);
    if !want.digest.is_empty() && want.digest != digest {
        return Err(format!(
            "{what}the package's digest is {digest}, the index says {}",
            want.digest
        ));
    }
    let (info, pkg) = tokio::task::spawn_blocking(move || chart_info(&pkg).map(|i| (i, pkg)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|why| format!("{what}{why}"))?;
    if want.chart.is_some_and(|c| c != info.name) || info.version != want.version {
        return Err(format!(
            "{what}the package holds {} {}",
            info.name, info.version
        ));
    }
    Ok((info, pkg))
}
