//! SUMO `.net.xml` importer (streaming, quick-xml).
//!
//! Reads `<location>` (netOffset, convBoundary, projParameter), `<edge>`/`<lane>` (shape,
//! width, speed, allow/disallow; internal lanes are kept as [`LaneKind::Internal`]),
//! `<junction>`, `<connection>` (with `via`, `tl`, `linkIndex`, `dir`) and crossings.
//! Positions go to ENU through the projection when one is given
//! (x_proj = x_net - netOffset). Walking areas and pedestrian connections to them are skipped
//! with a warning. Gzipped input (`.net.xml.gz`) is recognised by its magic bytes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use corridor_model::{LaneId, SignalGroupId};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{ImportError, ImportReport, LineIndex, Location};
use crate::georef::Georef;
use crate::model::*;
use crate::proj::TransverseMercator;
use crate::{ImportOptions, Imported};

/// SUMO's default lane width when a lane has no `width`.
pub const DEFAULT_LANE_WIDTH_M: f64 = 3.2;
/// Largest accepted decompressed size of a gzipped net.
pub const MAX_UNZIPPED_BYTES: u64 = 512 * 1024 * 1024;

struct El {
    tag: String,
    line: u32,
    attrs: Vec<(String, String)>,
}

impl El {
    fn get(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    fn at(&self, file: &str) -> Location {
        // connections have no id: name them by their lanes
        let id = self.get("id").map(str::to_owned).or_else(|| {
            Some(format!(
                "{}_{}->{}_{}",
                self.get("from")?,
                self.get("fromLane")?,
                self.get("to")?,
                self.get("toLane")?
            ))
        });
        Location { file: file.to_owned(), line: self.line, element: self.tag.clone(), id }
    }
    fn req(&self, file: &str, k: &'static str) -> Result<&str, ImportError> {
        self.get(k).ok_or_else(|| ImportError::MissingAttribute { at: Box::new(self.at(file)), attribute: k })
    }
    fn num(&self, file: &str, k: &'static str) -> Result<Option<f64>, ImportError> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(bad(self.at(file), k, v, "not a finite number")),
            },
        }
    }
}

fn bad(at: Location, attribute: &'static str, value: &str, reason: &str) -> ImportError {
    ImportError::BadAttribute {
        at: Box::new(at),
        attribute,
        value: value.chars().take(200).collect(),
        reason: reason.to_owned(),
    }
}

fn parse_el(e: &BytesStart<'_>, line: u32, file: &str) -> Result<El, ImportError> {
    let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| ImportError::Xml { file: file.to_owned(), line, message: err.to_string() })?;
        let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let v = a
            .unescape_value()
            .map_err(|err| ImportError::Xml { file: file.to_owned(), line, message: err.to_string() })?
            .into_owned();
        attrs.push((k, v));
    }
    Ok(El { tag, line, attrs })
}

/// Parses `x,y[,z] x,y[,z] ...`.
fn parse_shape(el: &El, file: &str, k: &'static str, s: &str) -> Result<Vec<[f64; 2]>, ImportError> {
    let mut out = Vec::new();
    for p in s.split_whitespace() {
        let mut it = p.split(',');
        let x = it.next().and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite());
        let y = it.next().and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite());
        match (x, y) {
            (Some(x), Some(y)) => out.push([x, y]),
            _ => return Err(bad(el.at(file), k, s, "expected `x,y[,z] ...` with finite numbers")),
        }
    }
    Ok(out)
}

/// SUMO vehicle class names -> our classes.
fn vclass(name: &str) -> Option<VehicleClass> {
    use VehicleClass::*;
    Some(match name {
        "passenger" | "private" | "hov" | "evehicle" | "vip" | "custom1" | "custom2" => Car,
        "taxi" => Taxi,
        "bus" | "coach" => Bus,
        "delivery" | "truck" | "trailer" => Truck,
        "motorcycle" | "moped" => Motorcycle,
        "bicycle" | "scooter" => Bicycle,
        "pedestrian" | "wheelchair" => Pedestrian,
        "tram" | "rail_urban" | "subway" | "cable_car" => Tram,
        "rail" | "rail_electric" | "rail_fast" => Rail,
        "emergency" | "authority" | "army" => Emergency,
        _ => return None,
    })
}

fn primary_name(c: VehicleClass) -> &'static str {
    use VehicleClass::*;
    match c {
        Car => "passenger",
        Taxi => "taxi",
        Bus => "bus",
        Truck => "truck",
        Motorcycle => "motorcycle",
        Bicycle => "bicycle",
        Pedestrian => "pedestrian",
        Tram => "tram",
        Rail => "rail",
        Emergency => "emergency",
    }
}

const OTHER_SUMO_CLASSES: &[&str] = &["ship", "container", "aircraft", "drone", "ignoring", "all"];

fn classes(el: &El, file: &str, report: &mut ImportReport) -> ClassSet {
    let mut warn_unknown = |n: &str| {
        if vclass(n).is_none() && !OTHER_SUMO_CLASSES.contains(&n) {
            report.warn(el.at(file), format!("unknown SUMO vehicle class `{n}` ignored"));
        }
    };
    if let Some(allow) = el.get("allow") {
        if allow.split_whitespace().any(|n| n == "all") {
            return ClassSet::ALL;
        }
        allow.split_whitespace().inspect(|n| warn_unknown(n)).filter_map(vclass).collect()
    } else if let Some(dis) = el.get("disallow") {
        if dis.split_whitespace().any(|n| n == "all") {
            return ClassSet::NONE;
        }
        let names: HashSet<&str> = dis.split_whitespace().inspect(|n| warn_unknown(n)).collect();
        VehicleClass::ALL.into_iter().filter(|c| !names.contains(primary_name(*c))).collect()
    } else {
        ClassSet::ALL
    }
}

fn lane_kind(function: &str, allowed: ClassSet) -> LaneKind {
    if function == "internal" {
        return LaneKind::Internal;
    }
    let only = |set: &[VehicleClass]| !allowed.is_empty() && allowed.iter().all(|c| set.contains(&c));
    if only(&[VehicleClass::Pedestrian]) {
        LaneKind::Sidewalk
    } else if only(&[VehicleClass::Bicycle]) {
        LaneKind::Bicycle
    } else if only(&[VehicleClass::Tram, VehicleClass::Rail]) {
        LaneKind::Rail
    } else if allowed.is_empty() {
        LaneKind::Other
    } else {
        LaneKind::Driving
    }
}

struct RawLane {
    id: String,
    edge: String,
    function: String,
    shape: Vec<[f64; 2]>,
    width_m: f64,
    speed_mps: f64,
    allowed: ClassSet,
    line: u32,
}

struct RawConn {
    el: El,
}

/// Decompresses gzip input (by its magic bytes), else returns the input.
pub(crate) fn maybe_gunzip<'a>(file: &str, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, ImportError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_UNZIPPED_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| ImportError::Invalid { file: file.to_owned(), message: format!("gzip: {e}") })?;
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

/// Imports a SUMO network from its bytes (plain or gzipped XML). `file` is used in messages.
pub fn import_sumo(file: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Imported, ImportError> {
    let bytes = maybe_gunzip(file, bytes)?;
    let lines = LineIndex::new(&bytes);
    let mut reader = Reader::from_reader(&bytes[..]);
    reader.config_mut().trim_text(true);
    let mut report = ImportReport::default();

    let mut location: Option<El> = None;
    let mut lanes: Vec<RawLane> = Vec::new();
    let mut edge_to: HashMap<String, String> = HashMap::new(); // edge -> `to` junction
    let mut edge_function: HashMap<String, String> = HashMap::new();
    let mut junction_els: Vec<El> = Vec::new();
    let mut conns: Vec<RawConn> = Vec::new();
    let mut tl_ids: HashSet<String> = HashSet::new();
    let mut root_seen = false;
    let mut stack: Vec<String> = Vec::new();
    let mut cur_edge: Option<El> = None;

    loop {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let ev = reader.read_event().map_err(|e| ImportError::Xml {
            file: file.to_owned(),
            line: lines.line(usize::try_from(reader.error_position()).unwrap_or(pos)),
            message: e.to_string(),
        })?;
        let start =
            bytes.get(pos..).map_or(pos, |rest| pos + rest.iter().take_while(|b| b.is_ascii_whitespace()).count());
        let line = lines.line(start);
        let (e, empty) = match &ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                if stack.pop().as_deref() == Some("edge") {
                    cur_edge = None;
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let el = parse_el(e, line, file)?;
        if !root_seen {
            if el.tag != "net" {
                return Err(ImportError::Invalid {
                    file: file.to_owned(),
                    message: format!("line {line}: root element is <{}>, expected <net> (a SUMO network)", el.tag),
                });
            }
            root_seen = true;
        }
        let parent = stack.last().map(String::as_str);
        let tag = el.tag.clone();
        match (parent, el.tag.as_str()) {
            (Some("net"), "location") => location = Some(el),
            (Some("net"), "edge") => {
                let id = el.req(file, "id")?.to_owned();
                let function = el.get("function").unwrap_or("normal").to_owned();
                if let Some(to) = el.get("to") {
                    edge_to.insert(id.clone(), to.to_owned());
                }
                edge_function.insert(id, function);
                if !empty {
                    cur_edge = Some(el);
                    stack.push("edge".into());
                }
                continue;
            }
            (Some("edge"), "lane") => {
                let Some(edge) = &cur_edge else { continue };
                let edge_id = edge.get("id").unwrap_or_default().to_owned();
                let function = edge.get("function").unwrap_or("normal").to_owned();
                let id = el.req(file, "id")?.to_owned();
                let shape_s = el.req(file, "shape")?;
                let shape = parse_shape(&el, file, "shape", shape_s)?;
                let speed = el
                    .num(file, "speed")?
                    .ok_or(ImportError::MissingAttribute { at: Box::new(el.at(file)), attribute: "speed" })?;
                let width = el.num(file, "width")?.unwrap_or(DEFAULT_LANE_WIDTH_M);
                if width <= 0.0 && function != "walkingarea" {
                    return Err(bad(
                        el.at(file),
                        "width",
                        el.get("width").unwrap_or_default(),
                        "width must be positive",
                    ));
                }
                let allowed = classes(&el, file, &mut report);
                lanes.push(RawLane {
                    id,
                    edge: edge_id,
                    function,
                    shape,
                    width_m: width,
                    speed_mps: speed,
                    allowed,
                    line,
                });
            }
            (Some("net"), "junction") if el.get("type") != Some("internal") => {
                el.req(file, "id")?;
                junction_els.push(el);
            }
            (Some("net"), "connection") => {
                el.req(file, "from")?;
                el.req(file, "to")?;
                conns.push(RawConn { el });
            }
            (Some("net"), "tlLogic") => {
                tl_ids.insert(el.req(file, "id")?.to_owned());
            }
            _ => {}
        }
        if !empty {
            stack.push(tag);
        }
    }
    if !root_seen {
        return Err(ImportError::Invalid {
            file: file.to_owned(),
            message: "no <net> element (empty document)".into(),
        });
    }

    // --- geo reference
    let georef = match &location {
        None => Georef::Local { offset: [0.0, 0.0], origin: opts.origin },
        Some(loc) => {
            let proj_s = loc.get("projParameter").unwrap_or("!");
            let proj = TransverseMercator::from_proj_string(proj_s)
                .map_err(|reason| bad(loc.at(file), "projParameter", proj_s, &reason))?;
            let offset = match loc.get("netOffset") {
                Some(s) => parse_shape(loc, file, "netOffset", s)?.first().copied().unwrap_or([0.0, 0.0]),
                None => [0.0, 0.0],
            };
            let centre = match loc.get("convBoundary") {
                Some(s) => {
                    let v: Vec<f64> =
                        s.split(',').filter_map(|x| x.trim().parse::<f64>().ok()).filter(|x| x.is_finite()).collect();
                    if v.len() != 4 {
                        return Err(bad(loc.at(file), "convBoundary", s, "expected `xmin,ymin,xmax,ymax`"));
                    }
                    [(v[0] + v[2]) / 2.0, (v[1] + v[3]) / 2.0]
                }
                None => [0.0, 0.0],
            };
            match proj {
                Some(p) => {
                    if opts.origin.is_some() {
                        report.warn(loc.at(file), "`--origin` ignored: the net has a projection");
                    }
                    Georef::projected(p, offset, centre)
                }
                None => Georef::Local { offset: [0.0, 0.0], origin: opts.origin },
            }
        }
    };
    let enu = |pts: &[[f64; 2]]| -> Vec<[f64; 2]> { pts.iter().map(|p| georef.enu(p[0], p[1])).collect() };

    let mut map = HdMap::empty(SourceFormat::Sumo);
    map.origin = georef.origin();

    // --- lanes, crossings, walking areas
    let mut lane_set: HashSet<String> = HashSet::new();
    let mut lane_edge: HashMap<String, String> = HashMap::new();
    let mut crossing_lanes: Vec<&RawLane> = Vec::new();
    let mut skipped_walk = 0usize;
    let mut first_walk: Option<Location> = None;
    for l in &lanes {
        match l.function.as_str() {
            "walkingarea" => {
                skipped_walk += 1;
                first_walk.get_or_insert(Location {
                    file: file.into(),
                    line: l.line,
                    element: "lane".into(),
                    id: Some(l.id.clone()),
                });
                continue;
            }
            "crossing" => {
                crossing_lanes.push(l);
                continue;
            }
            _ => {}
        }
        let mut shape = enu(&l.shape);
        crate::geom::dedup_points(&mut shape);
        if shape.len() < 2 {
            let Some(p) = shape.first().copied() else {
                return Err(bad(
                    Location { file: file.into(), line: l.line, element: "lane".into(), id: Some(l.id.clone()) },
                    "shape",
                    "",
                    "empty shape",
                ));
            };
            report.warn(
                Location { file: file.into(), line: l.line, element: "lane".into(), id: Some(l.id.clone()) },
                "lane shape has zero length; kept as a point (it cannot be matched)",
            );
            shape.push(p);
        }
        lane_set.insert(l.id.clone());
        lane_edge.insert(l.id.clone(), l.edge.clone());
        let internal = l.function == "internal";
        map.lanes.push(Lane {
            id: LaneId::new(&l.id),
            road: Some(l.edge.clone()),
            junction: if internal { internal_junction(&l.edge) } else { None },
            kind: lane_kind(&l.function, l.allowed),
            width_m: vec![l.width_m; shape.len()],
            centre_line_m: shape,
            speed_limit_mps: Some(l.speed_mps),
            allowed: l.allowed,
            direction: TravelDirection::Forward,
            successors: Vec::new(),
        });
    }
    if let Some(at) = first_walk {
        report.warn(at, format!("{skipped_walk} walking-area lane(s) skipped (pedestrian areas are not lanes)"));
    }

    // --- connections
    let is_ped_area =
        |edge: &str| matches!(edge_function.get(edge).map(String::as_str), Some("walkingarea" | "crossing"));
    let mut next_via: HashMap<String, String> = HashMap::new(); // internal lane -> next internal lane
    let mut succ: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut crossing_signal: HashMap<String, SignalRef> = HashMap::new();
    let mut skipped_ped = 0usize;
    let mut first_ped: Option<Location> = None;
    let mut groups: BTreeMap<SignalRef, (String, HashSet<String>)> = BTreeMap::new();
    struct Normal<'a> {
        el: &'a El,
        ingress: String,
        egress: String,
        via: Option<String>,
        signal: Option<SignalRef>,
    }
    let mut normals: Vec<Normal<'_>> = Vec::new();
    for c in &conns {
        let el = &c.el;
        let from = el.get("from").unwrap_or_default();
        let to = el.get("to").unwrap_or_default();
        let from_lane = el.req(file, "fromLane")?;
        let to_lane = el.req(file, "toLane")?;
        if from_lane.parse::<u32>().is_err() {
            return Err(bad(el.at(file), "fromLane", from_lane, "not a lane index"));
        }
        if to_lane.parse::<u32>().is_err() {
            return Err(bad(el.at(file), "toLane", to_lane, "not a lane index"));
        }
        let signal = match (el.get("tl"), el.get("linkIndex")) {
            (Some(tl), Some(li)) => {
                let idx = li.parse::<u16>().map_err(|_| bad(el.at(file), "linkIndex", li, "not an index 0..=65535"))?;
                if !tl_ids.contains(tl) {
                    return Err(ImportError::Dangling {
                        at: Box::new(el.at(file)),
                        kind: "tlLogic",
                        target: tl.to_owned(),
                    });
                }
                Some(SignalRef { controller: tl.to_owned(), group: SignalGroupId(idx) })
            }
            (Some(_), None) => {
                return Err(ImportError::MissingAttribute { at: Box::new(el.at(file)), attribute: "linkIndex" })
            }
            _ => None,
        };
        let from_id = format!("{from}_{from_lane}");
        let to_id = format!("{to}_{to_lane}");
        if is_ped_area(to) || is_ped_area(from) {
            // walking area -> crossing (entering) and crossing -> walking area (leaving) links carry
            // the crossing's signal groups; the entering one is the crossing's own
            let is_crossing = |e: &str| edge_function.get(e).map(String::as_str) == Some("crossing");
            let crossing = if is_crossing(to) {
                Some((to, true))
            } else if is_crossing(from) {
                Some((from, false))
            } else {
                None
            };
            if let (Some(s), Some((cr, entering))) = (&signal, crossing) {
                if entering || !crossing_signal.contains_key(cr) {
                    crossing_signal.insert(cr.to_owned(), s.clone());
                }
                let j = internal_junction(cr).unwrap_or_default();
                groups
                    .entry(s.clone())
                    .or_insert_with(|| (format!("{}:{}", s.controller, s.group), HashSet::new()))
                    .1
                    .insert(j);
            }
            skipped_ped += 1;
            first_ped.get_or_insert_with(|| el.at(file));
            continue;
        }
        for (lane, attr) in [(&from_id, "from"), (&to_id, "to")] {
            if !lane_set.contains(lane) {
                return Err(ImportError::Dangling {
                    at: Box::new(el.at(file)),
                    kind: if attr == "from" { "lane (from/fromLane)" } else { "lane (to/toLane)" },
                    target: lane.clone(),
                });
            }
        }
        let via = el.get("via").map(str::to_owned);
        if let Some(v) = &via {
            if !lane_set.contains(v) {
                return Err(ImportError::Dangling { at: Box::new(el.at(file)), kind: "lane (via)", target: v.clone() });
            }
        }
        succ.entry(from_id.clone()).or_default().push(via.clone().unwrap_or_else(|| to_id.clone()));
        if from.starts_with(':') {
            if let Some(v) = &via {
                next_via.insert(from_id, v.clone());
            }
            continue;
        }
        normals.push(Normal { el, ingress: from_id, egress: to_id, via, signal });
    }
    if let Some(at) = first_ped {
        report.warn(at, format!("{skipped_ped} pedestrian connection(s) to/from walking areas and crossings skipped"));
    }
    for n in &normals {
        let mut via = Vec::new();
        let mut cur = n.via.clone();
        while let Some(v) = cur {
            if via.len() > 16 || via.contains(&LaneId::new(&v)) {
                return Err(ImportError::Invalid {
                    file: file.into(),
                    message: format!("line {}: internal lane chain from `{}` loops", n.el.line, n.ingress),
                });
            }
            via.push(LaneId::new(&v));
            cur = next_via.get(&v).cloned();
        }
        let from_edge = n.el.get("from").unwrap_or_default();
        let junction = edge_to.get(from_edge).cloned();
        if let Some(s) = &n.signal {
            let e =
                groups.entry(s.clone()).or_insert_with(|| (format!("{}:{}", s.controller, s.group), HashSet::new()));
            if let Some(j) = &junction {
                e.1.insert(j.clone());
            }
        }
        map.connections.push(Connection {
            id: u32::try_from(map.connections.len()).unwrap_or(u32::MAX),
            ingress: LaneId::new(&n.ingress),
            egress: LaneId::new(&n.egress),
            via,
            junction,
            manoeuvre: match n.el.get("dir") {
                Some("s") => Manoeuvre::Straight,
                Some("l" | "L") => Manoeuvre::Left,
                Some("r" | "R") => Manoeuvre::Right,
                Some("t") => Manoeuvre::UTurn,
                _ => Manoeuvre::Unknown,
            },
            signal: n.signal.clone(),
            conflict_zones: Vec::new(),
            priority: match n.el.get("state") {
                Some("M") => Priority::Major,
                Some("m") => Priority::Yield,
                Some("s") => Priority::Stop,
                Some("w") => Priority::AllWayStop,
                Some("=") => Priority::Equal,
                Some("Z") => Priority::Zipper,
                _ => Priority::Unknown,
            },
        });
    }
    for l in &mut map.lanes {
        if let Some(s) = succ.remove(l.id.as_str()) {
            l.successors = s.into_iter().filter(|x| lane_set.contains(x)).map(|x| LaneId::new(&x)).collect();
        }
    }
    map.signal_groups = groups
        .into_iter()
        .map(|(signal, (source_id, js))| SignalGroup {
            signal,
            source_id,
            junctions: js.into_iter().filter(|j| !j.is_empty()).collect(),
        })
        .collect();

    // --- crosswalks
    for l in crossing_lanes {
        let mut shape = enu(&l.shape);
        crate::geom::dedup_points(&mut shape);
        if shape.len() < 2 {
            report.warn(
                Location { file: file.into(), line: l.line, element: "lane".into(), id: Some(l.id.clone()) },
                "crossing shape has fewer than two points; skipped",
            );
            continue;
        }
        map.crosswalks.push(Crosswalk {
            id: l.edge.clone(),
            junction: internal_junction(&l.edge),
            centre_line_m: shape,
            width_m: l.width_m,
            signal: crossing_signal.get(&l.edge).cloned(),
        });
    }

    // --- junctions
    for j in &junction_els {
        let x = j.num(file, "x")?.ok_or(ImportError::MissingAttribute { at: Box::new(j.at(file)), attribute: "x" })?;
        let y = j.num(file, "y")?.ok_or(ImportError::MissingAttribute { at: Box::new(j.at(file)), attribute: "y" })?;
        let outline = match j.get("shape") {
            Some(s) => enu(&parse_shape(j, file, "shape", s)?),
            None => Vec::new(),
        };
        map.junctions.push(Junction {
            id: j.get("id").unwrap_or_default().to_owned(),
            kind: j.get("type").unwrap_or("unknown").to_owned(),
            centre_m: georef.enu(x, y),
            outline_m: outline,
        });
    }

    if map.lanes.is_empty() {
        return Err(ImportError::Invalid { file: file.into(), message: "the net has no lanes".into() });
    }
    crate::derive::stop_lines_at_signals(&mut map);
    crate::derive::conflict_zones(&mut map);
    map.normalize();
    Ok(Imported { map, report })
}

/// The junction id of an internal edge id `:J0_3` / crossing `:J0_c0` / walking area `:J0_w0`.
fn internal_junction(edge: &str) -> Option<String> {
    let rest = edge.strip_prefix(':')?;
    rest.rfind('_').map(|i| rest[..i].to_owned())
}
