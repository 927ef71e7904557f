//! Shapes of the generated schema table (`generated.rs`) and lookups into it.

use crate::generated::{KINDS, MESSAGES, META_KINDS};

/// The field's JSON members are merged into the parent object (Go `json:",inline"`).
pub(crate) const INLINE: u8 = 1;
/// A Go non-pointer field tagged `omitempty`: the zero value means "unset", so decoding
/// drops it the way a JSON client would never have sent it.
pub(crate) const OMIT_ZERO: u8 = 2;

/// The protobuf type of a field (or of a map's value; map keys are always strings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Str,
    Bytes,
    Bool,
    I32,
    I64,
    F64,
    /// A message, by index into `MESSAGES`.
    Msg(u16),
}

/// How often a field occurs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Label {
    Single,
    Repeated,
    Map,
}

/// One field of a message.
#[derive(Debug)]
pub(crate) struct Field {
    pub num: u32,
    pub json: &'static str,
    pub ty: Ty,
    pub label: Label,
    pub flags: u8,
}

/// Short constructor name for the generated table.
pub(crate) type F = Field;

impl Field {
    /// Builds a field entry (used by the generated table).
    pub(crate) const fn new(num: u32, json: &'static str, ty: Ty, label: Label, flags: u8) -> Self {
        Field {
            num,
            json,
            ty,
            label,
            flags,
        }
    }
}

/// Messages whose JSON form is not an object of their fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    /// meta/v1 Time: RFC 3339, seconds precision.
    Time,
    /// meta/v1 MicroTime: RFC 3339 with microseconds.
    MicroTime,
    /// meta/v1 Duration: a Go duration string.
    Duration,
    /// Embedded JSON bytes in field 1 (RawExtension, FieldsV1, apiextensions JSON).
    RawJson,
    /// resource.Quantity: its string in field 1.
    Quantity,
    /// intstr.IntOrString: a number or a string.
    IntOrString,
    /// JSONSchemaPropsOrArray: a schema or an array of schemas.
    PropsOrArray,
    /// JSONSchemaPropsOrBool: a schema or a boolean.
    PropsOrBool,
    /// JSONSchemaPropsOrStringArray: a schema or an array of strings.
    PropsOrStringArray,
    /// A Go slice type wrapped in a message (`ExtraValue`, `Verbs`): field 1 as an array.
    Items,
}

/// A message of the table.
#[derive(Debug)]
pub(crate) struct Message {
    pub name: &'static str,
    pub special: Special,
    pub fields: &'static [Field],
}

impl Message {
    /// The field with protobuf number `num`, with its position.
    pub(crate) fn field(&self, num: u32) -> Option<(usize, &'static Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.num == num)
    }
}

/// A served kind and the message that encodes it.
#[derive(Debug)]
pub(crate) struct Kind {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub message: u16,
}

/// The message at `index` (indices come from the table itself, so they are in range).
pub(crate) fn message(index: u16) -> &'static Message {
    &MESSAGES[usize::from(index)]
}

/// The message of a group/version/kind, if it has a protobuf schema.
pub(crate) fn lookup(api_version: &str, kind: &str) -> Option<u16> {
    if let Ok(i) = KINDS.binary_search_by(|k| (k.api_version, k.kind).cmp(&(api_version, kind))) {
        return Some(KINDS[i].message);
    }
    META_KINDS
        .binary_search_by(|(k, _)| (*k).cmp(kind))
        .ok()
        .map(|i| META_KINDS[i].1)
}
