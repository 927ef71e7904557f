//! `orrery compact`: drops the history of a stopped embedded cluster's store down to the
//! latest revisions, in steps, with a progress bar. A running `orrery serve` or `orrery
//! cluster` compacts in the background on its own (`--compaction-interval`,
//! `--retain-revisions`); this is for a data dir that was down long or is about to be backed
//! up or moved.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, ensure};
use clap::Args;

/// `orrery compact`.
#[derive(Args, Debug)]
pub struct CompactArgs {
    /// The data dir of a stopped `orrery serve` or `orrery cluster`.
    #[arg(long, env = "ORRERY_DATA_DIR", default_value = "orrery-data")]
    pub data_dir: PathBuf,
    /// Revisions of history to keep (watches and paginated lists from before them get
    /// `410 Expired`).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
    pub retain_revisions: i64,
    /// The encryption configuration the data was written with (an encrypted store cannot be
    /// opened without it).
    #[arg(long, env = "ORRERY_ENCRYPTION_PROVIDER_CONFIG")]
    pub encryption_provider_config: Option<PathBuf>,
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// History was compacted up to here before …
    pub from: i64,
    /// … and is now.
    pub to: i64,
    /// The store's latest revision.
    pub latest: i64,
}

/// Compacts `args.data_dir`'s store; `progress` gets (revisions done, revisions to do).
pub fn compact(
    args: &CompactArgs,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<Compacted> {
    let path = args.data_dir.join("state.db");
    ensure!(
        path.is_file(),
        "{} holds no store (state.db); give the data dir of an `orrery serve` or `orrery cluster`",
        args.data_dir.display()
    );
    let transformer: Option<Arc<dyn store::ValueTransformer>> =
        match &args.encryption_provider_config {
            Some(p) => Some(Arc::new(apiserver::encryption::EncryptionConfig::load(p)?)),
            None => None,
        };
    let store = store::Store::open_with(
        store::StoreOptions {
            path: path.clone(),
            // This compaction is the only one.
            compaction_interval: Duration::from_secs(365 * 24 * 3600),
            retain_revisions: args.retain_revisions,
            durable: true,
        },
        store::StoreTuning::default(),
        transformer,
    )
    .with_context(|| {
        format!(
            "opening {} (stop the orrery using it first; an encrypted store needs --encryption-provider-config)",
            path.display()
        )
    })?;
    let from = store.compacted_revision();
    let latest = store.revision();
    let target = latest - args.retain_revisions;
    let total = u64::try_from(target - from).unwrap_or(0);
    progress(0, total);
    store.compact_with_progress(target, |to, _| {
        progress(u64::try_from(to - from).unwrap_or(0), total);
    })?;
    progress(total, total);
    let to = store.compacted_revision();
    store.close();
    Ok(Compacted { from, to, latest })
}

/// Runs `orrery compact` with a progress bar and says what it did.
pub fn compact_command(args: &CompactArgs) -> anyhow::Result<()> {
    let bar = crate::backup::reporter("compact", "revisions");
    let c = compact(args, |done, total| bar.report(done, total))?;
    if c.to == c.from {
        println!(
            "nothing to compact: history starts at revision {} of {}",
            c.from, c.latest
        );
    } else {
        println!(
            "compacted history from revision {} to {} (latest {}); SQLite reuses the freed pages",
            c.from, c.to, c.latest
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &std::path::Path) -> store::StoreOptions {
        store::StoreOptions {
            path: dir.join("state.db"),
            compaction_interval: Duration::from_secs(3600),
            retain_revisions: 1_000_000,
            durable: false,
        }
    }

    #[tokio::test]
    async fn history_is_compacted_with_progress_and_a_store_in_use_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store::Store::open(options(dir.path())).expect("open");
        s.create("/k", Box::new(|_| b"v0".to_vec()))
            .await
            .expect("create");
        for i in 1..50 {
            s.update(
                "/k",
                None,
                Box::new(move |_, _| Ok(format!("v{i}").into_bytes())),
            )
            .await
            .expect("update");
        }
        let args = CompactArgs {
            data_dir: dir.path().to_path_buf(),
            retain_revisions: 10,
            encryption_provider_config: None,
        };
        let err = compact(&args, |_, _| {}).expect_err("the store is open");
        assert!(format!("{err:#}").contains("stop the orrery"), "{err:#}");
        s.close();

        let mut seen = Vec::new();
        let c = compact(&args, |done, total| seen.push((done, total))).expect("compact");
        assert_eq!(
            c,
            Compacted {
                from: 0,
                to: 40,
                latest: 50
            }
        );
        assert_eq!(seen.first(), Some(&(0, 40)));
        assert_eq!(seen.last(), Some(&(40, 40)));
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
        let again = compact(&args, |_, _| {}).expect("compact again");
        assert_eq!((again.from, again.to), (40, 40));
        let s = store::Store::open(options(dir.path())).expect("reopen");
        assert_eq!(
            s.get("/k").map(|kv| kv.value.to_vec()),
            Some(b"v49".to_vec())
        );
        assert_eq!(s.compacted_revision(), 40);
        s.close();

        let empty = tempfile::tempdir().expect("tempdir");
        let err = compact(
            &CompactArgs {
                data_dir: empty.path().to_path_buf(),
                retain_revisions: 0,
                encryption_provider_config: None,
            },
            |_, _| {},
        )
        .expect_err("no store");
        assert!(err.to_string().contains("holds no store"), "{err}");
    }
}
