//! `orrery extension`: authoring extensions (docs/extension-authoring.md). `create NAME` writes
//! a working skeleton ([`skeleton`]); `package DIR` builds the frontend bundle when it can,
//! checks the extension as the marketplace and the installer will
//! (`platform::extensions::authoring`) and writes `<name>-<version>.tgz` like `helm package`.

mod skeleton;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use clap::{Args, Subcommand};

/// `orrery extension …`.
#[derive(Subcommand, Debug)]
pub enum ExtensionCommand {
    /// Write a new extension: chart, extension.yaml, permissions.yaml, a frontend (UI bundle
    /// and menu entry) and a backend (Deployment, Service, APIService).
    Create(CreateArgs),
    /// Check an extension directory and write `<name>-<version>.tgz`, like `helm package`.
    Package(PackageArgs),
}

/// Arguments of `orrery extension create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The extension's name: a DNS label of at most 53 characters (its namespace is
    /// `extension-NAME`).
    pub name: String,
    /// The directory to write (default `./NAME`); it must not exist or be empty.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Arguments of `orrery extension package`.
#[derive(Args, Debug)]
pub struct PackageArgs {
    /// The extension's directory.
    pub dir: PathBuf,
    /// Package as this version (set in extension.yaml and every Chart.yaml of the package; the
    /// directory is not changed).
    #[arg(long)]
    pub version: Option<String>,
    /// Where to write the package.
    #[arg(short = 'd', long = "destination", default_value = ".")]
    pub destination: PathBuf,
    /// Do not build the frontend bundle: package charts/frontend/dist as it is.
    #[arg(long)]
    pub no_build: bool,
}

/// Runs `orrery extension …`, reporting on `out`.
pub fn run(cmd: ExtensionCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match cmd {
        ExtensionCommand::Create(args) => create(&args, out),
        ExtensionCommand::Package(args) => package(&args, out),
    }
}

/// `hello-world` → `Hello World`.
fn title(name: &str) -> String {
    name.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The skeleton's files for extension `name`.
pub fn skeleton_files(name: &str) -> Vec<(&'static str, String)> {
    let title = title(name);
    skeleton::FILES
        .iter()
        .map(|(path, text)| {
            (
                *path,
                text.replace("__NAME__", name).replace("__TITLE__", &title),
            )
        })
        .collect()
}

fn create(args: &CreateArgs, out: &mut impl Write) -> anyhow::Result<()> {
    // The name is checked as the marketplace checks it.
    platform::extensions::package::parse_manifest(&format!(
        "name: {:?}\nversion: 0.1.0\n",
        args.name
    ))
    .map_err(|e| anyhow::anyhow!("cannot create the extension: {e}"))?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!("{} exists and is not empty", dir.display());
    }
    for (path, text) in skeleton_files(&args.name) {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    writeln!(
        out,
        "created extension {} in {}\nnext: edit extension.yaml and charts/, then `orrery extension package {}`",
        args.name,
        dir.display(),
        dir.display()
    )?;
    Ok(())
}

/// Builds `charts/frontend` with its own toolchain when it has one installed (a
/// `package.json` with `node_modules`, and npm); otherwise the committed `dist/index.js` is
/// packaged, and must exist when there is a source.
fn build_frontend(dir: &Path, no_build: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let fe = dir.join("charts/frontend");
    let bundle = fe.join("dist/index.js");
    let has_toolchain = fe.join("package.json").is_file() && fe.join("node_modules").is_dir();
    if !no_build && has_toolchain {
        writeln!(
            out,
            "building the frontend bundle (npm run build in {})",
            fe.display()
        )?;
        let status = Command::new("npm")
            .args(["run", "build"])
            .current_dir(&fe)
            .status();
        match status {
            Ok(s) if s.success() => return Ok(()),
            Ok(s) => anyhow::bail!("building the frontend bundle failed: npm run build: {s}"),
            // No npm: the committed bundle is packaged (checked below).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                writeln!(
                    out,
                    "npm is not installed; packaging the built {}",
                    bundle.display()
                )?;
            }
            Err(e) => return Err(e).context("running npm"),
        }
    } else if fe.join("package.json").is_file() && !no_build {
        writeln!(
            out,
            "{} has no node_modules (npm install there to build); packaging the built {}",
            fe.display(),
            bundle.display()
        )?;
    }
    if fe.join("src").is_dir() && !bundle.is_file() {
        anyhow::bail!(
            "the frontend bundle {} is not built: run `npm install && npm run build` in {}",
            bundle.display(),
            fe.display()
        );
    }
    Ok(())
}

fn package(args: &PackageArgs, out: &mut impl Write) -> anyhow::Result<()> {
    build_frontend(&args.dir, args.no_build, out)?;
    let packaged = platform::extensions::authoring::package_dir(&args.dir, args.version.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.dir.display()))?;
    std::fs::create_dir_all(&args.destination)
        .with_context(|| format!("creating {}", args.destination.display()))?;
    let file = args.destination.join(packaged.file_name());
    std::fs::write(&file, &packaged.tgz).with_context(|| format!("writing {}", file.display()))?;
    let c = &packaged.checked;
    let agent = if c.agent_objects > 0 {
        format!(", {} in a member's agent release", c.agent_objects)
    } else {
        String::new()
    };
    writeln!(
        out,
        "packaged {} {} ({}; {} objects on the host{agent}): {}",
        c.manifest.name,
        c.manifest.version,
        c.manifest.installation_mode,
        c.host_objects,
        file.display()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_the_skeleton_name_the_extension() {
        assert_eq!(title("hello-world"), "Hello World");
        assert_eq!(title("x"), "X");
        let files = skeleton_files("demo-ext");
        for (path, text) in &files {
            assert!(
                !text.contains("__NAME__") && !text.contains("__TITLE__"),
                "{path}"
            );
        }
        let manifest = &files
            .iter()
            .find(|(p, _)| *p == "extension.yaml")
            .unwrap()
            .1;
        let m = platform::extensions::package::parse_manifest(manifest).unwrap();
        assert_eq!(m.name, "demo-ext");
        assert_eq!(m.spec["displayName"]["en"], "Demo Ext");
    }
}
