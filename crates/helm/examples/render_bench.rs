//! Per-chart median render time, Orrery vs Helm (helm-python-sdk, timing `render()` only).
//!
//! `cargo run --release -p helm --example render_bench [RUNS]` (default 5 runs per chart).
//! Orrery's time covers what Helm's `render()` covers: dependency processing, values
//! coalescing, schema validation, parsing and template execution on an already loaded chart.
//! Helm parses the templates on every `render()`; Orrery's engine caches parsed template sets,
//! so it is timed both ways: "cold" clears the cache before each render (parsing included,
//! like Helm), "warm" reuses the parse (repeated renders of one chart: install, upgrade,
//! previews). Both ratios are Helm's median over Orrery's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn helm_ms(
    py: &Path,
    root: &Path,
    chart: &Path,
    values: Option<&Path>,
    runs: usize,
) -> Option<f64> {
    let mut cmd = Command::new(py);
    cmd.arg(root.join("scripts/helm-reference/render.py"))
        .arg(chart);
    if let Some(v) = values {
        cmd.arg(v);
    }
    cmd.arg("--time").arg(runs.to_string());
    let out = cmd.output().ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.get("median_ms")?.as_f64()
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = Command::new("bash")
        .arg(root.join("scripts/helm-reference/setup.sh"))
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .last()
                .map(|l| PathBuf::from(l.trim()))
        });
    let dir = testdata::helm_charts();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    println!(
        "{:<28} {:>14} {:>14} {:>10} {:>10} {:>10}",
        "chart", "orrery cold ms", "orrery warm ms", "helm ms", "helm/cold", "helm/warm"
    );
    for n in names {
        let path = dir.join(&n);
        if !path.join("Chart.yaml").is_file() {
            continue;
        }
        let extra = dir.join(format!("{n}.values.yaml"));
        let mut variants = vec![(n.clone(), None)];
        if extra.is_file() {
            variants.push((format!("{n} (+values)"), Some(extra)));
        }
        for (label, values) in variants {
            let chart = match helm::chart::load(&path, &helm::chart::LoadLimits::default()) {
                Ok(c) => c,
                Err(e) => {
                    println!("{label:<28} load error: {e}");
                    continue;
                }
            };
            let user = values
                .as_ref()
                .and_then(|v| std::fs::read_to_string(v).ok())
                .and_then(|t| helm::yaml::parse_map(&t).ok())
                .unwrap_or_default();
            let opts = helm::engine::RenderOptions::default();
            let mut cold_times = Vec::new();
            let mut warm_times = Vec::new();
            let mut failed = None;
            for warm in [false, true] {
                for _ in 0..runs {
                    if !warm {
                        helm::engine::clear_parse_cache();
                    }
                    let t0 = Instant::now();
                    if let Err(e) = helm::engine::render_chart(&chart, &user, &opts) {
                        failed = Some(e.to_string());
                        break;
                    }
                    let ms = t0.elapsed().as_secs_f64() * 1000.0;
                    if warm {
                        &mut warm_times
                    } else {
                        &mut cold_times
                    }
                    .push(ms);
                }
            }
            let cold = median(cold_times);
            let warm = median(warm_times);
            let theirs = py
                .as_deref()
                .and_then(|p| helm_ms(p, &root, &path, values.as_deref(), runs));
            match (failed, theirs) {
                (Some(e), _) => {
                    let line: String = e.lines().next().unwrap_or("").chars().take(120).collect();
                    println!("{label:<28} orrery error: {line}")
                }
                (None, Some(h)) => println!(
                    "{label:<28} {cold:>14.2} {warm:>14.2} {h:>10.2} {:>9.2}x {:>9.2}x",
                    h / cold.max(1e-9),
                    h / warm.max(1e-9)
                ),
                (None, None) => {
                    println!("{label:<28} {cold:>14.2} {warm:>14.2} {:>10}", "n/a")
                }
            }
        }
    }
}
