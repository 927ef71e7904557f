//! Parse speed over every template of a chart directory (`templates/**`, subcharts included).
//!
//! `cargo run --release -p gotmpl --example parse_bench CHART_DIR [ROUNDS]`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use gotmpl::{TemplateSet, sprig};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.components().any(|c| c.as_os_str() == "templates") {
            out.push(p);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: parse_bench CHART_DIR [ROUNDS]")?;
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .max(1);
    let mut files = Vec::new();
    collect(Path::new(&dir), &mut files);
    let sources: Vec<(String, String)> = files
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
        .collect();
    let bytes: usize = sources.iter().map(|(_, s)| s.len()).sum();
    let mut f = sprig();
    // Helm's own functions only need to exist for parsing.
    for name in [
        "include",
        "tpl",
        "required",
        "toYaml",
        "mustToYaml",
        "toYamlPretty",
        "fromYaml",
        "fromYamlArray",
        "fromJsonArray",
        "toToml",
        "mustToToml",
        "fromToml",
        "lookup",
    ] {
        f.insert(name, |_, _| Ok(gotmpl::Value::Nil));
    }
    let funcs = Arc::new(f);
    let mut times = Vec::new();
    let mut errors = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut set = TemplateSet::new(funcs.clone());
        errors = 0;
        for (name, src) in &sources {
            if set.parse(name, src).is_err() {
                errors += 1;
            }
        }
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{} files, {:.1} KB: parse median {median:.2} ms ({:.1} MB/s); {errors} failed to parse",
        sources.len(),
        bytes as f64 / 1e3,
        bytes as f64 / 1e6 / (median / 1000.0)
    );
    Ok(())
}
