//! The web console: the built single-page app (`console/dist`, embedded at compile time in
//! release builds, read from disk in debug builds) served under `/console/`, with `/`
//! redirecting there. Unknown page paths get `index.html` (the app routes on the client);
//! hashed assets are cached for a year, everything else is revalidated.

use std::borrow::Cow;

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

/// The built console.
#[derive(rust_embed::Embed)]
#[folder = "../../console/dist/"]
#[allow_missing = true]
struct Dist;

/// A file to answer with.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset<'a> {
    /// Bytes.
    pub body: Cow<'a, [u8]>,
    /// `Content-Type`.
    pub mime: String,
    /// `Cache-Control`.
    pub cache: &'static str,
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Pages run only the console's own scripts, talk only to this origin and are never framed.
/// Styles may be inline: React style attributes and CodeMirror's injected style sheets.
/// Images may also come over HTTPS: app icons are the URLs charts name (never scripts).
/// `{scripts}` is `'self'` and the hashes of the page's import maps (see [`csp_for`]).
const CSP: &str = "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy for a console page: scripts from this origin only, plus each
/// import map the page itself carries, allowed by its SHA-256 hash (an import map is an inline
/// script; the console's maps the shared libraries UI extensions import). Nothing else inline
/// runs: no `'unsafe-inline'`, no `'unsafe-eval'`.
pub fn csp_for(html: &[u8]) -> String {
    let text = String::from_utf8_lossy(html);
    let mut scripts = String::from("'self'");
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("<script") {
        let tag = &rest[start..];
        let Some(open_end) = tag.find('>') else {
            break;
        };
        let attrs = &tag[..open_end];
        let body = &tag[open_end + 1..];
        let Some(end) = body.find("</script>") else {
            break;
        };
        if attrs.contains("type=\"importmap\"") || attrs.contains("type='importmap'") {
            let digest = Sha256::digest(&body.as_bytes()[..end]);
            scripts.push_str(&format!(" 'sha256-{}'", B64.encode(digest)));
        }
        rest = &body[end..];
    }
    CSP.replace("{scripts}", &scripts)
}

const REVALIDATE: &str = "no-cache";

/// Shown when the binary was built before the console (`npm run build` in `console/`).
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Orrery</title>\
<h1>Console not built</h1><p>Build it with <code>scripts/console.sh build</code> \
(npm ci &amp;&amp; npm run build in <code>console/</code>) and rebuild the binary. \
The API is served as usual.</p>";

/// Picks what to answer for `path` (relative to `/console/`) from files found by `lookup`.
pub fn resolve<'a>(
    path: &str,
    lookup: impl Fn(&str) -> Option<(Cow<'a, [u8]>, String)>,
) -> Option<Asset<'a>> {
    let path = path.trim_start_matches('/');
    if !path.is_empty()
        && let Some((body, mime)) = lookup(path)
    {
        let cache = if path.starts_with("assets/") {
            IMMUTABLE
        } else {
            REVALIDATE
        };
        return Some(Asset { body, mime, cache });
    }
    // A missing asset is a 404 (a stale page asking for an old chunk must see it fail, not get
    // HTML); anything else is a page of the app.
    if path.starts_with("assets/") {
        return None;
    }
    lookup("index.html").map(|(body, mime)| Asset {
        body,
        mime,
        cache: REVALIDATE,
    })
}

fn embedded(path: &str) -> Option<(Cow<'static, [u8]>, String)> {
    Dist::get(path).map(|f| (f.data, f.metadata.mimetype().to_string()))
}

fn answer(path: &str) -> Response {
    let (mut resp, csp) = asset_response(path);
    if let Some(csp) = csp {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    resp
}

/// The answer for `path`, and the Content-Security-Policy when it is a page (HTML).
fn asset_response(path: &str) -> (Response, Option<String>) {
    match resolve(path, embedded) {
        Some(a) => {
            let csp = a.mime.starts_with("text/html").then(|| csp_for(&a.body));
            let resp = (
                [
                    (header::CONTENT_TYPE, a.mime),
                    (header::CACHE_CONTROL, a.cache.to_string()),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                ],
                a.body.into_owned(),
            )
                .into_response();
            (resp, csp)
        }
        None if path.starts_with("assets/") => (
            (StatusCode::NOT_FOUND, "no such console asset").into_response(),
            None,
        ),
        None => (
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, REVALIDATE),
                ],
                NOT_BUILT,
            )
                .into_response(),
            Some(csp_for(NOT_BUILT.as_bytes())),
        ),
    }
}

/// `GET /`: to the console (302, so browsers do not remember it).
pub async fn root() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/console/")]).into_response()
}

/// `GET /console`: to the console's canonical address (relative asset URLs need the slash).
pub async fn bare() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/`.
pub async fn index() -> Response {
    answer("")
}

/// `GET /console/{*path}`.
pub async fn file(Path(path): Path<String>) -> Response {
    answer(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        match path {
            "index.html" => Some((Cow::Borrowed(b"<html>app"), "text/html".into())),
            "assets/main-abc.js" => Some((Cow::Borrowed(b"js"), "text/javascript".into())),
            "favicon.svg" => Some((Cow::Borrowed(b"<svg>"), "image/svg+xml".into())),
            _ => None,
        }
    }

    #[test]
    fn hashed_assets_are_cached_for_long() {
        let a = resolve("assets/main-abc.js", files).expect("asset");
        assert_eq!(a.cache, IMMUTABLE);
        assert_eq!(a.mime, "text/javascript");
    }

    #[test]
    fn pages_fall_back_to_the_app() {
        for p in ["", "/", "clusters/host/pods", "login"] {
            let a = resolve(p, files).expect("index");
            assert_eq!(&*a.body, b"<html>app", "{p}");
            assert_eq!(a.cache, REVALIDATE);
        }
        assert_eq!(
            resolve("favicon.svg", files).expect("svg").cache,
            REVALIDATE
        );
    }

    #[test]
    fn missing_assets_are_not_found() {
        assert_eq!(resolve("assets/gone-123.js", files), None);
    }

    #[test]
    fn pages_carry_a_strict_content_security_policy() {
        // Built or not, a page path answers HTML, and HTML is never framed or scripted from
        // elsewhere.
        let r = answer("clusters/host/overview");
        assert_eq!(r.status(), StatusCode::OK);
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_default();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    }

    #[test]
    fn import_maps_are_allowed_by_their_hash_only() {
        // The hash is of the script's text exactly as served (computed independently:
        // printf '%s' '{"imports":{}}' | openssl dgst -sha256 -binary | base64).
        let html = br#"<html><head><script type="importmap">{"imports":{}}</script><script type="module" src="/console/assets/a.js"></script>"#;
        let csp = csp_for(html);
        assert!(
            csp.contains(
                "script-src 'self' 'sha256-URrTy+Il/Nz0lHojVUx275hWqAWhkSF0VsHbUM4/6Hw='; "
            ),
            "{csp}"
        );
        let scripts = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap_or_default();
        assert!(
            !scripts.contains("unsafe") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        // Another inline script gets no hash, and a page without a map keeps the plain policy.
        let two = br#"<script type="importmap">{"imports":{}}</script><script>alert(1)</script><script type="importmap">{}</script>"#;
        let csp = csp_for(two);
        assert_eq!(csp.matches("'sha256-").count(), 2, "{csp}");
        assert!(csp.contains("'sha256-RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o='"));
        assert!(csp_for(b"<html>app").contains("script-src 'self'; "));
        // Unterminated: no hash (the browser would not run it either).
        assert!(csp_for(br#"<script type="importmap">{"#).contains("script-src 'self'; "));
    }

    #[test]
    fn nothing_built_means_no_answer() {
        assert_eq!(resolve("", |_| None), None);
    }
}
