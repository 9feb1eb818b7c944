//! `#[derive(Event)]`: encode, decode with the upcaster chain, apply
//! dispatch, registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, Error, LitStr};

use crate::ast::{EventEnum, EventInput, EventStruct};
use crate::ctxt::Ctxt;
use crate::{fallback, valid};

/// Parses, validates and expands one `#[derive(Event)]`.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let parsed = EventInput::from_syn(&cx, input);
    if let Some(parsed) = &parsed {
        valid::event(&cx, parsed);
    }
    match (cx.check(), parsed) {
        (Ok(()), Some(EventInput::Struct(s))) => expand_struct(&s),
        (Ok(()), Some(EventInput::Enum(e))) => expand_enum(&e),
        (Err(error), _) => {
            let fallback = fallback::event(input);
            let error = error.into_compile_error();
            quote! { #error #fallback }
        }
        (Ok(()), None) => {
            Error::new_spanned(&input.ident, "`#[derive(Event)]` cannot be derived for this item").into_compile_error()
        }
    }
}

fn expand_struct(s: &EventStruct<'_>) -> TokenStream {
    let ident = s.ident;
    let name = LitStr::new(&s.name(), s.attrs.name.as_ref().map_or_else(|| ident.span(), |n| n.span));
    let version = s.version();

    let mut upcasts: Vec<_> = s.upcasts.iter().filter_map(|u| Some((u.from.as_ref()?.value, u))).collect();
    upcasts.sort_by_key(|(from, _)| *from);
    let froms = upcasts.iter().map(|(from, _)| *from);
    // Each step is a function of its own, which decoding runs from the
    // stored version on and the registry lists for tools that show the
    // chain step by step.
    let mut step_fns = Vec::new();
    let mut steps = Vec::new();
    let mut registered_steps = Vec::new();
    for (from, upcast) in &upcasts {
        let Some(with) = upcast.with.as_ref() else { continue };
        let step = quote::format_ident!("__es_upcast_from_{}", from);
        let refused = quote! {
            |source| ::es_core::DecodeError::Upcast {
                name: ::std::borrow::ToOwned::to_owned(#name),
                from: #from,
                cause: source,
            }
        };
        let body = match &upcast.via {
            None => {
                let call = quote_spanned! {with.span()=>
                    ::es_core::__private::UpcastOutput::into_upcast_result(#with(__es_payload))
                };
                quote! { #call.map_err(#refused) }
            }
            Some(via) => {
                let old = quote_spanned! {via.span()=>
                    ::es_core::__private::serde_json::from_value::<#via>(__es_payload)
                };
                let call = quote_spanned! {with.span()=> #with(__es_old) };
                quote! {
                    let __es_old = #old.map_err(#refused)?;
                    ::es_core::__private::serde_json::to_value(#call).map_err(#refused)
                }
            }
        };
        step_fns.push(quote! {
            fn #step(
                __es_payload: ::es_core::__private::serde_json::Value,
            ) -> ::core::result::Result<::es_core::__private::serde_json::Value, ::es_core::DecodeError> {
                #body
            }
        });
        steps.push(quote! {
            if __es_version <= #from {
                __es_payload = #step(__es_payload)?;
            }
        });
        let shown = match &upcast.via {
            None => quote::ToTokens::to_token_stream(with).to_string(),
            Some(via) => {
                format!("{} -> {}", quote::ToTokens::to_token_stream(via), quote::ToTokens::to_token_stream(with))
            }
        };
        registered_steps.push(quote! { ::es_core::registry::UpcastStep::__new(#from, #shown, #step) });
    }

    let serde = &s.serde;
    let fields = s.fields.iter().map(|f| {
        let (name, ty, serde) = (&f.name, &f.ty, &f.serde);
        quote! { ::es_core::registry::FieldShape { name: #name, ty: #ty, serde: #serde } }
    });

    quote! {
        #[doc(hidden)]
        const _: () = {
            #(#step_fns)*

            #[automatically_derived]
            impl ::es_core::Event for #ident {
                #[inline]
                fn event_name(&self) -> &'static str {
                    #name
                }

                #[inline]
                fn schema_version(&self) -> u32 {
                    #version
                }

                fn encode(&self) -> ::core::result::Result<::es_core::EncodedEvent, ::es_core::__private::serde_json::Error> {
                    ::core::result::Result::map(
                        ::es_core::Payload::serialize(self),
                        |payload| ::es_core::EncodedEvent {
                            name: ::std::borrow::ToOwned::to_owned(#name),
                            schema_version: #version,
                            payload,
                        },
                    )
                }

                fn decode(
                    __es_name: &str,
                    __es_version: u32,
                    __es_stored: &::es_core::Payload,
                ) -> ::core::result::Result<Self, ::es_core::DecodeError> {
                    let __es_mismatch = |source| ::es_core::DecodeError::Payload {
                        name: ::std::borrow::ToOwned::to_owned(#name),
                        version: __es_version,
                        cause: source,
                    };
                    if __es_name != #name {
                        return ::core::result::Result::Err(::es_core::DecodeError::UnknownEvent {
                            name: ::std::borrow::ToOwned::to_owned(__es_name),
                        });
                    }
                    if __es_version == 0 || __es_version > #version {
                        return ::core::result::Result::Err(::es_core::DecodeError::UnknownVersion {
                            name: ::std::borrow::ToOwned::to_owned(#name),
                            version: __es_version,
                            current: #version,
                        });
                    }
                    // The common case: straight from the stored text. Text
                    // that does not deserialize this way (a key written twice,
                    // which a value tree keeps once) goes the tree's way, which
                    // decides.
                    if __es_version == #version {
                        if let ::core::result::Result::Ok(__es_event) = ::es_core::Payload::deserialize(__es_stored) {
                            return ::core::result::Result::Ok(__es_event);
                        }
                    }
                    #[allow(unused_mut)]
                    let mut __es_payload = ::es_core::Payload::to_value(__es_stored).map_err(__es_mismatch)?;
                    #(#steps)*
                    ::es_core::__private::serde_json::from_value(__es_payload).map_err(__es_mismatch)
                }
            }

            #[automatically_derived]
            impl ::es_core::__private::SingleEvent for #ident {
                const NAME: &'static str = #name;
                const VERSION: u32 = #version;
            }

            #[automatically_derived]
            impl ::es_core::__private::EventNames for #ident {
                const NAMES: &'static [&'static str] = &[#name];
            }

            #[automatically_derived]
            impl<__EsAggregate> ::es_core::ApplyTo<__EsAggregate> for #ident
            where
                __EsAggregate: ::es_core::Apply<#ident>,
            {
                #[inline]
                fn apply_to(&self, __es_aggregate: &mut __EsAggregate) {
                    <__EsAggregate as ::es_core::Apply<#ident>>::apply(__es_aggregate, self)
                }
            }

            ::es_core::__private::inventory::submit! {
                ::es_core::registry::EventRegistration::__new(
                    #name,
                    #version,
                    &[#(#froms),*],
                    ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#ident)),
                    #serde,
                    &[#(#fields),*],
                )
                .__upcast_steps(&[#(#registered_steps),*])
            }
        };
    }
}

fn expand_enum(e: &EventEnum<'_>) -> TokenStream {
    let ident = e.ident;
    let variants: Vec<_> = e.variants.iter().map(|v| v.ident).collect();
    let types: Vec<_> = e.variants.iter().map(|v| v.ty).collect();
    // Spanned at each wrapped type, so that a type that is not an event is
    // reported there, once.
    let event: Vec<_> = types.iter().map(|ty| quote_spanned! {ty.span()=> <#ty as ::es_core::Event>}).collect();
    let single: Vec<_> =
        types.iter().map(|ty| quote_spanned! {ty.span()=> <#ty as ::es_core::__private::SingleEvent>}).collect();

    // Two variants whose events share a name would decode each other's
    // payloads. The names are constants of the wrapped types, so the check
    // is one constant evaluated by the compiler: it finds the first pair
    // sharing a name and panics with the message for that pair, reported at
    // the second type, so any number of clashes is one error.
    let mut clash_arms = Vec::new();
    for (j, later) in e.variants.iter().enumerate() {
        for (i, earlier) in e.variants.iter().enumerate().take(j) {
            let message = format!(
                "event enum `{ident}`: variants `{}` and `{}` wrap events stored under one name, \
                 so stored events could not tell them apart; give one of them another `#[event(name = \"...\")]`",
                earlier.ident, later.ident
            );
            clash_arms.push(quote_spanned! {later.ty.span()=>
                ::core::option::Option::Some((#i, #j)) => ::core::panic!(#message),
            });
        }
    }
    let unique_names = quote! {
        const _: () = match ::es_core::__private::first_shared_name(&[#(#single::NAME),*]) {
            #(#clash_arms)*
            _ => {}
        };
    };

    quote! {
        #[doc(hidden)]
        const _: () = {
            #[automatically_derived]
            impl ::es_core::Event for #ident {
                #[inline]
                fn event_name(&self) -> &'static str {
                    match self {
                        #(#ident::#variants(__es_event) => #event::event_name(__es_event),)*
                    }
                }

                #[inline]
                fn schema_version(&self) -> u32 {
                    match self {
                        #(#ident::#variants(__es_event) => #event::schema_version(__es_event),)*
                    }
                }

                fn encode(&self) -> ::core::result::Result<::es_core::EncodedEvent, ::es_core::__private::serde_json::Error> {
                    match self {
                        #(#ident::#variants(__es_event) => #event::encode(__es_event),)*
                    }
                }

                fn decode(
                    __es_name: &str,
                    __es_version: u32,
                    __es_payload: &::es_core::Payload,
                ) -> ::core::result::Result<Self, ::es_core::DecodeError> {
                    #(
                        if __es_name == #single::NAME {
                            return ::core::result::Result::map(
                                #event::decode(__es_name, __es_version, __es_payload),
                                #ident::#variants,
                            );
                        }
                    )*
                    ::core::result::Result::Err(::es_core::DecodeError::UnknownEvent {
                        name: ::std::borrow::ToOwned::to_owned(__es_name),
                    })
                }
            }

            #[automatically_derived]
            impl ::es_core::__private::EventNames for #ident {
                const NAMES: &'static [&'static str] = &[#(#single::NAME),*];
            }

            #[automatically_derived]
            impl<__EsAggregate> ::es_core::ApplyTo<__EsAggregate> for #ident
            where
                #(__EsAggregate: ::es_core::Apply<#types>,)*
            {
                #[inline]
                fn apply_to(&self, __es_aggregate: &mut __EsAggregate) {
                    match self {
                        #(#ident::#variants(__es_event) => {
                            <__EsAggregate as ::es_core::Apply<#types>>::apply(__es_aggregate, __es_event)
                        })*
                    }
                }
            }

            #(
                #[automatically_derived]
                impl ::core::convert::From<#types> for #ident {
                    #[inline]
                    fn from(event: #types) -> Self {
                        #ident::#variants(event)
                    }
                }
            )*

            #unique_names
        };
    }
}
