//! Consistent copies of a store file, taken while a store (in this or another process) keeps
//! writing to it.
//!
//! SQLite in WAL mode lets readers in other processes see one committed snapshot while the
//! writer goes on; the store's own lock (`<file>-lock`) only keeps out a second *writer*. So
//! a snapshot opens the file read-only, starts one read transaction, and copies the pages
//! with SQLite's online backup API inside it: every step reads the same snapshot, so the copy
//! is the store at exactly one revision, and it holds every write acknowledged before the
//! snapshot began (the writer acknowledges only after its commit).

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{Revision, StoreError, sqlite};

/// Pages copied per backup step (4 KiB pages: 4 MiB a step).
const PAGES_PER_STEP: i32 = 1024;

/// What a snapshot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The store's revision in the snapshot.
    pub revision: Revision,
    /// Its compaction point.
    pub compacted: Revision,
    /// Its file format version ([`crate::FORMAT_VERSION`] for files this release writes).
    pub format_version: i64,
    /// The snapshot file's size in bytes.
    pub bytes: u64,
}

/// Copies the store file `source` to `dest` (which must not exist) at one revision.
/// `progress` gets (pages copied, pages in total) after each step.
pub fn snapshot(
    source: &Path,
    dest: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<SnapshotInfo, StoreError> {
    if !source.is_file() {
        return Err(StoreError::Backend(format!(
            "there is no store file at {}",
            source.display()
        )));
    }
    if dest.exists() {
        return Err(StoreError::Backend(format!(
            "{} already exists; choose another destination",
            dest.display()
        )));
    }
    let src = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", source.display())))?;
    src.busy_timeout(Duration::from_secs(30))?;
    let format_version = sqlite::format_version(&src)?;
    if format_version > sqlite::FORMAT_VERSION {
        return Err(sqlite::too_new(source, format_version));
    }
    // The first read after BEGIN fixes the snapshot; every backup step below reads inside it.
    src.execute_batch("BEGIN")?;
    let (revision, compacted) = read_revision(&src)?;
    let mut dst = Connection::open(dest)
        .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dest.display())))?;
    {
        let backup = Backup::new(&src, &mut dst)?;
        loop {
            let step = backup.step(PAGES_PER_STEP)?;
            let p = backup.progress();
            let total = p.pagecount.max(0) as u64;
            progress(total.saturating_sub(p.remaining.max(0) as u64), total);
            match step {
                StepResult::Done => break,
                StepResult::More => {}
                // Only the destination can be busy (nothing else has it open); wait briefly.
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    src.execute_batch("COMMIT")?;
    drop(src);
    // A self-contained file: no WAL beside it.
    let mode: String = dst.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Backend(format!(
            "cannot finish the snapshot {} (journal mode {mode})",
            dest.display()
        )));
    }
    let copied = read_revision(&dst)?;
    if copied != (revision, compacted) {
        return Err(StoreError::Backend(format!(
            "the snapshot holds revision {} but revision {revision} was read; it is not consistent",
            copied.0
        )));
    }
    drop(dst);
    let bytes = std::fs::metadata(dest)
        .map_err(|e| StoreError::Backend(format!("cannot read {}: {e}", dest.display())))?
        .len();
    Ok(SnapshotInfo {
        revision,
        compacted,
        format_version,
        bytes,
    })
}

/// Checks a snapshot file (e.g. one being restored) and says what it holds: SQLite's quick
/// integrity check, a format this release opens, the store's tables.
pub fn inspect(path: &Path) -> Result<SnapshotInfo, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Backend(format!(
            "{} is damaged: SQLite's integrity check says {check}",
            path.display()
        )));
    }
    let format_version = sqlite::format_version(&conn)?;
    if format_version > sqlite::FORMAT_VERSION {
        return Err(sqlite::too_new(path, format_version));
    }
    let (revision, compacted) = read_revision(&conn)?;
    drop(conn);
    let bytes = std::fs::metadata(path)
        .map_err(|e| StoreError::Backend(format!("cannot read {}: {e}", path.display())))?
        .len();
    Ok(SnapshotInfo {
        revision,
        compacted,
        format_version,
        bytes,
    })
}

/// How many stored values (history included) are encrypted, in a snapshot file.
pub fn encrypted_values(path: &Path) -> Result<u64, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM kv WHERE substr(value, 1, ?1) = ?2",
        rusqlite::params![
            crate::ENCRYPTED_PREFIX.len() as i64,
            crate::ENCRYPTED_PREFIX
        ],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

/// (latest revision, compaction point) as the store computes them at open.
fn read_revision(conn: &Connection) -> Result<(Revision, Revision), StoreError> {
    let compacted: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE name = 'compacted'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| StoreError::Backend(format!("not a store file: {e}")))?;
    let compacted = compacted.unwrap_or(0);
    let max: Option<i64> = conn
        .query_row("SELECT MAX(rev) FROM kv", [], |r| r.get(0))
        .map_err(|e| StoreError::Backend(format!("not a store file: {e}")))?;
    Ok((max.unwrap_or(0).max(compacted), compacted))
}
