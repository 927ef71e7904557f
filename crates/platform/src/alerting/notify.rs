//! Notification channels: Alertmanager's webhook format (version "4") over HTTP(S), and e-mail
//! over SMTP with `lettre` (rustls; STARTTLS, implicit TLS, or plain to a loopback server
//! only), each attempt retried with exponential back-off a bounded number of times.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::state::{Alert, Notice};

/// How a notification is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (at least one).
    pub attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How long one attempt may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `n` (1-based; attempt 0 is not waited for).
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Runs `attempt` until it succeeds, the attempts are used up or `stop` is cancelled;
/// the error is the last one.
pub async fn with_retries<F, Fut>(
    policy: &RetryPolicy,
    stop: &CancellationToken,
    mut attempt: F,
) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut last = String::from("no attempt made");
    for n in 0..policy.attempts.max(1) {
        if n > 0 {
            tokio::select! {
                _ = stop.cancelled() => return Err(format!("stopped: {last}")),
                _ = tokio::time::sleep(policy.backoff(n)) => {}
            }
        }
        match tokio::time::timeout(policy.timeout, attempt()).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("no answer within {}s", policy.timeout.as_secs_f64()),
        }
    }
    Err(format!(
        "gave up after {} attempts: {last}",
        policy.attempts.max(1)
    ))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Alertmanager's zero `endsAt` of an alert that still fires.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// One alert in Alertmanager's webhook format.
pub fn webhook_alert(alert: &Alert, notice: Notice, generator_url: &str) -> Value {
    let ends = match (notice, alert.resolved_at) {
        (Notice::Resolved, Some(t)) => rfc3339(t),
        _ => ZERO_TIME.to_string(),
    };
    json!({
        "status": notice.as_str(),
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": rfc3339(alert.fired_at.unwrap_or(alert.active_at)),
        "endsAt": ends,
        "generatorURL": generator_url,
        "fingerprint": alert.fingerprint,
    })
}

/// The labels every alert of a list shares.
fn common(maps: &[&BTreeMap<String, String>]) -> BTreeMap<String, String> {
    let Some((first, rest)) = maps.split_first() else {
        return BTreeMap::new();
    };
    first
        .iter()
        .filter(|(k, v)| rest.iter().all(|m| m.get(*k) == Some(*v)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Alertmanager's webhook body (`version: "4"`) for one alert, sent to receiver `receiver`.
pub fn webhook_payload(alert: &Alert, notice: Notice, receiver: &str, external_url: &str) -> Value {
    let group_labels: BTreeMap<&str, &str> = alert
        .labels
        .get("alertname")
        .map(|a| ("alertname", a.as_str()))
        .into_iter()
        .collect();
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{}\"}}", alert.labels.get("alertname").map(String::as_str).unwrap_or_default()),
        "truncatedAlerts": 0,
        "status": notice.as_str(),
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common(&[&alert.labels]),
        "commonAnnotations": common(&[&alert.annotations]),
        "externalURL": external_url,
        "alerts": [webhook_alert(alert, notice, external_url)],
    })
}

/// Posts a webhook body; 2xx is success.
pub async fn post_webhook(http: &reqwest::Client, url: &str, body: &Value) -> Result<(), String> {
    let resp = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("webhook: {}", e.without_url()))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("webhook answered {}", resp.status()))
    }
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS, required (the default).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// None: only to a loopback server.
    None,
}

/// An SMTP server and the sender, from a `notification.kubesphere.io` Config's `spec.email`.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// The `From` address.
    pub from: String,
    /// User and password, when the server wants a login.
    pub auth: Option<(String, String)>,
    /// Transport security.
    pub tls: TlsMode,
    /// A CA (PEM) to trust besides the public roots.
    pub root_ca: Option<String>,
    /// The name sent in EHLO.
    pub hello: Option<String>,
}

impl std::fmt::Debug for SmtpSettings {
    // The password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("user", &self.auth.as_ref().map(|a| &a.0))
            .field("tls", &self.tls)
            .finish()
    }
}

/// Whether `host` names this machine.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn transport(
    s: &SmtpSettings,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let params = || {
        let mut b = TlsParameters::builder(s.host.clone());
        if let Some(pem) = &s.root_ca {
            let cert =
                Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("tls.rootCA: {e}"))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| format!("TLS: {e}"))
    };
    let tls = match s.tls {
        TlsMode::StartTls => Tls::Required(params()?),
        TlsMode::Implicit => Tls::Wrapper(params()?),
        TlsMode::None if is_loopback(&s.host) => Tls::None,
        TlsMode::None => {
            return Err(format!(
                "tls mode none is allowed for a loopback server only, not {}",
                s.host
            ));
        }
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
        .port(s.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let Some(name) = &s.hello {
        b = b.hello_name(lettre::transport::smtp::extension::ClientId::Domain(
            name.clone(),
        ));
    }
    if let Some((user, pw)) = &s.auth {
        b = b.credentials(Credentials::new(user.clone(), pw.clone()));
    }
    Ok(b.build())
}

/// The subject and text of an alert's e-mail.
pub fn email_text(alert: &Alert, notice: Notice) -> (String, String) {
    let name = alert
        .labels
        .get("alertname")
        .map(String::as_str)
        .unwrap_or("alert");
    let mut where_ = format!("cluster {}", alert.cluster);
    if let Some(ns) = alert.labels.get("namespace") {
        where_ = format!("namespace {ns}, {where_}");
    }
    let subject = format!("[{}] {name} ({where_})", notice.as_str().to_uppercase());
    let mut body = String::new();
    for (k, v) in &alert.annotations {
        body.push_str(&format!("{k}: {v}\n"));
    }
    body.push_str("\nLabels:\n");
    for (k, v) in &alert.labels {
        body.push_str(&format!("  {k} = {v}\n"));
    }
    body.push_str(&format!(
        "\nValue: {}\nActive since: {}\nFingerprint: {}\n",
        alert.value,
        rfc3339(alert.active_at),
        alert.fingerprint
    ));
    if let (Notice::Resolved, Some(t)) = (notice, alert.resolved_at) {
        body.push_str(&format!("Resolved at: {}\n", rfc3339(t)));
    }
    (subject, body)
}

/// Sends one e-mail about an alert to `to`.
pub async fn send_email(
    s: &SmtpSettings,
    to: &[String],
    alert: &Alert,
    notice: Notice,
    timeout: Duration,
) -> Result<(), String> {
    let (subject, body) = email_text(alert, notice);
    let mut m = Message::builder()
        .from(
            s.from
                .parse()
                .map_err(|e| format!("from {:?}: {e}", s.from))?,
        )
        .subject(subject)
        .header(ContentType::TEXT_PLAIN);
    for t in to {
        m = m.to(t.parse().map_err(|e| format!("to {t:?}: {e}"))?);
    }
    let message = m.body(body).map_err(|e| format!("message: {e}"))?;
    let mailer = transport(s, timeout)?;
    mailer
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("smtp {}:{}: {e}", s.host, s.port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::state::AlertState;

    fn alert() -> Alert {
        let t = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        Alert {
            rule_name: "PodCrashing".into(),
            cluster: "host".into(),
            fingerprint: "0123456789abcdef".into(),
            labels: [
                ("alertname", "PodCrashing"),
                ("namespace", "p"),
                ("pod", "web"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            annotations: [("summary".to_string(), "web crashes".to_string())]
                .into_iter()
                .collect(),
            state: AlertState::Inactive,
            active_at: t,
            fired_at: Some(t + chrono::Duration::seconds(10)),
            resolved_at: Some(t + chrono::Duration::seconds(60)),
            value: "3".into(),
            silenced: false,
            notified_firing: None,
            notified_resolved: None,
            notify_error: None,
        }
    }

    #[test]
    fn alertmanager_webhook_shape() {
        let p = webhook_payload(&alert(), Notice::Firing, "r", "https://orrery");
        assert_eq!(p["version"], "4");
        assert_eq!(p["status"], "firing");
        assert_eq!(p["receiver"], "r");
        assert_eq!(p["groupLabels"], json!({"alertname": "PodCrashing"}));
        let a = &p["alerts"][0];
        assert_eq!(a["status"], "firing");
        assert_eq!(a["fingerprint"], "0123456789abcdef");
        assert_eq!(a["labels"]["pod"], "web");
        assert_eq!(a["annotations"]["summary"], "web crashes");
        assert_eq!(a["startsAt"], "2027-01-15T08:00:10.000Z");
        assert_eq!(a["endsAt"], ZERO_TIME);
        let r = webhook_payload(&alert(), Notice::Resolved, "r", "https://orrery");
        assert_eq!(r["status"], "resolved");
        assert_eq!(r["alerts"][0]["endsAt"], "2027-01-15T08:01:00.000Z");
    }

    #[test]
    fn email_says_what_and_where() {
        let (subject, body) = email_text(&alert(), Notice::Resolved);
        assert_eq!(
            subject,
            "[RESOLVED] PodCrashing (namespace p, cluster host)"
        );
        assert!(body.contains("summary: web crashes"), "{body}");
        assert!(body.contains("pod = web"), "{body}");
        assert!(
            body.contains("Resolved at: 2027-01-15T08:01:00.000Z"),
            "{body}"
        );
    }

    #[test]
    fn plain_smtp_only_on_loopback() {
        let s = |host: &str| SmtpSettings {
            host: host.into(),
            port: 25,
            from: "a@b".into(),
            auth: Some(("u".into(), "secret-pw".into())),
            tls: TlsMode::None,
            root_ca: None,
            hello: None,
        };
        assert!(transport(&s("127.0.0.1"), Duration::from_secs(1)).is_ok());
        assert!(transport(&s("::1"), Duration::from_secs(1)).is_ok());
        let e = transport(&s("mail.example.com"), Duration::from_secs(1)).err();
        assert!(e.is_some_and(|e| e.contains("loopback")));
        assert!(!format!("{:?}", s("x")).contains("secret-pw"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(350));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded_and_stop_at_success() {
        let p = RetryPolicy {
            attempts: 3,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            timeout: Duration::from_secs(1),
        };
        let stop = CancellationToken::new();
        let mut n = 0;
        let r = with_retries(&p, &stop, || {
            n += 1;
            async { Err::<(), _>("down".to_string()) }
        })
        .await;
        assert_eq!(n, 3);
        assert!(r.is_err_and(|e| e.contains("3 attempts") && e.contains("down")));
        let mut m = 0;
        let r = with_retries(&p, &stop, || {
            m += 1;
            let ok = m == 2;
            async move { if ok { Ok(()) } else { Err("once".to_string()) } }
        })
        .await;
        assert_eq!((r, m), (Ok(()), 2));
    }
}
