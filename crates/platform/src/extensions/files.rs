//! `GET /kapis/package.kubesphere.io/v1alpha1/extensionversions/{name}/files`: the files of an
//! ExtensionVersion's chart people read before installing it (`README.md`, `CHANGELOG.md`,
//! `values.yaml`, `values.schema.json`, `Chart.yaml`, `extension.yaml`, `permissions.yaml`),
//! base64 by name, as the App Store answers for its versions. The console's marketplace shows
//! the README and starts the install dialog's configuration from `values.yaml`. The package is
//! fetched as the installer fetches it ([`super::chart::chart_of`]) and read with Helm's archive
//! limits (it is untrusted).

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use crate::http::Shared;
use crate::kinds::Kind;
use apimachinery::status::ApiError;

/// The chart-root files answered.
pub const SHOWN: [&str; 7] = [
    "README.md",
    "CHANGELOG.md",
    "values.yaml",
    "values.schema.json",
    "Chart.yaml",
    "extension.yaml",
    "permissions.yaml",
];

/// The shown files of a chart package, base64 by name (Helm's archive checks and limits).
pub fn shown_files(package: &[u8]) -> Result<Map<String, Value>, String> {
    let limits = helm::chart::LoadLimits::default();
    let files = helm::chart::archive_files(package, &limits).map_err(|e| e.to_string())?;
    Ok(files
        .iter()
        .filter(|f| SHOWN.contains(&f.name.as_str()))
        .map(|f| (f.name.clone(), Value::String(B64.encode(&f.data))))
        .collect())
}

/// The handler (authorized as `get` on `extensionversions/files` in `package.kubesphere.io`).
pub async fn serve(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let version =
        match crate::kubeapi::get(&state.client, Kind::ExtensionVersion, None, &name).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                return ApiError::not_found("kubesphere.io", "extensionversions", &name)
                    .into_response();
            }
            Err(e) => return ApiError::from(e).into_response(),
        };
    let package = match super::chart::chart_of(&state, &version).await {
        Ok(p) => p,
        Err(e) => return ApiError::service_unavailable(e).into_response(),
    };
    match tokio::task::spawn_blocking(move || shown_files(&package)).await {
        Ok(Ok(files)) => Json(Value::Object(files)).into_response(),
        Ok(Err(e)) => ApiError::new(
            422,
            "Invalid",
            format!("ExtensionVersion {name}: the chart cannot be read: {e}"),
        )
        .into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn package(files: &[(&str, &str)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, body) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("hello/{name}"), body.as_bytes())
                .expect("append");
        }
        let mut gz = tar.into_inner().expect("tar");
        gz.flush().expect("flush");
        gz.finish().expect("gzip")
    }

    #[test]
    fn answers_the_readable_files_of_the_chart_root() {
        let pkg = package(&[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
            ),
            ("README.md", "# Hello\n"),
            ("values.yaml", "a: 1\n"),
            ("templates/x.yaml", "kind: ConfigMap\n"),
            ("charts/frontend/README.md", "not the extension's\n"),
        ]);
        let files = shown_files(&pkg).expect("files");
        let mut names: Vec<_> = files.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["Chart.yaml", "README.md", "values.yaml"]);
        assert_eq!(files["README.md"], B64.encode("# Hello\n"));
    }

    #[test]
    fn refuses_what_is_no_chart_archive() {
        assert!(shown_files(b"not a tgz").is_err());
    }
}
