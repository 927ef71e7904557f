//! Running a release's hooks for one event: weight order, `before-hook-creation` (the
//! default), `hook-succeeded` and `hook-failed` delete policies, and waiting for Jobs and
//! Pods to finish, as Helm's `execHook` does.

use serde_json::{Value as Json, json};
use tokio::time::Instant;

use super::resources::{self, Resources, Target};
use super::wait::is_ready;
use super::{ActionError, now};

fn policies_named(h: &Json) -> Vec<String> {
    h.get("delete_policies")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn policies(h: &Json) -> Vec<String> {
    let p = policies_named(h);
    if p.is_empty() {
        vec!["before-hook-creation".into()]
    } else {
        p
    }
}

fn has_event(h: &Json, event: &str) -> bool {
    h.get("events")
        .and_then(Json::as_array)
        .is_some_and(|a| a.iter().any(|e| e.as_str() == Some(event)))
}

async fn wait_hook(t: &Target, deadline: Instant) -> Result<(), String> {
    if t.kind != "Job" && t.kind != "Pod" {
        return Ok(());
    }
    loop {
        let live = resources::get(t).await.map_err(|e| e.to_string())?;
        if let Some(o) = live {
            let j = serde_json::to_value(&o).map_err(|e| e.to_string())?;
            let done = if t.kind == "Pod" {
                match j.pointer("/status/phase").and_then(Json::as_str) {
                    Some("Succeeded") => true,
                    Some("Failed") => return Err("pod failed".into()),
                    _ => false,
                }
            } else {
                is_ready(&t.kind, &j)?
            };
            if done {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err("timed out waiting for the condition".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Runs the hooks of `release` (its JSON form, whose `hooks[].last_run` is updated) for
/// `event`, applying them server-side when `server_side`.
pub async fn run(
    res: &mut Resources,
    release: &mut Json,
    event: &str,
    server_side: bool,
    deadline: Instant,
) -> Result<(), ActionError> {
    let ns = release
        .get("namespace")
        .and_then(Json::as_str)
        .unwrap_or("default")
        .to_string();
    let Some(hooks) = release.get_mut("hooks").and_then(Json::as_array_mut) else {
        return Ok(());
    };
    let mut order: Vec<usize> = (0..hooks.len())
        .filter(|&i| has_event(&hooks[i], event))
        .collect();
    order.sort_by_key(|&i| {
        (
            hooks[i].get("weight").and_then(Json::as_i64).unwrap_or(0),
            hooks[i]
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
        )
    });
    // Helm gives the hooks of this event the default policy when they name none, and stores it.
    for &i in &order {
        if policies_named(&hooks[i]).is_empty() {
            hooks[i]["delete_policies"] = json!(["before-hook-creation"]);
        }
    }
    for i in order {
        let h = &hooks[i];
        let manifest = h
            .get("manifest")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let pol = policies(h);
        let objects = resources::manifest_objects(&manifest)?;
        let Some(obj) = objects.first() else {
            continue;
        };
        let t = res.target(obj, &ns).await?;
        if pol.iter().any(|p| p == "before-hook-creation") && resources::delete(&t).await? {
            resources::wait_deleted(&t, deadline).await?;
        }
        hooks[i]["last_run"] = json!({"started_at": now(), "phase": "Running"});
        if server_side {
            resources::apply_server_side(&t, false).await?;
        } else {
            resources::create(&t).await?;
        }
        let outcome = wait_hook(&t, deadline).await;
        let phase = if outcome.is_ok() {
            "Succeeded"
        } else {
            "Failed"
        };
        if let Some(lr) = hooks[i].get_mut("last_run").and_then(Json::as_object_mut) {
            lr.insert("completed_at".into(), Json::String(now()));
            lr.insert("phase".into(), Json::String(phase.into()));
        }
        match outcome {
            Ok(()) => {
                if pol.iter().any(|p| p == "hook-succeeded") {
                    resources::delete(&t).await?;
                }
            }
            Err(why) => {
                if pol.iter().any(|p| p == "hook-failed") {
                    resources::delete(&t).await?;
                }
                return Err(ActionError::Hook(t.describe(), event.to_string(), why));
            }
        }
    }
    Ok(())
}
