//! `orrery backup` and `orrery restore`: an online snapshot of the embedded cluster's data dir
//! in one archive, and a data dir started from one.
//!
//! The archive is a gzip-compressed tar whose first entry is `manifest.json` (format, time,
//! the store's revision and format version, each file's size and SHA-256), then `state.db`
//! (a consistent copy of the store taken while it runs: `store::backup::snapshot`), then the
//! data dir's other files (the cluster's CA, serving and ServiceAccount keys, admin token), so
//! a restored cluster keeps its identity and every token it issued. Values the store encrypts
//! stay encrypted in the archive; the encryption configuration is never part of it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail, ensure};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The archive format this release writes and the newest it reads.
pub const ARCHIVE_FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const STORE_FILE: &str = "state.db";
/// Files of a data dir a backup leaves out: the live store (copied by snapshot instead), its
/// lock, and the audit log (a record of the past, not state).
const SKIPPED: &[&str] = &["state.db", "state.db-wal", "state.db-shm", "state.db-lock"];

/// `orrery backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The data dir of the `orrery serve` or `orrery cluster` to back up (it may be running).
    #[arg(long, env = "ORRERY_DATA_DIR", default_value = "orrery-data")]
    pub data_dir: PathBuf,
    /// The archive to write (must not exist).
    #[arg(long)]
    pub out: PathBuf,
}

/// `orrery restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The archive `orrery backup` wrote.
    #[arg(long)]
    pub from: PathBuf,
    /// The data dir to start from it (created if missing; must be empty unless --force).
    #[arg(long, env = "ORRERY_DATA_DIR", default_value = "orrery-data")]
    pub data_dir: PathBuf,
    /// Replace the store and keys of a data dir that is not empty (never of a running one).
    #[arg(long)]
    pub force: bool,
}

/// The archive's first entry.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always `OrreryBackup`.
    pub kind: String,
    /// [`ARCHIVE_FORMAT`] of the release that wrote it.
    pub format_version: u32,
    /// When the snapshot was taken (RFC 3339).
    pub created_at: String,
    /// The release that wrote it.
    pub orrery_version: String,
    /// The store in the archive.
    pub store: StoreManifest,
    /// Every file after the manifest, `state.db` first.
    pub files: Vec<FileManifest>,
}

/// What the store snapshot holds.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct StoreManifest {
    /// The store's revision in the snapshot.
    pub revision: i64,
    /// Its compaction point.
    pub compacted: i64,
    /// The store file's format version.
    pub format_version: i64,
    /// Stored values that are encrypted (they need the same encryption configuration).
    pub encrypted_values: u64,
}

/// One file of the archive.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct FileManifest {
    /// Relative to the data dir, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

fn bar(len: u64, what: &str, bytes: bool) -> ProgressBar {
    let template = if bytes {
        "{msg:>12} [{bar:30}] {bytes}/{total_bytes} ({eta})"
    } else {
        "{msg:>12} [{bar:30}] {pos}/{len} pages ({eta})"
    };
    let pb = ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

/// A progress bar on stderr fed by (done, total) reports (`unit` names what is counted);
/// cleared once done reaches total.
pub fn reporter(what: &str, unit: &str) -> apiserver::cluster::Progress {
    let pb = ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    let template = format!("{{msg:>12}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    apiserver::cluster::Progress::new(move |done, total| {
        pb.set_length(total);
        pb.set_position(done.min(total));
        if done >= total && !pb.is_finished() {
            pb.finish_and_clear();
        }
    })
}

fn sha256_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h)?;
    Ok((n, hex(&h.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a backup carries the file `name` in the data dir's subfolder `rel`: not the live
/// store and its lock (the snapshot replaces them), not audit logs, not our temporary files.
fn carried(rel: &Path, name: &str) -> bool {
    let live_store = rel.as_os_str().is_empty() && SKIPPED.contains(&name);
    !live_store && !name.starts_with("audit.log") && !name.starts_with(".orrery-")
}

/// The data dir's files a backup carries besides the store, relative and sorted; `skip` (the
/// archive being written, absolute) is left out if it lies inside.
fn data_files(dir: &Path, skip: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        for entry in
            std::fs::read_dir(&abs).with_context(|| format!("reading {}", abs.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            let rel_path = rel.join(&name);
            let kind = entry.file_type()?;
            let name = name.to_string_lossy();
            if kind.is_dir() {
                stack.push(rel_path);
            } else if kind.is_file() && carried(&rel, &name) && abs.join(name.as_ref()) != skip {
                out.push(rel_path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn archive_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Removes a temporary file when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `orrery backup`: snapshot, checksum, archive; the archive appears only once complete.
pub fn backup(args: &BackupArgs) -> anyhow::Result<Manifest> {
    let source = args.data_dir.join(STORE_FILE);
    ensure!(
        source.is_file(),
        "{} holds no store ({STORE_FILE}); pass the --data-dir of the orrery to back up",
        args.data_dir.display()
    );
    ensure!(
        !args.out.exists(),
        "{} already exists; choose another --out or remove it",
        args.out.display()
    );
    let out_dir = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let pid = std::process::id();
    let snap = TempFile(out_dir.join(format!(".orrery-backup-{pid}.db")));
    let _ = std::fs::remove_file(&snap.0);
    let pages = bar(0, "snapshot", false);
    let info = store::backup::snapshot(&source, &snap.0, |done, total| {
        pages.set_length(total);
        pages.set_position(done);
    })
    .with_context(|| format!("taking a snapshot of {}", source.display()))?;
    pages.finish_and_clear();
    let encrypted_values = store::backup::encrypted_values(&snap.0)?;

    let out_abs = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let others = data_files(&args.data_dir, &out_abs)?;
    let (bytes, sha256) = sha256_file(&snap.0)?;
    let mut files = vec![FileManifest {
        path: STORE_FILE.to_string(),
        bytes,
        sha256,
    }];
    for rel in &others {
        let (bytes, sha256) = sha256_file(&args.data_dir.join(rel))?;
        files.push(FileManifest {
            path: archive_path(rel),
            bytes,
            sha256,
        });
    }
    let manifest = Manifest {
        kind: "OrreryBackup".to_string(),
        format_version: ARCHIVE_FORMAT,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        orrery_version: env!("CARGO_PKG_VERSION").to_string(),
        store: store_manifest(&info, encrypted_values),
        files,
    };

    let partial = TempFile(out_dir.join(format!(".orrery-backup-{pid}.partial")));
    let total: u64 = manifest.files.iter().map(|f| f.bytes).sum();
    let written = bar(total, "archive", true);
    {
        let file = File::create(&partial.0)
            .with_context(|| format!("creating {}", partial.0.display()))?;
        let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let json = serde_json::to_vec_pretty(&manifest)?;
        append(&mut tar, MANIFEST, json.len() as u64, &json[..])?;
        for (i, f) in manifest.files.iter().enumerate() {
            let path = if i == 0 {
                snap.0.clone()
            } else {
                args.data_dir.join(&others[i - 1])
            };
            let reader = written.wrap_read(File::open(&path)?);
            append(&mut tar, &f.path, f.bytes, reader)?;
        }
        let gz = tar.into_inner()?;
        let mut file = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.flush()?;
        file.sync_all()?;
    }
    written.finish_and_clear();
    std::fs::rename(&partial.0, &args.out)
        .with_context(|| format!("moving the archive to {}", args.out.display()))?;
    Ok(manifest)
}

fn store_manifest(info: &store::backup::SnapshotInfo, encrypted_values: u64) -> StoreManifest {
    StoreManifest {
        revision: info.revision,
        compacted: info.compacted,
        format_version: info.format_version,
        encrypted_values,
    }
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    len: u64,
    data: impl Read,
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(len);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(0);
    tar.append_data(&mut header, path, data.take(len))
        .with_context(|| format!("archiving {path}"))?;
    Ok(())
}

/// A relative path of plain components (no `..`, no root), as an archive may name.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| p.to_path_buf())
}

/// Takes the data dir's store lock (the one a running store holds), failing if an orrery runs
/// on it; held until dropped, so none starts on the dir while it is being replaced.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let lock = dir.join("state.db-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .with_context(|| format!("opening {}", lock.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "an orrery is running on {}; stop it before restoring into that data dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).context("checking the store lock"),
    }
}

/// `orrery restore`: verify the whole archive in a staging dir, then move it into place.
pub fn restore(args: &RestoreArgs) -> anyhow::Result<Manifest> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let non_empty = std::fs::read_dir(dir)?.next().is_some();
    ensure!(
        !non_empty || args.force,
        "{} is not empty; restore into an empty data dir, or pass --force to replace its store \
         and keys",
        dir.display()
    );
    let _lock = lock_data_dir(dir)?;
    let archive_len = std::fs::metadata(&args.from)
        .with_context(|| format!("reading {}", args.from.display()))?
        .len();
    let staging = dir.join(format!(".orrery-restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let result = stage(args, &staging, archive_len);
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    for stale in ["state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    for f in &manifest.files {
        let rel = safe_relative(&f.path).context("checked while staging")?;
        let target = dir.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::rename(staging.join(&rel), &target)
            .with_context(|| format!("moving {} into place", target.display()))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(manifest)
}

/// Reads and checks the archive into `staging`.
fn stage(args: &RestoreArgs, staging: &Path, archive_len: u64) -> anyhow::Result<Manifest> {
    let from = &args.from;
    let read = bar(archive_len, "restore", true);
    let file = File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let gz = flate2::read::GzDecoder::new(BufReader::new(read.wrap_read(file)));
    let mut tar = tar::Archive::new(gz);
    let mut entries = tar
        .entries()
        .with_context(|| format!("{} is not an orrery backup archive", from.display()))?;
    let not_backup = || format!("{} is not an orrery backup (no manifest)", from.display());
    let mut first = entries
        .next()
        .with_context(not_backup)?
        .with_context(not_backup)?;
    ensure!(first.path()?.as_os_str() == MANIFEST, not_backup());
    let mut json = Vec::new();
    (&mut first).take(1 << 20).read_to_end(&mut json)?;
    let manifest: Manifest = serde_json::from_slice(&json).with_context(not_backup)?;
    ensure!(manifest.kind == "OrreryBackup", not_backup());
    ensure!(
        manifest.format_version <= ARCHIVE_FORMAT,
        "{} is backup format {}, newer than the {ARCHIVE_FORMAT} this orrery reads: restore it \
         with the release that wrote it ({})",
        from.display(),
        manifest.format_version,
        manifest.orrery_version
    );
    ensure!(
        manifest.files.first().map(|f| f.path.as_str()) == Some(STORE_FILE),
        "{} lists no store snapshot",
        from.display()
    );
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        let mut entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let listed = manifest.files.iter().find(|f| f.path == name);
        let (Some(listed), Some(rel)) = (listed, safe_relative(&name)) else {
            bail!(
                "{} holds {name:?}, which its manifest does not list",
                from.display()
            );
        };
        ensure!(
            seen.insert(name.clone()),
            "{} holds {name:?} twice",
            from.display()
        );
        let target = staging.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = File::create(&target)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut n = 0u64;
        loop {
            let k = entry.read(&mut buf)?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            out.write_all(&buf[..k])?;
            n += k as u64;
        }
        out.sync_all()?;
        let sum = hex(&hasher.finalize());
        ensure!(
            n == listed.bytes && sum == listed.sha256,
            "{name} in {} does not match its checksum ({n} bytes, sha256 {sum}; the manifest \
             says {} bytes, {}): the archive is damaged",
            from.display(),
            listed.bytes,
            listed.sha256
        );
    }
    read.finish_and_clear();
    for f in &manifest.files {
        ensure!(
            seen.contains(&f.path),
            "{} is missing {} (listed in its manifest): the archive is truncated",
            from.display(),
            f.path
        );
    }
    let info = store::backup::inspect(&staging.join(STORE_FILE))?;
    ensure!(
        info.revision == manifest.store.revision,
        "the store in {} is at revision {}, its manifest says {}",
        from.display(),
        info.revision,
        manifest.store.revision
    );
    Ok(manifest)
}

/// Runs `orrery backup` and says what the archive holds.
pub fn backup_command(args: &BackupArgs) -> anyhow::Result<()> {
    let m = backup(args)?;
    let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
    println!(
        "backup {}: revision {}, store format {}, {} files, {bytes} bytes before compression{}",
        args.out.display(),
        m.store.revision,
        m.store.format_version,
        m.files.len(),
        if m.store.encrypted_values > 0 {
            format!(
                ", {} encrypted values (restore needs the same --encryption-provider-config)",
                m.store.encrypted_values
            )
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Runs `orrery restore` and says how to start from it.
pub fn restore_command(args: &RestoreArgs) -> anyhow::Result<()> {
    let m = restore(args)?;
    println!(
        "restored {} (taken {}, revision {}) into {}; start it with `orrery serve --data-dir {}` \
         or `orrery cluster --data-dir {}`{}",
        args.from.display(),
        m.created_at,
        m.store.revision,
        args.data_dir.display(),
        args.data_dir.display(),
        args.data_dir.display(),
        if m.store.encrypted_values > 0 {
            " and the --encryption-provider-config that holds its keys"
        } else {
            ""
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_must_stay_inside_the_data_dir() {
        assert_eq!(
            safe_relative("pki/sa.key"),
            Some(PathBuf::from("pki/sa.key"))
        );
        for bad in ["", "../x", "/etc/passwd", "pki/../../x", "./x"] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }
}
