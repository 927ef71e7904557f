//! Protobuf wire primitives: reading tagged fields and writing them.

/// Wire type of varint fields (int32, int64, bool, enums).
pub(crate) const VARINT: u8 = 0;
/// Wire type of 64-bit fixed fields (double).
pub(crate) const FIXED64: u8 = 1;
/// Wire type of length-delimited fields (string, bytes, messages, packed scalars).
pub(crate) const LEN: u8 = 2;
/// Wire type of 32-bit fixed fields (float; unused by Kubernetes but skippable).
pub(crate) const FIXED32: u8 = 5;

/// A malformed byte sequence, before the caller adds which message it was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WireError {
    /// The input ended inside a field.
    Truncated,
    /// A varint longer than 10 bytes.
    VarintOverflow,
    /// A wire type Kubernetes never writes (groups) or that does not exist.
    BadWireType(u8),
    /// Field number 0 or above the protobuf maximum.
    BadFieldNumber(u64),
}

/// One field's value as it appears on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    /// Skipped: no Kubernetes field uses 32-bit fixed values.
    Fixed32,
}

impl Wire<'_> {
    /// The wire type number, for error messages.
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            Wire::Varint(_) => VARINT,
            Wire::Fixed64(_) => FIXED64,
            Wire::Len(_) => LEN,
            Wire::Fixed32 => FIXED32,
        }
    }
}

/// Reads fields from one message's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a message's bytes.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Whether all bytes were consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads a base-128 varint.
    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(WireError::Truncated);
            };
            self.pos += 1;
            if shift == 63 && byte > 1 {
                return Err(WireError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::VarintOverflow)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let bytes = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Reads 8 little-endian bytes.
    pub(crate) fn fixed64(&mut self) -> Result<u64, WireError> {
        let bytes = self.take(8)?;
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(raw))
    }

    /// Reads the next field, or `None` at the end of the message.
    pub(crate) fn field(&mut self) -> Result<Option<(u32, Wire<'a>)>, WireError> {
        if self.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let num = key >> 3;
        if num == 0 || num > 0x1FFF_FFFF {
            return Err(WireError::BadFieldNumber(num));
        }
        // The range check above makes the conversion lossless.
        let num = num as u32;
        let value = match (key & 7) as u8 {
            VARINT => Wire::Varint(self.varint()?),
            FIXED64 => Wire::Fixed64(self.fixed64()?),
            LEN => {
                let len = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
                Wire::Len(self.take(len)?)
            }
            FIXED32 => {
                self.take(4)?;
                Wire::Fixed32
            }
            other => return Err(WireError::BadWireType(other)),
        };
        Ok(Some((num, value)))
    }
}

/// Appends a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a field key.
pub(crate) fn put_key(out: &mut Vec<u8>, num: u32, wire_type: u8) {
    put_varint(out, (u64::from(num) << 3) | u64::from(wire_type));
}

/// Appends a length-delimited field.
pub(crate) fn put_len(out: &mut Vec<u8>, num: u32, bytes: &[u8]) {
    put_key(out, num, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a varint field.
pub(crate) fn put_varint_field(out: &mut Vec<u8>, num: u32, value: u64) {
    put_key(out, num, VARINT);
    put_varint(out, value);
}

/// Appends a fixed64 field.
pub(crate) fn put_fixed64_field(out: &mut Vec<u8>, num: u32, value: u64) {
    put_key(out, num, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_limits() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(Reader::new(&out).varint(), Ok(v));
        }
        assert_eq!(Reader::new(&[0x80]).varint(), Err(WireError::Truncated));
        assert_eq!(
            Reader::new(&[0xff; 11]).varint(),
            Err(WireError::VarintOverflow)
        );
        // 300 encodes as ac 02 (protobuf encoding guide).
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
    }

    #[test]
    fn fields_and_errors() {
        let mut out = Vec::new();
        put_len(&mut out, 1, b"ab");
        put_varint_field(&mut out, 2, 5);
        put_fixed64_field(&mut out, 3, 7);
        let mut r = Reader::new(&out);
        assert!(matches!(r.field(), Ok(Some((1, Wire::Len(b"ab"))))));
        assert!(matches!(r.field(), Ok(Some((2, Wire::Varint(5))))));
        assert!(matches!(r.field(), Ok(Some((3, Wire::Fixed64(7))))));
        assert!(matches!(r.field(), Ok(None)));
        assert_eq!(
            Reader::new(&[0x0a, 0x05, b'a']).field().err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0x0b]).field().err(),
            Some(WireError::BadWireType(3))
        );
        assert_eq!(
            Reader::new(&[0x00]).field().err(),
            Some(WireError::BadFieldNumber(0))
        );
    }
}
