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
//! must not be lost (block under congestion); stats are low priority.
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
//! on RSU keys; only cloud identities on map, rules, catalog and trust keys (and only they may
//! declare those queryables and reply on them); only admin identities (and clouds) may query
//! cloud-control's admin key (`publish`, `rollback`, `status`, `trust push`); every
//! authenticated node may subscribe and query maps, rules, catalog and trust. Anything not
//! allowed is denied (`default_permission: "deny"`).
//! `docs/security.md` ("Transport: TLS and access control") has the operator's commands.

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

fn base(mode: &str, listen: &[String], connect: &[String]) -> Result<Config, PresetError> {
    let mut c = Config::default();
    set(&mut c, "mode", format!("{mode:?}"))?;
    set(&mut c, "scouting/multicast/enabled", "false".into())?;
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
/// Every name must be a certificate CN; an empty list means "nobody in that role".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AclIdentities {
    /// RSUs (and the sensors and controllers that feed them): may publish intersection state,
    /// events and RSU keys, declare their liveliness token, upload events.
    pub rsus: Vec<String>,
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

/// The key expressions each role may write, for the ACL and the docs.
pub mod acl_keys {
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
}

fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(","))
}

/// The zenoh `access_control` section (JSON) for a router that enforces [`AclIdentities`]:
/// default deny; every authenticated node may subscribe to `corridor/**`, query maps, rules,
/// catalog and trust, and receive (egress) anything on `corridor/**`; RSUs may additionally
/// put on [`acl_keys::RSU_PUT`], declare [`acl_keys::RSU_TOKEN`] and query
/// [`acl_keys::RSU_QUERY`]; clouds may put, declare queryables on and reply on
/// [`acl_keys::CLOUD`], and query anything under `corridor/**`; routers may do anything on
/// `corridor/**`; admins may query [`acl_keys::ADMIN`]. A vehicle (any other CN) can thus only
/// subscribe and query maps, rules, catalog and trust: its puts on a state key and its admin
/// queries are dropped at the router's ingress.
///
/// Zenoh requires each subject property list to be non-empty: a role with no names gets no
/// subject (and so no rights).
pub fn access_control_json(ids: &AclIdentities) -> String {
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
    let rules = [
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
    for (role, names, rules) in [
        ("rsu", &ids.rsus, r#"["rsu_put","rsu_token","rsu_query"]"#),
        ("cloud", &ids.clouds, r#"["cloud_serve","cloud_query"]"#),
        ("router", &ids.routers, r#"["router_all"]"#),
        ("admin", &ids.admins, r#"["admin_query"]"#),
    ] {
        if names.is_empty() {
            continue;
        }
        subjects
            .push(format!(r#"{{"id":{role:?},"cert_common_names":{}}}"#, json_list(names.iter().map(String::as_str))));
        policies.push(format!(r#"{{"id":"{role}s","rules":{rules},"subjects":[{role:?}]}}"#));
    }
    format!(
        r#"{{"enabled":true,"default_permission":"deny","rules":[{}],"subjects":[{}],"policies":[{}]}}"#,
        rules.join(","),
        subjects.join(","),
        policies.join(",")
    )
}

/// Adds [`access_control_json`] to `config` (a [`router`] preset made [`secure`]: the ACL
/// identifies nodes by their certificate's common name, so without mTLS every node would be
/// "anyone").
pub fn access_control(mut config: Config, ids: &AclIdentities) -> Result<Config, PresetError> {
    set(&mut config, "access_control", access_control_json(ids))?;
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

    #[test]
    fn qos_per_kind() {
        assert_eq!(qos(KeyKind::State).congestion_control, CongestionControl::Drop);
        assert!(qos(KeyKind::State).express);
        assert_eq!(qos(KeyKind::State).priority, Priority::DataHigh);
        assert_eq!(qos(KeyKind::Events).congestion_control, CongestionControl::Block);
    }
}
