//! Payloads to and from `jsonb` as text: no `serde_json::Value` in between.
//!
//! In the binary protocol a `jsonb` value is a version byte (1) followed by
//! JSON text, and a `json` value is the text alone. The server parses what
//! it is sent, so text that is not JSON is refused there.

use std::error::Error;

use bytes::BytesMut;
use es_core::Payload;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// The version byte of the binary `jsonb` format.
const JSONB_VERSION: u8 = 1;

/// A `jsonb` or `json` column read as a [`Payload`].
#[derive(Debug)]
pub(crate) struct JsonColumn(pub(crate) Payload);

impl<'a> FromSql<'a> for JsonColumn {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let text = match (ty, raw.split_first()) {
            (&Type::JSONB, Some((&JSONB_VERSION, text))) => text,
            (&Type::JSONB, _) => return Err("a jsonb value in an unknown binary format".into()),
            _ => raw,
        };
        Ok(JsonColumn(Payload::from_json(String::from_utf8(text.to_vec())?)))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSONB | Type::JSON)
    }
}

/// A [`Payload`] written to a `jsonb` or `json` parameter.
#[derive(Debug)]
pub(crate) struct JsonParam<'a>(pub(crate) &'a Payload);

impl ToSql for JsonParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if *ty == Type::JSONB {
            out.extend_from_slice(&[JSONB_VERSION]);
        }
        out.extend_from_slice(self.0.as_str().as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSONB | Type::JSON)
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_is_a_version_byte_and_text_both_ways() {
        let payload = Payload::from_json(r#"{"a": [1, "ü"]}"#.to_owned());
        let mut out = BytesMut::new();
        JsonParam(&payload).to_sql(&Type::JSONB, &mut out).unwrap();
        assert_eq!(out[0], JSONB_VERSION);
        assert_eq!(JsonColumn::from_sql(&Type::JSONB, &out).unwrap().0.as_str(), payload.as_str());
        let mut out = BytesMut::new();
        JsonParam(&payload).to_sql(&Type::JSON, &mut out).unwrap();
        assert_eq!(JsonColumn::from_sql(&Type::JSON, &out).unwrap().0.as_str(), payload.as_str());
        assert!(JsonColumn::from_sql(&Type::JSONB, b"\x02{}").is_err(), "an unknown jsonb version");
        assert!(JsonColumn::from_sql(&Type::JSONB, b"").is_err());
        assert!(JsonColumn::from_sql(&Type::JSONB, b"\x01\xff").is_err(), "text that is not UTF-8");
    }
}
