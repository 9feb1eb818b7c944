//! Stub impls emitted beside the errors of a derive, so that code using the
//! type (`.into()`, `Repository<Account, _>`, `Apply` impls) does not add
//! errors of its own to the one mistake the user has to fix. Their bodies
//! never run: the crate does not compile.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::ast::AggregateInput;

/// Stubs for a failed `#[derive(Event)]`.
pub(crate) fn event(input: &DeriveInput) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let event_impl = quote! {
        #[automatically_derived]
        impl ::es_core::Event for #ident {
            fn event_name(&self) -> &'static str {
                ::core::unreachable!()
            }
            fn schema_version(&self) -> u32 {
                ::core::unreachable!()
            }
            fn encode(&self) -> ::core::result::Result<::es_core::EncodedEvent, ::es_core::__private::serde_json::Error> {
                ::core::unreachable!()
            }
            fn decode(
                _: &str,
                _: u32,
                _: &::es_core::Payload,
            ) -> ::core::result::Result<Self, ::es_core::DecodeError> {
                ::core::unreachable!()
            }
        }
    };
    match &input.data {
        Data::Struct(_) => {
            let name = LitStr::new(&ident.to_string(), ident.span());
            quote! {
                #[doc(hidden)]
                const _: () = {
                    #event_impl

                    #[automatically_derived]
                    impl ::es_core::__private::SingleEvent for #ident {
                        const NAME: &'static str = #name;
                        const VERSION: u32 = 1;
                    }

                    #[automatically_derived]
                    impl ::es_core::__private::EventNames for #ident {
                        const NAMES: &'static [&'static str] = &[];
                    }

                    #[automatically_derived]
                    impl<__EsAggregate> ::es_core::ApplyTo<__EsAggregate> for #ident
                    where
                        __EsAggregate: ::es_core::Apply<#ident>,
                    {
                        fn apply_to(&self, _: &mut __EsAggregate) {
                            ::core::unreachable!()
                        }
                    }
                };
            }
        }
        Data::Enum(data) => {
            // `From` for each well-formed variant, once per type.
            let mut seen = BTreeSet::new();
            let from_impls = data.variants.iter().filter_map(|variant| {
                let Fields::Unnamed(fields) = &variant.fields else { return None };
                let field = match fields.unnamed.len() {
                    1 => fields.unnamed.first()?,
                    _ => return None,
                };
                let ty = &field.ty;
                if !seen.insert(ty.to_token_stream().to_string()) {
                    return None;
                }
                let variant = &variant.ident;
                Some(quote! {
                    #[automatically_derived]
                    impl ::core::convert::From<#ty> for #ident {
                        fn from(event: #ty) -> Self {
                            #ident::#variant(event)
                        }
                    }
                })
            });
            quote! {
                #[doc(hidden)]
                const _: () = {
                    #event_impl

                    #[automatically_derived]
                    impl ::es_core::__private::EventNames for #ident {
                        const NAMES: &'static [&'static str] = &[];
                    }

                    #[automatically_derived]
                    impl<__EsAggregate> ::es_core::ApplyTo<__EsAggregate> for #ident {
                        fn apply_to(&self, _: &mut __EsAggregate) {
                            ::core::unreachable!()
                        }
                    }

                    #(#from_impls)*
                };
            }
        }
        Data::Union(_) => TokenStream::new(),
    }
}

/// Stubs for a failed `#[derive(Aggregate)]`.
pub(crate) fn aggregate(input: &DeriveInput, parsed: Option<&AggregateInput<'_>>) -> TokenStream {
    let Some(parsed) = parsed else { return TokenStream::new() };
    let ident = &input.ident;
    let name = LitStr::new(&ident.to_string(), ident.span());
    let event = match &parsed.attrs.event {
        Some(event) => event.to_token_stream(),
        None => quote! { ::es_core::__private::NoEvent },
    };
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl ::es_core::Aggregate for #ident {
                const TYPE: &'static str = #name;
                type Event = #event;

                fn apply(&mut self, _: &Self::Event) {}
            }
        };
    }
}

/// A stub for a failed `#[derive(StateFingerprint)]` of a struct or enum.
pub(crate) fn state_fingerprint(input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl #impl_generics ::es_core::StateFingerprint for #ident #type_generics #where_clause {
                const FINGERPRINT: u64 = 0;
            }
        };
    }
}
