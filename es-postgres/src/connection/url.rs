//! Connection strings: what tokio-postgres parses, plus the options of
//! libpq it does not know — `sslmode=verify-ca`, `sslmode=verify-full` and
//! `sslrootcert` — which are taken out before it sees the rest.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use crate::connection::tls::{PgSslMode, Roots, TlsOptions};
use crate::error::PgError;

/// Parses a `postgres://` URL or a `key=value` string.
pub(crate) fn parse(url: &str) -> Result<(tokio_postgres::Config, TlsOptions), PgError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(PgError::InvalidConfig {
            option: None,
            reason: "it is empty; give one such as postgres://user@localhost:5432/database".to_owned(),
        });
    }
    let mut tls = TlsOptions::default();
    let rest = match url.split_once("://") {
        Some((scheme, _)) if scheme == "postgres" || scheme == "postgresql" => split_url(url, &mut tls)?,
        Some((scheme, _)) if !scheme.contains(['=', ' ']) => {
            return Err(PgError::InvalidConfig {
                option: None,
                reason: format!(
                    "`{scheme}://` is not a PostgreSQL URL; use postgres://user@host:5432/database \
                     or the key=value form"
                ),
            });
        }
        _ => split_key_values(url, &mut tls)?,
    };
    let config = rest.parse::<tokio_postgres::Config>().map_err(PgError::config)?;
    Ok((config, tls))
}

/// Takes `key=value` into `tls` if it is an option handled here; tells
/// whether it was.
fn take(tls: &mut TlsOptions, key: &str, value: &str) -> Result<bool, PgError> {
    match key {
        "sslmode" => tls.mode = Some(PgSslMode::parse(value)?),
        "sslrootcert" if value == "system" => tls.roots = Roots::System,
        "sslrootcert" => tls.roots = Roots::File(PathBuf::from(value)),
        _ => return Ok(false),
    }
    Ok(true)
}

/// A URL without the options handled here.
fn split_url(url: &str, tls: &mut TlsOptions) -> Result<String, PgError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_owned());
    };
    let decode = |s: &str| {
        percent_decode_str(s).decode_utf8().map(|s| s.into_owned()).map_err(|_| PgError::InvalidConfig {
            option: None,
            reason: format!("`{s}` is not valid percent-encoded UTF-8"),
        })
    };
    let mut kept = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        if !take(tls, &decode(key)?, &decode(value)?)? {
            kept.push(part);
        }
    }
    Ok(if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) })
}

/// A `key=value` string without the options handled here. Values may be
/// quoted (`key='a value'`) and escape with a backslash, as in libpq; a
/// malformed remainder is left for tokio-postgres to report.
fn split_key_values(s: &str, tls: &mut TlsOptions) -> Result<String, PgError> {
    let bytes = s.as_bytes();
    let skip_space = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut kept = String::new();
    let mut i = skip_space(0);
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[start..i];
        i = skip_space(i);
        if i >= bytes.len() || bytes[i] != b'=' {
            kept.push_str(&s[start..]);
            break;
        }
        i = skip_space(i + 1);
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        let mut value = String::new();
        let mut closed = !quoted;
        while i < bytes.len() {
            let c = s[i..].chars().next().unwrap_or_default();
            match c {
                '\\' if i + 1 < bytes.len() => {
                    let escaped = s[i + 1..].chars().next().unwrap_or_default();
                    value.push(escaped);
                    i += 1 + escaped.len_utf8();
                    continue;
                }
                '\'' if quoted => {
                    closed = true;
                    i += 1;
                    break;
                }
                c if !quoted && c.is_ascii_whitespace() => break,
                c => value.push(c),
            }
            i += c.len_utf8();
        }
        if !closed || !take(tls, key, &value)? {
            kept.push_str(&s[start..i]);
            kept.push(' ');
        }
        i = skip_space(i);
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, TlsOptions) {
        let mut tls = TlsOptions::default();
        let rest = if url.contains("://") { split_url(url, &mut tls) } else { split_key_values(url, &mut tls) };
        (rest.unwrap(), tls)
    }

    #[test]
    fn takes_the_tls_options_out_of_a_url() {
        let (rest, tls) =
            split("postgres://u@db:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fca%20dir%2Fca.pem");
        assert_eq!(rest, "postgres://u@db:5432/app?application_name=x");
        assert_eq!(tls.mode, Some(PgSslMode::VerifyFull));
        assert_eq!(tls.roots, Roots::File("/ca dir/ca.pem".into()));
        let (rest, tls) = split("postgresql://u@db/app?sslmode=verify-ca");
        assert_eq!((rest.as_str(), tls.mode), ("postgresql://u@db/app", Some(PgSslMode::VerifyCa)));
        let (rest, tls) = split("postgres://u@db/app?sslrootcert=system");
        assert_eq!((rest.as_str(), tls.roots), ("postgres://u@db/app", Roots::System));
    }

    #[test]
    fn takes_the_tls_options_out_of_key_values() {
        let (rest, tls) = split("host=db  sslmode = verify-full user=u sslrootcert='/a \\'q\\' dir/ca.pem' dbname=app");
        assert_eq!(rest, "host=db user=u dbname=app ");
        assert_eq!(tls.mode, Some(PgSslMode::VerifyFull));
        assert_eq!(tls.roots, Roots::File("/a 'q' dir/ca.pem".into()));
        assert_eq!(split("host=db password='a b' port=1").0, "host=db password='a b' port=1 ");
    }

    #[test]
    fn the_mode_a_url_names_reaches_the_driver() {
        let (config, tls) = parse("postgres://u@db/app?sslmode=require").unwrap();
        assert_eq!(tls.mode, Some(PgSslMode::Require));
        assert_eq!(config.get_dbname(), Some("app"));
        let (_, tls) = parse("host=db").unwrap();
        assert_eq!(tls.mode, None, "left to the Config");
    }

    #[test]
    fn refuses_an_unknown_mode_naming_the_option() {
        let error = parse("postgres://db/app?sslmode=verify").unwrap_err();
        assert!(matches!(&error, PgError::InvalidConfig { option: Some(o), .. } if o == "sslmode"), "{error:?}");
        assert!(error.to_string().contains("`verify` is not one of disable"), "{error}");
    }
}
