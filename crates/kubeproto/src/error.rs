//! The error type of kubeproto.

use crate::wire::WireError;

/// Why a body could not be decoded or an object could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// The body does not start with the `k8s\0` magic of Kubernetes protobuf.
    #[error("not a Kubernetes protobuf body: missing the \"k8s\\0\" prefix")]
    BadMagic,
    /// The input ended in the middle of a field.
    #[error("truncated protobuf in message {message}")]
    Truncated {
        /// The message being read.
        message: &'static str,
    },
    /// Bytes that are not valid protobuf (bad varint, field number or wire type).
    #[error("malformed protobuf in message {message}: {reason}")]
    Malformed {
        /// The message being read.
        message: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A field arrived with a wire type its schema does not allow.
    #[error(
        "wrong wire type {found} at field {field} ({json}) of message {message}, expected {expected}"
    )]
    WireType {
        /// The message being read.
        message: &'static str,
        /// The field number.
        field: u32,
        /// The field's JSON name.
        json: &'static str,
        /// The wire type the schema requires.
        expected: u8,
        /// The wire type found.
        found: u8,
    },
    /// The envelope's TypeMeta has no apiVersion or kind.
    #[error("protobuf envelope has no apiVersion/kind")]
    MissingTypeMeta,
    /// The group/version/kind has no protobuf schema (custom resources, unknown kinds).
    #[error("no protobuf schema for kind {kind:?} of apiVersion {api_version:?}")]
    Unsupported {
        /// The object's apiVersion.
        api_version: String,
        /// The object's kind.
        kind: String,
    },
    /// The envelope names a content encoding (compression) that is not supported.
    #[error("unsupported protobuf content encoding {0:?}")]
    ContentEncoding(String),
    /// A value that has no valid conversion (wrong JSON type, bad timestamp, bad embedded JSON).
    #[error("invalid value at {path}: {reason}")]
    InvalidValue {
        /// Where: a JSON path when encoding, `message.field` when decoding.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// Messages or JSON nested deeper than the supported limit.
    #[error("object nested deeper than {0} levels")]
    TooDeep(usize),
}

impl ProtoError {
    /// Converts a wire error met while reading `message`.
    pub(crate) fn wire(message: &'static str, err: WireError) -> Self {
        match err {
            WireError::Truncated => ProtoError::Truncated { message },
            WireError::VarintOverflow => ProtoError::Malformed {
                message,
                reason: "varint longer than 10 bytes".into(),
            },
            WireError::BadWireType(t) => ProtoError::Malformed {
                message,
                reason: format!("unsupported wire type {t}"),
            },
            WireError::BadFieldNumber(n) => ProtoError::Malformed {
                message,
                reason: format!("invalid field number {n}"),
            },
        }
    }

    /// Prefixes the path of an `InvalidValue` with an outer JSON segment while unwinding.
    pub(crate) fn within(self, segment: &str) -> Self {
        match self {
            ProtoError::InvalidValue { path, reason } => ProtoError::InvalidValue {
                path: if path.is_empty() {
                    segment.to_string()
                } else if path.starts_with('[') {
                    format!("{segment}{path}")
                } else {
                    format!("{segment}.{path}")
                },
                reason,
            },
            other => other,
        }
    }
}
