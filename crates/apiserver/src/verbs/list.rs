//! Lists: selectors, pagination at a consistent revision, and the list body.

use apimachinery::selector::{FieldSelector, LabelSelector, field_value};
use apimachinery::status::ApiError;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;
use store::{KeyValue, Revision};

use crate::cluster::Cluster;
use crate::object::LabelsOnly;
use crate::registry::Resource;
use crate::response::store_error;

/// Label and field selectors of a list or watch.
#[derive(Clone, Debug, Default)]
pub struct Selectors {
    /// `labelSelector`.
    pub labels: Option<LabelSelector>,
    /// `fieldSelector`.
    pub fields: Option<FieldSelector>,
}

impl Selectors {
    /// Parses both selectors, checking that the field selector only uses supported fields.
    pub fn parse(
        res: &Resource,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Selectors, ApiError> {
        let labels = match labels.filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(LabelSelector::parse(s).map_err(|e| e.to_api_error())?),
            None => None,
        };
        let fields = match fields.filter(|s| !s.trim().is_empty()) {
            Some(s) => {
                let sel = FieldSelector::parse(s).map_err(|e| e.to_api_error())?;
                Some(if res.custom {
                    custom_fields(res, sel)?
                } else {
                    sel.for_kind(&res.group, &res.kind)?
                })
            }
            None => None,
        };
        Ok(Selectors { labels, fields })
    }

    /// Whether there is any selector at all.
    pub fn is_empty(&self) -> bool {
        self.labels.as_ref().is_none_or(LabelSelector::is_empty) && self.fields.is_none()
    }

    /// Whether a stored object matches.
    pub fn matches_bytes(&self, res: &Resource, bytes: &[u8]) -> Result<bool, ApiError> {
        if self.is_empty() {
            return Ok(true);
        }
        if let Some(fields) = &self.fields {
            let obj: Value = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::internal(format!("stored object is corrupt: {e}")))?;
            return Ok(self.matches_value(res, &obj, fields));
        }
        if let Some(labels) = &self.labels {
            let only: LabelsOnly = serde_json::from_slice(bytes).unwrap_or_default();
            return Ok(labels.matches(&only.metadata.labels));
        }
        Ok(true)
    }

    fn matches_value(&self, res: &Resource, obj: &Value, fields: &FieldSelector) -> bool {
        if let Some(labels) = &self.labels {
            let map = label_map(obj);
            if !labels.matches(&map) {
                return false;
            }
        }
        fields.matches(|f| field_value(&res.group, &res.kind, obj, f))
    }
}

/// A custom resource's field selector may use `metadata.name`, `metadata.namespace` (when
/// namespaced) and its CRD's `selectableFields`.
fn custom_fields(res: &Resource, sel: FieldSelector) -> Result<FieldSelector, ApiError> {
    for req in sel.requirements() {
        let f = req.field.as_str();
        let ok = f == "metadata.name"
            || (f == "metadata.namespace" && res.namespaced)
            || res.field_selectors.iter().any(|x| x == f);
        if !ok {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {f}"
            )));
        }
    }
    Ok(sel)
}

impl Selectors {
    /// Whether a parsed object's labels match the label selector (field selectors ignored).
    pub fn matches_value_labels(&self, obj: &Value) -> bool {
        self.labels
            .as_ref()
            .is_none_or(|l| l.matches(&label_map(obj)))
    }
}

/// An object's labels as a map.
pub fn label_map(obj: &Value) -> std::collections::BTreeMap<String, String> {
    obj.get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A decoded `continue` token.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, last_key: &str) -> String {
    let tok = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: last_key.to_string(),
    };
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&tok).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(token))
        .map_err(|_| ApiError::bad_request("continue key is not valid: illegal base64 data"))?;
    let tok: ContinueToken = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("continue key is not valid: {e}")))?;
    if tok.v != "meta.k8s.io/v1" {
        return Err(ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    Ok(tok)
}

/// List parameters from the query.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// `limit` (0 = no limit).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
}

/// One page of a list.
pub struct Page {
    /// Stored items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list is consistent at.
    pub revision: Revision,
    /// The `continue` token, if more items remain.
    pub continue_token: Option<String>,
    /// `remainingItemCount`, when known (no selectors).
    pub remaining: Option<usize>,
}

/// Lists one page of a resource, filtered by the selectors.
pub fn list_page(
    cluster: &Cluster,
    res: &Resource,
    namespace: Option<&str>,
    selectors: &Selectors,
    params: &ListParams,
) -> Result<Page, ApiError> {
    let prefix = match namespace {
        Some(ns) if res.namespaced => res.namespace_prefix(ns),
        _ => res.key_prefix(),
    };
    let (start_after, at) = match &params.continue_token {
        Some(tok) if !tok.is_empty() => continue_point(&prefix, tok, params)?,
        _ => (None, revision_to_read(cluster, params)?),
    };
    let unfiltered = selectors.is_empty();
    let store_limit = if unfiltered { params.limit } else { 0 };
    let listed = cluster
        .store
        .list(&prefix, start_after.as_deref(), store_limit, at)
        .map_err(|e| match e {
            store::StoreError::Compacted { .. } if params.continue_token.is_some() => ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
            ),
            store::StoreError::Compacted { compacted } => ApiError::expired(format!(
                "The resourceVersion for the provided list is too old. (compacted revision {compacted})"
            )),
            other => store_error(other, &res.group, &res.plural, ""),
        })?;
    if unfiltered {
        let more = listed.remaining > 0;
        let continue_token = match (more, listed.items.last()) {
            (true, Some(last)) => Some(encode_continue(listed.revision, &last.key)),
            _ => None,
        };
        return Ok(Page {
            remaining: more.then_some(listed.remaining),
            items: listed.items,
            revision: listed.revision,
            continue_token,
        });
    }
    let mut items = Vec::new();
    let mut continue_token = None;
    let total = listed.items.len();
    for (i, kv) in listed.items.into_iter().enumerate() {
        if !selectors.matches_bytes(res, &kv.value)? {
            continue;
        }
        items.push(kv);
        if params.limit > 0 && items.len() == params.limit {
            if i + 1 < total
                && let Some(last) = items.last()
            {
                continue_token = Some(encode_continue(listed.revision, &last.key));
            }
            break;
        }
    }
    Ok(Page {
        items,
        revision: listed.revision,
        continue_token,
        remaining: None,
    })
}

/// Where a `continue` token resumes: after its key, at its revision.
fn continue_point(
    prefix: &str,
    tok: &str,
    params: &ListParams,
) -> Result<(Option<String>, Option<Revision>), ApiError> {
    if params
        .resource_version
        .as_deref()
        .is_some_and(|v| !v.is_empty())
    {
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    let t = decode_continue(tok)?;
    if !t.start.starts_with(prefix) {
        return Err(ApiError::bad_request(
            "continue key is not valid: it does not belong to this list",
        ));
    }
    Ok((Some(t.start), Some(t.rv)))
}

/// The revision a first page reads at, by kube's `resourceVersion` and
/// `resourceVersionMatch` rules (`None`: the latest).
fn revision_to_read(cluster: &Cluster, params: &ListParams) -> Result<Option<Revision>, ApiError> {
    let rv = params.resource_version.as_deref().filter(|s| !s.is_empty());
    let rv_num: Option<Revision> = match rv {
        Some(s) => Some(s.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion: Invalid value: \"{s}\": must be a valid resource version"
            ))
        })?),
        None => None,
    };
    let rv_match = params
        .resource_version_match
        .as_deref()
        .filter(|s| !s.is_empty());
    match (rv_match, rv_num) {
        (Some("Exact"), Some(n)) if n > 0 => Ok(Some(n)),
        (Some("Exact"), _) => Err(ApiError::bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
        )),
        (Some("NotOlderThan"), None) => Err(ApiError::bad_request(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        (Some("NotOlderThan") | None, Some(n)) => {
            let current = cluster.store.revision();
            if n > current {
                return Err(ApiError::too_large_resource_version(n, current));
            }
            Ok(None)
        }
        (None, None) => Ok(None),
        (Some(other), _) => Err(ApiError::bad_request(format!(
            "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
        ))),
    }
}

/// Serialises a list body without re-encoding the stored items.
pub fn list_body(res: &Resource, page: &Page) -> Bytes {
    let size: usize = page
        .items
        .iter()
        .map(|kv| kv.value.len() + 1)
        .sum::<usize>()
        + 256;
    let mut buf = BytesMut::with_capacity(size);
    buf.put_slice(b"{\"kind\":");
    buf.put_slice(&serde_json::to_vec(&res.list_kind).unwrap_or_default());
    buf.put_slice(b",\"apiVersion\":");
    buf.put_slice(&serde_json::to_vec(&res.api_version()).unwrap_or_default());
    buf.put_slice(b",\"metadata\":");
    buf.put_slice(&serde_json::to_vec(&list_meta(page)).unwrap_or_default());
    buf.put_slice(b",\"items\":[");
    for (i, kv) in page.items.iter().enumerate() {
        if i > 0 {
            buf.put_u8(b',');
        }
        if res.custom || res.rules.converts() {
            buf.put_slice(&crate::versions::served_bytes(res, &kv.value));
        } else {
            buf.put_slice(&kv.value);
        }
    }
    buf.put_slice(b"]}");
    buf.freeze()
}

/// A page as a `PartialObjectMetadataList`: each item's stored `metadata` bytes as they are,
/// nothing else of the objects decoded (a kind converted between versions is converted first:
/// [`crate::versions::metadata_source`]).
pub fn metadata_list_body(res: &Resource, page: &Page) -> Result<Bytes, ApiError> {
    let mut out = Vec::with_capacity(256 + page.items.len() * 512);
    out.extend_from_slice(
        b"{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":",
    );
    out.extend_from_slice(&serde_json::to_vec(&list_meta(page)).unwrap_or_default());
    out.extend_from_slice(b",\"items\":[");
    for (i, kv) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::table::put_partial_metadata(
            &mut out,
            &crate::versions::metadata_source(res, &kv.value),
        )
        .map_err(|e| ApiError::internal(format!("stored object is corrupt: {e}")))?;
    }
    out.extend_from_slice(b"]}");
    Ok(Bytes::from(out))
}

/// The list's `metadata`.
pub fn list_meta(page: &Page) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(
        "resourceVersion".into(),
        Value::String(page.revision.to_string()),
    );
    if let Some(c) = &page.continue_token {
        m.insert("continue".into(), Value::String(c.clone()));
    }
    if let Some(r) = page.remaining {
        m.insert("remainingItemCount".into(), Value::from(r as u64));
    }
    Value::Object(m)
}
