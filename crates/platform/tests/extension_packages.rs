//! Untrusted extension packages (issue 14): the readers of what a repository or a ConfigMap
//! hands the installer — the package archive (`install::read_package`, which reads
//! `extension.yaml` and `permissions.yaml` in it), the author's check
//! (`authoring::check_package`), `permissions.yaml` (`permissions::parse` and the installer's
//! ceiling) and `extension.yaml` (`package::parse_manifest`) — never panic on any bytes,
//! refuse with a reason, and never hand back part of a package: a damaged copy of the example
//! extension's package is refused or read whole, exactly as the intact one. The same readers
//! are fuzzed by `fuzz/fuzz_targets/extension_package.rs`.

use std::path::Path;

use platform::extensions::{authoring, install, package, permissions};
use proptest::prelude::*;

/// The example extension (`examples/extensions/hello`), packaged.
fn example() -> &'static [u8] {
    static PACKAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    PACKAGE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/extensions/hello");
        authoring::package_dir(&dir, None)
            .expect("package the example")
            .tgz
    })
}

/// Everything a read package holds, comparable: its manifest, permissions, namespace and
/// every file of the chart and its subcharts.
fn contents(p: &install::Package) -> String {
    fn files(c: &helm::chart::Chart, at: &str, out: &mut Vec<String>) {
        for f in c.templates.iter().chain(&c.files) {
            out.push(format!("{at}{} {:x?}", f.name, &f.data[..]));
        }
        out.push(format!("{at}values {:?}", c.values));
        for d in &c.dependencies {
            files(d, &format!("{at}{}/", d.metadata.name), out);
        }
    }
    let mut out = vec![
        format!("{:?}", p.manifest),
        format!("{:?}", p.permissions),
        p.namespace.clone(),
        format!("{} {}", p.chart.metadata.name, p.chart.metadata.version),
    ];
    files(&p.chart, "", &mut out);
    out.sort();
    out.join("\n")
}

#[test]
fn the_example_reads_whole() {
    let p = install::read_package(example(), "hello").expect("the example reads");
    assert_eq!(p.namespace, "extension-hello");
    assert_eq!(p.chart.dependencies.len(), 2);
    assert!(!p.permissions.cluster.is_empty() && !p.permissions.namespace.is_empty());
    // Another extension's name is refused.
    let Err(e) = install::read_package(example(), "other") else {
        panic!("a package of hello read for another extension");
    };
    assert!(e.contains("hello"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary bytes, raw or behind a gzip header: refused with a reason (never a panic).
    #[test]
    fn any_bytes_are_refused_with_a_reason(
        gzip in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut data = if gzip { vec![0x1f, 0x8b, 8, 0] } else { Vec::new() };
        data.extend(bytes);
        let Err(e) = install::read_package(&data, "hello") else {
            panic!("arbitrary bytes read as a package");
        };
        prop_assert!(!e.trim().is_empty());
        let e = authoring::check_package(&data).expect_err("not a package");
        prop_assert!(!e.trim().is_empty());
    }

    /// The example cut short or with one byte changed: refused, or read as exactly the
    /// intact package — never a part of it.
    #[test]
    fn a_damaged_package_is_refused_or_read_whole(
        cut in proptest::option::of(0..1_000_000usize),
        at in 0..1_000_000usize,
        xor in 1..=255u8,
    ) {
        let intact = contents(&install::read_package(example(), "hello").expect("intact"));
        let mut data = example().to_vec();
        match cut {
            Some(n) => data.truncate(n % data.len()),
            None => {
                let i = at % data.len();
                data[i] ^= xor;
            }
        }
        match install::read_package(&data, "hello") {
            Ok(p) => {
                let read = contents(&p);
                let changed: Vec<String> = read
                    .lines()
                    .filter(|l| !intact.lines().any(|i| i == *l))
                    .map(|l| l.chars().take(160).collect())
                    .collect();
                prop_assert!(changed.is_empty(), "read with changes: {changed:#?}");
            }
            Err(e) => prop_assert!(!e.trim().is_empty()),
        }
    }

    /// `permissions.yaml` and `extension.yaml` of any bytes: read within their bounds or
    /// refused with a reason; whatever is read has been checked field by field.
    #[test]
    fn any_permissions_or_manifest_bytes_are_read_checked_or_refused(
        bytes in proptest::collection::vec(any::<u8>(), 0..1024),
        yamlish in "(kind: (Cluster)?Role\nrules:\n(- \\{verbs: \\[[a-z*]{0,8}(, [a-z*]{1,8}){0,2}\\], apiGroups: \\[[a-z.*]{0,12}\\], (resources|nonResourceURLs): \\[[a-z*/]{0,12}(, [a-z*/]{1,12})?\\]\\}\n){0,4}(---\n)?){1,3}",
    ) {
        for text in [String::from_utf8_lossy(&bytes).into_owned(), yamlish] {
            match permissions::parse(&text) {
                Ok(p) => {
                    prop_assert!(p.cluster.len() + p.namespace.len() <= permissions::MAX_RULES);
                    for r in p.cluster.iter().chain(&p.namespace) {
                        prop_assert!(!r.verbs.is_empty());
                        prop_assert!(r.resources.is_empty() != r.non_resource_urls.is_empty());
                    }
                    if let Err(e) = permissions::check_ceiling(&p) {
                        prop_assert!(!e.trim().is_empty());
                    }
                }
                Err(e) => prop_assert!(!e.trim().is_empty()),
            }
            match package::parse_manifest(&text) {
                Ok(m) => {
                    prop_assert!(apimachinery::validation::is_dns1123_label(&m.name).is_empty());
                    prop_assert!(matches!(m.installation_mode.as_str(), "HostOnly" | "Multicluster"));
                }
                Err(e) => prop_assert!(!e.trim().is_empty()),
            }
        }
    }
}
