//! The HD map data model: lanes, connections, signal groups, stop lines,
//! crosswalks, junctions and conflict zones, all in one local ENU frame.
//!
//! Every position is `[east_m, north_m]` in the map's ENU frame, anchored at
//! [`HdMap::origin`] (WGS84) when the source has a geo reference. Importers
//! produce an [`HdMap`] and then call [`HdMap::normalize`], which sorts every
//! list and rounds every length to the millimetre, so that the canonical
//! encoding (and so the [`MapVersion`]) does not depend on the order of the
//! source file or on the last bits of floating-point arithmetic.

use corridor_model::{GeoPoint, LaneId, MapVersion, ObjectClass, SignalGroupId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use crate::canon;

/// Which source format a map was imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SourceFormat {
    /// SUMO `.net.xml` (optionally gzipped).
    Sumo,
    /// ASAM OpenDRIVE `.xodr`.
    OpenDrive,
    /// Lanelet2 OSM `.osm`.
    Lanelet2,
    /// corridor's own JSON (`.hdmap.json`), written by `cloud-control map import`.
    Json,
}

/// Road users a lane admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleClass {
    /// Passenger car, van.
    Car,
    /// Taxi.
    Taxi,
    /// Bus, coach.
    Bus,
    /// Truck, lorry, delivery.
    Truck,
    /// Motorcycle, moped.
    Motorcycle,
    /// Bicycle.
    Bicycle,
    /// Person on foot.
    Pedestrian,
    /// Tram, light rail.
    Tram,
    /// Train.
    Rail,
    /// Emergency and authority vehicles.
    Emergency,
}

impl VehicleClass {
    /// Every class, in bit order.
    pub const ALL: [VehicleClass; 10] = [
        VehicleClass::Car,
        VehicleClass::Taxi,
        VehicleClass::Bus,
        VehicleClass::Truck,
        VehicleClass::Motorcycle,
        VehicleClass::Bicycle,
        VehicleClass::Pedestrian,
        VehicleClass::Tram,
        VehicleClass::Rail,
        VehicleClass::Emergency,
    ];

    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The road-user class of a tracked object that this class covers.
    pub fn from_object(c: ObjectClass) -> Option<Self> {
        match c {
            ObjectClass::Car => Some(Self::Car),
            ObjectClass::Bus => Some(Self::Bus),
            ObjectClass::Truck => Some(Self::Truck),
            ObjectClass::Motorcycle => Some(Self::Motorcycle),
            ObjectClass::Cyclist => Some(Self::Bicycle),
            ObjectClass::Pedestrian => Some(Self::Pedestrian),
            _ => None,
        }
    }
}

/// A set of [`VehicleClass`]es (a bit set; serialised as a sorted list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ClassSet(pub u16);

impl ClassSet {
    /// No class.
    pub const NONE: ClassSet = ClassSet(0);
    /// Every road vehicle (not pedestrians, not rail).
    pub const ROAD_VEHICLES: ClassSet = ClassSet(0b10_0011_1111);
    /// Every class.
    pub const ALL: ClassSet = ClassSet(0b11_1111_1111);

    /// The set holding just `c`.
    pub fn only(c: VehicleClass) -> Self {
        Self(c.bit())
    }

    /// Adds `c`.
    pub fn insert(&mut self, c: VehicleClass) {
        self.0 |= c.bit();
    }

    /// Removes `c`.
    pub fn remove(&mut self, c: VehicleClass) {
        self.0 &= !c.bit();
    }

    /// Whether `c` is in the set.
    pub fn contains(self, c: VehicleClass) -> bool {
        self.0 & c.bit() != 0
    }

    /// Whether a tracked object of class `c` may use the lane (unknown objects: any class).
    pub fn admits_object(self, c: ObjectClass) -> bool {
        match VehicleClass::from_object(c) {
            Some(v) => self.contains(v),
            None => self.0 != 0,
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The classes in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = VehicleClass> {
        VehicleClass::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl FromIterator<VehicleClass> for ClassSet {
    fn from_iter<I: IntoIterator<Item = VehicleClass>>(iter: I) -> Self {
        let mut s = ClassSet::NONE;
        for c in iter {
            s.insert(c);
        }
        s
    }
}

impl Serialize for ClassSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ClassSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<VehicleClass>::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

/// What a lane is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LaneKind {
    /// A normal lane on a road (an ingress or egress lane of a junction, or a link between them).
    Driving,
    /// A lane inside a junction that joins an ingress to an egress lane (SUMO internal lane,
    /// OpenDRIVE connecting road).
    Internal,
    /// A sidewalk or footway.
    Sidewalk,
    /// A bicycle lane.
    Bicycle,
    /// Tram or rail track.
    Rail,
    /// Anything else (shoulder, parking, ...).
    Other,
}

/// Which way traffic flows along a lane's centre line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TravelDirection {
    /// Along the centre line (from its first point to its last).
    Forward,
    /// Against the centre line.
    Backward,
    /// Both ways.
    Both,
}

/// One lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lane {
    /// Lane id from the source (SUMO lane id, OpenDRIVE `road/section/lane`, Lanelet2 id).
    pub id: LaneId,
    /// The road (SUMO edge, OpenDRIVE road, Lanelet2: none) it belongs to.
    pub road: Option<String>,
    /// The junction it lies in, for internal lanes.
    pub junction: Option<String>,
    /// What the lane is for.
    pub kind: LaneKind,
    /// Centre line, ENU metres, at least two points, in the order of `s`.
    pub centre_line_m: Vec<[f64; 2]>,
    /// Lane width at each centre-line point, metres (so the width can vary along `s`).
    pub width_m: Vec<f64>,
    /// Speed limit, m/s, if the source gives one.
    pub speed_limit_mps: Option<f64>,
    /// Who may use it.
    pub allowed: ClassSet,
    /// Which way traffic flows along the centre line.
    pub direction: TravelDirection,
    /// Lanes that continue this one (lane links), sorted.
    pub successors: Vec<LaneId>,
}

impl Lane {
    /// Length of the centre line, metres.
    pub fn length_m(&self) -> f64 {
        crate::geom::polyline_length_m(&self.centre_line_m)
    }
}

/// What a connection does at the junction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Manoeuvre {
    /// Straight on.
    Straight,
    /// Left turn (including partial/half left).
    Left,
    /// Right turn (including partial/half right).
    Right,
    /// U-turn.
    UTurn,
    /// The source does not say and the geometry is not clear.
    Unknown,
}

/// Reference to a signal group: the controller (SUMO TLS id, OpenDRIVE controller, Lanelet2
/// traffic-light regulatory element) and the group within it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SignalRef {
    /// Controller id from the source.
    pub controller: String,
    /// Group within the controller (SUMO `linkIndex`).
    pub group: SignalGroupId,
}

/// A movement through a junction: ingress lane -> egress lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Index in [`HdMap::connections`] after normalisation.
    pub id: u32,
    /// The lane traffic comes from.
    pub ingress: LaneId,
    /// The lane traffic goes to.
    pub egress: LaneId,
    /// Internal lanes on the way, in order (may be empty).
    pub via: Vec<LaneId>,
    /// The junction the movement crosses, if known.
    pub junction: Option<String>,
    /// Straight, left, right, U-turn.
    pub manoeuvre: Manoeuvre,
    /// The signal group controlling it, if signalised.
    pub signal: Option<SignalRef>,
    /// Ids of the conflict zones the movement crosses, sorted.
    pub conflict_zones: Vec<u32>,
    /// Right of way when the signal is off or absent (SUMO link state, Lanelet2 `right_of_way`).
    pub priority: Priority,
}

/// Who goes first on a movement, apart from any signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Priority {
    /// The source does not say.
    #[default]
    Unknown,
    /// Has right of way (SUMO `M`, Lanelet2 `right_of_way` member).
    Major,
    /// Must yield (SUMO `m`, Lanelet2 `yield` member).
    Yield,
    /// Must stop, then yield (SUMO `s`).
    Stop,
    /// All-way stop (SUMO `w`).
    AllWayStop,
    /// Equal rank: right before left / left before right (SUMO `=`).
    Equal,
    /// Zipper merge (SUMO `Z`).
    Zipper,
}

/// A signal group of a controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalGroup {
    /// Controller and group.
    pub signal: SignalRef,
    /// The source's own name for it (SUMO `tl:linkIndex`, OpenDRIVE signal id, Lanelet2 id).
    pub source_id: String,
    /// The junction(s) it controls, sorted.
    pub junctions: Vec<String>,
}

/// A stop line at the end of an ingress lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopLine {
    /// Id (source id, or derived from the lane).
    pub id: String,
    /// The lane it ends, if known.
    pub lane: Option<LaneId>,
    /// The line, ENU metres (two or more points).
    pub line_m: Vec<[f64; 2]>,
    /// Signal group that governs it, if any.
    pub signal: Option<SignalRef>,
}

/// A pedestrian crossing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crosswalk {
    /// Id from the source.
    pub id: String,
    /// The junction it belongs to, if any.
    pub junction: Option<String>,
    /// Centre line across the road, ENU metres.
    pub centre_line_m: Vec<[f64; 2]>,
    /// Width, metres.
    pub width_m: f64,
    /// Signal group that governs it, if any.
    pub signal: Option<SignalRef>,
}

/// A junction (intersection node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Junction {
    /// Id from the source.
    pub id: String,
    /// Source type (SUMO `traffic_light`, `priority`, ...; OpenDRIVE `default`, ...).
    pub kind: String,
    /// Centre, ENU metres.
    pub centre_m: [f64; 2],
    /// Outline, ENU metres (may be empty).
    pub outline_m: Vec<[f64; 2]>,
}

/// Where the paths of two movements through a junction cross or merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConflictZone {
    /// Index in [`HdMap::conflict_zones`].
    pub id: u32,
    /// The junction.
    pub junction: Option<String>,
    /// Where the paths meet, ENU metres.
    pub centre_m: [f64; 2],
    /// The two connections (ids, lower first).
    pub connections: [u32; 2],
}

/// One intersection's (or one network's) HD map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HdMap {
    /// The format it came from (not part of the hash).
    pub source_format: SourceFormat,
    /// WGS84 point of the ENU origin, when the source is geo-referenced (or given `--origin`).
    pub origin: Option<GeoPoint>,
    /// Lanes, sorted by id.
    pub lanes: Vec<Lane>,
    /// Connections, sorted by (ingress, egress, via).
    pub connections: Vec<Connection>,
    /// Signal groups, sorted by (controller, group).
    pub signal_groups: Vec<SignalGroup>,
    /// Stop lines, sorted by id.
    pub stop_lines: Vec<StopLine>,
    /// Crosswalks, sorted by id.
    pub crosswalks: Vec<Crosswalk>,
    /// Junctions, sorted by id.
    pub junctions: Vec<Junction>,
    /// Conflict zones, sorted by connection pair.
    pub conflict_zones: Vec<ConflictZone>,
}

/// Counts for a summary (what `cloud-control map inspect` prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapSummary {
    /// Number of lanes (all kinds).
    pub lanes: usize,
    /// Number of connections.
    pub connections: usize,
    /// Number of signal groups.
    pub signal_groups: usize,
    /// Number of crosswalks.
    pub crosswalks: usize,
    /// Number of junctions.
    pub junctions: usize,
    /// Number of stop lines.
    pub stop_lines: usize,
    /// Number of conflict zones.
    pub conflict_zones: usize,
    /// Number of distinct signal controllers.
    pub controllers: usize,
    /// Content hash (hex).
    pub hash: String,
}

fn round_mm(v: f64) -> f64 {
    let r = (v * 1000.0).round() / 1000.0;
    if r == 0.0 {
        0.0 // no negative zero
    } else {
        r
    }
}

fn round_pts(pts: &mut [[f64; 2]]) {
    for p in pts {
        p[0] = round_mm(p[0]);
        p[1] = round_mm(p[1]);
    }
}

impl HdMap {
    /// An empty map.
    pub fn empty(source_format: SourceFormat) -> Self {
        Self {
            source_format,
            origin: None,
            lanes: Vec::new(),
            connections: Vec::new(),
            signal_groups: Vec::new(),
            stop_lines: Vec::new(),
            crosswalks: Vec::new(),
            junctions: Vec::new(),
            conflict_zones: Vec::new(),
        }
    }

    /// Puts the map in canonical form: every list sorted, every length rounded to the millimetre
    /// (speeds to mm/s, the origin to 1e-9 degrees), connection and conflict-zone ids renumbered.
    /// Idempotent. Importers call it; call it again after editing a map by hand.
    pub fn normalize(&mut self) {
        if let Some(o) = &mut self.origin {
            o.lat_deg = (o.lat_deg * 1e9).round() / 1e9;
            o.lon_deg = (o.lon_deg * 1e9).round() / 1e9;
            o.alt_m = round_mm(o.alt_m);
        }
        for l in &mut self.lanes {
            round_pts(&mut l.centre_line_m);
            for w in &mut l.width_m {
                *w = round_mm(*w);
            }
            l.speed_limit_mps = l.speed_limit_mps.map(round_mm);
            l.successors.sort();
            l.successors.dedup();
        }
        self.lanes.sort_by(|a, b| a.id.cmp(&b.id));
        // connections: sort, renumber, and remap conflict zone references
        let old_ids: Vec<u32> = self.connections.iter().map(|c| c.id).collect();
        let mut order: Vec<usize> = (0..self.connections.len()).collect();
        order.sort_by(|&a, &b| {
            let (ca, cb) = (&self.connections[a], &self.connections[b]);
            (&ca.ingress, &ca.egress, &ca.via, &ca.signal).cmp(&(&cb.ingress, &cb.egress, &cb.via, &cb.signal))
        });
        let mut remap = std::collections::HashMap::new();
        let mut conns = Vec::with_capacity(self.connections.len());
        for (new_id, &i) in order.iter().enumerate() {
            let mut c = self.connections[i].clone();
            remap.insert(old_ids[i], new_id as u32);
            c.id = new_id as u32;
            conns.push(c);
        }
        for z in &mut self.conflict_zones {
            let a = remap.get(&z.connections[0]).copied().unwrap_or(u32::MAX);
            let b = remap.get(&z.connections[1]).copied().unwrap_or(u32::MAX);
            z.connections = [a.min(b), a.max(b)];
            z.centre_m = [round_mm(z.centre_m[0]), round_mm(z.centre_m[1])];
        }
        self.conflict_zones.retain(|z| z.connections[1] != u32::MAX);
        self.conflict_zones.sort_by_key(|z| z.connections);
        self.conflict_zones.dedup_by(|a, b| a.connections == b.connections);
        for (i, z) in self.conflict_zones.iter_mut().enumerate() {
            z.id = i as u32;
        }
        for c in &mut conns {
            c.conflict_zones.clear();
        }
        for z in &self.conflict_zones {
            for &c in &z.connections {
                if let Some(conn) = conns.get_mut(c as usize) {
                    conn.conflict_zones.push(z.id);
                }
            }
        }
        self.connections = conns;
        for g in &mut self.signal_groups {
            g.junctions.sort();
            g.junctions.dedup();
        }
        self.signal_groups.sort_by(|a, b| a.signal.cmp(&b.signal));
        self.signal_groups.dedup_by(|a, b| a.signal == b.signal);
        for s in &mut self.stop_lines {
            round_pts(&mut s.line_m);
        }
        self.stop_lines.sort_by(|a, b| a.id.cmp(&b.id));
        for c in &mut self.crosswalks {
            round_pts(&mut c.centre_line_m);
            c.width_m = round_mm(c.width_m);
        }
        self.crosswalks.sort_by(|a, b| a.id.cmp(&b.id));
        for j in &mut self.junctions {
            j.centre_m = [round_mm(j.centre_m[0]), round_mm(j.centre_m[1])];
            round_pts(&mut j.outline_m);
        }
        self.junctions.sort_by(|a, b| a.id.cmp(&b.id));
    }

    /// The canonical encoding the version is hashed over (see [`crate::canon`]).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        canon::encode(self)
    }

    /// The map's version: BLAKE3 of [`HdMap::canonical_bytes`]. Stable across runs and machines
    /// for a normalised map.
    pub fn version(&self) -> MapVersion {
        MapVersion(*blake3::hash(&self.canonical_bytes()).as_bytes())
    }

    /// A lane by id (binary search: lanes are sorted after [`HdMap::normalize`]).
    pub fn lane(&self, id: &LaneId) -> Option<&Lane> {
        self.lanes.binary_search_by(|l| l.id.cmp(id)).ok().and_then(|i| self.lanes.get(i))
    }

    /// Connections leaving `ingress`.
    pub fn connections_from<'a>(&'a self, ingress: &'a LaneId) -> impl Iterator<Item = &'a Connection> + 'a {
        self.connections.iter().filter(move |c| &c.ingress == ingress)
    }

    /// Distinct signal controllers.
    pub fn controllers(&self) -> BTreeSet<&str> {
        self.signal_groups.iter().map(|g| g.signal.controller.as_str()).collect()
    }

    /// Counts and hash.
    pub fn summary(&self) -> MapSummary {
        MapSummary {
            lanes: self.lanes.len(),
            connections: self.connections.len(),
            signal_groups: self.signal_groups.len(),
            crosswalks: self.crosswalks.len(),
            junctions: self.junctions.len(),
            stop_lines: self.stop_lines.len(),
            conflict_zones: self.conflict_zones.len(),
            controllers: self.controllers().len(),
            hash: self.version().to_hex(),
        }
    }

    /// Our own JSON form (what `cloud-control map import --out x.hdmap.json` writes).
    pub fn to_json(&self) -> String {
        // serialising plain data with string keys cannot fail
        serde_json::to_string(self).unwrap_or_default()
    }
}
