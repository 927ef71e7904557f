//! `orrery export` and `orrery import`: the platform's own resources of a host cluster to a
//! file and back (the document is described in `platform::export`). A file name ending in
//! `.gz` is gzip-compressed.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

/// `orrery export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The host cluster's kubeconfig (for `orrery serve`: `<data-dir>/kubeconfig.yaml`).
    #[arg(long, env = "ORRERY_KUBECONFIG")]
    pub kubeconfig: PathBuf,
    /// The file to write (must not exist; `.gz` compresses it).
    #[arg(long)]
    pub out: PathBuf,
}

/// `orrery import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The host cluster's kubeconfig to import into.
    #[arg(long, env = "ORRERY_KUBECONFIG")]
    pub kubeconfig: PathBuf,
    /// The file `orrery export` wrote.
    #[arg(long)]
    pub from: PathBuf,
}

fn bar(what: &str, unit: &str) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    let template = format!("{{msg:>10}} [{{bar:30}}] {{pos}}/{{len}} {unit}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

fn gzipped(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Exports the host's platform resources to `args.out`; returns how many items.
pub async fn export(args: &ExportArgs) -> anyhow::Result<usize> {
    ensure!(
        !args.out.exists(),
        "{} already exists; choose another --out or remove it",
        args.out.display()
    );
    let client = kube_client(&args.kubeconfig).await?;
    let pb = bar("export", "kinds");
    let doc = platform::export::export(&client, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })
    .await
    .context("reading the platform's resources")?;
    pb.finish_and_clear();
    let items = doc["items"].as_array().map_or(0, Vec::len);
    let json = serde_json::to_vec_pretty(&doc)?;
    let partial = args.out.with_extension("partial");
    {
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        let mut out: Box<dyn Write> = if gzipped(&args.out) {
            Box::new(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            ))
        } else {
            Box::new(file)
        };
        out.write_all(&json)?;
        out.flush()?;
    }
    std::fs::rename(&partial, &args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(items)
}

/// Imports `args.from` into the host.
pub async fn import(args: &ImportArgs) -> anyhow::Result<platform::export::ImportSummary> {
    let file = std::fs::File::open(&args.from)
        .with_context(|| format!("opening {}", args.from.display()))?;
    let mut bytes = Vec::new();
    if gzipped(&args.from) {
        flate2::read::GzDecoder::new(file).read_to_end(&mut bytes)?;
    } else {
        std::io::BufReader::new(file).read_to_end(&mut bytes)?;
    }
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not an orrery export (JSON)", args.from.display()))?;
    platform::export::check(&doc)?;
    let client = kube_client(&args.kubeconfig).await?;
    let pb = bar("import", "objects");
    let summary = platform::export::import(&client, &doc, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })
    .await?;
    pb.finish_and_clear();
    Ok(summary)
}

/// A client for the cluster of a kubeconfig file.
pub async fn kube_client(path: &Path) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(kube::Client::try_from(config)?)
}

/// Runs `orrery export` and says what it wrote.
pub async fn export_command(args: &ExportArgs) -> anyhow::Result<()> {
    let n = export(args).await?;
    println!("exported {n} platform objects to {}", args.out.display());
    Ok(())
}

/// Runs `orrery import` and says what it did.
pub async fn import_command(args: &ImportArgs) -> anyhow::Result<()> {
    let s = import(args).await?;
    println!(
        "imported {}: {} created, {} updated, {} CustomResourceDefinitions kept as installed",
        args.from.display(),
        s.created,
        s.updated,
        s.kept
    );
    for name in &s.created_names {
        println!("created {name}");
    }
    Ok(())
}
