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

    #[test]
    fn qos_per_kind() {
        assert_eq!(qos(KeyKind::State).congestion_control, CongestionControl::Drop);
        assert!(qos(KeyKind::State).express);
        assert_eq!(qos(KeyKind::State).priority, Priority::DataHigh);
        assert_eq!(qos(KeyKind::Events).congestion_control, CongestionControl::Block);
    }
}
