//! Certificate material for a consortium: one CA and one certificate per party (rcgen).
//!
//! `trefoil keygen --parties 3 --out certs/` writes `ca.pem`, `ca.key` and
//! `party<i>.pem` / `party<i>.key`. Party `i`'s certificate carries the DNS name
//! [`crate::tls::party_name`]`(i)` and may act as TLS client and server. With `--owners N`,
//! also `owner<k>.pem` / `owner<k>.key` for external data owners (`trefoil share`): DNS name
//! [`crate::tls::owner_name`]`(k)`, TLS client only. Give each party only
//! `ca.pem` and its own pair; keep `ca.key` offline (it can mint party certificates).

use crate::NetError;
use crate::tls::{owner_name, party_name};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// Generated PEM material.
#[derive(Debug, Clone)]
pub struct Material {
    /// The CA certificate.
    pub ca_cert: String,
    /// The CA private key.
    pub ca_key: String,
    /// Per party, in role order: (certificate, private key).
    pub parties: Vec<(String, String)>,
    /// Per external data owner, in index order: (certificate, private key).
    pub owners: Vec<(String, String)>,
}

fn kg(e: impl std::fmt::Display) -> NetError {
    NetError::Keygen(e.to_string())
}

/// Generates a fresh CA (named `ca_name`) and `parties` party certificates signed by it.
pub fn generate(parties: usize, ca_name: &str) -> Result<Material, NetError> {
    generate_with_owners(parties, 0, ca_name)
}

/// [`generate`] plus `owners` certificates for external data owners (client only).
pub fn generate_with_owners(
    parties: usize,
    owners: usize,
    ca_name: &str,
) -> Result<Material, NetError> {
    if owners > 1000 {
        return Err(NetError::Keygen(format!(
            "{owners} owners: choose at most 1000"
        )));
    }
    if parties == 0 || parties > 16 {
        return Err(NetError::Keygen(format!(
            "{parties} parties: choose between 1 and 16 (Trefoil runs 3)"
        )));
    }
    let ca_key = KeyPair::generate().map_err(kg)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(kg)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(kg)?;
    let issuer = Issuer::new(ca_params, &ca_key);
    let mut out = Vec::with_capacity(parties);
    for role in 0..parties {
        let key = KeyPair::generate().map_err(kg)?;
        let mut params = CertificateParams::new(vec![party_name(role)]).map_err(kg)?;
        params
            .distinguished_name
            .push(DnType::CommonName, party_name(role));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &issuer).map_err(kg)?;
        out.push((cert.pem(), key.serialize_pem()));
    }
    let mut owner_certs = Vec::with_capacity(owners);
    for k in 0..owners {
        let key = KeyPair::generate().map_err(kg)?;
        let mut params = CertificateParams::new(vec![owner_name(k)]).map_err(kg)?;
        params
            .distinguished_name
            .push(DnType::CommonName, owner_name(k));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer).map_err(kg)?;
        owner_certs.push((cert.pem(), key.serialize_pem()));
    }
    Ok(Material {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        parties: out,
        owners: owner_certs,
    })
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), NetError> {
    std::fs::write(path, contents)
        .map_err(|e| kg(format!("cannot write {}: {e}", path.display())))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| kg(format!("cannot restrict {}: {e}", path.display())))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

impl Material {
    /// Writes `ca.pem`, `ca.key`, `party<i>.pem`, `party<i>.key` (and `owner<k>.pem`,
    /// `owner<k>.key`) into `dir` (created if
    /// needed; keys are readable by the owner only on Unix). Returns the files written.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>, NetError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| kg(format!("cannot create {}: {e}", dir.display())))?;
        let mut files = Vec::new();
        let mut put = |name: String, contents: &str, private: bool| {
            let p = dir.join(name);
            write(&p, contents, private)?;
            files.push(p);
            Ok::<(), NetError>(())
        };
        put("ca.pem".into(), &self.ca_cert, false)?;
        put("ca.key".into(), &self.ca_key, true)?;
        for (role, (cert, key)) in self.parties.iter().enumerate() {
            put(format!("party{role}.pem"), cert, false)?;
            put(format!("party{role}.key"), key, true)?;
        }
        for (k, (cert, key)) in self.owners.iter().enumerate() {
            put(format!("owner{k}.pem"), cert, false)?;
            put(format!("owner{k}.key"), key, true)?;
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Link;
    use crate::tls::{TlsIdentity, role_of_certificate};
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn generates_usable_material_with_party_names() {
        let m = generate(3, "test CA").unwrap();
        assert_eq!(m.parties.len(), 3);
        for (role, (cert, key)) in m.parties.iter().enumerate() {
            let names = ["ca".to_string(), "cert".into(), "key".into()];
            TlsIdentity::from_pem(m.ca_cert.as_bytes(), cert.as_bytes(), key.as_bytes(), names)
                .unwrap();
            let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
            assert_eq!(role_of_certificate(&der, &Link::Party(role)).unwrap(), role);
        }
        // a key that does not match the certificate is refused when loading
        let names = ["ca".to_string(), "cert".into(), "key".into()];
        let err = TlsIdentity::from_pem(
            m.ca_cert.as_bytes(),
            m.parties[0].0.as_bytes(),
            m.parties[1].1.as_bytes(),
            names,
        )
        .unwrap_err();
        assert!(matches!(err, NetError::Cert { .. }), "{err}");
        assert!(generate(0, "x").is_err());
        let dir = tempfile::tempdir().unwrap();
        let files = m.write_to(dir.path()).unwrap();
        assert_eq!(files.len(), 8);
        assert!(dir.path().join("party2.key").exists());
    }
}
