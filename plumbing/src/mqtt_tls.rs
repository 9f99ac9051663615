//! TLS for MQTT (rustls with ring): who vouches for the broker, and the client's own certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Debian's bundle of public authorities: used when `mqtts://` is given without a CA file.
pub const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why TLS cannot be set up. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificates in {path}: {reason}; give a PEM file")]
    Certs { path: PathBuf, reason: String },
    #[error(
        "cannot read the private key in {path}: {reason}; give a PEM file (PKCS#8, PKCS#1 or SEC1)"
    )]
    Key { path: PathBuf, reason: String },
    #[error("{0}")]
    Secret(#[from] crate::secret_file::WorldReadable),
    #[error("TLS settings refused: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("a client certificate needs its key, and a key its certificate: give both")]
    HalfIdentity,
}

/// The crypto used everywhere in baycount (ring: builds for every target we ship).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Certs {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no CERTIFICATE in it".into()));
    }
    Ok(certs)
}

/// A private key from a PEM file that only its owner (and group) can read.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    crate::secret_file::check(path, "a private key")?;
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The trust anchors in a PEM file.
pub fn load_roots(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| TlsError::Certs {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// TLS files given for a broker that is not reached over TLS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mqtt_ca, mqtt_cert and mqtt_key are for an mqtts:// broker; the mqtt URL is not mqtts://")]
pub struct TlsWithoutMqtts;

/// Where a client finds its TLS material.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientTls {
    /// The authority that signed the broker's certificate (default: [`SYSTEM_CA`]).
    pub ca: Option<PathBuf>,
    /// The client's certificate and key, for brokers that require them.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl ClientTls {
    /// These files for a broker reached over TLS (`mqtts`); none for a plain one, which
    /// refuses any that were given rather than leave them unused.
    pub fn for_broker(self, mqtts: bool) -> Result<Option<Self>, TlsWithoutMqtts> {
        if mqtts {
            Ok(Some(self))
        } else if self != Self::default() {
            Err(TlsWithoutMqtts)
        } else {
            Ok(None)
        }
    }

    /// A rustls client configuration from these files.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let ca = self.ca.clone().unwrap_or_else(|| SYSTEM_CA.into());
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(load_roots(&ca)?);
        Ok(match (&self.cert, &self.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                builder.with_client_auth_cert(load_certs(cert)?, load_key(key)?)?
            }
            _ => return Err(TlsError::HalfIdentity),
        })
    }
}
