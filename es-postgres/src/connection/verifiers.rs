//! The certificate verifiers of the TLS modes: none for `prefer` and
//! `require`; for `verify-ca` and `verify-full` the chain (and the host
//! name for the latter), with the server certificates of the CA file
//! pinned.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use x509_cert::der::Decode;

/// `prefer` and `require`: any certificate, as in libpq. The handshake's
/// signatures are still checked, so the session is encrypted to whoever
/// holds the certificate's key.
#[derive(Debug)]
pub(crate) struct Unverified(pub(crate) WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The verifier of `verify-ca` and `verify-full`: the standard one (the
/// chain to a trusted authority), which also takes a certificate issued
/// for another host name unless `check_name` (`verify-ca`: the name is
/// checked after the chain, so a name mismatch means the chain was good),
/// and trusts a certificate of the CA file presented as the server's own,
/// as libpq does: byte for byte one of `pinned`, within its validity dates
/// and, with `check_name`, issued for the host connected to. The
/// handshake's signatures are checked either way, so the server holds the
/// certificate's key.
#[derive(Debug)]
pub(crate) struct Verifying {
    pub(crate) webpki: Arc<WebPkiServerVerifier>,
    pub(crate) pinned: Vec<CertificateDer<'static>>,
    pub(crate) check_name: bool,
}

impl Verifying {
    /// Checks a pinned certificate's dates and host name.
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let bad = |e: CertificateError| rustls::Error::InvalidCertificate(e);
        let cert = x509_cert::Certificate::from_der(end_entity).map_err(|_| bad(CertificateError::BadEncoding))?;
        let validity = &cert.tbs_certificate.validity;
        let now = now.as_secs();
        if now < validity.not_before.to_unix_duration().as_secs() {
            return Err(bad(CertificateError::NotValidYet));
        }
        if now > validity.not_after.to_unix_duration().as_secs() {
            return Err(bad(CertificateError::Expired));
        }
        if self.check_name {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
        }
        Ok(())
    }
}

impl ServerCertVerifier for Verifying {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            Err(rustls::Error::InvalidCertificate(_))
                if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                self.check(end_entity, server_name, now).map(|()| ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed `CA:TRUE` certificate for `localhost`, valid from
    /// `from` to `to` (years).
    fn self_signed(from: i32, to: i32) -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(to, 1, 1);
        params.self_signed(&key).unwrap().der().clone()
    }

    fn pinned(cert: &CertificateDer<'static>, check_name: bool) -> Verifying {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        Verifying { webpki, pinned: vec![cert.clone()], check_name }
    }

    #[test]
    fn a_pinned_certificate_is_checked_for_its_dates_and_host_name() {
        let localhost = ServerName::try_from("localhost").unwrap();
        let other = ServerName::try_from("db.example.com").unwrap();
        let now = UnixTime::now();
        let current = self_signed(2000, 2999);
        assert!(pinned(&current, true).check(&current, &localhost, now).is_ok());
        let wrong_name = pinned(&current, true).check(&current, &other, now).unwrap_err();
        assert!(matches!(wrong_name, rustls::Error::InvalidCertificate(_)), "{wrong_name:?}");
        assert!(pinned(&current, false).check(&current, &other, now).is_ok(), "verify-ca takes any name");
        let expired = self_signed(2000, 2001);
        let error = pinned(&expired, true).check(&expired, &localhost, now).unwrap_err();
        assert_eq!(error, rustls::Error::InvalidCertificate(CertificateError::Expired));
        let early = self_signed(2990, 2999);
        let error = pinned(&early, true).check(&early, &localhost, now).unwrap_err();
        assert_eq!(error, rustls::Error::InvalidCertificate(CertificateError::NotValidYet));
    }
}
