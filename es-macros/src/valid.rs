//! Checks of meaning: the upcaster chain, versions, names, required keys.
//! Every mistake is recorded at the span of its attribute, so the user sees
//! all of them in one build.

use std::collections::BTreeMap;

use quote::ToTokens;

use crate::ast::{AggregateInput, EventEnum, EventInput, EventStruct};
use crate::ctxt::Ctxt;

/// How many missing upcasters one error lists.
const MAX_LISTED: usize = 8;

pub(crate) fn event(cx: &Ctxt, input: &EventInput<'_>) {
    match input {
        EventInput::Struct(s) => event_struct(cx, s),
        EventInput::Enum(e) => event_enum(cx, e),
    }
}

fn event_struct(cx: &Ctxt, s: &EventStruct<'_>) {
    let ident = s.ident;
    if let Some(name) = s.attrs.name.as_ref().filter(|n| n.value.trim().is_empty()) {
        cx.error_at(name.span, format_args!("event name cannot be empty: write `name = \"{ident}\"` or leave it out"));
    }
    let event = match s.name() {
        name if name.trim().is_empty() => ident.to_string(),
        name => name,
    };
    let current = s.version();
    if let Some(version) = s.attrs.version.as_ref().filter(|v| v.value == 0) {
        cx.error_at(
            version.span,
            "event versions start at 1: write `version = 1` (the default) or leave it out; \
             raise it by one for each change of the payload",
        );
    }

    // Every version a step is declared from, even a step with other mistakes,
    // so that a malformed step is not also reported as missing.
    let mut declared: BTreeMap<u32, ()> = BTreeMap::new();
    for upcast in &s.upcasts {
        let example = match &upcast.from {
            Some(from) => {
                format!("#[upcast(from = {}, with = {}_v{})]", from.value, snake(&ident.to_string()), from.value)
            }
            None => format!("#[upcast(from = 1, with = {}_v1)]", snake(&ident.to_string())),
        };
        if !upcast.with_given {
            cx.error_spanned_by(
                upcast.attr,
                format_args!(
                    "`#[upcast(...)]` needs `with = <function>`, the function that turns the old payload \
                     into the next version, such as `{example}`"
                ),
            );
        }
        let Some(from) = &upcast.from else {
            if upcast.from_given {
                continue;
            }
            cx.error_spanned_by(
                upcast.attr,
                format_args!(
                    "`#[upcast(...)]` needs `from = <version>`, the stored version this step upgrades, \
                     such as `{example}`"
                ),
            );
            continue;
        };
        if from.value == 0 {
            cx.error_at(from.span, "`from = 0` is not a version: event versions start at 1");
        } else if current != 0 && from.value >= current && s.version_known() {
            let fix = format!("raise `#[event(version = ...)]` to {} or remove this step", u64::from(from.value) + 1);
            let msg = if current == 2 {
                format!(
                    "event `{event}` is at version 2, so its only upcaster is from version 1, not {}: {fix}",
                    from.value
                )
            } else if current == 1 {
                format!(
                    "event `{event}` is at version 1, so there is no older version to upcast from \
                     version {}: {fix}",
                    from.value
                )
            } else {
                format!(
                    "event `{event}` is at version {current}, so its upcasters start from versions 1 to {}, \
                     not {}: {fix}",
                    current - 1,
                    from.value
                )
            };
            cx.error_at(from.span, msg);
        } else if declared.insert(from.value, ()).is_some() {
            cx.error_at(
                from.span,
                format_args!(
                    "event `{event}` has two upcasters from version {}: keep one `#[upcast(from = {}, ...)]`",
                    from.value, from.value
                ),
            );
        }
    }

    // A step whose `from` is missing or malformed may be the missing one:
    // its own error is enough.
    let all_steps_readable = s.upcasts.iter().all(|u| u.from.is_some());
    if current >= 2 && all_steps_readable {
        let missing: Vec<u32> = (1..current).filter(|v| !declared.contains_key(v)).take(MAX_LISTED + 1).collect();
        if !missing.is_empty() {
            let span = s.attrs.version.as_ref().map(|v| v.span).unwrap_or_else(|| ident.span());
            let msg = match missing.as_slice() {
                [v] => format!(
                    "event `{event}` is at version {current} but has no upcaster from version {v}: \
                     add `#[upcast(from = {v}, with = ...)]`"
                ),
                many => {
                    let more = if many.len() > MAX_LISTED { " and more" } else { "" };
                    let listed: Vec<String> = many.iter().take(MAX_LISTED).map(u32::to_string).collect();
                    format!(
                        "event `{event}` is at version {current} but has no upcasters from versions {}{more}: \
                         add one `#[upcast(from = N, with = ...)]` for each",
                        listed.join(", ")
                    )
                }
            };
            cx.error_at(span, msg);
        }
    }
}

fn event_enum(cx: &Ctxt, e: &EventEnum<'_>) {
    let mut seen: BTreeMap<String, &syn::Ident> = BTreeMap::new();
    for variant in &e.variants {
        let ty = variant.ty.to_token_stream().to_string();
        if let Some(first) = seen.get(&ty) {
            cx.error_spanned_by(
                variant.ty,
                format_args!(
                    "event `{ty}` is wrapped by two variants of `{}`, `{first}` and `{}`: keep one",
                    e.ident, variant.ident
                ),
            );
        } else {
            seen.insert(ty, variant.ident);
        }
    }
}

pub(crate) fn aggregate(cx: &Ctxt, input: &AggregateInput<'_>) {
    let ident = input.ident;
    let attrs = &input.attrs;
    if !attrs.event_given {
        let example = format!("#[aggregate(name = \"{}\", event = {ident}Event)]", snake(&ident.to_string()));
        match attrs.first_attr {
            Some(attr) => cx.error_spanned_by(
                attr,
                format_args!("`#[aggregate(...)]` needs `event = <event type>`, such as `{example}`"),
            ),
            None => cx.error_spanned_by(
                ident,
                format_args!(
                    "`#[derive(Aggregate)]` needs `#[aggregate(...)]` naming the event type, such as `{example}`"
                ),
            ),
        }
    }
    if let Some(name) = attrs.name.as_ref().filter(|n| n.value.trim().is_empty()) {
        cx.error_at(name.span, "aggregate type name cannot be empty: write `name = \"...\"` or leave it out");
    }
    if let Some(version) = attrs.snapshot_schema_version.as_ref().filter(|v| v.value == 0) {
        cx.error_at(
            version.span,
            "snapshot schema versions start at 1: write `snapshot_schema_version = 1` (the default) or leave it out",
        );
    }
}

impl EventStruct<'_> {
    /// The stored name.
    pub(crate) fn name(&self) -> String {
        self.attrs.name.as_ref().map_or_else(|| self.ident.to_string(), |n| n.value.clone())
    }

    /// The current version.
    pub(crate) fn version(&self) -> u32 {
        self.attrs.version.as_ref().map_or(1, |v| v.value)
    }

    /// Whether the current version is the one the user meant: not when
    /// `version` was written but could not be read.
    fn version_known(&self) -> bool {
        self.attrs.version.is_some() || !self.attrs.version_given
    }
}

/// `DepositedTwice` → `deposited_twice`, for examples in messages.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use syn::{DeriveInput, parse_quote};

    use crate::ast::{AggregateInput, EventInput};
    use crate::ctxt::Ctxt;

    fn event_errors(input: DeriveInput) -> Vec<String> {
        let cx = Ctxt::default();
        if let Some(parsed) = EventInput::from_syn(&cx, &input) {
            super::event(&cx, &parsed);
        }
        cx.check().err().map_or_else(Vec::new, |e| e.into_iter().map(|e| e.to_string()).collect())
    }

    fn aggregate_errors(input: DeriveInput) -> Vec<String> {
        let cx = Ctxt::default();
        if let Some(parsed) = AggregateInput::from_syn(&cx, &input) {
            super::aggregate(&cx, &parsed);
        }
        cx.check().err().map_or_else(Vec::new, |e| e.into_iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn a_complete_chain_in_any_order_is_accepted() {
        let errors = event_errors(parse_quote! {
            #[event(name = "Deposited", version = 3)]
            #[upcast(from = 2, with = v2)]
            #[upcast(from = 1, via = V1, with = v1)]
            struct Deposited { cents: i64 }
        });
        assert_eq!(errors, Vec::<String>::new());
    }

    #[test]
    fn a_missing_step_names_the_event_the_version_and_the_fix() {
        let errors = event_errors(parse_quote! {
            #[event(name = "Deposited", version = 3)]
            #[upcast(from = 1, with = v1)]
            struct Deposited { cents: i64 }
        });
        assert_eq!(
            errors,
            ["event `Deposited` is at version 3 but has no upcaster from version 2: \
              add `#[upcast(from = 2, with = ...)]`"]
        );
    }

    /// Only real mistakes: with `version = 0` the steps are not also judged
    /// against version 0.
    #[test]
    fn every_mistake_of_an_item_is_reported_at_once() {
        let errors = event_errors(parse_quote! {
            #[event(version = 0, colour = "blue", name = 1)]
            #[upcast(from = 0, with = v0)]
            #[upcast(from = 2, with = "v2")]
            #[upcast(with = v3)]
            struct Deposited { cents: i64 }
        });
        let expected = [
            "unknown key `colour`",
            "expected `name = \"...\"`",
            "expected `with = <function path>`, found a string",
            "event versions start at 1",
            "`from = 0` is not a version",
            "needs `from = <version>`",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for fragment in expected {
            assert!(errors.iter().any(|e| e.contains(fragment)), "no error contains {fragment:?}: {errors:#?}");
        }
    }

    #[test]
    fn a_huge_version_without_steps_gives_one_bounded_error() {
        let errors = event_errors(parse_quote! {
            #[event(version = 4294967295)]
            struct Deposited;
        });
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("versions 1, 2, 3, 4, 5, 6, 7, 8 and more"), "{errors:?}");
    }

    #[test]
    fn unsupported_items_are_refused() {
        let union = event_errors(parse_quote! { union U { a: u8 } });
        assert!(union[0].contains("not unions"), "{union:?}");
        let generic = event_errors(parse_quote! { struct E<T> { t: T } });
        assert!(generic[0].contains("generic parameters"), "{generic:?}");
        let variants = event_errors(parse_quote! { enum E { A(A), B, C { x: u8 }, D(A, A) } });
        assert_eq!(variants.len(), 3, "{variants:?}");
        let twice = event_errors(parse_quote! { enum E { A(A), B(A) } });
        assert!(twice[0].contains("wrapped by two variants"), "{twice:?}");
    }

    #[test]
    fn an_aggregate_needs_its_event_type_once() {
        let missing = aggregate_errors(parse_quote! { #[aggregate(name = "a")] struct A; });
        assert!(missing[0].contains("needs `event = <event type>`"), "{missing:?}");
        // A malformed `event` is reported as malformed, not also as missing.
        let malformed =
            aggregate_errors(parse_quote! { #[aggregate(event = "E", snapshot_schema_version = 0)] struct A; });
        assert_eq!(malformed.len(), 2, "{malformed:?}");
        let ok = aggregate_errors(parse_quote! { #[aggregate(event = E, snapshot_every = 5)] struct A; });
        assert!(ok.is_empty(), "{ok:?}");
    }
}
