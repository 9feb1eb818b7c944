//! `#[derive(StateFingerprint)]`, and the fingerprint expression it shares
//! with `#[derive(Aggregate)]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, Type};

use crate::ast::StateInput;
use crate::ctxt::Ctxt;
use crate::{fallback, shape};

/// Parses and expands one `#[derive(StateFingerprint)]`.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let parsed = StateInput::from_syn(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => expand(&parsed),
        (Err(error), parsed) => {
            let fallback = parsed.map(|_| fallback::state_fingerprint(input));
            let error = error.into_compile_error();
            quote! { #error #fallback }
        }
        (Ok(()), None) => TokenStream::new(),
    }
}

fn expand(state: &StateInput<'_>) -> TokenStream {
    let ident = &state.input.ident;
    let (impl_generics, type_generics, where_clause) = state.input.generics.split_for_impl();
    let value = value(&state.definition, &state.attrs.nested);
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::es_core::StateFingerprint for #ident #type_generics #where_clause {
                const FINGERPRINT: u64 = #value;
            }
        };
    }
}

/// A constant expression: the hash of `definition`, combined with the
/// fingerprint of each `nested` type (a missing `StateFingerprint` impl is
/// reported at that type).
pub(crate) fn value(definition: &str, nested: &[Type]) -> TokenStream {
    let own = shape::fingerprint(definition);
    let nested = nested.iter().map(|ty| {
        quote_spanned! {ty.span()=> <#ty as ::es_core::StateFingerprint>::FINGERPRINT }
    });
    quote! { ::es_core::__private::combine_fingerprints(#own, &[#(#nested),*]) }
}
