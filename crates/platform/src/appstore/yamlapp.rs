//! Plain-manifest apps (`appType: yaml`): a version is a set of Kubernetes objects in YAML, not a
//! chart. So that such an app is reviewed, stored, released, upgraded, rolled back and listed
//! exactly like a chart (and `helm list` sees its releases), the manifests are packaged at upload
//! into a chart of one template that emits them verbatim (`{{ .Files.Get "manifests.yaml" }}`):
//! no Go template in the manifests is ever evaluated, and a yaml app takes no values.

use serde_json::Value;

/// The file of the generated chart that holds the manifests as uploaded.
pub const MANIFESTS: &str = "manifests.yaml";

/// The one template: the manifests, unevaluated.
const TEMPLATE: &str = "{{ .Files.Get \"manifests.yaml\" }}\n";

/// The largest manifest set accepted (the same order as a chart's templates).
pub const MAX_MANIFESTS: usize = 4 * 1024 * 1024;

/// Checks `manifests` (one or more YAML documents, each a Kubernetes object with apiVersion,
/// kind and metadata.name) and packages them as chart `app` at `version` (SemVer, as Helm
/// wants). The error says what is wrong, in the manifest's own terms.
pub fn package(app: &str, version: &str, manifests: &[u8]) -> Result<Vec<u8>, String> {
    if manifests.len() > MAX_MANIFESTS {
        return Err(format!(
            "the manifests are larger than {} MiB",
            MAX_MANIFESTS / (1024 * 1024)
        ));
    }
    if !helm::values::semver::is_version(version) {
        return Err(format!(
            "versionName {version:?} is not a semantic version (such as 1.0.0)"
        ));
    }
    let text = std::str::from_utf8(manifests).map_err(|_| "the manifests are not UTF-8")?;
    let objects = helm::action::resources::manifest_objects(text).map_err(|e| e.to_string())?;
    if objects.is_empty() {
        return Err("the manifests hold no object".into());
    }
    for (i, o) in objects.iter().enumerate() {
        let field = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default();
        if field("/apiVersion").is_empty()
            || field("/kind").is_empty()
            || field("/metadata/name").is_empty()
        {
            return Err(format!(
                "object {} of the manifests lacks apiVersion, kind or metadata.name",
                i + 1
            ));
        }
    }
    let chart_yaml = serde_saphyr::to_string(&serde_json::json!({
        "apiVersion": "v2",
        "name": app,
        "version": version,
        "description": "Plain Kubernetes manifests",
        "annotations": {"application.kubesphere.io/app-type": "yaml"},
    }))
    .map_err(|e| e.to_string())?;
    Ok(helm::chart::package_files(
        app,
        &[
            ("Chart.yaml", chart_yaml.as_bytes()),
            (MANIFESTS, manifests),
            ("templates/manifests.yaml", TEMPLATE.as_bytes()),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: \"{{ not a template }}\"\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n";

    #[test]
    fn manifests_become_a_chart_that_renders_them_verbatim() {
        let tgz = package("hello", "1.0.0", CM.as_bytes()).expect("package");
        let chart =
            helm::chart::load_archive(&tgz, &helm::chart::LoadLimits::default()).expect("a chart");
        assert_eq!(chart.metadata.name, "hello");
        assert_eq!(chart.metadata.version, "1.0.0");
        let info = super::super::chart_info(&tgz).expect("info");
        assert!(
            info.files
                .iter()
                .any(|(n, d)| n == MANIFESTS && d == CM.as_bytes())
        );
        // Rendered, the template gives back the manifests untouched (templating not evaluated).
        let rendered = helm::engine::render_chart(
            &chart,
            &Default::default(),
            &helm::engine::RenderOptions::default(),
        )
        .expect("render");
        let out = rendered
            .iter()
            .find(|(n, _)| n.ends_with("templates/manifests.yaml"))
            .map(|(_, t)| t.clone())
            .expect("rendered");
        assert!(out.contains("{{ not a template }}"), "{out}");
        assert!(out.contains("kind: Service"), "{out}");
    }

    #[test]
    fn bad_manifests_say_why() {
        let cases: [(&str, &[u8], &str); 5] = [
            ("one", CM.as_bytes(), "semantic version"),
            ("1.0.0", b"", "no object"),
            (
                "1.0.0",
                b"kind: ConfigMap\nmetadata: {name: x}\n",
                "object 1",
            ),
            ("1.0.0", b"a: [\n", ""),
            ("1.0.0", b"\xff\xfe", "UTF-8"),
        ];
        for (version, text, why) in cases {
            let e = package("x", version, text).expect_err("refused");
            assert!(e.contains(why), "{version} {text:?}: {e}");
        }
        let big = vec![b'#'; MAX_MANIFESTS + 1];
        assert!(
            package("x", "1.0.0", &big)
                .expect_err("big")
                .contains("MiB")
        );
    }
}
