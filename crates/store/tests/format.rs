//! The store file's format version: new files get the current one, files of the layout
//! before versioning are migrated at open, files of a newer format are refused.

mod common;

use common::{open, opts, pairs, val};
use store::{FORMAT_VERSION, Store};

fn user_version(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_new_file_gets_the_current_format_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        s.create("/a", val("1")).await.unwrap();
        s.close();
    }
    assert_eq!(user_version(&dir.path().join("store.db")), FORMAT_VERSION);
    let s = open(dir.path());
    assert_eq!(s.revision(), 1);
}

#[tokio::test]
async fn the_unversioned_layout_is_migrated_with_its_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("fixtures/format-v0.sql"))
            .unwrap();
    }
    assert_eq!(user_version(&path), 0);
    let s = open(dir.path());
    assert_eq!(s.revision(), 4);
    assert_eq!(
        pairs(&s.list("/registry/", None, 0, None).unwrap().items),
        vec![(
            "/registry/core/configmaps/default/a".to_string(),
            r#"{"v":"a2"}"#.to_string()
        )]
    );
    // History from before the migration is still there.
    assert_eq!(
        s.list("/registry/", None, 0, Some(2)).unwrap().items.len(),
        2
    );
    assert_eq!(
        s.create("/registry/core/configmaps/default/c", val("{}"))
            .await
            .unwrap()
            .mod_revision,
        5
    );
    s.close();
    assert_eq!(user_version(&path), FORMAT_VERSION);
}

#[tokio::test]
async fn a_newer_format_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let s = open(dir.path());
        s.create("/a", val("1")).await.unwrap();
        s.close();
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", FORMAT_VERSION + 1)
            .unwrap();
    }
    let err = Store::open(opts(dir.path())).unwrap_err().to_string();
    assert!(
        err.contains(&format!("format version {}", FORMAT_VERSION + 1))
            && err.contains("newer than"),
        "{err}"
    );
    assert_eq!(user_version(&path), FORMAT_VERSION + 1);
}

#[tokio::test]
async fn a_file_with_a_foreign_log_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE kv (id INTEGER PRIMARY KEY, data BLOB);")
            .unwrap();
    }
    let err = Store::open(opts(dir.path())).unwrap_err().to_string();
    assert!(err.contains("migrating store file"), "{err}");
    assert_eq!(user_version(&path), 0);
}
