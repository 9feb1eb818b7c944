//! The items the derives accept, read from `syn`'s tree. An item of a shape
//! the derive cannot support is reported here, at its span.

use syn::{Attribute, Data, DeriveInput, Fields, Ident, Type};

use crate::attr::{self, AggregateAttrs, EventAttrs, FingerprintAttrs, Upcast};
use crate::ctxt::Ctxt;
use crate::shape::{self, FieldShape};

/// The input of `#[derive(Event)]`.
pub(crate) enum EventInput<'a> {
    Struct(EventStruct<'a>),
    Enum(EventEnum<'a>),
}

/// One event type.
pub(crate) struct EventStruct<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: EventAttrs,
    pub(crate) upcasts: Vec<Upcast<'a>>,
    /// Its fields, as the shape lock records them.
    pub(crate) fields: Vec<FieldShape>,
    /// Its container `#[serde(...)]` attributes, as text.
    pub(crate) serde: String,
}

/// The enum grouping an aggregate's events.
pub(crate) struct EventEnum<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) variants: Vec<EventVariant<'a>>,
}

/// One variant of an event enum: `Deposited(Deposited)`.
pub(crate) struct EventVariant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
}

/// The input of `#[derive(Aggregate)]`.
pub(crate) struct AggregateInput<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: AggregateAttrs<'a>,
    /// The state's definition, hashed into its snapshot fingerprint.
    pub(crate) definition: String,
}

/// The input of `#[derive(StateFingerprint)]`: a type nested in an
/// aggregate's state.
pub(crate) struct StateInput<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) attrs: FingerprintAttrs,
    /// The type's definition, hashed into its fingerprint.
    pub(crate) definition: String,
}

impl<'a> EventInput<'a> {
    /// Reads the item; `None` when its shape is unsupported (already
    /// reported).
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let generics_ok =
            no_generics(cx, input, "Event", "an event is stored by name, so it must be one concrete type");
        let parsed = match &input.data {
            Data::Struct(data) => {
                no_helper_attrs_on_fields(cx, &data.fields);
                Some(EventInput::Struct(EventStruct {
                    ident: &input.ident,
                    attrs: attr::event_attrs(cx, &input.attrs),
                    upcasts: attr::upcast_attrs(cx, &input.attrs),
                    fields: shape::fields(&data.fields),
                    serde: shape::serde(&input.attrs),
                }))
            }
            Data::Enum(data) => {
                for attr in input.attrs.iter().filter(|a| attr::is(a, "event") || attr::is(a, "upcast")) {
                    cx.error_spanned_by(
                        attr,
                        "`#[event(...)]` and `#[upcast(...)]` do not apply to an event enum: \
                         put them on the event struct each variant wraps",
                    );
                }
                let mut variants = Vec::new();
                for variant in &data.variants {
                    for attr in variant.attrs.iter().filter(|a| attr::is(a, "event") || attr::is(a, "upcast")) {
                        cx.error_spanned_by(
                            attr,
                            "`#[event(...)]` and `#[upcast(...)]` do not apply to a variant: \
                             put them on the event struct the variant wraps",
                        );
                    }
                    let ident = &variant.ident;
                    match &variant.fields {
                        Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                            no_helper_attrs_on_fields(cx, &variant.fields);
                            if let Some(field) = fields.unnamed.first() {
                                variants.push(EventVariant { ident, ty: &field.ty });
                            }
                        }
                        _ => cx.error_spanned_by(
                            variant,
                            format_args!(
                                "variant `{ident}` of an event enum must wrap exactly one event struct, \
                                 such as `{ident}({ident})`; declare `struct {ident}` with `#[derive(Event)]`"
                            ),
                        ),
                    }
                }
                if data.variants.is_empty() {
                    cx.error_spanned_by(
                        &input.ident,
                        format_args!(
                            "event enum `{}` has no variants: add one per event, such as `Opened(Opened)`",
                            input.ident
                        ),
                    );
                }
                Some(EventInput::Enum(EventEnum { ident: &input.ident, variants }))
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`#[derive(Event)]` supports structs and enums of event structs, not unions",
                );
                None
            }
        };
        if generics_ok { parsed } else { None }
    }
}

impl<'a> AggregateInput<'a> {
    /// Reads the item; `None` when its shape is unsupported (already
    /// reported).
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let generics_ok = no_generics(
            cx,
            input,
            "Aggregate",
            "an aggregate is stored under one type name, so it must be one concrete type",
        );
        if let Data::Union(data) = &input.data {
            cx.error_spanned_by(data.union_token, "`#[derive(Aggregate)]` supports structs and enums, not unions");
            return None;
        }
        let attrs = attr::aggregate_attrs(cx, &input.attrs);
        generics_ok.then(|| AggregateInput { ident: &input.ident, attrs, definition: shape::definition(input) })
    }
}

impl<'a> StateInput<'a> {
    /// Reads the item; `None` when its shape is unsupported (already
    /// reported).
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        if let Data::Union(data) = &input.data {
            cx.error_spanned_by(
                data.union_token,
                "`#[derive(StateFingerprint)]` supports structs and enums, not unions",
            );
            return None;
        }
        let attrs = attr::fingerprint_attrs(cx, &input.attrs);
        Some(StateInput { input, attrs, definition: shape::definition(input) })
    }
}

fn no_generics(cx: &Ctxt, input: &DeriveInput, derive: &str, why: &str) -> bool {
    if input.generics.params.is_empty() {
        return true;
    }
    cx.error_spanned_by(
        &input.generics,
        format_args!("`#[derive({derive})]` does not support generic parameters: {why}"),
    );
    false
}

fn no_helper_attrs_on_fields(cx: &Ctxt, fields: &Fields) {
    let misplaced = |a: &&Attribute| attr::is(a, "event") || attr::is(a, "upcast");
    for attr in fields.iter().flat_map(|f| f.attrs.iter().filter(misplaced)) {
        cx.error_spanned_by(
            attr,
            "`#[event(...)]` and `#[upcast(...)]` do not apply to a field: put them on the event struct",
        );
    }
}
