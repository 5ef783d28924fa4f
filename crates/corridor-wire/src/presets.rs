//! Zenoh config presets and QoS per key kind.
//!
//! Three topologies, all with multicast scouting **off** (explicit endpoints
//! only, so tests and demos never leak onto a real network):
//! - [`peer`]: a peer that listens and/or connects on given endpoints; the demo
//!   and the tests run every service as a peer on loopback TCP.
//! - [`client`]: a client of one or more routers (RSUs and vehicles in the field).
//! - [`router`]: a router listening on given endpoints.
//!
//! QoS ([`qos`]): state and detections are "latest wins" (drop under
//! congestion, high priority, express: no batching delay); events and uploads
//! must not be lost (block under congestion); stats are low priority. Every preset gives the
//! `DataHigh` transmit queue [`DATA_HIGH_QUEUE_BATCHES`] batches instead of zenoh's 2, so the
//! frames of one sensor instant sent on one session are queued, not dropped, while zenoh's TX
//! task wakes up.
//!
//! # Transport hardening: TLS and access control
//!
//! [`secure`] turns any of the three presets into a TLS-only one: zenoh's `tls` link
//! (feature `transport_tls`, on in the workspace), the operator's CA as the only trust root,
//! the node's own certificate and key for both sides of its links (listen and connect), and
//! **mutual TLS**: a listener refuses a peer that does not present a certificate signed by that
//! CA. `transport/link/protocols = ["tls"]` makes the node refuse plain TCP altogether.
//! [`access_control`] adds zenoh's `access_control` (ACL) section for a router: subjects are
//! certificate common names, so an identity is whatever CN the operator's CA signed. The rules
//! ([`AclIdentities`]): only RSU identities may put on intersection state and event keys and
//! on RSU keys, a scoped one ([`RsuIdentity::Scoped`], the router's `--rsu CN=IX,...`) only on
//! those of its own intersections and on its own RSU keys; only cloud identities on map, rules,
//! catalog and trust keys (and only they may declare those queryables and reply on them); only
//! admin identities (and clouds) may query cloud-control's admin key (`publish`, `rollback`,
//! `status`, `trust push`); every authenticated node may subscribe and query maps, rules,
//! catalog and trust. Anything not allowed is denied (`default_permission: "deny"`).
//! `docs/security.md` ("Transport: TLS and access control") has the operator's commands.

use corridor_model::{IdError, IntersectionId, RsuId};
use zenoh::qos::{CongestionControl, Priority};
use zenoh::Config;

use crate::keys::{Key, KeyKind};

/// A preset could not be built (a bad endpoint string, usually).
#[derive(Debug, thiserror::Error)]
#[error("zenoh config `{key}` = {value}: {message}")]
pub struct PresetError {
    /// The config key.
    pub key: String,
    /// The value that was refused.
    pub value: String,
    /// Zenoh's message.
    pub message: String,
}

fn set(config: &mut Config, key: &str, value: String) -> Result<(), PresetError> {
    config.insert_json5(key, &value).map_err(|e| PresetError { key: key.to_owned(), value, message: e.to_string() })
}

fn endpoints(list: &[String]) -> String {
    let quoted: Vec<String> = list.iter().map(|e| format!("{e:?}")).collect();
    format!("[{}]", quoted.join(","))
}

/// Batches in each link's `DataHigh` transmit queue (zenoh's default is 2). Detection frames and
/// states are express `DataHigh` messages, each in a batch of its own. With 2 batches the third
/// put of a burst (one session sending a sensor instant's four frames, a router forwarding
/// several intersections' states to one vehicle) waits for zenoh's TX task to send the first,
/// and is **dropped** once it has waited `wait_before_drop` (1 ms), as happens when that task is
/// slow to wake on a loaded host: measured, 2 of 800 frames in a 20 s harness run, each holding
/// a state back by the fusion's reorder window (100 ms). 4 batches hold a burst of one frame per
/// sensor of the default layout; more would let a congested link queue more stale states before
/// "latest wins" drops them. Allocated lazily. See docs/transports.md, "Idle floor".
pub const DATA_HIGH_QUEUE_BATCHES: usize = 4;

fn base(mode: &str, listen: &[String], connect: &[String]) -> Result<Config, PresetError> {
    let mut c = Config::default();
    set(&mut c, "mode", format!("{mode:?}"))?;
    set(&mut c, "scouting/multicast/enabled", "false".into())?;
    set(&mut c, "transport/link/tx/queue/size/data_high", DATA_HIGH_QUEUE_BATCHES.to_string())?;
    set(&mut c, "listen/endpoints", endpoints(listen))?;
    set(&mut c, "connect/endpoints", endpoints(connect))?;
    Ok(c)
}

/// A peer listening on `listen` and connecting to `connect` (e.g. `tcp/127.0.0.1:7447`).
/// Peers learn about each other through gossip over those links and then connect
/// directly, so every peer must listen somewhere: with `listen` empty the peer
/// listens on an ephemeral loopback port (`tcp/127.0.0.1:0`).
pub fn peer(listen: &[String], connect: &[String]) -> Result<Config, PresetError> {
    if listen.is_empty() {
        base("peer", &[loopback_tcp(0)], connect)
    } else {
        base("peer", listen, connect)
    }
}

/// A client of the routers at `connect`.
pub fn client(connect: &[String]) -> Result<Config, PresetError> {
    base("client", &[], connect)
}

/// A router listening on `listen`, optionally linked to other routers at `connect`.
pub fn router(listen: &[String], connect: &[String]) -> Result<Config, PresetError> {
    base("router", listen, connect)
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it), for
/// demos and tests that give a peer a known listening endpoint. Another process could take it in
/// between; on loopback in a test run that has not been seen.
pub fn free_loopback_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The loopback TCP endpoint for `port`.
pub fn loopback_tcp(port: u16) -> String {
    format!("tcp/127.0.0.1:{port}")
}

/// The loopback TLS endpoint for `port` (`tls/localhost:PORT`: TLS checks the listener's
/// certificate against the host name, so use a certificate whose names include `localhost`).
pub fn loopback_tls(port: u16) -> String {
    format!("tls/localhost:{port}")
}

/// A node's TLS material, as PEM files (`cloud-control tls ...` writes them). In a TOML
/// config (the RSU's `[zenoh.tls]`) it is the table `{ ca = "..", cert = "..", key = ".." }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The operator's CA certificate: the only root a peer's certificate may chain to.
    pub ca: std::path::PathBuf,
    /// This node's certificate (signed by the CA); its common name is its ACL identity.
    pub cert: std::path::PathBuf,
    /// This node's private key (PKCS#8 PEM).
    pub key: std::path::PathBuf,
}

impl TlsFiles {
    /// The files `cloud-control tls issue --cn CN --out DIR` writes: `DIR/ca.pem`,
    /// `DIR/CN.pem` and `DIR/CN.key`.
    pub fn in_dir(dir: &std::path::Path, cn: &str) -> TlsFiles {
        TlsFiles { ca: dir.join("ca.pem"), cert: dir.join(format!("{cn}.pem")), key: dir.join(format!("{cn}.key")) }
    }
}

/// Makes `config` (a [`peer`], [`client`] or [`router`] preset) TLS-only with mutual
/// authentication: every endpoint must be `tls/...`, the node presents `tls.cert` on links it
/// accepts and on links it opens, and accepts only peers whose certificate chains to `tls.ca`
/// (mTLS: a listener refuses a client without a certificate). The listener's host name is
/// checked against its certificate on connect (`verify_name_on_connect`). Links close when the
/// remote certificate expires (`close_link_on_expiration`).
///
/// The files are read by zenoh when the session opens; a missing file is reported then.
/// Errors here name the zenoh config key and the refused value (e.g. a `tcp/` endpoint).
pub fn secure(mut config: Config, tls: &TlsFiles) -> Result<Config, PresetError> {
    for side in ["listen/endpoints", "connect/endpoints"] {
        let list = config.get_json(side).unwrap_or_default();
        let endpoints: Vec<String> = serde_json::from_str(&list).unwrap_or_default();
        if let Some(bad) = endpoints.iter().find(|e| !e.starts_with("tls/")) {
            return Err(PresetError {
                key: side.to_owned(),
                value: bad.clone(),
                message: "a secure preset accepts only tls/ endpoints".to_owned(),
            });
        }
    }
    let path = |p: &std::path::Path| format!("{:?}", p.display().to_string());
    let tls_key = "transport/link/tls";
    set(&mut config, "transport/link/protocols", r#"["tls"]"#.to_owned())?;
    set(&mut config, &format!("{tls_key}/root_ca_certificate"), path(&tls.ca))?;
    set(&mut config, &format!("{tls_key}/listen_certificate"), path(&tls.cert))?;
    set(&mut config, &format!("{tls_key}/listen_private_key"), path(&tls.key))?;
    set(&mut config, &format!("{tls_key}/connect_certificate"), path(&tls.cert))?;
    set(&mut config, &format!("{tls_key}/connect_private_key"), path(&tls.key))?;
    set(&mut config, &format!("{tls_key}/enable_mtls"), "true".to_owned())?;
    set(&mut config, &format!("{tls_key}/verify_name_on_connect"), "true".to_owned())?;
    set(&mut config, &format!("{tls_key}/close_link_on_expiration"), "true".to_owned())?;
    Ok(config)
}

/// Who may do what, by certificate common name (the CN the operator's CA signed).
/// Every name must be a non-empty certificate CN; an empty list means "nobody in that role".
/// [`access_control`] refuses an empty name and an RSU identity given twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclIdentities {
    /// RSUs (and the sensors and controllers that feed them): may publish intersection state,
    /// events and RSU keys, declare their liveliness token, upload events. A
    /// [`RsuIdentity::Scoped`] identity only for its own intersections and its own RSU keys;
    /// `"rsu-a".into()` is an [`RsuIdentity::Unscoped`] one (any intersection, any RSU key).
    pub rsus: Vec<RsuIdentity>,
    /// Cloud-control instances: may publish and serve maps, rules, catalogs and trust material,
    /// and answer event uploads and admin queries.
    pub clouds: Vec<String>,
    /// Other routers: trusted to forward anything on corridor keys (each checks its own edge).
    pub routers: Vec<String>,
    /// Operators running `cloud-control publish | rollback | status | trust push` through the
    /// router: may query [`acl_keys::ADMIN`] and nothing else beyond what every node may do
    /// (a cloud identity may too, since clouds may query all of `corridor/**`).
    pub admins: Vec<String>,
}

/// An RSU identity in the ACL: a certificate CN, with or without the intersections it may
/// publish for. Parsed from `CN` (unscoped) or `CN=IX[,IX...]` (scoped), as the router's
/// `--rsu` option takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RsuIdentity {
    /// May put on every intersection's state and events keys and on every RSU's keys
    /// ([`acl_keys::RSU_PUT`]): the ACL before per-intersection scoping, for RSUs whose
    /// intersections the operator does not list.
    Unscoped(String),
    /// May put only on the state (binary and JSON) and events keys of `intersections` and on
    /// its own `corridor/*/rsu/{rsu}/**` keys, declare only its own liveliness token and upload
    /// events only on its own `corridor/*/cloud/events/{rsu}` key ([`acl_keys::rsu_scoped`]).
    /// The CN is the RSU id (it is a key segment), as in its corridor-security certificate,
    /// whose intersections these should be.
    Scoped {
        /// The CN, which is also the RSU id in its keys.
        rsu: RsuId,
        /// The intersections it may publish state and events for (none: only its RSU keys).
        intersections: Vec<IntersectionId>,
    },
}

impl RsuIdentity {
    /// A scoped identity from text ids (for tests and tools; the CLI parses `CN=IX,...`).
    /// Errors name the whole entry as `CN=IX,...`.
    pub fn scoped<I: AsRef<str>>(
        rsu: &str,
        intersections: impl IntoIterator<Item = I>,
    ) -> Result<RsuIdentity, AclError> {
        let ixs: Vec<String> = intersections.into_iter().map(|i| i.as_ref().to_owned()).collect();
        let value = || format!("{rsu}={}", ixs.join(","));
        let rsu = RsuId::new(rsu).map_err(|source| AclError::RsuId { value: value(), source })?;
        let mut intersections: Vec<IntersectionId> = Vec::new();
        for ix in &ixs {
            let ix = IntersectionId::new(ix).map_err(|source| AclError::Intersection { value: value(), source })?;
            if !intersections.contains(&ix) {
                intersections.push(ix);
            }
        }
        Ok(RsuIdentity::Scoped { rsu, intersections })
    }

    /// The certificate common name.
    pub fn cn(&self) -> &str {
        match self {
            RsuIdentity::Unscoped(cn) => cn,
            RsuIdentity::Scoped { rsu, .. } => rsu.as_str(),
        }
    }
}

/// An unscoped identity, taken as is (no parsing: `"rsu-a=ix-a".into()` is refused by
/// [`AclIdentities::validate`]; parse that form with `str::parse`).
impl From<&str> for RsuIdentity {
    fn from(cn: &str) -> RsuIdentity {
        RsuIdentity::Unscoped(cn.to_owned())
    }
}

/// An unscoped identity, taken as is (see `From<&str>`).
impl From<String> for RsuIdentity {
    fn from(cn: String) -> RsuIdentity {
        RsuIdentity::Unscoped(cn)
    }
}

impl std::str::FromStr for RsuIdentity {
    type Err = AclError;

    /// `CN` (unscoped) or `CN=IX[,IX...]` (scoped; the CN must then be a valid RSU id and every
    /// IX a valid intersection id). Surrounding spaces are not trimmed: a CN is matched exactly.
    fn from_str(text: &str) -> Result<RsuIdentity, AclError> {
        let Some((cn, list)) = text.split_once('=') else {
            if text.trim().is_empty() {
                return Err(AclError::EmptyName { role: "rsu", value: text.to_owned() });
            }
            return Ok(RsuIdentity::Unscoped(text.to_owned()));
        };
        if cn.trim().is_empty() {
            return Err(AclError::EmptyName { role: "rsu", value: text.to_owned() });
        }
        let rsu = RsuId::new(cn).map_err(|source| AclError::RsuId { value: text.to_owned(), source })?;
        if list.is_empty() {
            return Err(AclError::NoIntersections { value: text.to_owned() });
        }
        let mut intersections: Vec<IntersectionId> = Vec::new();
        for ix in list.split(',') {
            let ix =
                IntersectionId::new(ix).map_err(|source| AclError::Intersection { value: text.to_owned(), source })?;
            if !intersections.contains(&ix) {
                intersections.push(ix);
            }
        }
        Ok(RsuIdentity::Scoped { rsu, intersections })
    }
}

impl std::fmt::Display for RsuIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RsuIdentity::Unscoped(cn) => f.write_str(cn),
            RsuIdentity::Scoped { rsu, intersections } => {
                let ixs: Vec<&str> = intersections.iter().map(IntersectionId::as_str).collect();
                write!(f, "{rsu}={}", ixs.join(","))
            }
        }
    }
}

/// An access-control identity that was refused; each variant names the value as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// An empty (or blank) certificate common name.
    #[error("{role} identity `{value}`: the certificate common name is empty")]
    EmptyName {
        /// The role (`rsu`, `cloud`, `router`, `admin`).
        role: &'static str,
        /// The value as given.
        value: String,
    },
    /// A scoped RSU identity whose CN is not a valid RSU id (it becomes a key segment).
    #[error("rsu identity `{value}`: {source} (a scoped RSU's CN is its RSU id in corridor keys)")]
    RsuId {
        /// The value as given.
        value: String,
        /// Why the id was refused.
        #[source]
        source: IdError,
    },
    /// A scoped RSU identity with a bad intersection id.
    #[error("rsu identity `{value}`: {source}")]
    Intersection {
        /// The value as given.
        value: String,
        /// Why the id was refused.
        #[source]
        source: IdError,
    },
    /// `CN=` with nothing after the `=`.
    #[error(
        "rsu identity `{value}`: no intersection after `=` (give CN=IX[,IX...], or CN alone for any intersection)"
    )]
    NoIntersections {
        /// The value as given.
        value: String,
    },
    /// An [`RsuIdentity::Unscoped`] CN with a `=`: a `CN=IX,...` text turned into an identity
    /// with `From` instead of being parsed (certificate CNs from `cloud-control tls issue` never
    /// contain `=`).
    #[error("rsu identity `{value}`: an unscoped CN cannot contain `=`; parse `CN=IX,...` (str::parse) to scope it")]
    EqualsInCn {
        /// The value as given.
        value: String,
    },
    /// The same RSU CN given more than once (zenoh would allow the union of its entries, so a
    /// scoped entry next to an unscoped one would restrict nothing).
    #[error("rsu identity `{cn}` is given more than once (`{first}` and `{second}`): give it once")]
    DuplicateRsu {
        /// The CN.
        cn: String,
        /// The first entry.
        first: String,
        /// The second entry.
        second: String,
    },
}

impl AclError {
    /// The refused entry as given (the CN for a duplicate).
    pub fn value(&self) -> &str {
        match self {
            AclError::EmptyName { value, .. }
            | AclError::RsuId { value, .. }
            | AclError::Intersection { value, .. }
            | AclError::NoIntersections { value }
            | AclError::EqualsInCn { value } => value,
            AclError::DuplicateRsu { cn, .. } => cn,
        }
    }
}

impl AclIdentities {
    /// Checks every name: no empty CN in any role, no RSU CN given twice.
    pub fn validate(&self) -> Result<(), AclError> {
        for (role, names) in [("cloud", &self.clouds), ("router", &self.routers), ("admin", &self.admins)] {
            if let Some(bad) = names.iter().find(|n| n.trim().is_empty()) {
                return Err(AclError::EmptyName { role, value: bad.clone() });
            }
        }
        for (i, rsu) in self.rsus.iter().enumerate() {
            if rsu.cn().trim().is_empty() {
                return Err(AclError::EmptyName { role: "rsu", value: rsu.to_string() });
            }
            if matches!(rsu, RsuIdentity::Unscoped(cn) if cn.contains('=')) {
                return Err(AclError::EqualsInCn { value: rsu.to_string() });
            }
            if let Some(other) = self.rsus[..i].iter().find(|o| o.cn() == rsu.cn()) {
                return Err(AclError::DuplicateRsu {
                    cn: rsu.cn().to_owned(),
                    first: other.to_string(),
                    second: rsu.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The key expressions each role may write, for the ACL and the docs.
pub mod acl_keys {
    use corridor_model::{IntersectionId, RsuId};

    /// RSU-only puts: intersection state (binary and JSON), events, and everything under an
    /// RSU's own keys (detections, signal input, stats).
    pub const RSU_PUT: [&str; 4] =
        ["corridor/*/ix/*/state", "corridor/*/ix/*/state/json", "corridor/*/ix/*/events", "corridor/*/rsu/**"];
    /// RSU-only liveliness tokens.
    pub const RSU_TOKEN: [&str; 1] = ["corridor/*/rsu/*/alive"];
    /// RSU-only queries: event uploads to the cloud.
    pub const RSU_QUERY: [&str; 1] = ["corridor/*/cloud/events/*"];
    /// Cloud-only puts, queryables and replies: maps, rules, catalog, trust material, and the
    /// cloud's own queryables (admin, event ingest).
    pub const CLOUD: [&str; 5] = [
        "corridor/*/map/**",
        "corridor/*/rules/**",
        "corridor/*/catalog",
        "corridor/*/trust/**",
        "corridor/*/cloud/**",
    ];
    /// Admin-only queries: cloud-control's admin queryable (publish, rollback, status, trust push).
    pub const ADMIN: [&str; 1] = ["corridor/*/cloud/admin"];
    /// Readable by every authenticated node (subscribe, query the cloud's map/rules/catalog/trust).
    pub const READ: [&str; 1] = ["corridor/**"];
    /// Queries every authenticated node may send: maps, rules, catalog, trust.
    pub const QUERY: [&str; 4] =
        ["corridor/*/map/**", "corridor/*/rules/**", "corridor/*/catalog", "corridor/*/trust/**"];

    /// What a scoped RSU identity may write (`RsuIdentity::Scoped`), in any region.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RsuScopedKeys {
        /// Puts: state, state/json and events of each of its intersections, and its own
        /// `corridor/*/rsu/{rsu}/**` keys (detections, signal input, stats).
        pub put: Vec<String>,
        /// Its liveliness token.
        pub token: String,
        /// Its event upload key.
        pub query: String,
    }

    /// The keys of [`RsuScopedKeys`] for `rsu` and `intersections` (the scoped forms of
    /// [`RSU_PUT`], [`RSU_TOKEN`] and [`RSU_QUERY`]).
    pub fn rsu_scoped(rsu: &RsuId, intersections: &[IntersectionId]) -> RsuScopedKeys {
        let mut put = Vec::with_capacity(intersections.len() * 3 + 1);
        for ix in intersections {
            put.push(format!("corridor/*/ix/{ix}/state"));
            put.push(format!("corridor/*/ix/{ix}/state/json"));
            put.push(format!("corridor/*/ix/{ix}/events"));
        }
        put.push(format!("corridor/*/rsu/{rsu}/**"));
        RsuScopedKeys {
            put,
            token: format!("corridor/*/rsu/{rsu}/alive"),
            query: format!("corridor/*/cloud/events/{rsu}"),
        }
    }
}

fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(","))
}

/// The zenoh `access_control` section (JSON) for a router that enforces [`AclIdentities`]:
/// default deny; every authenticated node may subscribe to `corridor/**`, query maps, rules,
/// catalog and trust, and receive (egress) anything on `corridor/**`; unscoped RSUs may
/// additionally put on [`acl_keys::RSU_PUT`], declare [`acl_keys::RSU_TOKEN`] and query
/// [`acl_keys::RSU_QUERY`], scoped RSUs the same only on their own keys
/// ([`acl_keys::rsu_scoped`]: their intersections' state and events, their own RSU keys); clouds
/// may put, declare queryables on and reply on [`acl_keys::CLOUD`], and query anything under
/// `corridor/**`; routers may do anything on `corridor/**`; admins may query
/// [`acl_keys::ADMIN`]. A vehicle (any other CN) can thus only subscribe and query maps, rules,
/// catalog and trust: its puts on a state key and its admin queries are dropped at the router's
/// ingress; so are a scoped RSU's puts on another intersection's state key.
///
/// How zenoh 1.10 evaluates it (`zenoh/src/net/routing/interceptor/authorization.rs`): a link's
/// certificate CN selects every subject listing it (and the property-less `anyone`); with
/// `default_permission: "deny"` a message is allowed when the rules of *any* of those subjects
/// allow it, a rule allowing a message when one of its key expressions includes the message's
/// key. Hence one subject, rule set and policy per scoped RSU (`rsu:{cn}`), and an RSU CN may
/// appear only once ([`AclIdentities::validate`]): next to an unscoped entry a scoped one would
/// restrict nothing.
///
/// Zenoh requires each subject property list to be non-empty: a role with no names gets no
/// subject (and so no rights).
pub fn access_control_json(ids: &AclIdentities) -> Result<String, AclError> {
    ids.validate()?;
    let rule = |id: &str, messages: &[&str], flows: &[&str], keys: &[&str]| {
        format!(
            r#"{{"id":{id:?},"messages":{},"flows":{},"permission":"allow","key_exprs":{}}}"#,
            json_list(messages.iter().copied()),
            json_list(flows.iter().copied()),
            json_list(keys.iter().copied()),
        )
    };
    let all_messages = [
        "put",
        "delete",
        "declare_subscriber",
        "query",
        "reply",
        "declare_queryable",
        "liveliness_token",
        "liveliness_query",
        "declare_liveliness_subscriber",
    ];
    let mut rules = vec![
        rule(
            "read",
            &["declare_subscriber", "liveliness_query", "declare_liveliness_subscriber"],
            &["ingress"],
            &acl_keys::READ,
        ),
        rule("query", &["query"], &["ingress"], &acl_keys::QUERY),
        rule("receive", &all_messages, &["egress"], &acl_keys::READ),
        rule("rsu_put", &["put", "delete"], &["ingress"], &acl_keys::RSU_PUT),
        rule("rsu_token", &["liveliness_token"], &["ingress"], &acl_keys::RSU_TOKEN),
        rule("rsu_query", &["query"], &["ingress"], &acl_keys::RSU_QUERY),
        rule("cloud_serve", &["put", "delete", "declare_queryable", "reply"], &["ingress"], &acl_keys::CLOUD),
        rule("cloud_query", &["query"], &["ingress"], &acl_keys::READ),
        rule("router_all", &all_messages, &["ingress", "egress"], &acl_keys::READ),
        rule("admin_query", &["query"], &["ingress"], &acl_keys::ADMIN),
    ];
    let mut subjects = vec![r#"{"id":"anyone"}"#.to_owned()];
    let mut policies =
        vec![r#"{"id":"authenticated","rules":["read","query","receive"],"subjects":["anyone"]}"#.to_owned()];
    let unscoped: Vec<String> = ids
        .rsus
        .iter()
        .filter_map(|r| match r {
            RsuIdentity::Unscoped(cn) => Some(cn.clone()),
            RsuIdentity::Scoped { .. } => None,
        })
        .collect();
    for (role, names, role_rules) in [
        ("rsu", &unscoped, r#"["rsu_put","rsu_token","rsu_query"]"#),
        ("cloud", &ids.clouds, r#"["cloud_serve","cloud_query"]"#),
        ("router", &ids.routers, r#"["router_all"]"#),
        ("admin", &ids.admins, r#"["admin_query"]"#),
    ] {
        if names.is_empty() {
            continue;
        }
        subjects
            .push(format!(r#"{{"id":{role:?},"cert_common_names":{}}}"#, json_list(names.iter().map(String::as_str))));
        policies.push(format!(r#"{{"id":"{role}s","rules":{role_rules},"subjects":[{role:?}]}}"#));
    }
    // one subject, three rules and one policy per scoped RSU; the ids cannot collide with the
    // fixed ones above (an RSU id has no `:`)
    for r in &ids.rsus {
        let RsuIdentity::Scoped { rsu, intersections } = r else { continue };
        let keys = acl_keys::rsu_scoped(rsu, intersections);
        let put: Vec<&str> = keys.put.iter().map(String::as_str).collect();
        let (put_id, token_id, query_id, id) =
            (format!("rsu_put:{rsu}"), format!("rsu_token:{rsu}"), format!("rsu_query:{rsu}"), format!("rsu:{rsu}"));
        rules.push(rule(&put_id, &["put", "delete"], &["ingress"], &put));
        rules.push(rule(&token_id, &["liveliness_token"], &["ingress"], &[&keys.token]));
        rules.push(rule(&query_id, &["query"], &["ingress"], &[&keys.query]));
        subjects.push(format!(r#"{{"id":{id:?},"cert_common_names":[{:?}]}}"#, rsu.as_str()));
        policies.push(format!(r#"{{"id":{id:?},"rules":[{put_id:?},{token_id:?},{query_id:?}],"subjects":[{id:?}]}}"#));
    }
    Ok(format!(
        r#"{{"enabled":true,"default_permission":"deny","rules":[{}],"subjects":[{}],"policies":[{}]}}"#,
        rules.join(","),
        subjects.join(","),
        policies.join(",")
    ))
}

/// Adds [`access_control_json`] to `config` (a [`router`] preset made [`secure`]: the ACL
/// identifies nodes by their certificate's common name, so without mTLS every node would be
/// "anyone"). Refused identities ([`AclIdentities::validate`]) are a [`PresetError`] on the key
/// `access_control` naming the entry.
pub fn access_control(mut config: Config, ids: &AclIdentities) -> Result<Config, PresetError> {
    let json = access_control_json(ids).map_err(|e| PresetError {
        key: "access_control".to_owned(),
        value: e.value().to_owned(),
        message: e.to_string(),
    })?;
    set(&mut config, "access_control", json)?;
    Ok(config)
}

/// Publication QoS for a key kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qos {
    /// What to do when the network is congested.
    pub congestion_control: CongestionControl,
    /// Routing priority.
    pub priority: Priority,
    /// Send without batching.
    pub express: bool,
}

/// The QoS for a key kind.
pub fn qos(kind: KeyKind) -> Qos {
    match kind {
        KeyKind::State | KeyKind::Detections => {
            Qos { congestion_control: CongestionControl::Drop, priority: Priority::DataHigh, express: true }
        }
        KeyKind::Events | KeyKind::Control => {
            Qos { congestion_control: CongestionControl::Block, priority: Priority::Data, express: false }
        }
        KeyKind::Stats | KeyKind::Alive => {
            Qos { congestion_control: CongestionControl::Drop, priority: Priority::DataLow, express: false }
        }
    }
}

/// Declares a publisher on `key` with the QoS of its kind.
pub async fn declare_publisher(
    session: &zenoh::Session,
    key: &Key,
) -> zenoh::Result<zenoh::pubsub::Publisher<'static>> {
    let q = qos(key.kind());
    session
        .declare_publisher(key.to_string())
        .congestion_control(q.congestion_control)
        .priority(q.priority)
        .express(q.express)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_build_and_turn_multicast_off() {
        for c in [
            peer(&[loopback_tcp(7447)], &[]).unwrap(),
            client(&[loopback_tcp(7447)]).unwrap(),
            router(&[loopback_tcp(7448)], &[]).unwrap(),
        ] {
            assert_eq!(c.get_json("scouting/multicast/enabled").unwrap(), "false");
            // a sensor instant's frames are queued, not dropped (see DATA_HIGH_QUEUE_BATCHES)
            assert_eq!(c.get_json("transport/link/tx/queue/size/data_high").unwrap(), "4");
        }
        let c = peer(&[], &[loopback_tcp(9)]).unwrap();
        assert_eq!(c.get_json("mode").unwrap(), "\"peer\"");
        assert!(c.get_json("connect/endpoints").unwrap().contains("tcp/127.0.0.1:9"));
    }

    #[test]
    fn a_bad_endpoint_is_a_typed_error_naming_it() {
        let e = peer(&["nonsense".into()], &[]).unwrap_err();
        assert_eq!(e.key, "listen/endpoints");
        assert!(e.value.contains("nonsense"));
    }

    fn files() -> TlsFiles {
        TlsFiles { ca: "pki/ca.pem".into(), cert: "pki/rsu-a.pem".into(), key: "pki/rsu-a.key".into() }
    }

    #[test]
    fn the_secure_preset_is_tls_only_with_mutual_authentication() {
        let c = secure(router(&[loopback_tls(7447)], &[]).unwrap(), &files()).unwrap();
        assert_eq!(c.get_json("transport/link/protocols").unwrap(), r#"["tls"]"#);
        assert_eq!(c.get_json("transport/link/tls/enable_mtls").unwrap(), "true");
        assert_eq!(c.get_json("transport/link/tls/root_ca_certificate").unwrap(), r#""pki/ca.pem""#);
        assert_eq!(c.get_json("transport/link/tls/connect_certificate").unwrap(), r#""pki/rsu-a.pem""#);
        assert_eq!(c.get_json("transport/link/tls/listen_private_key").unwrap(), r#""pki/rsu-a.key""#);
        let e = secure(client(&[loopback_tcp(7447)]).unwrap(), &files()).unwrap_err();
        assert_eq!((e.key.as_str(), e.value.as_str()), ("connect/endpoints", "tcp/127.0.0.1:7447"));
    }

    #[test]
    fn the_access_control_section_is_accepted_by_zenoh_and_names_the_roles() {
        let ids = AclIdentities {
            rsus: vec!["rsu-a".into(), "rsu-b".into()],
            clouds: vec!["cloud".into()],
            routers: vec![],
            admins: vec!["ops-1".into()],
        };
        let c = access_control(secure(router(&[loopback_tls(7447)], &[]).unwrap(), &files()).unwrap(), &ids).unwrap();
        let acl: serde_json::Value = serde_json::from_str(&c.get_json("access_control").unwrap()).unwrap();
        assert_eq!(acl["enabled"], true);
        assert_eq!(acl["default_permission"], "deny");
        let subjects = acl["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 4, "anyone, rsu, cloud, admin (no routers named): {subjects:?}");
        assert_eq!(subjects[1]["cert_common_names"], serde_json::json!(["rsu-a", "rsu-b"]));
        assert_eq!(subjects[3]["cert_common_names"], serde_json::json!(["ops-1"]));
        // the state key is writable only under the rsu policy
        let rules = acl["rules"].as_array().unwrap();
        let puts_state: Vec<&str> = rules
            .iter()
            .filter(|r| r["flows"] == serde_json::json!(["ingress"]))
            .filter(|r| r["messages"].as_array().unwrap().iter().any(|m| m == "put"))
            .filter(|r| r["key_exprs"].as_array().unwrap().iter().any(|k| k == "corridor/*/ix/*/state"))
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(puts_state, vec!["rsu_put"]);
        // the admin key is queryable by admins and clouds only
        let queries_admin: Vec<&str> = rules
            .iter()
            .filter(|r| r["messages"].as_array().unwrap().iter().any(|m| m == "query"))
            .filter(|r| r["flows"].as_array().unwrap().iter().any(|f| f == "ingress"))
            .filter(|r| {
                r["key_exprs"].as_array().unwrap().iter().any(|k| k == "corridor/*/cloud/admin" || k == "corridor/**")
            })
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(queries_admin, vec!["cloud_query", "router_all", "admin_query"]);
    }

    /// The ingress `put` rules that allow `key`, by rule id (zenoh allows a put when a rule's key
    /// expression includes the key; these test keys contain no wildcard, so "includes" is a
    /// segment-wise match of `*` against one segment and `**` against the rest).
    fn put_rules_allowing<'a>(acl: &'a serde_json::Value, key: &str) -> Vec<&'a str> {
        fn includes(pattern: &str, key: &str) -> bool {
            let (p, k): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), key.split('/').collect());
            match p.iter().position(|s| *s == "**") {
                Some(i) => k.len() >= i && p[..i].iter().zip(&k).all(|(p, k)| *p == "*" || p == k),
                None => p.len() == k.len() && p.iter().zip(&k).all(|(p, k)| *p == "*" || p == k),
            }
        }
        acl["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["flows"] == serde_json::json!(["ingress"]))
            .filter(|r| r["messages"].as_array().unwrap().iter().any(|m| m == "put"))
            .filter(|r| r["key_exprs"].as_array().unwrap().iter().any(|k| includes(k.as_str().unwrap(), key)))
            .map(|r| r["id"].as_str().unwrap())
            .collect()
    }

    /// The rule ids of the policies naming subject `subject`.
    fn rules_of<'a>(acl: &'a serde_json::Value, subject: &str) -> Vec<&'a str> {
        acl["policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["subjects"].as_array().unwrap().iter().any(|s| s == subject))
            .flat_map(|p| p["rules"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()))
            .collect()
    }

    #[test]
    fn a_scoped_rsu_may_put_only_on_its_own_intersections_and_rsu_keys() {
        let ids = AclIdentities {
            rsus: vec!["rsu-a".into(), RsuIdentity::scoped("rsu-b", ["ix-b", "ix-c"]).unwrap()],
            clouds: vec!["cloud".into()],
            ..AclIdentities::default()
        };
        let c = access_control(secure(router(&[loopback_tls(7447)], &[]).unwrap(), &files()).unwrap(), &ids).unwrap();
        let acl: serde_json::Value = serde_json::from_str(&c.get_json("access_control").unwrap()).unwrap();
        // subjects: the unscoped RSU in `rsu`, the scoped one in its own subject
        let subjects = acl["subjects"].as_array().unwrap();
        let cns = |id: &str| subjects.iter().find(|s| s["id"] == id).map(|s| s["cert_common_names"].clone());
        assert_eq!(cns("rsu"), Some(serde_json::json!(["rsu-a"])));
        assert_eq!(cns("rsu:rsu-b"), Some(serde_json::json!(["rsu-b"])));
        assert_eq!(rules_of(&acl, "rsu:rsu-b"), vec!["rsu_put:rsu-b", "rsu_token:rsu-b", "rsu_query:rsu-b"]);
        assert_eq!(rules_of(&acl, "rsu"), vec!["rsu_put", "rsu_token", "rsu_query"]);
        // who may put where
        for (key, want) in [
            ("corridor/demo/ix/ix-a/state", vec!["rsu_put"]),
            ("corridor/demo/ix/ix-b/state", vec!["rsu_put", "rsu_put:rsu-b"]),
            ("corridor/demo/ix/ix-c/state/json", vec!["rsu_put", "rsu_put:rsu-b"]),
            ("corridor/other/ix/ix-b/events", vec!["rsu_put", "rsu_put:rsu-b"]),
            ("corridor/demo/ix/ix-a/events", vec!["rsu_put"]),
            ("corridor/demo/rsu/rsu-b/sensor/lidar/det", vec!["rsu_put", "rsu_put:rsu-b"]),
            ("corridor/demo/rsu/rsu-a/stats", vec!["rsu_put"]),
            ("corridor/demo/catalog", vec!["cloud_serve"]),
        ] {
            assert_eq!(put_rules_allowing(&acl, key), want, "{key}");
        }
        let rule = |id: &str| acl["rules"].as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap();
        assert_eq!(rule("rsu_token:rsu-b")["key_exprs"], serde_json::json!(["corridor/*/rsu/rsu-b/alive"]));
        assert_eq!(rule("rsu_query:rsu-b")["key_exprs"], serde_json::json!(["corridor/*/cloud/events/rsu-b"]));
    }

    #[test]
    fn rsu_identities_parse_from_the_command_line_form_and_bad_ones_name_the_value() {
        assert_eq!("rsu-a".parse::<RsuIdentity>().unwrap(), RsuIdentity::Unscoped("rsu-a".into()));
        let scoped: RsuIdentity = "rsu-a=ix-a,ix-b,ix-a".parse().unwrap();
        assert_eq!(scoped, RsuIdentity::scoped("rsu-a", ["ix-a", "ix-b"]).unwrap());
        assert_eq!(scoped.to_string(), "rsu-a=ix-a,ix-b");
        assert_eq!(scoped.cn(), "rsu-a");
        for (text, want) in [
            ("", "rsu identity ``: the certificate common name is empty"),
            ("=ix-a", "rsu identity `=ix-a`: the certificate common name is empty"),
            ("rsu-a=", "rsu identity `rsu-a=`: no intersection after `=`"),
            ("rsu-a=ix a", "rsu identity `rsu-a=ix a`: intersection id `ix a` has the character ' '"),
            ("rsu-a=ix-a,", "rsu identity `rsu-a=ix-a,`: intersection id is empty"),
            ("rsu-a=ix-a,ix/*", "rsu identity `rsu-a=ix-a,ix/*`: intersection id `ix/*` has the character '/'"),
            ("rsu a=ix-a", "rsu identity `rsu a=ix-a`: rsu id `rsu a` has the character ' '"),
        ] {
            let e = text.parse::<RsuIdentity>().unwrap_err();
            assert!(e.to_string().starts_with(want), "{text:?}: {e}");
            assert_eq!(e.value(), text);
        }
        let e = RsuIdentity::scoped("rsu-a", ["ix-a", ""]).unwrap_err();
        assert_eq!(e.value(), "rsu-a=ix-a,");
    }

    #[test]
    fn an_rsu_given_twice_or_an_empty_name_is_refused_by_the_preset() {
        let base = || secure(router(&[loopback_tls(7447)], &[]).unwrap(), &files()).unwrap();
        let twice =
            AclIdentities { rsus: vec!["rsu-a".into(), "rsu-a=ix-a".parse().unwrap()], ..AclIdentities::default() };
        let e = access_control(base(), &twice).unwrap_err();
        assert_eq!((e.key.as_str(), e.value.as_str()), ("access_control", "rsu-a"));
        assert!(e.message.contains("`rsu-a` is given more than once (`rsu-a` and `rsu-a=ix-a`)"), "{e}");
        let empty = AclIdentities { admins: vec![" ".into()], ..AclIdentities::default() };
        let e = access_control(base(), &empty).unwrap_err();
        assert_eq!(e.message, "admin identity ` `: the certificate common name is empty");
        let empty = AclIdentities { rsus: vec!["".into()], ..AclIdentities::default() };
        assert!(access_control(base(), &empty).is_err());
        // the scoped form turned into an identity without parsing it
        let unparsed = AclIdentities { rsus: vec!["rsu-a=ix-a".into()], ..AclIdentities::default() };
        let e = access_control(base(), &unparsed).unwrap_err();
        assert!(e.message.contains("an unscoped CN cannot contain `=`"), "{e}");
    }

    #[test]
    fn qos_per_kind() {
        assert_eq!(qos(KeyKind::State).congestion_control, CongestionControl::Drop);
        assert!(qos(KeyKind::State).express);
        assert_eq!(qos(KeyKind::State).priority, Priority::DataHigh);
        assert_eq!(qos(KeyKind::Events).congestion_control, CongestionControl::Block);
    }
}
