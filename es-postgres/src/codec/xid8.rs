//! The `xid8` transaction id, read in binary (no text conversion per row).

use std::error::Error;

use tokio_postgres::types::{FromSql, Type};

/// A full (epoch-extended) transaction id: the commit part of a
/// [`Position`](es_core::Position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Xid8(pub(crate) u64);

impl<'a> FromSql<'a> for Xid8 {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let bytes: [u8; 8] = raw.try_into().map_err(|_| format!("xid8 of {} bytes instead of 8", raw.len()))?;
        Ok(Xid8(u64::from_be_bytes(bytes)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::XID8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_eight_big_endian_bytes_and_refuses_anything_else() {
        let raw = 0x0000_0001_0000_0203_u64.to_be_bytes();
        assert_eq!(Xid8::from_sql(&Type::XID8, &raw).unwrap(), Xid8(0x0000_0001_0000_0203));
        assert!(Xid8::from_sql(&Type::XID8, &raw[..7]).is_err());
        assert!(<Xid8 as FromSql>::accepts(&Type::XID8));
        assert!(!<Xid8 as FromSql>::accepts(&Type::INT8));
    }
}
