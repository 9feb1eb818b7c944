//! What the derives see of a type's definition: its fields, their types
//! and the `#[serde(...)]` attributes that shape its JSON, as stable text.
//!
//! `#[derive(Event)]` records an event's shape in the registry (the schema
//! lock compares it); `#[derive(Aggregate)]` and `#[derive(StateFingerprint)]`
//! hash a state's definition into its snapshot fingerprint. Doc comments and
//! other attributes are left out: they do not change the JSON.

use std::fmt::Write as _;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Attribute, Data, DeriveInput, Fields, Meta};

/// One field: its name (`0`, `1`, ... in a tuple struct), its type and its
/// serde attributes, as text.
pub(crate) struct FieldShape {
    pub(crate) name: String,
    pub(crate) ty: String,
    pub(crate) serde: String,
}

/// The fields of a struct or of one variant.
pub(crate) fn fields(fields: &Fields) -> Vec<FieldShape> {
    fields
        .iter()
        .enumerate()
        .map(|(i, field)| FieldShape {
            name: field.ident.as_ref().map_or_else(|| i.to_string(), ToString::to_string),
            ty: text(field.ty.to_token_stream()),
            serde: serde(&field.attrs),
        })
        .collect()
}

/// The contents of every `#[serde(...)]` among `attrs`, joined by `, `.
pub(crate) fn serde(attrs: &[Attribute]) -> String {
    let parts: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .map(|a| match &a.meta {
            Meta::List(list) => text(list.tokens.clone()),
            other => text(other.to_token_stream()),
        })
        .collect();
    parts.join(", ")
}

/// The whole definition of a struct or enum, one line per part: the serde
/// attributes of the container, then each field (of each variant).
pub(crate) fn definition(input: &DeriveInput) -> String {
    let mut out = format!("serde({})\n", serde(&input.attrs));
    let push_fields = |out: &mut String, prefix: &str, f: &Fields| {
        let kind = match f {
            Fields::Named(_) => "named",
            Fields::Unnamed(_) => "tuple",
            Fields::Unit => "unit",
        };
        let _ = writeln!(out, "{prefix}{kind}");
        for field in fields(f) {
            let _ = writeln!(out, "{prefix}{}: {} serde({})", field.name, field.ty, field.serde);
        }
    };
    match &input.data {
        Data::Struct(data) => push_fields(&mut out, "", &data.fields),
        Data::Enum(data) => {
            for variant in &data.variants {
                let _ = writeln!(out, "variant {} serde({})", variant.ident, serde(&variant.attrs));
                push_fields(&mut out, "  ", &variant.fields);
            }
        }
        Data::Union(_) => {}
    }
    out
}

/// A 64-bit FNV-1a hash of `text`: stable across builds and platforms.
pub(crate) fn fingerprint(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes().fold(OFFSET, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME))
}

/// Tokens as compact text: `Vec<u8>`, `HashMap<String, u64>`, `&'a str`,
/// rather than `Vec < u8 >`.
fn text(tokens: TokenStream) -> String {
    let spaced = tokens.to_string();
    let chars: Vec<char> = spaced.chars().collect();
    let mut out = String::with_capacity(spaced.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let before = out.chars().last().is_some_and(|p| matches!(p, '<' | ':' | '(' | '[' | '&'));
            let after = chars.get(i + 1).is_some_and(|n| matches!(n, '<' | '>' | ':' | ',' | ';' | '(' | ')' | ']'));
            if before || after {
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use syn::{DeriveInput, parse_quote};

    use super::*;

    #[test]
    fn types_read_as_written() {
        let input: DeriveInput = parse_quote! {
            struct S {
                a: Vec<u8>,
                b: std::collections::HashMap<String, Option<&'static str>>,
                c: [u8; 32],
                d: (i64, bool),
            }
        };
        let Data::Struct(data) = &input.data else { unreachable!() };
        let types: Vec<String> = fields(&data.fields).into_iter().map(|f| f.ty).collect();
        assert_eq!(
            types,
            ["Vec<u8>", "std::collections::HashMap<String, Option<&'static str>>", "[u8; 32]", "(i64, bool)"]
        );
    }

    #[test]
    fn docs_do_not_change_the_definition_but_serde_does() {
        let plain: DeriveInput = parse_quote! { struct S { a: u8 } };
        let documented: DeriveInput = parse_quote! {
            /// A state.
            #[derive(Debug)]
            struct S {
                /// The count.
                a: u8,
            }
        };
        let renamed: DeriveInput = parse_quote! { struct S { #[serde(rename = "b")] a: u8 } };
        let retyped: DeriveInput = parse_quote! { struct S { a: u16 } };
        assert_eq!(definition(&plain), definition(&documented));
        assert_ne!(definition(&plain), definition(&renamed));
        assert_ne!(fingerprint(&definition(&plain)), fingerprint(&definition(&retyped)));
        assert!(definition(&renamed).contains("a: u8 serde(rename = \"b\")"), "{}", definition(&renamed));
    }
}
