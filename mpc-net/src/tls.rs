//! Mutual TLS for the links between parties (rustls 0.23, `ring` provider, TLS 1.3 only).
//!
//! A consortium CA (see [`crate::keygen`]) signs one certificate per party whose subject
//! alternative name is the DNS name [`party_name`]`(role)`, e.g. `trefoil-party-1`.
//! - The **client** side of a link (the higher role dials the lower one) checks that the server's
//!   chain leads to the CA and that the certificate is valid for the expected party's name.
//! - The **server** side requires a client certificate chaining to the same CA
//!   (`WebPkiClientVerifier`), then [`role_of_certificate`] reads which party it belongs to; the
//!   session handshake must then claim the same role.
//!
//! A peer with a certificate from another CA, a certificate of another role, or no certificate is
//! refused with [`NetError::Tls`] or [`NetError::WrongIdentity`].

use crate::{Link, NetError, PARTIES};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// The DNS name in the certificate of party `role`: `trefoil-party-<role>`.
pub fn party_name(role: usize) -> String {
    format!("trefoil-party-{role}")
}

/// The DNS name in the certificate of external data owner `k`: `trefoil-owner-<k>`.
pub fn owner_name(k: usize) -> String {
    format!("trefoil-owner-{k}")
}

/// Whether a (CA-verified) end-entity certificate is valid for the DNS name `name`.
pub fn certificate_has_name(cert: &CertificateDer<'_>, name: &str) -> bool {
    let Ok(ee) = webpki::EndEntityCert::try_from(cert) else {
        return false;
    };
    ServerName::try_from(name.to_string())
        .is_ok_and(|n| ee.verify_is_valid_for_subject_name(&n).is_ok())
}

/// One party's TLS material: the consortium CA, its certificate chain and its private key.
#[derive(Debug)]
pub struct TlsIdentity {
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

fn cert_err(path: &str, detail: impl std::fmt::Display) -> NetError {
    NetError::Cert {
        path: path.to_string(),
        detail: detail.to_string(),
    }
}

fn certs_from_pem(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(what, format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(cert_err(what, "contains no certificate"));
    }
    Ok(certs)
}

impl TlsIdentity {
    /// Reads the CA certificate, this party's certificate chain and its key from PEM files.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> Result<TlsIdentity, NetError> {
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| cert_err(&p.display().to_string(), format!("cannot read: {e}")))
        };
        TlsIdentity::from_pem(
            &read(ca)?,
            &read(cert)?,
            &read(key)?,
            [ca, cert, key].map(|p| p.display().to_string()),
        )
    }

    /// Builds the identity from PEM bytes; `names` (CA, certificate, key) label errors.
    pub fn from_pem(
        ca: &[u8],
        cert: &[u8],
        key: &[u8],
        names: [String; 3],
    ) -> Result<TlsIdentity, NetError> {
        let [ca_name, cert_name, key_name] = names;
        let ca = certs_from_pem(ca, &ca_name)?;
        let chain = certs_from_pem(cert, &cert_name)?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| cert_err(&key_name, format!("not a PEM private key: {e}")))?;
        let id = TlsIdentity { ca, chain, key };
        // fail early on material that cannot work (bad CA, key not matching the certificate)
        id.server_config().map_err(|e| cert_err(&cert_name, e))?;
        id.client_config().map_err(|e| cert_err(&cert_name, e))?;
        Ok(id)
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, NetError> {
        let mut roots = RootCertStore::empty();
        for c in &self.ca {
            roots
                .add(c.clone())
                .map_err(|e| cert_err("CA certificate", e))?;
        }
        Ok(Arc::new(roots))
    }

    /// The rustls server configuration: requires a client certificate under the CA.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, NetError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(self.roots()?, provider.clone())
            .build()
            .map_err(|e| cert_err("CA certificate", e))?;
        let cfg = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| cert_err("TLS versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| cert_err("certificate/key", e))?;
        Ok(Arc::new(cfg))
    }

    /// The rustls client configuration: trusts only the CA, presents our certificate.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, NetError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| cert_err("TLS versions", e))?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| cert_err("certificate/key", e))?;
        Ok(Arc::new(cfg))
    }
}

/// The server name a client expects from party `role`.
pub fn server_name(role: usize) -> Result<ServerName<'static>, NetError> {
    ServerName::try_from(party_name(role)).map_err(|e| cert_err("server name", e))
}

/// The party role a (CA-verified) end-entity certificate belongs to: the unique role whose name
/// it is valid for.
pub fn role_of_certificate(cert: &CertificateDer<'_>, link: &Link) -> Result<usize, NetError> {
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|e| NetError::WrongIdentity {
        link: link.clone(),
        expected: "a trefoil party name".into(),
        detail: format!("unparsable certificate: {e}"),
    })?;
    let mut roles = Vec::new();
    for role in 0..PARTIES {
        let name = server_name(role)?;
        if ee.verify_is_valid_for_subject_name(&name).is_ok() {
            roles.push(role);
        }
    }
    match roles.as_slice() {
        [role] => Ok(*role),
        [] => Err(NetError::WrongIdentity {
            link: link.clone(),
            expected: "one of trefoil-party-0/1/2".into(),
            detail: "the certificate names no party".into(),
        }),
        _ => Err(NetError::WrongIdentity {
            link: link.clone(),
            expected: "exactly one party name".into(),
            detail: format!("the certificate names parties {roles:?}"),
        }),
    }
}

/// Turns a TLS-level I/O error into a typed error; a certificate that is valid but for another
/// name becomes [`NetError::WrongIdentity`].
pub(crate) fn tls_error(link: &Link, expected: Option<usize>, e: std::io::Error) -> NetError {
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .cloned();
    match inner {
        Some(rustls::Error::InvalidCertificate(
            c @ (rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. }),
        )) => NetError::WrongIdentity {
            link: link.clone(),
            expected: expected
                .map(party_name)
                .unwrap_or_else(|| "its role".into()),
            detail: format!("{c:?}"),
        },
        Some(r) => NetError::Tls {
            link: link.clone(),
            detail: r.to_string(),
        },
        None => NetError::Tls {
            link: link.clone(),
            detail: e.to_string(),
        },
    }
}
