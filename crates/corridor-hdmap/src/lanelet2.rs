//! Lanelet2 OSM importer (DOM, roxmltree).
//!
//! Nodes hold WGS84 lat/lon; they are placed in an ENU frame at [`ImportOptions::origin`]
//! or, by default, at the centre of the nodes' extent. Each `type=lanelet` relation becomes a
//! lane: its left and right bounds (oriented alike: the left bound is reversed when it runs
//! against the right one) are resampled to the same number of points, the centre line is
//! their midpoint and the width their distance. `subtype=crosswalk` lanelets become
//! crosswalks. Lanelet B follows lanelet A (a connection A -> B) when A's bounds end at the
//! nodes where B's bounds start, as in Lanelet2 itself; lanelets with `one_way=no` also
//! connect the other way.
//!
//! Regulatory elements: `traffic_light` -> one signal group each (controller = the element's
//! id, group 0), its `ref_line` ways -> stop lines; `speed_limit` -> the lanes' speed limit
//! where the value can be read; `right_of_way` -> [`Priority::Major`] / [`Priority::Yield`] on
//! the connections leaving its `right_of_way` / `yield` lanelets, its `ref_line` -> stop lines;
//! others (traffic signs, road markings, Autoware crosswalks) are skipped with a warning.

use std::collections::{BTreeMap, HashMap};

use corridor_model::{EnuFrame, GeoPoint, LaneId, SignalGroupId};
use roxmltree::Node;

use crate::error::{ImportError, ImportReport, Location};
use crate::geom;
use crate::georef::Georef;
use crate::model::*;
use crate::xml::{self, children, f64_req, loc, req};
use crate::{ImportOptions, Imported};

struct Way<'a> {
    nodes: Vec<i64>,
    node: Node<'a, 'a>,
}

struct Rel<'a> {
    id: i64,
    node: Node<'a, 'a>,
    tags: HashMap<&'a str, &'a str>,
    members: Vec<(&'a str, i64, &'a str)>, // (type, ref, role)
}

fn tags<'a>(n: Node<'a, 'a>) -> HashMap<&'a str, &'a str> {
    children(n, "tag").filter_map(|t| Some((t.attribute("k")?, t.attribute("v")?))).collect()
}

fn parse_id(file: &str, n: Node<'_, '_>, k: &'static str) -> Result<i64, ImportError> {
    let v = req(file, n, k)?;
    v.trim().parse::<i64>().map_err(|_| xml::bad(file, n, k, v, "not an integer id"))
}

/// Reads a speed like `50`, `50 km/h`, `30mph`, `13.9 m/s` (default km/h) to m/s.
fn parse_speed(v: &str) -> Option<f64> {
    let v = v.trim();
    let num_end = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let x: f64 = v.get(..num_end)?.parse().ok()?;
    let unit = v.get(num_end..)?.trim();
    let f = match unit {
        "" | "km/h" | "kmh" | "kph" => 1.0 / 3.6,
        "mph" => 0.447_04,
        "m/s" | "mps" => 1.0,
        _ => return None,
    };
    Some(x * f).filter(|s| s.is_finite() && *s > 0.0)
}

/// Imports a Lanelet2 OSM map from its bytes. `file` is used in messages.
pub fn import_lanelet2(file: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Imported, ImportError> {
    let text = xml::utf8(file, bytes)?;
    let doc = xml::parse(file, text)?;
    let root = doc.root_element();
    if root.tag_name().name() != "osm" {
        return Err(ImportError::Invalid {
            file: file.into(),
            message: format!("root element is <{}>, expected <osm>", root.tag_name().name()),
        });
    }
    let mut report = ImportReport::default();
    let mut nodes: HashMap<i64, GeoPoint> = HashMap::new();
    let mut ways: HashMap<i64, Way<'_>> = HashMap::new();
    let mut rels: Vec<Rel<'_>> = Vec::new();
    for n in root.children().filter(|c| c.is_element()) {
        match n.tag_name().name() {
            "node" => {
                let id = parse_id(file, n, "id")?;
                let lat = f64_req(file, n, "lat")?;
                let lon = f64_req(file, n, "lon")?;
                if lat.abs() > 90.0 || lon.abs() > 180.0 {
                    return Err(xml::bad(file, n, "lat", &format!("{lat},{lon}"), "latitude/longitude out of range"));
                }
                nodes.insert(id, GeoPoint::new(lat, lon));
            }
            "way" => {
                let id = parse_id(file, n, "id")?;
                let nds = children(n, "nd").map(|nd| parse_id(file, nd, "ref")).collect::<Result<Vec<_>, _>>()?;
                ways.insert(id, Way { nodes: nds, node: n });
            }
            "relation" => {
                let id = parse_id(file, n, "id")?;
                let members = children(n, "member")
                    .map(|m| Ok((req(file, m, "type")?, parse_id(file, m, "ref")?, m.attribute("role").unwrap_or(""))))
                    .collect::<Result<Vec<_>, ImportError>>()?;
                rels.push(Rel { id, node: n, tags: tags(n), members });
            }
            _ => {}
        }
    }
    // origin: given, or the centre of the nodes' extent
    let origin = match opts.origin {
        Some(o) => o,
        None => {
            let mut bb = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
            for p in nodes.values() {
                bb = [bb[0].min(p.lat_deg), bb[1].min(p.lon_deg), bb[2].max(p.lat_deg), bb[3].max(p.lon_deg)];
            }
            if !bb[0].is_finite() {
                return Err(ImportError::Invalid { file: file.into(), message: "no nodes".into() });
            }
            GeoPoint::new((bb[0] + bb[2]) / 2.0, (bb[1] + bb[3]) / 2.0)
        }
    };
    let georef = Georef::Geographic { frame: EnuFrame::new(origin) };
    let mut enu_cache: HashMap<i64, [f64; 2]> = HashMap::new();
    let mut way_pts = |wid: i64, at: &dyn Fn() -> Location| -> Result<(Vec<i64>, Vec<[f64; 2]>), ImportError> {
        let w = ways.get(&wid).ok_or_else(|| ImportError::Dangling {
            at: Box::new(at()),
            kind: "way",
            target: wid.to_string(),
        })?;
        let mut pts = Vec::with_capacity(w.nodes.len());
        for nid in &w.nodes {
            let p = match enu_cache.get(nid) {
                Some(p) => *p,
                None => {
                    let g = nodes.get(nid).ok_or_else(|| ImportError::Dangling {
                        at: Box::new(loc(file, w.node)),
                        kind: "node",
                        target: nid.to_string(),
                    })?;
                    let p = georef.enu(g.lon_deg, g.lat_deg);
                    enu_cache.insert(*nid, p);
                    p
                }
            };
            pts.push(p);
        }
        Ok((w.nodes.clone(), pts))
    };

    let mut map = HdMap::empty(SourceFormat::Lanelet2);
    map.origin = Some(origin);
    let rel_by_id: HashMap<i64, usize> = rels.iter().enumerate().map(|(i, r)| (r.id, i)).collect();

    // regulatory elements
    let mut tl_signal: HashMap<i64, SignalRef> = HashMap::new();
    let mut speed_of_regelem: HashMap<i64, f64> = HashMap::new();
    let mut priority: HashMap<String, Priority> = HashMap::new();
    let mut other_rel = 0usize;
    let mut first_other: Option<Location> = None;
    for r in &rels {
        match r.tags.get("type").copied() {
            Some("regulatory_element") => match r.tags.get("subtype").copied() {
                Some("traffic_light") => {
                    let s = SignalRef { controller: r.id.to_string(), group: SignalGroupId(0) };
                    tl_signal.insert(r.id, s.clone());
                    map.signal_groups.push(SignalGroup {
                        signal: s.clone(),
                        source_id: r.id.to_string(),
                        junctions: Vec::new(),
                    });
                    for (ty, wid, role) in &r.members {
                        if *ty == "way" && *role == "ref_line" {
                            let (_, pts) = way_pts(*wid, &|| loc(file, r.node))?;
                            map.stop_lines.push(StopLine {
                                id: format!("{}:{}", r.id, wid),
                                lane: None,
                                line_m: pts,
                                signal: Some(s.clone()),
                            });
                        }
                    }
                }
                Some("speed_limit") => {
                    let v =
                        r.tags.get("speed_limit").copied().and_then(parse_speed).or_else(|| {
                            r.tags.get("sign_type").and_then(|t| t.rsplit('-').next()).and_then(parse_speed)
                        });
                    match v {
                        Some(v) => {
                            speed_of_regelem.insert(r.id, v);
                        }
                        None => report.warn(
                            loc(file, r.node),
                            "speed_limit regulatory element without a readable value; ignored",
                        ),
                    }
                }
                Some("right_of_way") => {
                    for (ty, id, role) in &r.members {
                        match (*ty, *role) {
                            ("relation", "right_of_way") => {
                                priority.insert(id.to_string(), Priority::Major);
                            }
                            ("relation", "yield") => {
                                priority.insert(id.to_string(), Priority::Yield);
                            }
                            ("way", "ref_line") => {
                                let (_, pts) = way_pts(*id, &|| loc(file, r.node))?;
                                map.stop_lines.push(StopLine {
                                    id: format!("{}:{}", r.id, id),
                                    lane: None,
                                    line_m: pts,
                                    signal: None,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                Some(other) => {
                    report.warn(loc(file, r.node), format!("regulatory element `{other}` not modelled; skipped"))
                }
                None => report.warn(loc(file, r.node), "regulatory element without subtype; skipped"),
            },
            Some("lanelet") => {}
            _ => {
                other_rel += 1;
                first_other.get_or_insert_with(|| loc(file, r.node));
            }
        }
    }
    if let Some(at) = first_other {
        report.warn(at, format!("{other_rel} relation(s) that are neither lanelets nor regulatory elements (areas, multipolygons) skipped"));
    }

    // lanelets
    struct Ll {
        id: String,
        left_ends: (i64, i64),
        right_ends: (i64, i64),
        both: bool,
        signal: Option<SignalRef>,
    }
    let mut lls: Vec<Ll> = Vec::new();
    for r in &rels {
        if r.tags.get("type").copied() != Some("lanelet") {
            continue;
        }
        let at = || loc(file, r.node);
        let find = |role: &str| r.members.iter().find(|(ty, _, ro)| *ty == "way" && *ro == role).map(|m| m.1);
        let left = find("left").ok_or_else(|| ImportError::Invalid {
            file: file.into(),
            message: format!("{}: lanelet without a left bound", at()),
        })?;
        let right = find("right").ok_or_else(|| ImportError::Invalid {
            file: file.into(),
            message: format!("{}: lanelet without a right bound", at()),
        })?;
        let (mut lids, mut lpts) = way_pts(left, &at)?;
        let (mut rids, mut rpts) = way_pts(right, &at)?;
        if lpts.len() < 2 || rpts.len() < 2 {
            return Err(ImportError::Invalid {
                file: file.into(),
                message: format!("{}: a bound has fewer than two nodes", at()),
            });
        }
        let d = crate::geom::dist;
        let (l0, l1, r0, r1) = (lpts[0], lpts[lpts.len() - 1], rpts[0], rpts[rpts.len() - 1]);
        if d(l0, r1) + d(l1, r0) < d(l0, r0) + d(l1, r1) {
            lpts.reverse();
            lids.reverse();
        }
        // like Lanelet2: the lanelet runs the way that puts the left bound on the left
        let (lm, rm) = (lpts[lpts.len() / 2], rpts[rpts.len() / 2]);
        let (rs, re) = (rpts[0], rpts[rpts.len() - 1]);
        let cross = (re[0] - rs[0]) * (lm[1] - rm[1]) - (re[1] - rs[1]) * (lm[0] - rm[0]);
        if cross < 0.0 {
            lpts.reverse();
            lids.reverse();
            rpts.reverse();
            rids.reverse();
        }
        let len = crate::geom::polyline_length_m(&lpts).max(crate::geom::polyline_length_m(&rpts));
        let n = ((len / 1.0).ceil() as usize).saturating_add(1).clamp(2, 2000);
        let (ls, rs) = (crate::geom::resample(&lpts, n), crate::geom::resample(&rpts, n));
        let centre: Vec<[f64; 2]> =
            ls.iter().zip(&rs).map(|(a, b)| [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]).collect();
        let widths: Vec<f64> = ls.iter().zip(&rs).map(|(a, b)| d(*a, *b)).collect();
        let subtype = r.tags.get("subtype").copied().unwrap_or("road");
        let id = r.id.to_string();
        let regelems: Vec<i64> = r.members.iter().filter(|m| m.2 == "regulatory_element").map(|m| m.1).collect();
        for re in &regelems {
            if !rel_by_id.contains_key(re) {
                return Err(ImportError::Dangling {
                    at: Box::new(at()),
                    kind: "regulatory element",
                    target: re.to_string(),
                });
            }
        }
        let signal = regelems.iter().find_map(|re| tl_signal.get(re)).cloned();
        if subtype == "crosswalk" {
            let w = widths.iter().sum::<f64>() / widths.len().max(1) as f64;
            map.crosswalks.push(Crosswalk { id, junction: None, centre_line_m: centre, width_m: w, signal });
            continue;
        }
        let (kind, allowed) = match subtype {
            "road" | "highway" | "play_street" | "emergency_lane" => (LaneKind::Driving, ClassSet::ROAD_VEHICLES),
            "bus_lane" => (
                LaneKind::Driving,
                [VehicleClass::Bus, VehicleClass::Taxi, VehicleClass::Emergency].into_iter().collect(),
            ),
            "bicycle_lane" => (LaneKind::Bicycle, ClassSet::only(VehicleClass::Bicycle)),
            "walkway" | "stairs" => (LaneKind::Sidewalk, ClassSet::only(VehicleClass::Pedestrian)),
            "rail" => (LaneKind::Rail, [VehicleClass::Tram, VehicleClass::Rail].into_iter().collect()),
            other => {
                report.warn(at(), format!("lanelet subtype `{other}` treated as `other`"));
                (LaneKind::Other, ClassSet::NONE)
            }
        };
        let pedestrian = matches!(subtype, "walkway" | "stairs");
        let both = match r.tags.get("one_way").copied() {
            Some("no") => true,
            Some(_) => false,
            None => pedestrian,
        };
        let speed = r
            .tags
            .get("speed_limit")
            .copied()
            .and_then(parse_speed)
            .or_else(|| regelems.iter().find_map(|re| speed_of_regelem.get(re)).copied());
        lls.push(Ll {
            id: id.clone(),
            left_ends: (lids[0], lids[lids.len() - 1]),
            right_ends: (rids[0], rids[rids.len() - 1]),
            both,
            signal: signal.clone(),
        });
        map.lanes.push(Lane {
            id: LaneId::new(&id),
            road: None,
            junction: None,
            kind,
            centre_line_m: centre,
            width_m: widths,
            speed_limit_mps: speed,
            allowed,
            direction: if both { TravelDirection::Both } else { TravelDirection::Forward },
            successors: Vec::new(),
        });
    }

    // successors: bounds end where the next lanelet's bounds start (by node id)
    let mut starts: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, l) in lls.iter().enumerate() {
        starts.entry((l.left_ends.0, l.right_ends.0)).or_default().push(i);
    }
    let mut succ: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let idx: HashMap<&str, usize> = map.lanes.iter().enumerate().map(|(i, l)| (l.id.as_str(), i)).collect();
    let mut conns = Vec::new();
    for a in &lls {
        let Some(next) = starts.get(&(a.left_ends.1, a.right_ends.1)) else {
            continue;
        };
        for &bi in next {
            let b = &lls[bi];
            succ.entry(a.id.clone()).or_default().push(b.id.clone());
            let manoeuvre = crate::opendrive::manoeuvre_of(&map, &idx, &a.id, &b.id);
            conns.push(Connection {
                id: u32::try_from(conns.len()).unwrap_or(u32::MAX),
                ingress: LaneId::new(&a.id),
                egress: LaneId::new(&b.id),
                via: Vec::new(),
                junction: None,
                manoeuvre,
                signal: a.signal.clone(),
                conflict_zones: Vec::new(),
                priority: priority.get(a.id.as_str()).copied().unwrap_or(Priority::Unknown),
            });
        }
    }
    let n_both = lls.iter().filter(|l| l.both).count();
    if n_both > 0 {
        report.warn(
            Location { file: file.into(), line: 1, element: "relation".into(), id: None },
            format!("{n_both} bidirectional lanelet(s): connections are listed along the bounds' direction only"),
        );
    }
    map.connections = conns;
    for l in &mut map.lanes {
        if let Some(s) = succ.remove(l.id.as_str()) {
            l.successors = s.into_iter().map(|x| LaneId::new(&x)).collect();
        }
    }
    if map.lanes.is_empty() {
        return Err(ImportError::Invalid { file: file.into(), message: "no lanelets".into() });
    }
    let ends: HashMap<&str, LaneletEnds> = lls
        .iter()
        .map(|l| {
            let nodes = [l.left_ends.0, l.right_ends.0, l.left_ends.1, l.right_ends.1];
            (l.id.as_str(), LaneletEnds { start: (l.left_ends.0, l.right_ends.0), nodes, both: l.both })
        })
        .collect();
    derive_junctions(&mut map, &ends);
    crate::derive::conflict_zones(&mut map);
    map.normalize();
    Ok(Imported { map, report })
}

/// The end nodes of a lanelet's bounds, for telling neighbours from conflicts.
struct LaneletEnds {
    /// (left, right) first nodes: where it starts.
    start: (i64, i64),
    /// First and last node of both bounds.
    nodes: [i64; 4],
    /// Drivable both ways.
    both: bool,
}

/// Lanelet2 has no junction element: a junction is where lanelets cross. Two vehicle lanelets
/// *conflict* when their centre lines cross or merge and they neither follow one another nor
/// fork from the same start (the routing graph's "conflicting" relation, computed from the
/// geometry). Each connected group of conflicting lanelets becomes one junction (id
/// `ll:<smallest lanelet id>`, kind `lanelet2_derived`, centre at the mean of its lanelets'
/// points); its lanelets are that junction's internal lanes, and a connection into one of them
/// runs `via` it, so [`crate::derive::conflict_zones`] finds where the movements cross exactly
/// as it does for SUMO and OpenDRIVE.
fn derive_junctions(map: &mut HdMap, ends: &HashMap<&str, LaneletEnds>) {
    let vehicle = |l: &Lane| matches!(l.kind, LaneKind::Driving | LaneKind::Bicycle);
    let n = map.lanes.len();
    let bbox = |pts: &[[f64; 2]]| {
        pts.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, p| {
            [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])]
        })
    };
    let boxes: Vec<[f64; 4]> = map.lanes.iter().map(|l| bbox(&l.centre_line_m)).collect();
    let follows = |a: &Lane, b: &Lane| a.successors.contains(&b.id) || b.successors.contains(&a.id);
    // union-find over conflicting pairs
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut in_conflict = vec![false; n];
    for i in 0..n {
        let a = &map.lanes[i];
        if !vehicle(a) {
            continue;
        }
        for j in i + 1..n {
            let b = &map.lanes[j];
            let (ba, bb) = (boxes[i], boxes[j]);
            if !vehicle(b) || ba[0] > bb[2] || bb[0] > ba[2] || ba[1] > bb[3] || bb[1] > ba[3] {
                continue;
            }
            let (ea, eb) = (ends.get(a.id.as_str()), ends.get(b.id.as_str()));
            if follows(a, b) || ea.map(|e| e.start) == eb.map(|e| e.start) {
                continue;
            }
            // a bidirectional lanelet's reverse successors are not among the connections (they
            // are listed along the bounds only): lanelets that meet at a boundary are neighbours
            if let (Some(ea), Some(eb)) = (ea, eb) {
                let shared = ea.nodes.iter().filter(|n| eb.nodes.contains(n)).count();
                if (ea.both || eb.both) && shared >= 2 {
                    continue;
                }
            }
            if geom::polyline_intersection(&a.centre_line_m, &b.centre_line_m).is_some() {
                in_conflict[i] = true;
                in_conflict[j] = true;
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                parent[ri.max(rj)] = ri.min(rj);
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in (0..n).filter(|&i| in_conflict[i]) {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut junction_of: HashMap<String, String> = HashMap::new();
    for members in groups.values() {
        let Some(first) = members.iter().map(|&i| map.lanes[i].id.as_str()).min() else { continue };
        let id = format!("ll:{first}");
        let (mut sx, mut sy, mut k) = (0.0, 0.0, 0usize);
        for &i in members {
            for p in &map.lanes[i].centre_line_m {
                sx += p[0];
                sy += p[1];
                k += 1;
            }
        }
        let centre_m = if k > 0 { [sx / k as f64, sy / k as f64] } else { [0.0, 0.0] };
        map.junctions.push(Junction {
            id: id.clone(),
            kind: "lanelet2_derived".into(),
            centre_m,
            outline_m: Vec::new(),
        });
        for &i in members {
            map.lanes[i].junction = Some(id.clone());
            junction_of.insert(map.lanes[i].id.as_str().to_owned(), id.clone());
        }
    }
    for c in &mut map.connections {
        if let Some(j) = junction_of.get(c.egress.as_str()) {
            c.junction = Some(j.clone());
            c.via = vec![c.egress.clone()];
        }
    }
}
