//! Authorization requests (`/oauth/authorize` of Orrery as an OpenID provider): their
//! parameters and the checks they pass once the client and its redirect URI are known, and the
//! addresses answers go to. Pure.

use std::collections::HashMap;

use super::claims;
use super::clients::OAuthClient;
use super::codes;

/// Parses a query, refusing repeated parameters (RFC 6749 §3.1).
pub fn single_params(q: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(q.as_bytes()).into_owned() {
        if out.contains_key(&k) {
            return Err(format!("the parameter {k} is given more than once"));
        }
        out.insert(k, v);
    }
    Ok(out)
}

/// Where to log in first, coming back to this very request.
pub fn login_redirect(raw_query: &str) -> String {
    let back = format!("/oauth/authorize?{raw_query}");
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("redirect", &back)
        .finish();
    format!("/console/login?{q}")
}

/// `redirect_uri` with `params` added to its query.
pub fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", q.finish())
}

/// What a well-formed authorization request asks for.
#[derive(Debug, PartialEq)]
pub struct Request {
    /// The scopes asked for (unknown ones kept; they grant nothing).
    pub scopes: Vec<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
}

/// Checks the request's parameters for `client`; the OAuth error and why otherwise.
pub fn check<'a>(
    client: &OAuthClient,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Request, (&'static str, String)> {
    match get("response_type") {
        Some("code") => {}
        None => return Err(("invalid_request", "response_type is required".into())),
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type {other:?} is not supported (only code)"),
            ));
        }
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return Err((
            "invalid_request",
            "only response_mode=query is supported".into(),
        ));
    }
    if get("request").is_some() {
        return Err((
            "request_not_supported",
            "request objects are not supported".into(),
        ));
    }
    if get("request_uri").is_some() {
        return Err((
            "request_uri_not_supported",
            "request_uri is not supported".into(),
        ));
    }
    let scopes = claims::split_scopes(get("scope").unwrap_or_default());
    if !client.scope_restrictions.is_empty()
        && let Some(s) = scopes
            .iter()
            .find(|s| !client.scope_restrictions.contains(s))
    {
        return Err((
            "invalid_scope",
            format!("client {} may not ask for scope {s:?}", client.id),
        ));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) if client.is_public() => {
            return Err((
                "invalid_request",
                "PKCE (code_challenge with S256) is required of public clients".into(),
            ));
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err((
                "invalid_request",
                "code_challenge_method without code_challenge".into(),
            ));
        }
        (Some(c), Some("S256")) if codes::is_s256_challenge(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => {
            return Err((
                "invalid_request",
                "code_challenge is not a base64url SHA-256".into(),
            ));
        }
        (Some(_), _) => {
            return Err((
                "invalid_request",
                "only code_challenge_method=S256 is supported".into(),
            ));
        }
    };
    Ok(Request {
        scopes,
        code_challenge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openid::clients;

    fn client(yaml: &str) -> OAuthClient {
        clients::parse_configuration(yaml).expect("client")
    }

    fn check(c: &OAuthClient, q: &str) -> Result<Request, (&'static str, String)> {
        let m = single_params(q).expect("params");
        let get = |k: &str| m.get(k).map(String::as_str).filter(|v| !v.is_empty());
        super::check(c, &get)
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn authorization_requests_are_checked() {
        let conf = client("name: grafana\nsecret: s\nredirectURIs: [https://g.test/cb]\n");
        let public = client("name: kubectl\nredirectURIs: [http://localhost:8000]\n");
        let ok = check(&conf, "response_type=code&scope=openid+email+openid").expect("ok");
        assert_eq!(ok.scopes, vec!["openid", "email"]);
        assert_eq!(ok.code_challenge, None);
        let pkce =
            format!("response_type=code&code_challenge={CHALLENGE}&code_challenge_method=S256");
        assert_eq!(
            check(&public, &pkce).expect("ok").code_challenge.as_deref(),
            Some(CHALLENGE)
        );
        let err = |c: &OAuthClient, q: &str| check(c, q).expect_err(q).0;
        assert_eq!(err(&conf, "scope=openid"), "invalid_request");
        assert_eq!(
            err(&conf, "response_type=token"),
            "unsupported_response_type"
        );
        assert_eq!(
            err(&conf, "response_type=code&response_mode=fragment"),
            "invalid_request"
        );
        assert_eq!(
            err(&conf, "response_type=code&request=x"),
            "request_not_supported"
        );
        assert_eq!(
            err(&public, "response_type=code"),
            "invalid_request",
            "PKCE for public clients"
        );
        assert_eq!(
            err(
                &conf,
                &format!("response_type=code&code_challenge={CHALLENGE}")
            ),
            "invalid_request",
            "plain (the default method) is refused"
        );
        assert_eq!(
            err(
                &conf,
                &format!(
                    "response_type=code&code_challenge={CHALLENGE}&code_challenge_method=plain"
                )
            ),
            "invalid_request"
        );
        assert_eq!(
            err(
                &conf,
                "response_type=code&code_challenge=short&code_challenge_method=S256"
            ),
            "invalid_request"
        );
        assert_eq!(
            err(&conf, "response_type=code&code_challenge_method=S256"),
            "invalid_request"
        );
        let restricted = client("name: r\nsecret: s\nscopeRestrictions: [openid, email]\n");
        assert!(check(&restricted, "response_type=code&scope=openid").is_ok());
        assert_eq!(
            err(&restricted, "response_type=code&scope=openid+groups"),
            "invalid_scope"
        );
        assert!(single_params("client_id=a&client_id=b").is_err());
    }

    #[test]
    fn logins_come_back_to_the_same_request() {
        let to = login_redirect("client_id=g&redirect_uri=https%3A%2F%2Fg.test%2Fcb&state=a%26b");
        assert_eq!(
            to,
            "/console/login?redirect=%2Foauth%2Fauthorize%3Fclient_id%3Dg%26redirect_uri%3Dhttps%253A%252F%252Fg.test%252Fcb%26state%3Da%2526b"
        );
        let back: HashMap<String, String> = form_urlencoded::parse(
            to.split_once('?')
                .map(|(_, q)| q)
                .unwrap_or_default()
                .as_bytes(),
        )
        .into_owned()
        .collect();
        assert_eq!(
            back["redirect"],
            "/oauth/authorize?client_id=g&redirect_uri=https%3A%2F%2Fg.test%2Fcb&state=a%26b"
        );
    }
}
