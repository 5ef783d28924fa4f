//! Adapter from `corridor-hdmap`'s [`HdMap`] to [`MapFacts`] (feature `hdmap`).
//!
//! The rules core never reads map internals; this is the one place that does.
//! Lanes keep their source ids and ENU centre lines (for zone scopes); the
//! map's content hash becomes the version the rules record. HD maps carry no
//! time zone yet, so rules files name theirs.

use corridor_hdmap::HdMap;

use crate::facts::{LaneFacts, MapFacts};

/// The facts the validator needs from an HD map.
pub fn facts(map: &HdMap) -> MapFacts {
    MapFacts {
        version: map.version(),
        lanes: map
            .lanes
            .iter()
            .map(|l| (l.id.clone(), LaneFacts { centre_line_enu_m: l.centre_line_m.clone() }))
            .collect(),
        time_zone: None,
    }
}
