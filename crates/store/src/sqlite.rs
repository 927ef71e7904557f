//! SQLite persistence: one append-only log of revisions, kine style.
//!
//! Every write is a row keyed by its revision. A row records the key, what happened, the
//! key's create revision, the revision of the version it replaced (`prev_rev`, 0 for a
//! create) and the bytes: the new value, or for a delete the final value. The latest state
//! is the newest row per key unless that row is a delete; the state at revision R is the
//! newest row per key with `rev <= R`. Keys are stored as BLOBs so SQLite compares them
//! bytewise, exactly like Rust's `str` ordering, and prefix bounds need not be valid UTF-8.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params, params_from_iter};

use crate::transform::Codec;
use crate::{Event, EventType, KeyValue, Revision, StoreError};

/// Row kind of a create.
pub(crate) const KIND_CREATED: i64 = 0;
/// Row kind of an update.
pub(crate) const KIND_UPDATED: i64 = 1;
/// Row kind of a delete (a tombstone carrying the final value).
pub(crate) const KIND_DELETED: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    rev        INTEGER PRIMARY KEY,
    key        BLOB    NOT NULL,
    kind       INTEGER NOT NULL,
    create_rev INTEGER NOT NULL,
    prev_rev   INTEGER NOT NULL,
    value      BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_key_rev_kind ON kv (key, rev, kind);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Opens a connection with the store's pragmas: WAL, the requested durability and a small
/// page cache (the latest state lives in Rust memory, SQLite only serves history).
pub(crate) fn open_connection(path: &Path, durable: bool) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| {
        StoreError::Backend(format!("cannot open store file {}: {e}", path.display()))
    })?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "cannot switch store file {} to WAL mode (SQLite answered {mode:?})",
            path.display()
        )));
    }
    let sync = if durable { "FULL" } else { "OFF" };
    conn.execute_batch(&format!(
        "PRAGMA synchronous={sync};
         PRAGMA cache_size=-2048;
         PRAGMA temp_store=MEMORY;
         PRAGMA journal_size_limit=67108864;"
    ))?;
    Ok(conn)
}

/// The store file's format version, kept in SQLite's `PRAGMA user_version`. Files written
/// before the store had a format version read 0.
pub const FORMAT_VERSION: i64 = 1;

/// A step that brings a file of the version before `to` to `to`.
struct Migration {
    to: i64,
    what: &'static str,
    run: fn(&Transaction<'_>) -> Result<(), StoreError>,
}

/// Every format change, oldest first; a release that changes the layout appends one.
const MIGRATIONS: &[Migration] = &[Migration {
    to: 1,
    what: "create the log and meta tables, or check the unversioned layout and stamp it",
    run: migrate_to_v1,
}];

/// Version 1 is the layout files had before they were versioned, so an existing unversioned
/// file only has its tables checked; a new file gets them created.
fn migrate_to_v1(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(SCHEMA)?;
    tx.query_row(
        "SELECT count(*) FROM (SELECT rev, key, kind, create_rev, prev_rev, value FROM kv LIMIT 0)",
        [],
        |_| Ok(()),
    )
    .map_err(|e| {
        StoreError::Backend(format!(
            "the store file's log table does not have the expected columns: {e}"
        ))
    })?;
    Ok(())
}

/// The format version of an open store file.
pub(crate) fn format_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// The error for a file written by a newer Orrery.
pub(crate) fn too_new(path: &Path, version: i64) -> StoreError {
    StoreError::Backend(format!(
        "store file {} has format version {version}, newer than the {FORMAT_VERSION} this orrery \
         understands: run the orrery release that wrote it (or a newer one), or restore a backup \
         taken by this release",
        path.display()
    ))
}

/// Creates the tables of a new file and migrates an older file to [`FORMAT_VERSION`] in one
/// transaction; refuses a file of a newer format.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version = format_version(conn)?;
    if version > FORMAT_VERSION {
        return Err(too_new(path, version));
    }
    if version == FORMAT_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for step in MIGRATIONS.iter().filter(|m| m.to > version) {
        tracing::info!(path = %path.display(), to = step.to, what = step.what, "migrating the store file");
        (step.run)(&tx).map_err(|e| {
            StoreError::Backend(format!(
                "migrating store file {} to format version {}: {e}",
                path.display(),
                step.to
            ))
        })?;
    }
    tx.pragma_update(None, "user_version", FORMAT_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// The latest state as read at open.
pub(crate) struct Loaded {
    /// Live keys and their latest versions.
    pub map: BTreeMap<Arc<str>, KeyValue>,
    /// The highest revision ever committed.
    pub revision: Revision,
    /// The persisted compaction point.
    pub compacted: Revision,
}

/// Reads the latest state in one sequential pass over the log.
pub(crate) fn load(conn: &Connection, codec: &Codec) -> Result<Loaded, StoreError> {
    let compacted = read_compacted(conn)?;
    let mut map: BTreeMap<Arc<str>, KeyValue> = BTreeMap::new();
    let mut revision = compacted;
    let mut stmt = conn.prepare("SELECT rev, key, kind, create_rev, value FROM kv ORDER BY rev")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let rev: i64 = row.get(0)?;
        let key = row_key(row, 1)?;
        let kind: i64 = row.get(2)?;
        revision = revision.max(rev);
        if kind == KIND_DELETED {
            map.remove(key.as_str());
            continue;
        }
        let value = codec.decode_stored(&key, row.get(4)?)?.value;
        let kv_key = match map.get_key_value(key.as_str()) {
            // Reuse the map's key allocation so key and value share one `Arc`.
            Some((existing, _)) => existing.clone(),
            None => Arc::from(key),
        };
        let kv = KeyValue {
            key: kv_key.clone(),
            value: Bytes::from(value),
            create_revision: row.get(3)?,
            mod_revision: rev,
        };
        map.insert(kv_key, kv);
    }
    Ok(Loaded {
        map,
        revision,
        compacted,
    })
}

fn read_compacted(conn: &Connection) -> Result<Revision, StoreError> {
    let value: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE name = 'compacted'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(value.unwrap_or(0))
}

fn row_key(row: &Row<'_>, idx: usize) -> Result<String, StoreError> {
    let raw: Vec<u8> = row.get(idx)?;
    String::from_utf8(raw)
        .map_err(|_| StoreError::Backend("the store file holds a key that is not UTF-8".into()))
}

/// Appends one log row inside the writer's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_row(
    tx: &Transaction<'_>,
    codec: &Codec,
    rev: Revision,
    key: &str,
    kind: i64,
    create_rev: Revision,
    prev_rev: Revision,
    value: &[u8],
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO kv (rev, key, kind, create_rev, prev_rev, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let stored = codec.encode_stored(key, value)?;
    stmt.execute(params![
        rev,
        key.as_bytes(),
        kind,
        create_rev,
        prev_rev,
        stored.as_ref()
    ])?;
    Ok(())
}

/// The first byte string greater than every string with this prefix, if any.
fn prefix_end(prefix: &str) -> Option<Vec<u8>> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// SQL conditions and parameters selecting keys with `prefix`, strictly after `start_after`.
fn key_range(
    column: &str,
    prefix: &str,
    start_after: Option<&str>,
    params: &mut Vec<Value>,
) -> String {
    let mut sql = match start_after {
        Some(after) if after >= prefix => {
            params.push(Value::Blob(after.as_bytes().to_vec()));
            format!("{column} > ?{}", params.len())
        }
        _ => {
            params.push(Value::Blob(prefix.as_bytes().to_vec()));
            format!("{column} >= ?{}", params.len())
        }
    };
    if let Some(end) = prefix_end(prefix) {
        params.push(Value::Blob(end));
        sql.push_str(&format!(" AND {column} < ?{}", params.len()));
    }
    sql
}

/// Fails with `Compacted` if history after `rev` may already be gone. Runs inside the read
/// transaction so the check and the reads see the same snapshot.
fn check_compacted(tx: &Transaction<'_>, rev: Revision) -> Result<(), StoreError> {
    let compacted = read_compacted(tx)?;
    if rev < compacted {
        return Err(StoreError::Compacted { compacted });
    }
    Ok(())
}

/// Lists the state at revision `rev` from the log: items (at most `limit`, 0 = all) and how
/// many further keys exist.
pub(crate) fn list_at(
    conn: &mut Connection,
    codec: &Codec,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
    rev: Revision,
) -> Result<(Vec<KeyValue>, usize), StoreError> {
    let tx = conn.transaction()?;
    check_compacted(&tx, rev)?;
    let mut params = Vec::new();
    let range = key_range("key", prefix, start_after, &mut params);
    params.push(Value::Integer(rev));
    let rev_param = params.len();
    // With a single MAX() SQLite takes the bare `kind` from the row holding the maximum, and
    // the (key, rev, kind) index covers the whole scan, so counting the keys after the page
    // never reads a value.
    let sql = format!(
        "SELECT mr FROM (
           SELECT key, MAX(rev) AS mr, kind AS kd FROM kv
           WHERE {range} AND rev <= ?{rev_param} GROUP BY key ORDER BY key)
         WHERE kd != {KIND_DELETED}"
    );
    let mut revs = Vec::new();
    let mut remaining = 0;
    {
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            if limit != 0 && revs.len() >= limit {
                remaining += 1;
            } else {
                revs.push(row.get::<_, i64>(0)?);
            }
        }
    }
    let mut items = Vec::with_capacity(revs.len());
    {
        let mut stmt = tx.prepare_cached("SELECT key, create_rev, value FROM kv WHERE rev = ?1")?;
        for rev in revs {
            let kv = stmt.query_row([rev], |row| {
                let key: Vec<u8> = row.get(0)?;
                let value: Vec<u8> = row.get(2)?;
                Ok((key, row.get::<_, i64>(1)?, value))
            })?;
            let (key, create_revision, value) = kv;
            let key = String::from_utf8(key).map_err(|_| {
                StoreError::Backend("the store file holds a key that is not UTF-8".into())
            })?;
            let value = codec.decode_stored(&key, value)?.value;
            items.push(KeyValue {
                key: Arc::from(key),
                value: Bytes::from(value),
                create_revision,
                mod_revision: rev,
            });
        }
    }
    tx.commit()?;
    Ok((items, remaining))
}

/// Reads the events with `after < rev <= upto` on keys with `prefix`, in revision order.
pub(crate) fn events_between(
    conn: &mut Connection,
    codec: &Codec,
    prefix: &str,
    after: Revision,
    upto: Revision,
) -> Result<Vec<Event>, StoreError> {
    let tx = conn.transaction()?;
    check_compacted(&tx, after)?;
    let mut params = vec![Value::Integer(after), Value::Integer(upto)];
    let range = key_range("k.key", prefix, None, &mut params);
    let sql = format!(
        "SELECT k.rev, k.key, k.kind, k.create_rev, k.value, p.rev, p.value FROM kv k
         LEFT JOIN kv p ON p.rev = k.prev_rev AND k.prev_rev > 0
         WHERE k.rev > ?1 AND k.rev <= ?2 AND {range}
         ORDER BY k.rev"
    );
    let mut events = Vec::new();
    {
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            events.push(event_from_row(row, codec)?);
        }
    }
    tx.commit()?;
    Ok(events)
}

fn event_from_row(row: &Row<'_>, codec: &Codec) -> Result<Event, StoreError> {
    let rev: i64 = row.get(0)?;
    let key: Arc<str> = Arc::from(row_key(row, 1)?);
    let kind_code: i64 = row.get(2)?;
    let create_revision: i64 = row.get(3)?;
    let value = codec.decode_stored(&key, row.get(4)?)?.value;
    let kind = match kind_code {
        KIND_CREATED => EventType::Created,
        KIND_UPDATED => EventType::Updated,
        KIND_DELETED => EventType::Deleted,
        other => {
            return Err(StoreError::Backend(format!(
                "history row {rev} has unknown kind {other}"
            )));
        }
    };
    let prev = if kind == EventType::Created {
        None
    } else {
        let prev_rev: Option<i64> = row.get(5)?;
        let prev_value: Option<Vec<u8>> = row.get(6)?;
        match (prev_rev, prev_value) {
            (Some(mod_revision), Some(v)) => Some(KeyValue {
                key: key.clone(),
                value: Bytes::from(codec.decode_stored(&key, v)?.value),
                create_revision,
                mod_revision,
            }),
            _ => {
                return Err(StoreError::Backend(format!(
                    "history row {rev} is missing the version it replaced"
                )));
            }
        }
    };
    Ok(Event {
        kind,
        kv: KeyValue {
            key,
            value: Bytes::from(value),
            create_revision,
            mod_revision: rev,
        },
        prev,
    })
}

/// Drops history in `(from, to]` that no read at a revision `>= to` can need: every version
/// superseded at or before `to`, and every tombstone at or before `to`. Rows at or before
/// `from` were already compacted, so only rows in the range can supersede anything new.
pub(crate) fn compact_range(
    conn: &mut Connection,
    from: Revision,
    to: Revision,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM kv WHERE rev IN
           (SELECT prev_rev FROM kv WHERE rev > ?1 AND rev <= ?2 AND prev_rev > 0)",
        params![from, to],
    )?;
    tx.execute(
        &format!("DELETE FROM kv WHERE kind = {KIND_DELETED} AND rev > ?1 AND rev <= ?2"),
        params![from, to],
    )?;
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('compacted', ?1)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![to],
    )?;
    tx.commit()?;
    Ok(())
}

/// Stores again, in place, every row with `after < rev` (at most `limit` rows looked at) whose
/// stored form is stale for `codec` (written before encryption was configured, or with a key
/// that is no longer the first). The plaintext and the revisions do not change, so memory,
/// watchers and history are unaffected. Returns the last revision looked at (None: no rows
/// left) and how many rows were rewritten.
pub(crate) fn rewrite_stale(
    conn: &mut Connection,
    codec: &Codec,
    after: Revision,
    limit: usize,
) -> Result<(Option<Revision>, usize), StoreError> {
    let tx = conn.transaction()?;
    let mut last = None;
    let mut stale = Vec::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT rev, key, value FROM kv WHERE rev > ?1 ORDER BY rev LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after, limit as i64])?;
        while let Some(row) = rows.next()? {
            let rev: i64 = row.get(0)?;
            last = Some(rev);
            let key = row_key(row, 1)?;
            let decoded = codec.decode_stored(&key, row.get(2)?)?;
            if decoded.stale {
                let stored = codec.encode_stored(&key, &decoded.value)?.into_owned();
                stale.push((rev, stored));
            }
        }
    }
    {
        let mut update = tx.prepare_cached("UPDATE kv SET value = ?2 WHERE rev = ?1")?;
        for (rev, stored) in &stale {
            update.execute(params![rev, stored])?;
        }
    }
    tx.commit()?;
    Ok((last, stale.len()))
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end("/a/"), Some(b"/a0".to_vec()));
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn prefix_end_can_leave_utf8_which_is_why_keys_are_blobs() {
        let end = prefix_end("a\u{7f}").unwrap_or_default();
        assert_eq!(end, vec![b'a', 0x80]);
        assert!(String::from_utf8(end).is_err());
    }
}
