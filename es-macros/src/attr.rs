//! Reads `#[event(...)]`, `#[upcast(...)]` and `#[aggregate(...)]`.
//!
//! Only the form of each key is checked here (a string, an integer, a path);
//! what the values mean together is checked in `valid`. A malformed key is
//! recorded and parsing goes on, so one item reports all its mistakes.

use std::str::FromStr;

use proc_macro2::{Span, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, ExprLit, ExprUnary, Lit, LitStr, Path, Token, Type, UnOp, parenthesized};

use crate::ctxt::Ctxt;

/// A value and where the user wrote it.
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// The keys of all `#[event(...)]` attributes of a struct.
#[derive(Default)]
pub(crate) struct EventAttrs {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) version: Option<Spanned<u32>>,
    /// Whether `version` was written, even malformed or misspelt: steps are
    /// then not judged against a version the user did not mean.
    pub(crate) version_given: bool,
}

/// One `#[upcast(...)]` attribute.
pub(crate) struct Upcast<'a> {
    pub(crate) attr: &'a Attribute,
    pub(crate) from: Option<Spanned<u32>>,
    pub(crate) with: Option<Path>,
    pub(crate) via: Option<Type>,
    /// Whether `from` was written, even malformed or misspelt.
    pub(crate) from_given: bool,
    /// Whether `with` was written, even malformed or misspelt.
    pub(crate) with_given: bool,
}

/// The keys of all `#[aggregate(...)]` attributes of a type.
#[derive(Default)]
pub(crate) struct AggregateAttrs<'a> {
    pub(crate) first_attr: Option<&'a Attribute>,
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) event: Option<Type>,
    /// Whether `event` was written, even with a malformed value.
    pub(crate) event_given: bool,
    pub(crate) snapshot_every: Option<Spanned<u64>>,
    pub(crate) snapshot_schema_version: Option<Spanned<u32>>,
    /// The types listed in `nested(...)`, whose fingerprints join the
    /// state's.
    pub(crate) nested: Vec<Type>,
}

/// The keys of all `#[fingerprint(...)]` attributes of a type.
#[derive(Default)]
pub(crate) struct FingerprintAttrs {
    /// The types listed in `nested(...)`.
    pub(crate) nested: Vec<Type>,
}

pub(crate) fn is(attr: &Attribute, name: &str) -> bool {
    attr.path().is_ident(name)
}

/// Reads every `#[event(...)]` of a struct.
pub(crate) fn event_attrs(cx: &Ctxt, attrs: &[Attribute]) -> EventAttrs {
    let mut out = EventAttrs::default();
    for attr in attrs.iter().filter(|a| is(a, "event")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            match key.as_str() {
                "name" => {
                    let value = string(cx, &meta, "name = \"...\"")?;
                    set(cx, &meta, &mut out.name, value, "event");
                }
                "version" => {
                    out.version_given = true;
                    let value = integer(cx, &meta, "version = <integer>")?;
                    set(cx, &meta, &mut out.version, value, "event");
                }
                _ => {
                    let hint = if matches!(key.as_str(), "from" | "with" | "via") {
                        " (each upcaster goes in its own `#[upcast(from = .., with = ..)]`)"
                    } else {
                        ""
                    };
                    if unknown(cx, &meta, &key, "event", &["name", "version"], hint)? == Some("version") {
                        out.version_given = true;
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
    }
    out
}

/// Reads every `#[upcast(...)]` of a struct, in order.
pub(crate) fn upcast_attrs<'a>(cx: &Ctxt, attrs: &'a [Attribute]) -> Vec<Upcast<'a>> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| is(a, "upcast")) {
        let mut upcast = Upcast { attr, from: None, with: None, via: None, from_given: false, with_given: false };
        let parsed = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            match key.as_str() {
                "from" => {
                    upcast.from_given = true;
                    let value = integer(cx, &meta, "from = <version>")?;
                    set(cx, &meta, &mut upcast.from, value, "upcast");
                }
                "with" => {
                    upcast.with_given = true;
                    let value = function_path(cx, &meta)?;
                    set(cx, &meta, &mut upcast.with, value, "upcast");
                }
                "via" => {
                    let value = type_value(cx, &meta, "via = <type of the old payload>")?;
                    set(cx, &meta, &mut upcast.via, value, "upcast");
                }
                _ => match unknown(cx, &meta, &key, "upcast", &["from", "with", "via"], "")? {
                    Some("from") => upcast.from_given = true,
                    Some("with") => upcast.with_given = true,
                    _ => {}
                },
            }
            Ok(())
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
        out.push(upcast);
    }
    out
}

/// Reads every `#[aggregate(...)]` of a type.
pub(crate) fn aggregate_attrs<'a>(cx: &Ctxt, attrs: &'a [Attribute]) -> AggregateAttrs<'a> {
    let mut out = AggregateAttrs::default();
    for attr in attrs.iter().filter(|a| is(a, "aggregate")) {
        out.first_attr.get_or_insert(attr);
        let parsed = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            match key.as_str() {
                "name" => {
                    let value = string(cx, &meta, "name = \"...\"")?;
                    set(cx, &meta, &mut out.name, value, "aggregate");
                }
                "event" => {
                    out.event_given = true;
                    let value = type_value(cx, &meta, "event = <event type>")?;
                    set(cx, &meta, &mut out.event, value, "aggregate");
                }
                "snapshot_every" => {
                    let value = integer(cx, &meta, "snapshot_every = <number of events>")?;
                    set(cx, &meta, &mut out.snapshot_every, value, "aggregate");
                }
                "snapshot_schema_version" => {
                    let value = integer(cx, &meta, "snapshot_schema_version = <integer>")?;
                    set(cx, &meta, &mut out.snapshot_schema_version, value, "aggregate");
                }
                "nested" => out.nested.extend(type_list(cx, &meta, "nested(Type, ...)")?),
                _ => {
                    let known = ["name", "event", "snapshot_every", "snapshot_schema_version", "nested"];
                    if unknown(cx, &meta, &key, "aggregate", &known, "")? == Some("event") {
                        out.event_given = true;
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
    }
    out
}

/// Reads every `#[fingerprint(...)]` of a type.
pub(crate) fn fingerprint_attrs(cx: &Ctxt, attrs: &[Attribute]) -> FingerprintAttrs {
    let mut out = FingerprintAttrs::default();
    for attr in attrs.iter().filter(|a| is(a, "fingerprint")) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta);
            match key.as_str() {
                "nested" => out.nested.extend(type_list(cx, &meta, "nested(Type, ...)")?),
                _ => {
                    unknown(cx, &meta, &key, "fingerprint", &["nested"], "")?;
                }
            }
            Ok(())
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
    }
    out
}

fn key_of(meta: &ParseNestedMeta<'_>) -> String {
    match meta.path.get_ident() {
        Some(ident) => ident.to_string(),
        None => {
            let path = &meta.path;
            quote::quote!(#path).to_string().replace(' ', "")
        }
    }
}

/// Stores a key's value, reporting a repeated key at its second use.
fn set<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: Option<T>, attr: &str) {
    let Some(value) = value else { return };
    if slot.is_some() {
        let key = key_of(meta);
        cx.error_spanned_by(&meta.path, format!("duplicate key `{key}` in `#[{attr}(...)]`: give it once"));
    } else {
        *slot = Some(value);
    }
}

/// Reports an unknown key, suggesting the known key it is closest to, and
/// returns that suggestion: the caller counts the key as written, so that
/// one typo is one error.
fn unknown<'k>(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    key: &str,
    attr: &str,
    known: &[&'k str],
    hint: &str,
) -> syn::Result<Option<&'k str>> {
    let near = closest(key, known);
    let message = match near {
        Some(near) => format!("unknown key `{key}` in `#[{attr}(...)]`: did you mean `{near}`?"),
        None => format!("unknown key `{key}` in `#[{attr}(...)]`: expected {}{hint}", listing(known)),
    };
    cx.error_spanned_by(&meta.path, message);
    // Skip the value, whatever it is, up to the next key.
    while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(near)
}

/// `` `a`, `b` or `c` ``.
fn listing(known: &[&str]) -> String {
    let quoted: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The known key a misspelt `key` most likely meant: within a third of its
/// length in edits (at least one), the nearest first.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (key.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The Levenshtein distance, with a swap of two neighbours counted as one
/// edit (`vesrion` is one edit from `version`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// `key(Type, ...)`.
fn type_list(cx: &Ctxt, meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Vec<Type>> {
    if !meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(&meta.path, format_args!("expected `{form}`, the types in parentheses"));
        while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
            meta.input.parse::<TokenTree>()?;
        }
        return Ok(Vec::new());
    }
    let content;
    parenthesized!(content in meta.input);
    let types = Punctuated::<Type, Token![,]>::parse_terminated(&content)?;
    if types.is_empty() {
        cx.error_spanned_by(&meta.path, format_args!("expected `{form}`: list at least one type"));
    }
    Ok(types.into_iter().collect())
}

fn expr_value(meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Expr> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format_args!("expected `{form}`")));
    }
    meta.value()?.parse()
}

/// `key = "..."`.
fn string(cx: &Ctxt, meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Option<Spanned<String>>> {
    let expr = expr_value(meta, form)?;
    Ok(match &expr {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Some(Spanned { value: s.value(), span: s.span() }),
        _ => {
            cx.error_spanned_by(&expr, format_args!("expected `{form}`, a string in double quotes"));
            None
        }
    })
}

/// `key = <integer>`, fitting in `N`.
fn integer<N: FromStr>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Option<Spanned<N>>>
where
    N::Err: std::fmt::Display,
{
    let expr = expr_value(meta, form)?;
    Ok(match &expr {
        Expr::Lit(ExprLit { lit: Lit::Int(int), .. }) => match int.base10_parse::<N>() {
            Ok(value) => Some(Spanned { value, span: int.span() }),
            Err(_) => {
                let bits = std::mem::size_of::<N>() * 8;
                cx.error_spanned_by(int, format_args!("expected `{form}`: `{int}` does not fit in {bits} bits"));
                None
            }
        },
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => {
            cx.error_spanned_by(
                s,
                format_args!(
                    "expected `{form}`, found a string: write the number without quotes, such as `{}`",
                    s.value()
                ),
            );
            None
        }
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), .. }) => {
            cx.error_spanned_by(&expr, format_args!("expected `{form}`: it cannot be negative"));
            None
        }
        _ => {
            cx.error_spanned_by(&expr, format_args!("expected `{form}`, an integer literal"));
            None
        }
    })
}

/// `with = path::to::function`.
fn function_path(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Path>> {
    const FORM: &str = "with = <function path>";
    let expr = expr_value(meta, FORM)?;
    Ok(match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some(p.path),
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => {
            cx.error_spanned_by(
                &s,
                format_args!("expected `{FORM}`, found a string: write `with = {}` without quotes", s.value()),
            );
            None
        }
        other => {
            cx.error_at(other.span(), format_args!("expected `{FORM}`, the name of a function such as `deposited_v1`"));
            None
        }
    })
}

/// `key = Type`.
fn type_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, form: &str) -> syn::Result<Option<Type>> {
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format_args!("expected `{form}`")));
    }
    let input = meta.value()?;
    if input.peek(LitStr) {
        let s: LitStr = input.parse()?;
        cx.error_spanned_by(
            &s,
            format_args!("expected `{form}`, found a string: write the type without quotes, such as `{}`", s.value()),
        );
        return Ok(None);
    }
    input.parse().map(Some)
}

#[cfg(test)]
mod tests {
    use super::{closest, edit_distance};

    #[test]
    fn a_misspelt_key_finds_the_key_it_meant() {
        let keys = ["name", "event", "snapshot_every", "snapshot_schema_version", "nested"];
        assert_eq!(closest("snapshot_evry", &keys), Some("snapshot_every"));
        assert_eq!(closest("snapshot_schema_verison", &keys), Some("snapshot_schema_version"));
        assert_eq!(closest("evnet", &keys), Some("event"));
        assert_eq!(closest("colour", &keys), None);
        assert_eq!(closest("versoin", &["name", "version"]), Some("version"));
        assert_eq!(closest("form", &["from", "with", "via"]), Some("from"));
        assert_eq!(edit_distance("with", "with"), 0);
    }
}
