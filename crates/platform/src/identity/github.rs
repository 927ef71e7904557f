//! GitHub logins: its OAuth web flow (with `state`, and PKCE, which GitHub accepts), then the
//! person from `GET /user` (and `/user/emails` when the profile hides the address), and their
//! organisations and teams (`/user/orgs`, `/user/teams`) as directory groups `<org>` and
//! `<org>/<team>`. KubeSphere's settings:
//!
//! ```yaml
//! provider:
//!   clientID: …
//!   clientSecret: …
//!   redirectURL: https://orrery.example.com/oauth/callback/<idp>   # default: the platform's
//!   scopes: [read:user, user:email, read:org]
//!   endpoint:                     # GitHub Enterprise, or a stand-in in tests
//!     authURL: https://github.com/login/oauth/authorize
//!     tokenURL: https://github.com/login/oauth/access_token
//!   apiURL: https://api.github.com
//!   insecureSkipVerify: false
//! ```
//!
//! The identity's id is GitHub's numeric user id (a login can be renamed and reused; the id
//! cannot).

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::oidc::Flow;
use super::{Identity, json_of};

const TIMEOUT: Duration = Duration::from_secs(15);

/// The provider's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Options {
    #[serde(rename = "clientID")]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    /// Where GitHub sends people back (default: `{public url}/oauth/callback/{idp}`).
    #[serde(default, rename = "redirectURL")]
    pub redirect_url: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    endpoint: Endpoint,
    #[serde(default = "api_url", rename = "apiURL")]
    api_url: String,
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(rename = "authURL")]
    auth_url: String,
    #[serde(rename = "tokenURL")]
    token_url: String,
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            auth_url: "https://github.com/login/oauth/authorize".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
        }
    }
}

fn api_url() -> String {
    "https://api.github.com".into()
}

impl Options {
    /// Reads the settings.
    pub fn from_value(v: &Value) -> Result<Options, String> {
        let o: Options = serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
        if o.client_id.is_empty() {
            return Err("clientID is required".into());
        }
        Ok(o)
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(self.insecure_skip_verify)
            .user_agent("orrery")
            .build()
            .map_err(|e| e.to_string())
    }

    /// Where to send the person: GitHub's authorization page with this flow.
    pub fn authorize_url(&self, flow: &Flow, redirect: &str) -> String {
        let scopes = if self.scopes.is_empty() {
            "read:user user:email read:org".to_string()
        } else {
            self.scopes.join(" ")
        };
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", &scopes)
            .append_pair("state", &flow.state)
            .append_pair("code_challenge", &flow.challenge())
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "false")
            .finish();
        let sep = if self.endpoint.auth_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{sep}{q}", self.endpoint.auth_url)
    }

    async fn api(&self, http: &reqwest::Client, token: &str, path: &str) -> Result<Value, String> {
        let url = format!("{}{path}", self.api_url.trim_end_matches('/'));
        let resp = http
            .get(&url)
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        let body = json_of(resp).await;
        if !status.is_success() {
            return Err(format!("GET {url}: {status}"));
        }
        body.map_err(|e| format!("GET {url}: {e}"))
    }

    /// Exchanges the code and says who the person is, with their organisations and teams.
    pub async fn finish(
        &self,
        idp: &str,
        flow: &Flow,
        code: &str,
        redirect: &str,
    ) -> Result<Identity, String> {
        let http = self.client()?;
        let resp = http
            .post(&self.endpoint.token_url)
            .header("Accept", "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", flow.verifier.as_str()),
            ])
            .send()
            .await
            .map_err(|e| format!("token request: {e}"))?;
        let body = json_of(resp)
            .await
            .map_err(|e| format!("token answer: {e}"))?;
        // GitHub answers a refused code with 200 and an `error`.
        if let Some(e) = body["error"].as_str() {
            return Err(format!(
                "GitHub refused the code: {e} {}",
                body["error_description"].as_str().unwrap_or_default()
            ));
        }
        let token = body["access_token"]
            .as_str()
            .ok_or("GitHub sent no access token")?;
        let user = self.api(&http, token, "/user").await?;
        let id = match &user["id"] {
            Value::Number(n) => n.to_string(),
            _ => return Err("GitHub's user has no id".into()),
        };
        let login = user["login"].as_str().unwrap_or_default().to_string();
        let mut email = user["email"].as_str().unwrap_or_default().to_string();
        if email.is_empty()
            && let Ok(Value::Array(list)) = self.api(&http, token, "/user/emails").await
        {
            email = list
                .iter()
                .find(|e| e["primary"] == true && e["verified"] == true)
                .and_then(|e| e["email"].as_str())
                .unwrap_or_default()
                .to_string();
        }
        let mut groups = Vec::new();
        if let Ok(Value::Array(orgs)) = self.api(&http, token, "/user/orgs").await {
            groups.extend(
                orgs.iter()
                    .filter_map(|o| o["login"].as_str())
                    .map(str::to_string),
            );
        }
        if let Ok(Value::Array(teams)) = self.api(&http, token, "/user/teams").await {
            groups.extend(teams.iter().filter_map(|t| {
                Some(format!(
                    "{}/{}",
                    t["organization"]["login"].as_str()?,
                    t["slug"].as_str()?
                ))
            }));
        }
        groups.sort();
        groups.dedup();
        Ok(Identity {
            provider: idp.to_string(),
            uid: id,
            username: login,
            email,
            display_name: user["name"].as_str().unwrap_or_default().to_string(),
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_and_the_authorize_url() {
        let o = Options::from_value(&json!({"clientID": "abc", "clientSecret": "s"})).expect("o");
        assert_eq!(o.api_url, "https://api.github.com");
        let f = Flow {
            state: "st".into(),
            nonce: "n".into(),
            verifier: "v".into(),
        };
        let url = o.authorize_url(&f, "https://orrery.test/oauth/callback/gh");
        assert!(
            url.starts_with("https://github.com/login/oauth/authorize?client_id=abc&"),
            "{url}"
        );
        for part in [
            "state=st",
            "code_challenge_method=S256",
            "scope=read%3Auser+user%3Aemail+read%3Aorg",
        ] {
            assert!(url.contains(part), "{part}: {url}");
        }
        let e = Options::from_value(&json!({"clientID": "abc",
            "endpoint": {"authURL": "https://ghe.corp/login/oauth/authorize", "tokenURL": "https://ghe.corp/t"},
            "apiURL": "https://ghe.corp/api/v3"}))
        .expect("enterprise");
        assert!(
            e.authorize_url(&f, "r")
                .starts_with("https://ghe.corp/login/oauth/authorize?")
        );
        assert!(Options::from_value(&json!({})).is_err());
    }
}
