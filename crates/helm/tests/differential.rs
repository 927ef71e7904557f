//! Differential test: every chart of the corpus (`/work/shared/testdata/helm-charts`, or
//! `$HELM_CHARTS_DIR`) rendered by Orrery and by real Helm (helm-python-sdk, Helm v4.2.3)
//! must give the same map, byte for byte.
//!
//! Masking (only for the charts the corpus lists as non-deterministic: apisix,
//! apisix-ingress-controller, chaos-mesh, grafana, nocalhost, redis), applied to both sides:
//! 1. every PEM block (`-----BEGIN X-----` … `-----END X-----`) becomes `<PEM>`;
//! 2. a line that still differs is accepted only if replacing its *random-looking tokens* by
//!    `<RANDOM>` makes both sides equal. A random-looking token is a run of ≥ 8 characters of
//!    `[A-Za-z0-9+/=]` containing an upper-case letter, a lower-case letter and a digit
//!    (random passwords, base64 of keys/certs/passwords), or a run of exactly 32, 40 or 64
//!    lower-case hex digits (checksums).
//!
//! Everything else — keys, line count, every other byte — must be identical. Set
//! `HELM_DIFF_SKIP=1` to skip (e.g. without network for the first `pip install`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const NONDETERMINISTIC: &[&str] = &[
    "apisix",
    "apisix-ingress-controller",
    "chaos-mesh",
    "grafana",
    "nocalhost",
    "redis",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn charts_dir() -> PathBuf {
    std::env::var_os("HELM_CHARTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/testdata/helm-charts"))
}

fn python() -> Option<PathBuf> {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/helm-reference/setup.sh"))
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("setup.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()?
        .trim()
        .to_string();
    Some(PathBuf::from(path))
}

fn reference(
    py: &Path,
    chart: &Path,
    values: Option<&Path>,
) -> Result<BTreeMap<String, String>, String> {
    let mut cmd = Command::new(py);
    cmd.arg(repo_root().join("scripts/helm-reference/render.py"))
        .arg(chart);
    if let Some(v) = values {
        cmd.arg(v);
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    if let Some(e) = v.get("error") {
        return Err(format!("helm: {e}"));
    }
    Ok(v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default())
}

fn orrery(chart: &Path, values: Option<&Path>) -> Result<BTreeMap<String, String>, String> {
    let c =
        helm::chart::load(chart, &helm::chart::LoadLimits::default()).map_err(|e| e.to_string())?;
    let user = match values {
        Some(v) => {
            let text = std::fs::read_to_string(v).map_err(|e| e.to_string())?;
            helm::yaml::parse_map(&text).map_err(|e| e.to_string())?
        }
        None => Default::default(),
    };
    helm::engine::render_chart(&c, &user, &helm::engine::RenderOptions::default())
        .map_err(|e| e.to_string())
}

fn mask_pem(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("-----BEGIN ") {
        let Some(end_marker) = rest[start..].find("-----END ") else {
            break;
        };
        let after = start + end_marker + "-----END ".len();
        let Some(close) = rest[after..].find("-----") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str("<PEM>");
        rest = &rest[after + close + 5..];
    }
    out.push_str(rest);
    out
}

fn mask_tokens(line: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let is_tok = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    while i < chars.len() {
        if !is_tok(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_tok(chars[i]) {
            i += 1;
        }
        let tok: String = chars[start..i].iter().collect();
        let mixed = tok.len() >= 8
            && tok.chars().any(|c| c.is_ascii_uppercase())
            && tok.chars().any(|c| c.is_ascii_lowercase())
            && tok.chars().any(|c| c.is_ascii_digit());
        let hex = [32, 40, 64].contains(&tok.len())
            && tok
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        out.push_str(if mixed || hex { "<RANDOM>" } else { &tok });
    }
    out
}

/// `None` if equal (after masking when allowed), else a readable diff of the first difference.
fn compare(expected: &str, actual: &str, masked: bool) -> Option<String> {
    if expected == actual {
        return None;
    }
    let (e, a) = if masked {
        (mask_pem(expected), mask_pem(actual))
    } else {
        (expected.to_string(), actual.to_string())
    };
    let el: Vec<&str> = e.split('\n').collect();
    let al: Vec<&str> = a.split('\n').collect();
    for i in 0..el.len().max(al.len()) {
        let (x, y) = (el.get(i).copied(), al.get(i).copied());
        if x == y {
            continue;
        }
        if masked
            && let (Some(x), Some(y)) = (x, y)
            && mask_tokens(x) == mask_tokens(y)
        {
            continue;
        }
        let from = i.saturating_sub(2);
        let mut d = format!("first difference at line {}:\n", i + 1);
        for j in from..i {
            d.push_str(&format!("   {}\n", el.get(j).copied().unwrap_or("")));
        }
        d.push_str(&format!(
            " - helm:   {:?}\n + orrery: {:?}\n",
            x.unwrap_or("<end>"),
            y.unwrap_or("<end>")
        ));
        return Some(d);
    }
    None
}

#[test]
fn every_chart_renders_like_helm() {
    if std::env::var_os("HELM_DIFF_SKIP").is_some() {
        eprintln!("HELM_DIFF_SKIP set: skipped");
        return;
    }
    let Some(py) = python() else {
        panic!("could not set up the Helm reference (scripts/helm-reference/setup.sh)");
    };
    let dir = charts_dir();
    let mut runs: Vec<(String, PathBuf, Option<PathBuf>)> = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for n in names {
        let p = dir.join(&n);
        if !p.join("Chart.yaml").is_file() {
            continue;
        }
        runs.push((n.clone(), p.clone(), None));
        let extra = dir.join(format!("{n}.values.yaml"));
        if extra.is_file() {
            runs.push((format!("{n} (+values)"), p, Some(extra)));
        }
    }
    let mut identical = 0;
    let mut report = String::new();
    for (label, path, values) in &runs {
        let chart = label.split(' ').next().unwrap_or(label);
        let masked = NONDETERMINISTIC.contains(&chart);
        let want = reference(&py, path, values.as_deref());
        let got = orrery(path, values.as_deref());
        let verdict = match (&want, &got) {
            (Ok(w), Ok(g)) => {
                let wk: Vec<&String> = w.keys().collect();
                let gk: Vec<&String> = g.keys().collect();
                if wk != gk {
                    let missing: Vec<&&String> =
                        wk.iter().filter(|k| !g.contains_key(k.as_str())).collect();
                    let extra: Vec<&&String> =
                        gk.iter().filter(|k| !w.contains_key(k.as_str())).collect();
                    Some(format!(
                        "different templates: missing {missing:?}, extra {extra:?}"
                    ))
                } else {
                    w.iter()
                        .find_map(|(k, wv)| compare(wv, &g[k], masked).map(|d| format!("{k}: {d}")))
                }
            }
            (Err(we), Err(ge)) => {
                if we.contains("values don't meet") == ge.contains("values don't meet") {
                    None
                } else {
                    Some(format!(
                        "both failed differently:\n helm: {we}\n orrery: {ge}"
                    ))
                }
            }
            (Ok(_), Err(e)) => Some(format!("orrery failed: {e}")),
            (Err(e), Ok(_)) => Some(format!("helm failed but orrery rendered: {e}")),
        };
        match verdict {
            None => {
                identical += 1;
                eprintln!(
                    "{label:<32} identical{}",
                    if masked { " (masked)" } else { "" }
                );
            }
            Some(mut d) => {
                if d.len() > 2000 {
                    let mut cut = 2000;
                    while !d.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    d.truncate(cut);
                    d.push_str(" …");
                }
                eprintln!("{label:<32} DIFFERENT");
                report.push_str(&format!("=== {label}\n{d}\n"));
            }
        }
    }
    eprintln!("{identical} of {} identical", runs.len());
    println!("{identical} of {} identical", runs.len());
    assert!(report.is_empty(), "{report}");
}

#[test]
fn masking_is_narrow() {
    assert!(compare("password: aB3dE6gH9k", "password: Zx8Qw2Er5t", true).is_none());
    assert!(compare("name: release-name-a", "name: release-name-b", true).is_some());
    assert!(compare("a: 1", "a: 2", true).is_some());
    assert!(compare("password: aB3dE6gH9k", "password: Zx8Qw2Er5t", false).is_some());
}
