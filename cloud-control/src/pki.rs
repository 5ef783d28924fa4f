//! X.509 material for zenoh's TLS links: the operator's transport CA and one certificate per
//! node identity (RSU, cloud, router, vehicle), written as PEM files that
//! `corridor_wire::presets::secure` points zenoh at.
//!
//! This is **not** the signing PKI of `corridor-security` (region root, ECDSA certificates over
//! message bytes): that one proves who *said* something, end to end, whatever the path; this
//! one proves who is on the other end of a link, so a router can apply its access-control
//! list by certificate common name (the CN is the identity the ACL names). Both use ECDSA P-256.
//!
//! Why `rcgen` (0.14, features `ring`, `pem`, `x509-parser`): it is the certificate generator of
//! the rustls ecosystem zenoh's TLS link already builds on (ring and x509-parser are in the build
//! through zenoh-link-tls), so it adds one small crate and no C toolchain or `openssl` CLI.
//!
//! Files (`cloud-control tls ...`):
//!
//! | file | content | mode |
//! |---|---|---|
//! | `CA/ca.pem` | the transport CA certificate: every node's `root_ca_certificate` | 0644 |
//! | `CA/ca.key` | the CA's private key (PKCS#8 PEM). **Keep offline.** | 0600 |
//! | `OUT/<cn>.pem` | the node's certificate (CN = identity, SANs = host names/IPs) | 0644 |
//! | `OUT/<cn>.key` | the node's private key (PKCS#8 PEM) | 0600 |
//! | `OUT/ca.pem` | a copy of the CA certificate, so OUT is everything the node needs | 0644 |

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Generating or writing TLS material failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// rcgen refused (a bad name, a key it cannot parse, ...).
    #[error("{what}: {source}")]
    Rcgen {
        /// What was being done.
        what: String,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A refused argument (names the argument and value).
    #[error("{0}")]
    Invalid(String),
}

fn rc(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> PkiError {
    let what = what.into();
    move |source| PkiError::Rcgen { what, source }
}

/// A certificate and its private key, PEM.
#[derive(Debug, Clone)]
pub struct PemPair {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert: String,
    /// The private key, PKCS#8 (`-----BEGIN PRIVATE KEY-----`).
    pub key: String,
}

fn validity(params: &mut CertificateParams, now: jiff::Timestamp, days: u32) -> Result<(), PkiError> {
    let ymd = |t: jiff::Timestamp| {
        let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month().unsigned_abs(), d.day().unsigned_abs())
    };
    let end = now
        .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(days)))
        .map_err(|e| PkiError::Invalid(format!("--valid-days {days}: {e}")))?;
    // from the start of yesterday (UTC): tolerates a node whose clock is a little behind
    let start = now.checked_sub(jiff::SignedDuration::from_hours(24)).unwrap_or(now);
    params.not_before = ymd(start);
    params.not_after = ymd(end);
    Ok(())
}

fn check_cn(cn: &str) -> Result<(), PkiError> {
    let ok = !cn.is_empty()
        && cn.len() <= 64
        && cn.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(PkiError::Invalid(format!(
            "common name `{cn}`: use 1-64 characters of [A-Za-z0-9._-] (it is the identity the ACL names)"
        )))
    }
}

/// A new transport CA (self-signed, ECDSA P-256, may sign end-entity certificates only).
pub fn generate_ca(common_name: &str, now: jiff::Timestamp, valid_days: u32) -> Result<PemPair, PkiError> {
    check_cn(common_name)?;
    let key = KeyPair::generate().map_err(rc("generating the CA key"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "corridor");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut params, now, valid_days)?;
    let cert = params.self_signed(&key).map_err(rc("self-signing the CA"))?;
    Ok(PemPair { cert: cert.pem(), key: key.serialize_pem() })
}

/// A node certificate signed by the CA: common name `cn` (its ACL identity), subject
/// alternative names `names` (host names or IP addresses other nodes connect to it by; a node
/// that only connects needs none), usable as TLS server and client (zenoh links are both).
pub fn issue(
    ca: &PemPair,
    cn: &str,
    names: &[String],
    now: jiff::Timestamp,
    valid_days: u32,
) -> Result<PemPair, PkiError> {
    check_cn(cn)?;
    let ca_key = KeyPair::from_pem(&ca.key).map_err(rc("reading the CA key"))?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert, ca_key).map_err(rc("reading the CA certificate"))?;
    let key = KeyPair::generate().map_err(rc("generating the node key"))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "corridor");
    params.distinguished_name = dn;
    for name in names {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                let ok = !name.is_empty()
                    && name.len() <= 253
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
                if !ok {
                    return Err(PkiError::Invalid(format!(
                        "--san `{name}`: not an IP address or a DNS name ([A-Za-z0-9.-])"
                    )));
                }
                SanType::DnsName(name.clone().try_into().map_err(rc(format!("--san `{name}`")))?)
            }
        };
        params.subject_alt_names.push(san);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    validity(&mut params, now, valid_days)?;
    let cert = params.signed_by(&key, &issuer).map_err(rc(format!("signing the certificate of `{cn}`")))?;
    Ok(PemPair { cert: cert.pem(), key: key.serialize_pem() })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io { path: path.to_owned(), source }
}

/// Writes a secret: created with mode 0600 (on Unix) before any byte is written.
fn write_secret(path: &Path, text: &str) -> Result<(), PkiError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    f.write_all(text.as_bytes()).map_err(io(path))
}

/// `CA/ca.pem` and `CA/ca.key` in `dir` (created); refuses to overwrite an existing `ca.key`.
pub fn write_ca(dir: &Path, ca: &PemPair) -> Result<(PathBuf, PathBuf), PkiError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
    if key.exists() {
        return Err(PkiError::Invalid(format!("{} exists: refusing to overwrite a CA key", key.display())));
    }
    write_secret(&key, &ca.key)?;
    fs::write(&cert, &ca.cert).map_err(io(&cert))?;
    Ok((cert, key))
}

/// Reads `CA/ca.pem` and `CA/ca.key`.
pub fn read_ca(dir: &Path) -> Result<PemPair, PkiError> {
    let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
    Ok(PemPair {
        cert: fs::read_to_string(&cert).map_err(io(&cert))?,
        key: fs::read_to_string(&key).map_err(io(&key))?,
    })
}

/// Writes a node's `OUT/<cn>.pem`, `OUT/<cn>.key` and `OUT/ca.pem`; returns the three paths
/// in the shape `corridor_wire::presets::secure` takes.
pub fn write_identity(
    out: &Path,
    cn: &str,
    node: &PemPair,
    ca_cert: &str,
) -> Result<corridor_wire::presets::TlsFiles, PkiError> {
    fs::create_dir_all(out).map_err(io(out))?;
    let files = corridor_wire::presets::TlsFiles::in_dir(out, cn);
    write_secret(&files.key, &node.key)?;
    fs::write(&files.cert, &node.cert).map_err(io(&files.cert))?;
    fs::write(&files.ca, ca_cert).map_err(io(&files.ca))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2026-11-23T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_ca_issues_node_certificates_with_their_names() {
        let ca = generate_ca("corridor-transport-ca", now(), 3650).unwrap();
        assert!(ca.cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(ca.key.starts_with("-----BEGIN PRIVATE KEY-----"));
        let node = issue(&ca, "rsu-a", &["localhost".into(), "127.0.0.1".into()], now(), 365).unwrap();
        assert!(node.cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(node.cert, ca.cert);
    }

    #[test]
    fn bad_names_are_refused_with_the_value() {
        let ca = generate_ca("ca", now(), 10).unwrap();
        let e = issue(&ca, "rsu a/../x", &[], now(), 10).unwrap_err().to_string();
        assert!(e.contains("`rsu a/../x`"), "{e}");
        let e = issue(&ca, "rsu-a", &["bad name!".into()], now(), 10).unwrap_err().to_string();
        assert!(e.contains("bad name!"), "{e}");
    }

    #[test]
    fn the_ca_key_is_never_overwritten_and_keys_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let ca = generate_ca("ca", now(), 10).unwrap();
        write_ca(dir.path(), &ca).unwrap();
        assert!(write_ca(dir.path(), &ca).unwrap_err().to_string().contains("refusing to overwrite"));
        let back = read_ca(dir.path()).unwrap();
        assert_eq!(back.cert, ca.cert);
        let node = issue(&back, "cloud", &[], now(), 10).unwrap();
        let files = write_identity(&dir.path().join("cloud"), "cloud", &node, &back.cert).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&files.key).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(fs::read_to_string(&files.ca).unwrap(), ca.cert);
    }
}
