//! `cloud-control keys ...`: the operator's key setup (region root, RSU and cloud certificates,
//! revocation), on top of the sans-IO `corridor-security` core.
//!
//! Files (all text; see docs/security.md):
//!
//! | file | content | mode |
//! |---|---|---|
//! | `ROOT/root.key` | region root signing key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) | 0600 |
//! | `ROOT/root.pub` | root public key, SPKI PEM: the trust anchor every RSU/vehicle/cloud is given | 0644 |
//! | `ROOT/next-serial` | the next certificate serial (decimal) | 0600 |
//! | `ROOT/issued/<serial>.cert` | a copy of every certificate issued (hex) | 0644 |
//! | `ROOT/revocations.crl` | the current signed revocation list, canonical bytes as hex | 0644 |
//! | `OUT/<id>.key` | the certified key (PKCS#8 PEM) | 0600 |
//! | `OUT/<id>.pub` | its public key (SPKI PEM) | 0644 |
//! | `OUT/<id>.cert` | the root-signed certificate, canonical bytes as hex (one line) | 0644 |
//! | `OUT/root.pub` | a copy of the trust anchor, so OUT is everything a host needs | 0644 |
//!
//! | `bundle` output | every issued certificate + the revocation list, binary (`corridor_security::bundle`) | 0644 |
//!
//! Every command prints one JSON line describing what it did.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use corridor_model::{Clock, IntersectionId, RsuId, SystemClock, Timestamp};
use corridor_security::{
    Certificate, KeyId, RevocationList, SignedCertificate, SignedRevocationList, SigningKey, TrustStore, VerifyingKey,
};

/// `cloud-control keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate the region root key pair in DIR (refuses to overwrite an existing root).
    GenRoot(GenRootArgs),
    /// Generate a key pair for an RSU or the cloud and certify it with the root.
    Certify(CertifyArgs),
    /// Add a key id (or a certificate serial) to the root's signed revocation list.
    Revoke(RevokeArgs),
    /// Write the trust bundle (every certificate issued + the revocation list) for RSUs/vehicles.
    Bundle(BundleArgs),
    /// Print a certificate file as JSON (and check it against a root if given).
    Show(ShowArgs),
}

/// `keys gen-root`.
#[derive(Debug, Args)]
pub struct GenRootArgs {
    /// Directory for root.key / root.pub (created; must not already hold a root.key).
    #[arg(long)]
    out: PathBuf,
}

/// Which role a certificate grants.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// A roadside unit: signs states and events for the intersections named.
    Rsu,
    /// The cloud: signs maps, rules and catalogs.
    Cloud,
}

/// `keys certify`.
#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// The root directory made by `keys gen-root`.
    #[arg(long)]
    root: PathBuf,
    /// `rsu` or `cloud`.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// Subject id: the RSU id (= the sender of its envelopes) or the cloud instance name.
    #[arg(long)]
    id: String,
    /// Comma-separated intersections an RSU may publish for (required for rsu, refused for cloud).
    #[arg(long, value_delimiter = ',')]
    intersections: Vec<String>,
    /// Validity in days from now.
    #[arg(long, default_value_t = 365)]
    valid_days: u32,
    /// Certify this existing public key (SPKI PEM file) instead of generating a key pair
    /// (the secret then never leaves the RSU).
    #[arg(long)]
    public_key: Option<PathBuf>,
    /// Output directory for <id>.key, <id>.pub, <id>.cert and root.pub.
    #[arg(long)]
    out: PathBuf,
}

/// `keys revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The root directory made by `keys gen-root`.
    #[arg(long)]
    root: PathBuf,
    /// Key id to revoke (16 hex digits, as printed by `keys certify`). Repeatable.
    #[arg(long)]
    key_id: Vec<String>,
    /// Certificate serial to revoke. Repeatable.
    #[arg(long)]
    serial: Vec<u64>,
}

/// `keys bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The root directory made by `keys gen-root`.
    #[arg(long)]
    root: PathBuf,
    /// Output file (binary trust bundle, `corridor_security::bundle` layout).
    #[arg(long)]
    out: PathBuf,
}

/// `keys show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A certificate file (hex) or a revocation list file (hex).
    file: PathBuf,
    /// Check the signature against this root public key (SPKI PEM).
    #[arg(long)]
    root_pub: Option<PathBuf>,
}

/// Runs a `keys` subcommand.
pub fn run(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::GenRoot(a) => gen_root(a),
        KeysCommand::Certify(a) => certify(a),
        KeysCommand::Revoke(a) => revoke(a),
        KeysCommand::Bundle(a) => bundle(a),
        KeysCommand::Show(a) => show(a),
    }
}

#[allow(clippy::disallowed_methods, reason = "operator CLI: the wall clock dates certificates")]
fn now() -> Timestamp {
    SystemClock.now()
}

fn gen_root(a: GenRootArgs) -> anyhow::Result<ExitCode> {
    let key_path = a.out.join("root.key");
    if key_path.exists() {
        bail!("{} already exists: refusing to overwrite a region root", key_path.display());
    }
    fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let key = SigningKey::generate(&mut rand_core::OsRng);
    write_secret(&key_path, &key.to_pem()?)?;
    write_public(&a.out.join("root.pub"), &key.verifying_key().to_pem()?)?;
    write_secret(&a.out.join("next-serial"), "1\n")?;
    println!(
        "{}",
        serde_json::json!({
            "root_key_id": key.key_id().to_hex(),
            "root_public_hex": key.verifying_key().to_hex(),
            "key": key_path,
            "public": a.out.join("root.pub"),
        })
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads `DIR/root.key`.
pub fn load_root(dir: &Path) -> anyhow::Result<SigningKey> {
    let path = dir.join("root.key");
    let pem = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    SigningKey::from_pem(&pem).with_context(|| format!("{}: not a PKCS#8 P-256 private key", path.display()))
}

fn certify(a: CertifyArgs) -> anyhow::Result<ExitCode> {
    let root = load_root(&a.root)?;
    RsuId::new(&a.id).map_err(|e| anyhow::anyhow!("--id {:?}: {e}", a.id))?;
    let (key, public) = match &a.public_key {
        Some(path) => {
            let pem = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let public = VerifyingKey::from_pem(&pem)
                .with_context(|| format!("{}: not an SPKI P-256 public key", path.display()))?;
            (None, public)
        }
        None => {
            let key = SigningKey::generate(&mut rand_core::OsRng);
            let public = *key.verifying_key();
            (Some(key), public)
        }
    };
    let not_before = now();
    let not_after = not_before.add_secs_f64(f64::from(a.valid_days) * 86_400.0);
    let serial_path = a.root.join("next-serial");
    let serial: u64 = match fs::read_to_string(&serial_path) {
        Ok(s) => s.trim().parse().with_context(|| format!("{}: {:?} is not a serial", serial_path.display(), s))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
        Err(e) => return Err(e).with_context(|| format!("reading {}", serial_path.display())),
    };
    let cert = match a.role {
        RoleArg::Rsu => {
            if a.intersections.is_empty() {
                bail!("--role rsu needs --intersections ix-a,ix-b,...");
            }
            let ixs = a
                .intersections
                .iter()
                .map(|s| s.parse::<IntersectionId>().map_err(|e| anyhow::anyhow!("--intersections {s:?}: {e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Certificate::rsu(&RsuId::new(&a.id)?, public, ixs, not_before, not_after, serial)
        }
        RoleArg::Cloud => {
            if !a.intersections.is_empty() {
                bail!("--role cloud takes no --intersections");
            }
            Certificate::cloud(&a.id, public, not_before, not_after, serial)
        }
    };
    let signed = cert.issue(&root).context("issuing the certificate")?;
    // The serial is consumed before anything else is written: never issue one twice.
    write_secret(&serial_path, &format!("{}\n", serial + 1))?;
    fs::create_dir_all(a.root.join("issued"))?;
    write_public(&a.root.join("issued").join(format!("{serial}.cert")), &format!("{}\n", signed.to_hex()))?;
    fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    if let Some(key) = &key {
        write_secret(&a.out.join(format!("{}.key", a.id)), &key.to_pem()?)?;
    }
    write_public(&a.out.join(format!("{}.pub", a.id)), &public.to_pem()?)?;
    let cert_path = a.out.join(format!("{}.cert", a.id));
    write_public(&cert_path, &format!("{}\n", signed.to_hex()))?;
    write_public(&a.out.join("root.pub"), &root.verifying_key().to_pem()?)?;
    let mut v = cert_json(&signed);
    v["cert"] = serde_json::json!(cert_path);
    if key.is_some() {
        v["key"] = serde_json::json!(a.out.join(format!("{}.key", a.id)));
    }
    println!("{v}");
    Ok(ExitCode::SUCCESS)
}

fn cert_json(signed: &SignedCertificate) -> serde_json::Value {
    let c = signed.certificate();
    serde_json::json!({
        "subject": c.subject,
        "role": format!("{:?}", c.role).to_lowercase(),
        "key_id": c.public_key.key_id().to_hex(),
        "serial": c.serial,
        "intersections": c.intersections.iter().map(|i| i.as_str().to_owned()).collect::<Vec<_>>(),
        "not_before_unix_ns": c.not_before.unix_ns,
        "not_after_unix_ns": c.not_after.unix_ns,
        "issuer_key_id": c.issuer_key_id.to_hex(),
    })
}

/// Reads `ROOT/revocations.crl` (none yet: `None`).
pub fn load_revocations(dir: &Path) -> anyhow::Result<Option<SignedRevocationList>> {
    let path = dir.join("revocations.crl");
    match fs::read_to_string(&path) {
        Ok(s) => {
            let bytes = hex::decode(s.trim()).with_context(|| format!("{}: not hex", path.display()))?;
            let list = SignedRevocationList::from_bytes(&bytes)
                .with_context(|| format!("{}: not a revocation list", path.display()))?;
            Ok(Some(list))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    if a.key_id.is_empty() && a.serial.is_empty() {
        bail!("name at least one --key-id HEX or --serial N");
    }
    let root = load_root(&a.root)?;
    let mut list = load_revocations(&a.root)?.map(|l| l.list().clone()).unwrap_or_default();
    for k in &a.key_id {
        let bytes = hex::decode(k.trim()).ok().and_then(|b| <[u8; 8]>::try_from(b).ok());
        let Some(bytes) = bytes else { bail!("--key-id {k:?}: 16 hex digits expected") };
        list.key_ids.push(KeyId(bytes));
    }
    list.serials.extend(&a.serial);
    list.seq += 1;
    list.issued_at = now();
    let signed = RevocationList::issue(list, &root);
    let path = a.root.join("revocations.crl");
    write_public(&path, &format!("{}\n", hex::encode(signed.to_bytes())))?;
    println!("{}", revocation_json(&signed, &path));
    Ok(ExitCode::SUCCESS)
}

fn revocation_json(signed: &SignedRevocationList, path: &Path) -> serde_json::Value {
    let l = signed.list();
    serde_json::json!({
        "seq": l.seq,
        "key_ids": l.key_ids.iter().map(KeyId::to_hex).collect::<Vec<_>>(),
        "serials": l.serials,
        "issuer_key_id": l.issuer_key_id.to_hex(),
        "file": path,
    })
}

fn bundle(a: BundleArgs) -> anyhow::Result<ExitCode> {
    let root = load_root(&a.root)?;
    let mut store = TrustStore::new([*root.verifying_key()]);
    let issued = a.root.join("issued");
    let mut entries: Vec<PathBuf> = match fs::read_dir(&issued) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", issued.display())),
    };
    entries.sort();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|x| x == "cert")) {
        let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cert = SignedCertificate::from_hex(&text).with_context(|| format!("{}", path.display()))?;
        store.add_certificate(cert).with_context(|| format!("{}", path.display()))?;
    }
    if let Some(crl) = load_revocations(&a.root)? {
        store.apply_revocation(crl).context("revocations.crl")?;
    }
    let bytes = corridor_security::export_bundle(&store);
    fs::write(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{}",
        serde_json::json!({
            "certificates": store.certificates().count(),
            "revocation_seq": store.revocation_list().seq,
            "bytes": bytes.len(),
            "file": a.out,
        })
    );
    Ok(ExitCode::SUCCESS)
}

fn show(a: ShowArgs) -> anyhow::Result<ExitCode> {
    let text = fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let bytes = hex::decode(text.trim()).with_context(|| format!("{}: not hex", a.file.display()))?;
    let root = match &a.root_pub {
        Some(p) => {
            let pem = fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(VerifyingKey::from_pem(&pem).with_context(|| format!("{}: not a public key", p.display()))?)
        }
        None => None,
    };
    let (mut v, verified) = if bytes.starts_with(b"CRRL") {
        let l = SignedRevocationList::from_bytes(&bytes).with_context(|| format!("{}", a.file.display()))?;
        (revocation_json(&l, &a.file), root.map(|r| l.verify_signature(&r).is_ok()))
    } else {
        let c = SignedCertificate::from_bytes(&bytes).with_context(|| format!("{}", a.file.display()))?;
        (cert_json(&c), root.map(|r| c.verify_signature(&r).is_ok()))
    };
    if let Some(ok) = verified {
        v["signature_ok"] = serde_json::json!(ok);
    }
    println!("{v}");
    Ok(if verified == Some(false) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn write_public(path: &Path, text: &str) -> anyhow::Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes a secret: created with mode 0600 (on Unix) before any byte is written.
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}
