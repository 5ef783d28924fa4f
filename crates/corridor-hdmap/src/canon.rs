//! The canonical encoding of an [`HdMap`], which its content hash ([`MapVersion`]) is taken over.
//!
//! Layout (all integers little-endian):
//! - magic `b"corridor-hdmap/2\n"`;
//! - every string: `u32` byte length, then UTF-8 bytes; `Option<T>`: `0u8`, or `1u8` then `T`;
//! - every list: `u32` count, then the items, in the (sorted) order [`HdMap::normalize`] leaves;
//! - every length or coordinate: `i64` millimetres (`round(v * 1000)`); speeds: mm/s;
//!   latitude/longitude: `i64` nanodegrees. Integers, not floats, so the bytes do not depend
//!   on the last bits of floating-point arithmetic on one machine or another;
//! - enums: one `u8` tag (their declaration order).
//!
//! Sections in order: origin, lanes, connections, signal groups, stop lines, crosswalks,
//! junctions, conflict zones. The source format is *not* encoded: the same content is the
//! same version. Changing this layout changes every map's version: bump the magic.
//!
//! [`HdMap`]: crate::HdMap
//! [`MapVersion`]: corridor_model::MapVersion
//! [`HdMap::normalize`]: crate::HdMap::normalize

use crate::model::{HdMap, SignalRef};
use corridor_model::LaneId;

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn mm(&mut self, v: f64) {
        // `as` saturates on overflow and maps NaN to 0: total, never panics
        self.i64((v * 1000.0).round() as i64);
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    fn lane(&mut self, l: &LaneId) {
        self.str(l.as_str());
    }
    fn pts(&mut self, pts: &[[f64; 2]]) {
        self.len(pts.len());
        for p in pts {
            self.mm(p[0]);
            self.mm(p[1]);
        }
    }
    fn signal(&mut self, s: Option<&SignalRef>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(&s.controller);
                self.u32(u32::from(s.group.0));
            }
        }
    }
}

/// The canonical bytes of `map` (normalise it first for a stable result).
pub fn encode(map: &HdMap) -> Vec<u8> {
    let mut w = W(Vec::with_capacity(64 * 1024));
    w.0.extend_from_slice(b"corridor-hdmap/2\n");
    match &map.origin {
        None => w.u8(0),
        Some(o) => {
            w.u8(1);
            w.i64((o.lat_deg * 1e9).round() as i64);
            w.i64((o.lon_deg * 1e9).round() as i64);
            w.mm(o.alt_m);
        }
    }
    w.len(map.lanes.len());
    for l in &map.lanes {
        w.lane(&l.id);
        w.opt_str(l.road.as_deref());
        w.opt_str(l.junction.as_deref());
        w.u8(l.kind as u8);
        w.pts(&l.centre_line_m);
        w.len(l.width_m.len());
        for v in &l.width_m {
            w.mm(*v);
        }
        match l.speed_limit_mps {
            None => w.u8(0),
            Some(v) => {
                w.u8(1);
                w.mm(v);
            }
        }
        w.u32(u32::from(l.allowed.0));
        w.u8(l.direction as u8);
        w.len(l.successors.len());
        for s in &l.successors {
            w.lane(s);
        }
    }
    w.len(map.connections.len());
    for c in &map.connections {
        w.u32(c.id);
        w.lane(&c.ingress);
        w.lane(&c.egress);
        w.len(c.via.len());
        for v in &c.via {
            w.lane(v);
        }
        w.opt_str(c.junction.as_deref());
        w.u8(c.manoeuvre as u8);
        w.signal(c.signal.as_ref());
        w.len(c.conflict_zones.len());
        for z in &c.conflict_zones {
            w.u32(*z);
        }
        w.u8(c.priority as u8);
    }
    w.len(map.signal_groups.len());
    for g in &map.signal_groups {
        w.signal(Some(&g.signal));
        w.str(&g.source_id);
        w.len(g.junctions.len());
        for j in &g.junctions {
            w.str(j);
        }
    }
    w.len(map.stop_lines.len());
    for s in &map.stop_lines {
        w.str(&s.id);
        w.opt_str(s.lane.as_ref().map(LaneId::as_str));
        w.pts(&s.line_m);
        w.signal(s.signal.as_ref());
    }
    w.len(map.crosswalks.len());
    for c in &map.crosswalks {
        w.str(&c.id);
        w.opt_str(c.junction.as_deref());
        w.pts(&c.centre_line_m);
        w.mm(c.width_m);
        w.signal(c.signal.as_ref());
    }
    w.len(map.junctions.len());
    for j in &map.junctions {
        w.str(&j.id);
        w.str(&j.kind);
        w.mm(j.centre_m[0]);
        w.mm(j.centre_m[1]);
        w.pts(&j.outline_m);
    }
    w.len(map.conflict_zones.len());
    for z in &map.conflict_zones {
        w.u32(z.id);
        w.opt_str(z.junction.as_deref());
        w.mm(z.centre_m[0]);
        w.mm(z.centre_m[1]);
        w.u32(z.connections[0]);
        w.u32(z.connections[1]);
    }
    w.0
}
