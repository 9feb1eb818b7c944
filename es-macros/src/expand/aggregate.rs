//! `#[derive(Aggregate)]`: the `Aggregate` impl, its apply dispatch and its
//! registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, Error, LitStr};

use crate::ast::AggregateInput;
use crate::ctxt::Ctxt;
use crate::expand::fingerprint;
use crate::{fallback, valid};

/// Parses, validates and expands one `#[derive(Aggregate)]`.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let parsed = AggregateInput::from_syn(&cx, input);
    if let Some(parsed) = &parsed {
        valid::aggregate(&cx, parsed);
    }
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => expand(&parsed),
        (Err(error), parsed) => {
            let fallback = fallback::aggregate(input, parsed.as_ref());
            let error = error.into_compile_error();
            quote! { #error #fallback }
        }
        (Ok(()), None) => Error::new_spanned(&input.ident, "`#[derive(Aggregate)]` cannot be derived for this item")
            .into_compile_error(),
    }
}

fn expand(input: &AggregateInput<'_>) -> TokenStream {
    let ident = input.ident;
    let attrs = &input.attrs;
    let Some(event) = &attrs.event else {
        return Error::new_spanned(ident, "`#[aggregate(...)]` needs `event = <event type>`").into_compile_error();
    };
    let name = attrs
        .name
        .as_ref()
        .map_or_else(|| LitStr::new(&ident.to_string(), ident.span()), |n| LitStr::new(&n.value, n.span));
    let snapshot_every = attrs.snapshot_every.as_ref().map(|every| {
        let every = every.value;
        quote! { const SNAPSHOT_EVERY: u64 = #every; }
    });
    let snapshot_schema_version = attrs.snapshot_schema_version.as_ref().map(|version| {
        let version = version.value;
        quote! { const SNAPSHOT_SCHEMA_VERSION: u32 = #version; }
    });
    let fingerprint = fingerprint::value(&input.definition, &attrs.nested);
    // Spanned at `event = ...`: an event the aggregate does not handle is
    // reported there, naming the `Apply` impl to write.
    let dispatch = quote_spanned! {event.span()=>
        <#event as ::es_core::ApplyTo<Self>>::apply_to(__es_event, self)
    };
    let names = quote_spanned! {event.span()=>
        <#event as ::es_core::__private::EventNames>::NAMES
    };

    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl ::es_core::Aggregate for #ident {
                const TYPE: &'static str = #name;
                #snapshot_every
                #snapshot_schema_version
                const SNAPSHOT_FINGERPRINT: u64 = #fingerprint;
                type Event = #event;

                #[inline]
                fn apply(&mut self, __es_event: &Self::Event) {
                    #dispatch
                }
            }

            ::es_core::__private::inventory::submit! {
                ::es_core::registry::AggregateRegistration::__new(
                    #name,
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                    #names,
                )
            }
        };
    }
}
