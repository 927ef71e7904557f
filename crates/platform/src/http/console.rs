//! The web console: the built single-page app (`console/dist`, embedded at compile time in
//! release builds, read from disk in debug builds) served under `/console/`, with `/`
//! redirecting there. Unknown page paths get `index.html` (the app routes on the client);
//! hashed assets are cached for a year, everything else is revalidated.

use std::borrow::Cow;

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};

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
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: https:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
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
    let mut resp = asset_response(path);
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    resp
}

fn asset_response(path: &str) -> Response {
    match resolve(path, embedded) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.mime),
                (header::CACHE_CONTROL, a.cache.to_string()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            a.body.into_owned(),
        )
            .into_response(),
        None if path.starts_with("assets/") => {
            (StatusCode::NOT_FOUND, "no such console asset").into_response()
        }
        None => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, REVALIDATE),
            ],
            NOT_BUILT,
        )
            .into_response(),
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
    fn nothing_built_means_no_answer() {
        assert_eq!(resolve("", |_| None), None);
    }
}
