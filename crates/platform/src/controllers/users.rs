//! User reconcilers: plain-text passwords written straight to the cluster are hashed, users
//! get a state, locks expire, disabled users lose their tokens, and expired login records and
//! token sessions are pruned.

use std::time::Duration;

use kube::Client;
use serde_json::json;

use crate::cache::Caches;
use crate::error::PlatformError;
use crate::kinds::Kind;
use crate::kubeapi;
use crate::password::{self, HashCost};
use crate::tokens::Tokens;

fn parse_time(v: &serde_json::Value) -> Option<chrono::DateTime<chrono::Utc>> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// One pass over users.
pub async fn reconcile(
    client: &Client,
    caches: &Caches,
    tokens: &Tokens,
    cost: HashCost,
    lockout: Duration,
) -> Result<(), PlatformError> {
    let now = chrono::Utc::now();
    for u in caches.users.list() {
        let name = u.name().to_string();
        let pw = u.obj["spec"]["password"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !pw.is_empty() && !password::is_hash(&pw) {
            let hashed = tokio::task::spawn_blocking(move || password::hash(&pw, cost))
                .await
                .map_err(|e| PlatformError::Invalid(e.to_string()))??;
            kubeapi::merge_patch(
                client,
                Kind::User,
                None,
                &name,
                json!({"spec": {"password": hashed}}),
            )
            .await?;
        }
        let state = u.obj["status"]["state"].as_str();
        match state {
            None => {
                kubeapi::merge_patch_status(
                    client,
                    Kind::User,
                    None,
                    &name,
                    json!({"status": {"state": "Active"}}),
                )
                .await?;
            }
            Some("AuthLimitExceeded") => {
                let since = parse_time(&u.obj["status"]["lastTransitionTime"]).unwrap_or(now);
                if now
                    >= since + chrono::Duration::from_std(lockout).unwrap_or(chrono::Duration::MAX)
                {
                    let patch = json!({"status": {"state": "Active", "reason": "", "lastTransitionTime": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}});
                    kubeapi::merge_patch_status(client, Kind::User, None, &name, patch).await?;
                }
            }
            Some("Disabled") if !caches.sessions.by_index(&format!("user:{name}")).is_empty() => {
                tokens.revoke_user(&name, None, None).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Deletes login records older than `ttl` and expired token sessions.
pub async fn prune(client: &Client, tokens: &Tokens, ttl: Duration) -> Result<(), PlatformError> {
    let cutoff =
        chrono::Utc::now() - chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    for r in kubeapi::list(client, Kind::LoginRecord, None, "").await? {
        if parse_time(&r["metadata"]["creationTimestamp"]).is_some_and(|t| t < cutoff) {
            kubeapi::delete(
                client,
                Kind::LoginRecord,
                None,
                r["metadata"]["name"].as_str().unwrap_or_default(),
            )
            .await?;
        }
    }
    tokens.prune_expired().await?;
    Ok(())
}
