//! Helm charts in OCI registries (Helm's OCI layout): a `Repo` with an `oci://host[:port]/path`
//! URL names the charts it follows in `spec.charts` (a registry has no index); each chart is
//! the repository `path/chart`, its tags are its versions (Helm writes `+` as `_`), and each
//! tag's manifest has one layer of media type [`CHART_LAYER`], the package. Registries that
//! answer with a Bearer challenge (token auth) get the token from their realm, with the
//! repository's credential.

use std::collections::BTreeMap;

use serde_json::Value;

use super::package;
use super::remote::{read_answer, request_error};
use super::repos::{Candidate, version_key};

/// The media type of a Helm chart's layer.
pub const CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const PREFIX: &str = "oci-blob:";

/// `{"realm": …, "service": …, "scope": …}` of a `WWW-Authenticate: Bearer …` header.
fn bearer_challenge(header: &str) -> Option<BTreeMap<String, String>> {
    let rest = header.trim().strip_prefix("Bearer ")?;
    let mut out = BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            match after.find(',') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        out.insert(key.trim().to_string(), value.to_string());
        rest = tail.trim_start_matches([',', ' ']);
    }
    out.contains_key("realm").then_some(out)
}

/// GETs `url` from the registry: basic auth when the repository has a credential, and a
/// Bearer token when the registry asks for one. At most `max` bytes.
async fn get(
    client: &reqwest::Client,
    repo: &Value,
    url: &str,
    accept: &str,
    max: usize,
) -> Result<Vec<u8>, String> {
    let cred = &repo["spec"]["credential"];
    let user = cred["username"].as_str().filter(|s| !s.is_empty());
    let password = cred["password"].as_str();
    let send = |bearer: Option<String>| {
        let mut req = client.get(url).header("accept", accept);
        match (&bearer, user) {
            (Some(t), _) => req = req.bearer_auth(t),
            (None, Some(u)) => req = req.basic_auth(u, password),
            _ => {}
        }
        req.send()
    };
    let describe = |e: reqwest::Error| request_error(url, &e);
    let mut resp = send(None).await.map_err(describe)?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED
        && let Some(ch) = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_challenge)
    {
        let mut token_req = client.get(&ch["realm"]);
        let params: Vec<(&str, &String)> = ["service", "scope"]
            .iter()
            .filter_map(|k| ch.get(*k).map(|v| (*k, v)))
            .collect();
        token_req = token_req.query(&params);
        if let Some(u) = user {
            token_req = token_req.basic_auth(u, password);
        }
        let token = token_req
            .send()
            .await
            .map_err(describe)?
            .bytes()
            .await
            .map_err(|e| format!("GET {}: {e}", ch["realm"]))?;
        let token: Value = serde_json::from_slice(&token)
            .map_err(|e| format!("GET {}: the token answer is not JSON: {e}", ch["realm"]))?;
        let token = token["token"]
            .as_str()
            .or(token["access_token"].as_str())
            .ok_or_else(|| format!("{}: no token in the answer", ch["realm"]))?
            .to_string();
        resp = send(Some(token)).await.map_err(describe)?;
    }
    read_answer(resp, url, max, "registry").await
}

/// The followed charts of an OCI repository (`rest`: `host[:port][/path]`, after `oci://`):
/// chart → its newest `max` versions.
pub(super) async fn charts(
    client: &reqwest::Client,
    repo: &Value,
    rest: &str,
    max: usize,
) -> Result<BTreeMap<String, Vec<Candidate>>, String> {
    let (host, path) = match rest.trim_end_matches('/').split_once('/') {
        Some((h, p)) => (h, p.trim_matches('/')),
        None => (rest.trim_end_matches('/'), ""),
    };
    if host.is_empty() {
        return Err("the oci:// URL names no registry".into());
    }
    let names: Vec<&str> = repo["spec"]["charts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if names.is_empty() {
        return Err(
            "an OCI registry has no index: name the charts to follow in spec.charts".into(),
        );
    }
    let base = format!("https://{host}/v2");
    let mut out = BTreeMap::new();
    for chart in names {
        if chart.is_empty() || chart.contains(['/', '?', '#', ' ']) {
            return Err(format!("spec.charts: {chart:?} is not a chart name"));
        }
        let repository = if path.is_empty() {
            chart.to_string()
        } else {
            format!("{path}/{chart}")
        };
        let tags = get(
            client,
            repo,
            &format!("{base}/{repository}/tags/list"),
            "application/json",
            16 << 20,
        )
        .await?;
        let tags: Value = serde_json::from_slice(&tags)
            .map_err(|e| format!("{repository}: the tag list is not JSON: {e}"))?;
        let mut versions: Vec<String> = tags["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|t| t.replace('_', "+"))
            .filter(|v| version_key(v).0 == 1)
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(version_key(v)));
        versions.truncate(max);
        let mut list = Vec::new();
        for version in versions {
            let tag = version.replace('+', "_");
            let manifest = get(
                client,
                repo,
                &format!("{base}/{repository}/manifests/{tag}"),
                MANIFEST,
                4 << 20,
            )
            .await?;
            let manifest: Value = serde_json::from_slice(&manifest)
                .map_err(|e| format!("{repository}:{tag}: the manifest is not JSON: {e}"))?;
            let layer = manifest["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|l| l["mediaType"] == CHART_LAYER)
                .ok_or_else(|| {
                    format!("{repository}:{tag}: no Helm chart layer in the manifest")
                })?;
            let digest = layer["digest"].as_str().unwrap_or_default();
            let hex = digest
                .strip_prefix("sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| {
                    format!("{repository}:{tag}: layer digest {digest:?} is not sha256")
                })?;
            list.push(Candidate {
                version,
                url: format!("{PREFIX}{base}/{repository}/blobs/{digest}"),
                digest: hex.to_ascii_lowercase(),
                app_version: String::new(),
                replaces: false,
                // A registry has no index to describe a version by: each is downloaded.
                eager: true,
                meta: Default::default(),
            });
        }
        out.insert(chart.to_string(), list);
    }
    Ok(out)
}

/// A chart package blob (`url` as [`charts`] made it).
pub(super) async fn blob(
    client: &reqwest::Client,
    repo: &Value,
    url: &str,
) -> Result<Vec<u8>, String> {
    let url = url.strip_prefix(PREFIX).unwrap_or(url);
    get(
        client,
        repo,
        url,
        "application/octet-stream",
        package::MAX_PACKAGE,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_read_like_docker_does() {
        let ch = bearer_challenge(r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:charts/web:pull""#)
            .expect("challenge");
        assert_eq!(ch["realm"], "https://auth.example/token");
        assert_eq!(ch["service"], "registry.example");
        assert_eq!(ch["scope"], "repository:charts/web:pull");
        assert!(bearer_challenge(r#"Basic realm="x""#).is_none());
        assert!(bearer_challenge("Bearer service=x").is_none());
    }
}
