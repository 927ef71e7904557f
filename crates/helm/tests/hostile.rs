//! Hostile charts: each must fail fast with a clear error, never hang or escape the chart.

use std::io::Write;
use std::time::{Duration, Instant};

use helm::chart::{LoadError, LoadLimits, load, load_archive};
use helm::engine::{RenderOptions, render_chart};

/// A tar header with an arbitrary (unchecked) name, as a malicious archive would have.
fn raw_entry(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &str,
    data: &[u8],
    kind: tar::EntryType,
    link: Option<&str>,
) {
    let mut h = tar::Header::new_old();
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    if let Some(l) = link {
        h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
    }
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    h.set_cksum();
    assert!(builder.append(&h, data).is_ok());
}

fn tgz(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        raw_entry(&mut b, name, data, tar::EntryType::Regular, None);
    }
    let tar = b.into_inner().unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    assert!(gz.write_all(&tar).is_ok());
    gz.finish().unwrap_or_default()
}

const CHART_YAML: &[u8] = b"apiVersion: v2\nname: evil\nversion: 0.1.0\n";

#[test]
fn parent_directory_paths_are_rejected() {
    let data = tgz(&[
        ("evil/Chart.yaml", CHART_YAML.to_vec()),
        ("evil/../../etc/passwd", b"x".to_vec()),
    ]);
    let err = load_archive(&data, &LoadLimits::default()).err();
    assert!(matches!(err, Some(LoadError::PathTraversal(_))), "{err:?}");
    assert!(
        err.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("outside the chart")
    );
}

#[test]
fn absolute_paths_are_rejected() {
    let data = tgz(&[
        ("evil/Chart.yaml", CHART_YAML.to_vec()),
        ("evil//etc/passwd", b"x".to_vec()),
    ]);
    assert!(matches!(
        load_archive(&data, &LoadLimits::default()),
        Err(LoadError::PathTraversal(_))
    ));
}

#[test]
fn symlinks_in_archives_are_rejected() {
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(
        &mut b,
        "evil/Chart.yaml",
        CHART_YAML,
        tar::EntryType::Regular,
        None,
    );
    raw_entry(
        &mut b,
        "evil/templates/x.yaml",
        b"",
        tar::EntryType::Symlink,
        Some("/etc/passwd"),
    );
    let tar = b.into_inner().unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    assert!(gz.write_all(&tar).is_ok());
    let data = gz.finish().unwrap_or_default();
    assert!(matches!(
        load_archive(&data, &LoadLimits::default()),
        Err(LoadError::SymlinkEscape(_))
    ));
}

#[test]
fn symlink_out_of_a_chart_directory_is_rejected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("evil");
    assert!(std::fs::create_dir_all(root.join("templates")).is_ok());
    assert!(std::fs::write(root.join("Chart.yaml"), CHART_YAML).is_ok());
    let outside = dir.path().join("secret.txt");
    assert!(std::fs::write(&outside, "top secret").is_ok());
    assert!(std::os::unix::fs::symlink(&outside, root.join("templates/leak.yaml")).is_ok());
    let err = load(&root, &LoadLimits::default()).err();
    assert!(
        matches!(err, Some(LoadError::SymlinkEscape(ref p)) if p == "templates/leak.yaml"),
        "{err:?}"
    );
}

#[test]
fn symlink_inside_the_chart_is_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ok");
    assert!(std::fs::create_dir_all(root.join("templates")).is_ok());
    assert!(
        std::fs::write(
            root.join("Chart.yaml"),
            b"apiVersion: v2\nname: ok\nversion: 0.1.0\n"
        )
        .is_ok()
    );
    assert!(std::fs::write(root.join("real.txt"), "hi").is_ok());
    assert!(std::os::unix::fs::symlink(root.join("real.txt"), root.join("link.txt")).is_ok());
    let c = load(&root, &LoadLimits::default());
    assert!(c.is_ok_and(|c| c.files.iter().any(|f| f.name == "link.txt")));
}

#[test]
fn archive_bomb_is_stopped_by_the_decompressed_size_cap() {
    let zeros = vec![0u8; 4 << 20];
    let entries: Vec<(String, Vec<u8>)> = (0..8)
        .map(|i| (format!("evil/files/z{i}"), zeros.clone()))
        .collect();
    let mut all: Vec<(&str, Vec<u8>)> = vec![("evil/Chart.yaml", CHART_YAML.to_vec())];
    all.extend(entries.iter().map(|(n, d)| (n.as_str(), d.clone())));
    let data = tgz(&all);
    assert!(
        data.len() < 200_000,
        "the bomb compresses well: {}",
        data.len()
    );
    let limits = LoadLimits {
        max_total_bytes: 16 << 20,
        ..LoadLimits::default()
    };
    let t0 = Instant::now();
    let err = load_archive(&data, &limits).err();
    assert!(matches!(err, Some(LoadError::TooLarge(_))), "{err:?}");
    assert!(
        err.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("larger than the maximum size")
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn oversized_single_file_is_rejected() {
    let data = tgz(&[
        ("evil/Chart.yaml", CHART_YAML.to_vec()),
        ("evil/big", vec![b'a'; 6 << 20]),
    ]);
    assert!(matches!(
        load_archive(&data, &LoadLimits::default()),
        Err(LoadError::TooLarge(_))
    ));
}

#[test]
fn too_many_files_is_rejected() {
    let names: Vec<String> = (0..50).map(|i| format!("evil/f{i}")).collect();
    let mut all: Vec<(&str, Vec<u8>)> = vec![("evil/Chart.yaml", CHART_YAML.to_vec())];
    all.extend(names.iter().map(|n| (n.as_str(), b"x".to_vec())));
    let limits = LoadLimits {
        max_files: 10,
        ..LoadLimits::default()
    };
    assert!(matches!(
        load_archive(&tgz(&all), &limits),
        Err(LoadError::TooManyFiles(10))
    ));
}

#[test]
fn a_damaged_archive_is_refused_not_read_altered() {
    let good = tgz(&[(
        "demo/Chart.yaml",
        b"apiVersion: v2\nname: demo\nversion: 0.1.0\n".to_vec(),
    )]);
    assert!(load_archive(&good, &LoadLimits::default()).is_ok());
    // The gzip trailer's CRC-32 no longer matches what the archive holds: the tar reader
    // alone stops at its end-of-archive blocks and never sees it.
    let mut bad = good.clone();
    let crc = bad.len() - 8;
    bad[crc] ^= 0xff;
    match load_archive(&bad, &LoadLimits::default()) {
        Err(LoadError::Archive(e)) => assert!(e.contains("damaged"), "{e}"),
        other => panic!(
            "a damaged archive was read: {:?}",
            other.map(|c| c.metadata.name)
        ),
    }
}

#[test]
fn not_a_gzip_is_a_clear_error() {
    let err = load_archive(b"apiVersion: v2\n", &LoadLimits::default())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("invalid chart archive: file does not appear to be a gzipped archive")
    );
}

fn chart_with(template: &str) -> helm::chart::Chart {
    let data = tgz(&[
        ("evil/Chart.yaml", CHART_YAML.to_vec()),
        (
            "evil/templates/_r.tpl",
            br#"{{ define "r" }}{{ include "r" . }}{{ end }}"#.to_vec(),
        ),
        ("evil/templates/t.yaml", template.as_bytes().to_vec()),
    ]);
    match load_archive(&data, &LoadLimits::default()) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn recursive_include_fails_quickly() {
    let c = chart_with(r#"{{ include "r" . }}"#);
    let t0 = Instant::now();
    let err = render_chart(&c, &Default::default(), &RenderOptions::default())
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some());
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn recursive_tpl_fails_quickly() {
    let c = chart_with(
        r#"{{ $s := "{{ tpl $.Values.s $ }}" }}{{ tpl $s (dict "Values" (dict "s" $s)) }}"#,
    );
    let t0 = Instant::now();
    assert!(render_chart(&c, &Default::default(), &RenderOptions::default()).is_err());
    assert!(t0.elapsed() < Duration::from_secs(10));
}

#[test]
fn runaway_range_hits_the_time_budget() {
    let c = chart_with(
        "{{ range until 100000 }}{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}{{ end }}",
    );
    let opts = RenderOptions {
        timeout: Duration::from_millis(500),
        ..RenderOptions::default()
    };
    let t0 = Instant::now();
    let err = render_chart(&c, &Default::default(), &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("took too long") || err.contains("deadline"),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
}

#[test]
fn output_bomb_hits_the_output_budget() {
    let c = chart_with(
        r#"{{ range until 100000000 }}{{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }}{{ end }}"#,
    );
    let opts = RenderOptions {
        max_output: 1 << 20,
        ..RenderOptions::default()
    };
    let t0 = Instant::now();
    let err = render_chart(&c, &Default::default(), &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("exceeds the limit"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Arbitrary bytes, and arbitrary bytes behind a gzip header, never panic the loader.
        #[test]
        fn arbitrary_archives_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = load_archive(&data, &LoadLimits::default());
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            prop_assert!(gz.write_all(&data).is_ok());
            let _ = load_archive(&gz.finish().unwrap_or_default(), &LoadLimits::default());
        }

        /// Arbitrary entry names never escape the chart: loading fails or every name is relative.
        #[test]
        fn entry_names_stay_inside(names in proptest::collection::vec("[a-z./\\\\]{1,20}", 1..6)) {
            let mut entries: Vec<(&str, Vec<u8>)> = vec![("evil/Chart.yaml", CHART_YAML.to_vec())];
            let full: Vec<String> = names.iter().map(|n| format!("evil/{n}")).collect();
            entries.extend(full.iter().map(|n| (n.as_str(), b"x".to_vec())));
            if let Ok(c) = load_archive(&tgz(&entries), &LoadLimits::default()) {
                for f in c.files.iter().chain(c.templates.iter()) {
                    prop_assert!(!f.name.starts_with('/') && !f.name.split('/').any(|p| p == ".."), "{}", f.name);
                }
            }
        }

        /// Arbitrary text never panics the YAML reader.
        #[test]
        fn arbitrary_yaml_never_panics(s in "\\PC{0,200}") {
            let _ = helm::yaml::parse_documents(&s);
        }
    }
}
