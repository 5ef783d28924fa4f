//! ASAM OpenDRIVE `.xodr` importer (DOM, roxmltree).
//!
//! Reads roads (`planView` reference lines made of `line`, `arc`, `spiral`, `poly3`,
//! `paramPoly3`), `laneOffset`, lane sections with lane `width` polynomials and `speed`,
//! lane links, road links, junctions with their connections and lane links, dynamic
//! `signal`s (traffic lights, with `validity`) and `controller`s, and `header/geoReference`.
//!
//! Each lane is sampled every [`SAMPLE_STEP_M`] metres into a centre line in the direction of
//! travel (right-hand traffic: lanes with negative ids run along the reference line, positive
//! ids against it). Lane ids are `road_section_lane`, e.g. `101_0_-3`.
//!
//! A connection is (incoming-road lane -> connecting-road lane -> the lane the connecting lane
//! leads to). Its signal group is the traffic light on the incoming road whose `validity`
//! covers the ingress lane (netconvert's arrow subtypes 10/20/30 pick left/right/straight).
//! Signal ids of the form `tls_linkIndex` (netconvert, whose `<controller>` is the whole TLS)
//! become controller `tls`, group `linkIndex`; other signals in a `<controller>` are that
//! controller's one group (OpenDRIVE: a controller switches its signals together); signals in
//! no controller are their own controller with group 0.
//!
//! Crosswalk `object`s become crosswalks. Lane `border`s, `LHT` roads and a rotated header
//! `offset` are refused; static signals and other objects are skipped with a warning.

use std::collections::{BTreeMap, HashMap};

use corridor_model::{LaneId, SignalGroupId};
use roxmltree::Node;

use crate::error::{ImportError, ImportReport, Location};
use crate::georef::Georef;
use crate::model::*;
use crate::proj::TransverseMercator;
use crate::xml::{self, bad, child, children, f64_or, f64_req, loc, req};
use crate::{ImportOptions, Imported};

/// Spacing of the sampled centre-line points, metres.
pub const SAMPLE_STEP_M: f64 = 1.0;
/// Most points sampled per lane section (long sections are sampled more coarsely).
const MAX_SAMPLES: usize = 4000;

#[derive(Debug, Clone)]
enum Shape {
    Line,
    Arc {
        k: f64,
    },
    Spiral {
        k0: f64,
        k1: f64,
    },
    /// Local (u, v) curve sampled into a table; position by arc length.
    Table {
        pts: Vec<(f64, f64, f64, f64)>,
    }, // (s, u, v, local heading)
}

#[derive(Debug, Clone)]
struct Geometry {
    s: f64,
    x: f64,
    y: f64,
    hdg: f64,
    length: f64,
    shape: Shape,
}

impl Geometry {
    /// Position and heading at `ds` metres into the geometry.
    fn eval(&self, ds: f64) -> (f64, f64, f64) {
        let ds = ds.clamp(0.0, self.length);
        let (c, s) = (self.hdg.cos(), self.hdg.sin());
        match &self.shape {
            Shape::Line => (self.x + ds * c, self.y + ds * s, self.hdg),
            Shape::Arc { k } => {
                if k.abs() < 1e-12 {
                    return (self.x + ds * c, self.y + ds * s, self.hdg);
                }
                let h1 = self.hdg + k * ds;
                (self.x + (h1.sin() - s) / k, self.y + (c - h1.cos()) / k, h1)
            }
            Shape::Spiral { k0, k1 } => {
                let dk = if self.length > 0.0 { (k1 - k0) / self.length } else { 0.0 };
                let theta = |l: f64| self.hdg + k0 * l + 0.5 * dk * l * l;
                // composite Simpson on cos/sin of the heading
                let n = ((ds / 0.25).ceil() as usize).clamp(2, 20_000) & !1usize;
                let n = n.max(2);
                let h = ds / n as f64;
                let (mut sx, mut sy) = (0.0, 0.0);
                for i in 0..=n {
                    let w = if i == 0 || i == n {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    let t = theta(i as f64 * h);
                    sx += w * t.cos();
                    sy += w * t.sin();
                }
                (self.x + sx * h / 3.0, self.y + sy * h / 3.0, theta(ds))
            }
            Shape::Table { pts } => {
                let i = pts.partition_point(|p| p.0 < ds).clamp(1, pts.len().saturating_sub(1).max(1));
                let (a, b) = match (pts.get(i - 1), pts.get(i)) {
                    (Some(a), Some(b)) => (*a, *b),
                    (Some(a), None) => (*a, *a),
                    _ => return (self.x, self.y, self.hdg),
                };
                let t = if b.0 > a.0 { ((ds - a.0) / (b.0 - a.0)).clamp(0.0, 1.0) } else { 0.0 };
                let u = a.1 + t * (b.1 - a.1);
                let v = a.2 + t * (b.2 - a.2);
                let lh = a.3 + t * crate::geom::angle_diff_rad(b.3, a.3);
                (self.x + u * c - v * s, self.y + u * s + v * c, self.hdg + lh)
            }
        }
    }
}

/// Samples a parametric local curve (u(p), v(p)) for p in [0, p_max] into an arc-length table.
fn table(p_max: f64, f: impl Fn(f64) -> (f64, f64, f64, f64)) -> Vec<(f64, f64, f64, f64)> {
    let n = 256;
    let mut out = Vec::with_capacity(n + 1);
    let mut s = 0.0;
    let mut prev: Option<(f64, f64)> = None;
    for i in 0..=n {
        let p = p_max * i as f64 / n as f64;
        let (u, v, du, dv) = f(p);
        if let Some((pu, pv)) = prev {
            s += (u - pu).hypot(v - pv);
        }
        prev = Some((u, v));
        out.push((s, u, v, dv.atan2(du)));
    }
    out
}

#[derive(Debug, Clone, Copy)]
struct Poly {
    s: f64,
    a: f64,
    b: f64,
    c: f64,
    d: f64,
}

impl Poly {
    fn at(&self, ds: f64) -> f64 {
        self.a + ds * (self.b + ds * (self.c + ds * self.d))
    }
}

fn poly_at(polys: &[Poly], s: f64) -> Option<f64> {
    let i = polys.partition_point(|p| p.s <= s + 1e-9);
    let p = polys.get(i.checked_sub(1)?)?;
    Some(p.at(s - p.s))
}

fn read_poly(file: &str, n: Node<'_, '_>, s_key: &'static str) -> Result<Poly, ImportError> {
    Ok(Poly {
        s: f64_or(file, n, s_key, 0.0)?,
        a: f64_or(file, n, "a", 0.0)?,
        b: f64_or(file, n, "b", 0.0)?,
        c: f64_or(file, n, "c", 0.0)?,
        d: f64_or(file, n, "d", 0.0)?,
    })
}

#[derive(Debug, Clone)]
struct OdrLane {
    id: i32,
    kind: String,
    widths: Vec<Poly>,
    speed_mps: Option<f64>,
    pred: Option<i32>,
    succ: Option<i32>,
    line: u32,
}

#[derive(Debug, Clone)]
struct Section {
    s0: f64,
    s1: f64,
    lanes: Vec<OdrLane>, // left and right, no centre lane
}

#[derive(Debug, Clone, PartialEq)]
struct RoadLink {
    kind: String,
    id: String,
    contact: Option<String>,
}

#[derive(Debug, Clone)]
struct Road {
    id: String,
    junction: Option<String>,
    geoms: Vec<Geometry>,
    offsets: Vec<Poly>,
    sections: Vec<Section>,
    pred: Option<RoadLink>,
    succ: Option<RoadLink>,
    speed_mps: Option<f64>,
}

impl Road {
    fn reference(&self, s: f64) -> (f64, f64, f64) {
        let i = self.geoms.partition_point(|g| g.s <= s + 1e-9).saturating_sub(1);
        match self.geoms.get(i) {
            Some(g) => g.eval(s - g.s),
            None => (0.0, 0.0, 0.0),
        }
    }
}

fn speed_mps(v: f64, unit: Option<&str>) -> Option<f64> {
    let f = match unit.unwrap_or("m/s") {
        "m/s" => 1.0,
        "km/h" => 1.0 / 3.6,
        "mph" => 0.447_04,
        _ => return None,
    };
    Some(v * f).filter(|x| x.is_finite() && *x > 0.0)
}

fn lane_id(road: &str, section: usize, lane: i32) -> String {
    format!("{road}_{section}_{lane}")
}

fn parse_i32(file: &str, n: Node<'_, '_>, k: &'static str) -> Result<i32, ImportError> {
    let v = req(file, n, k)?;
    v.trim().parse::<i32>().map_err(|_| bad(file, n, k, v, "not an integer"))
}

fn read_link(n: Option<Node<'_, '_>>, name: &'static str) -> Option<RoadLink> {
    let l = child(n?, name)?;
    Some(RoadLink {
        kind: l.attribute("elementType").unwrap_or("road").to_owned(),
        id: l.attribute("elementId")?.to_owned(),
        contact: l.attribute("contactPoint").map(str::to_owned),
    })
}

fn read_road(file: &str, r: Node<'_, '_>, report: &mut ImportReport) -> Result<Road, ImportError> {
    let id = req(file, r, "id")?.to_owned();
    let length = f64_req(file, r, "length")?;
    if length < 0.0 {
        return Err(bad(file, r, "length", &length.to_string(), "negative"));
    }
    if r.attribute("rule").is_some_and(|v| v.eq_ignore_ascii_case("LHT")) {
        return Err(ImportError::Unsupported {
            at: Box::new(loc(file, r)),
            what: "left-hand traffic road (rule=\"LHT\")".into(),
        });
    }
    let junction = r.attribute("junction").filter(|j| *j != "-1" && !j.is_empty()).map(str::to_owned);
    let link = child(r, "link");
    let mut geoms = Vec::new();
    let pv = child(r, "planView").ok_or_else(|| ImportError::Invalid {
        file: file.into(),
        message: format!("{}: road without <planView>", loc(file, r)),
    })?;
    for g in children(pv, "geometry") {
        let s = f64_req(file, g, "s")?;
        let x = f64_req(file, g, "x")?;
        let y = f64_req(file, g, "y")?;
        let hdg = f64_req(file, g, "hdg")?;
        let len = f64_req(file, g, "length")?;
        if len < 0.0 {
            return Err(bad(file, g, "length", &len.to_string(), "negative"));
        }
        let Some(kind) = g.children().find(|c| c.is_element()) else {
            return Err(ImportError::Unsupported {
                at: Box::new(loc(file, g)),
                what: "geometry without a shape element".into(),
            });
        };
        let shape = match kind.tag_name().name() {
            "line" => Shape::Line,
            "arc" => Shape::Arc { k: f64_req(file, kind, "curvature")? },
            "spiral" => Shape::Spiral { k0: f64_req(file, kind, "curvStart")?, k1: f64_req(file, kind, "curvEnd")? },
            "poly3" => {
                let p = read_poly(file, kind, "s")?;
                // u runs along the local x axis; v(u) is the cubic. Sample u up to a bound past
                // the arc length (|v'| makes the curve longer than u).
                Shape::Table {
                    pts: table(len, |u| {
                        (u, p.a + u * (p.b + u * (p.c + u * p.d)), 1.0, p.b + u * (2.0 * p.c + 3.0 * p.d * u))
                    }),
                }
            }
            "paramPoly3" => {
                let f = |k| f64_or(file, kind, k, 0.0);
                let (au, bu, cu, du) = (f("aU")?, f("bU")?, f("cU")?, f("dU")?);
                let (av, bv, cv, dv) = (f("aV")?, f("bV")?, f("cV")?, f("dV")?);
                let p_max = match kind.attribute("pRange") {
                    Some("normalized") => 1.0,
                    None | Some("arcLength") => len,
                    Some(other) => return Err(bad(file, kind, "pRange", other, "expected arcLength or normalized")),
                };
                Shape::Table {
                    pts: table(p_max, |p| {
                        (
                            au + p * (bu + p * (cu + p * du)),
                            av + p * (bv + p * (cv + p * dv)),
                            bu + p * (2.0 * cu + 3.0 * du * p),
                            bv + p * (2.0 * cv + 3.0 * dv * p),
                        )
                    }),
                }
            }
            other => {
                return Err(ImportError::Unsupported {
                    at: Box::new(loc(file, kind)),
                    what: format!("geometry type <{other}>"),
                })
            }
        };
        geoms.push(Geometry { s, x, y, hdg, length: len, shape });
    }
    if geoms.is_empty() {
        return Err(ImportError::Invalid {
            file: file.into(),
            message: format!("{}: road has no geometry", loc(file, r)),
        });
    }
    geoms.sort_by(|a, b| a.s.total_cmp(&b.s));
    let lanes_el = child(r, "lanes").ok_or_else(|| ImportError::Invalid {
        file: file.into(),
        message: format!("{}: road without <lanes>", loc(file, r)),
    })?;
    let mut offsets: Vec<Poly> =
        children(lanes_el, "laneOffset").map(|o| read_poly(file, o, "s")).collect::<Result<_, _>>()?;
    offsets.sort_by(|a, b| a.s.total_cmp(&b.s));
    let mut speed = None;
    for t in children(r, "type") {
        if let Some(sp) = child(t, "speed") {
            if let Some(Ok(v)) = sp.attribute("max").map(|v| v.parse::<f64>()) {
                speed = speed_mps(v, sp.attribute("unit"));
            }
        }
    }
    let mut sections = Vec::new();
    let secs: Vec<Node<'_, '_>> = children(lanes_el, "laneSection").collect();
    for (i, sec) in secs.iter().enumerate() {
        let s0 = f64_req(file, *sec, "s")?;
        let s1 = match secs.get(i + 1) {
            Some(n) => f64_req(file, *n, "s")?,
            None => length,
        };
        let mut lanes = Vec::new();
        for side in ["left", "right"] {
            let Some(side_el) = sec.children().find(|c| c.is_element() && c.tag_name().name() == side) else {
                continue;
            };
            for l in children(side_el, "lane") {
                let id = parse_i32(file, l, "id")?;
                if id == 0 || (side == "left") != (id > 0) {
                    return Err(bad(file, l, "id", &id.to_string(), format!("lane id on the wrong side (<{side}>)")));
                }
                if child(l, "border").is_some() && child(l, "width").is_none() {
                    return Err(ImportError::Unsupported {
                        at: Box::new(loc(file, l)),
                        what: "lane defined by <border> instead of <width>".into(),
                    });
                }
                let mut widths: Vec<Poly> =
                    children(l, "width").map(|w| read_poly(file, w, "sOffset")).collect::<Result<_, _>>()?;
                widths.sort_by(|a, b| a.s.total_cmp(&b.s));
                let speed_mps = children(l, "speed").next().and_then(|sp| {
                    sp.attribute("max")
                        .and_then(|v| v.parse::<f64>().ok())
                        .and_then(|v| speed_mps(v, sp.attribute("unit")))
                });
                let ll = child(l, "link");
                let link_id = |name| -> Result<Option<i32>, ImportError> {
                    match ll.and_then(|x| child(x, name)) {
                        Some(n) => Ok(Some(parse_i32(file, n, "id")?)),
                        None => Ok(None),
                    }
                };
                lanes.push(OdrLane {
                    id,
                    kind: l.attribute("type").unwrap_or("driving").to_owned(),
                    widths,
                    speed_mps,
                    pred: link_id("predecessor")?,
                    succ: link_id("successor")?,
                    line: l.document().text_pos_at(l.range().start).row,
                });
            }
        }
        sections.push(Section { s0, s1, lanes });
    }
    if sections.is_empty() {
        report.warn(loc(file, r), "road has no lane sections; it has no lanes");
    }
    Ok(Road {
        id,
        junction,
        geoms,
        offsets,
        sections,
        pred: read_link(link, "predecessor"),
        succ: read_link(link, "successor"),
        speed_mps: speed,
    })
}

fn kind_of(t: &str, in_junction: bool) -> (LaneKind, ClassSet) {
    match t {
        "driving" | "entry" | "exit" | "onRamp" | "offRamp" | "connectingRamp" | "bidirectional" | "slipLane"
        | "mwyEntry" | "mwyExit" => {
            (if in_junction { LaneKind::Internal } else { LaneKind::Driving }, ClassSet::ROAD_VEHICLES)
        }
        "bus" | "taxi" | "HOV" => (LaneKind::Driving, ClassSet::ROAD_VEHICLES),
        "sidewalk" | "walking" => (LaneKind::Sidewalk, ClassSet::only(VehicleClass::Pedestrian)),
        "biking" => (LaneKind::Bicycle, ClassSet::only(VehicleClass::Bicycle)),
        "tram" | "rail" => (LaneKind::Rail, [VehicleClass::Tram, VehicleClass::Rail].into_iter().collect()),
        _ => (LaneKind::Other, ClassSet::NONE),
    }
}

/// Centre line (in travel direction) and widths of one lane of one section, inertial xy.
fn sample_lane(road: &Road, sec: &Section, lane: &OdrLane) -> (Vec<[f64; 2]>, Vec<f64>) {
    let len = (sec.s1 - sec.s0).max(0.0);
    let n = ((len / SAMPLE_STEP_M).ceil() as usize).clamp(1, MAX_SAMPLES);
    let mut pts = Vec::with_capacity(n + 1);
    let mut widths = Vec::with_capacity(n + 1);
    let width_of = |l: &OdrLane, ds: f64| poly_at(&l.widths, ds).unwrap_or(0.0).max(0.0);
    for i in 0..=n {
        let s = sec.s0 + len * i as f64 / n as f64;
        let ds = s - sec.s0;
        let (x, y, h) = road.reference(s);
        let mut t = poly_at(&road.offsets, s).unwrap_or(0.0);
        let sign = if lane.id > 0 { 1.0 } else { -1.0 };
        for other in &sec.lanes {
            if other.id.signum() == lane.id.signum() && other.id.abs() < lane.id.abs() {
                t += sign * width_of(other, ds);
            }
        }
        let w = width_of(lane, ds);
        t += sign * w / 2.0;
        pts.push([x - t * h.sin(), y + t * h.cos()]);
        widths.push(w);
    }
    if lane.id > 0 {
        pts.reverse();
        widths.reverse();
    }
    (pts, widths)
}

struct Sig<'a> {
    node: Node<'a, 'a>,
    id: String,
    road: String,
    from_lane: Option<i32>,
    to_lane: Option<i32>,
    orientation: String,
    arrow: Option<Manoeuvre>,
}

/// Imports an OpenDRIVE file from its bytes. `file` is used in messages.
pub fn import_opendrive(file: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Imported, ImportError> {
    let text = xml::utf8(file, bytes)?;
    let doc = xml::parse(file, text)?;
    let root = doc.root_element();
    if root.tag_name().name() != "OpenDRIVE" {
        return Err(ImportError::Invalid {
            file: file.into(),
            message: format!("root element is <{}>, expected <OpenDRIVE>", root.tag_name().name()),
        });
    }
    let mut report = ImportReport::default();

    // --- geo reference
    let header = child(root, "header");
    let geo_text: String = header
        .and_then(|h| child(h, "geoReference"))
        .map(|g| g.text().unwrap_or_default().trim().to_owned())
        .unwrap_or_default();
    let proj = match header.and_then(|h| child(h, "geoReference")) {
        Some(g) => TransverseMercator::from_proj_string(&geo_text)
            .map_err(|reason| bad(file, g, "geoReference", &geo_text, reason))?,
        None => None,
    };
    // OpenDRIVE 1.6 header offset: projected = inertial + offset (netconvert writes the
    // negated netOffset here); a rotation is not supported
    let mut inertial_offset = [0.0, 0.0];
    if let Some(off) = header.and_then(|h| child(h, "offset")) {
        if f64_or(file, off, "hdg", 0.0)? != 0.0 {
            return Err(ImportError::Unsupported {
                at: Box::new(loc(file, off)),
                what: "header <offset> with a non-zero hdg".into(),
            });
        }
        inertial_offset = [f64_or(file, off, "x", 0.0)?, f64_or(file, off, "y", 0.0)?];
    }

    // --- roads
    let mut roads: Vec<Road> = Vec::new();
    for r in children(root, "road") {
        roads.push(read_road(file, r, &mut report)?);
    }
    let road_idx: HashMap<&str, usize> = roads.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();

    // inertial-xy bbox centre for the ENU origin
    let mut bb = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for r in &roads {
        for g in &r.geoms {
            bb = [bb[0].min(g.x), bb[1].min(g.y), bb[2].max(g.x), bb[3].max(g.y)];
        }
    }
    let centre = if bb[0].is_finite() { [(bb[0] + bb[2]) / 2.0, (bb[1] + bb[3]) / 2.0] } else { [0.0, 0.0] };
    let georef = match proj {
        Some(p) => {
            if opts.origin.is_some() {
                report.warn(
                    Location { file: file.into(), line: 1, element: "geoReference".into(), id: None },
                    "`--origin` ignored: the file has a geoReference",
                );
            }
            Georef::projected(p, [-inertial_offset[0], -inertial_offset[1]], centre)
        }
        None => Georef::Local { offset: [0.0, 0.0], origin: opts.origin },
    };

    let mut map = HdMap::empty(SourceFormat::OpenDrive);
    map.origin = georef.origin();

    // --- lanes
    // (road index, section index, lane id) -> lane id string
    let mut lane_exists: std::collections::HashSet<String> = std::collections::HashSet::new();
    for r in &roads {
        for (si, sec) in r.sections.iter().enumerate() {
            for l in &sec.lanes {
                let (pts, widths) = sample_lane(r, sec, l);
                let mut pts: Vec<[f64; 2]> = pts.iter().map(|p| georef.enu(p[0], p[1])).collect();
                let mut widths = widths;
                // drop duplicate points (zero-length sections) keeping widths aligned
                let mut keep = vec![true; pts.len()];
                for i in 1..pts.len() {
                    if crate::geom::dist(pts[i - 1], pts[i]) < 1e-3 {
                        keep[i] = false;
                    }
                }
                if keep.iter().filter(|k| **k).count() >= 2 {
                    let mut it = keep.iter();
                    pts.retain(|_| *it.next().unwrap_or(&true));
                    let mut it = keep.iter();
                    widths.retain(|_| *it.next().unwrap_or(&true));
                } else {
                    pts.truncate(2);
                    widths.truncate(2);
                }
                let (kind, allowed) = kind_of(&l.kind, r.junction.is_some());
                let id = lane_id(&r.id, si, l.id);
                lane_exists.insert(id.clone());
                map.lanes.push(Lane {
                    id: LaneId::new(&id),
                    road: Some(r.id.clone()),
                    junction: r.junction.clone(),
                    kind,
                    centre_line_m: pts,
                    width_m: widths,
                    speed_limit_mps: l.speed_mps.or(r.speed_mps),
                    allowed,
                    direction: TravelDirection::Forward,
                    successors: Vec::new(),
                });
            }
        }
    }

    // --- lane successors along roads and road-to-road links (travel direction)
    let section_for_contact = |r: &Road, contact: Option<&str>| -> usize {
        if contact == Some("end") {
            r.sections.len().saturating_sub(1)
        } else {
            0
        }
    };
    let mut succ: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &roads {
        let last = r.sections.len().saturating_sub(1);
        for (si, sec) in r.sections.iter().enumerate() {
            for l in &sec.lanes {
                let forward = l.id < 0;
                // the link at the travel end of the lane
                let (link_lane, at_road_end, road_link) =
                    if forward { (l.succ, si == last, r.succ.as_ref()) } else { (l.pred, si == 0, r.pred.as_ref()) };
                let Some(target_lane) = link_lane else {
                    continue;
                };
                let from = lane_id(&r.id, si, l.id);
                let to = if !at_road_end {
                    let ns = if forward { si + 1 } else { si - 1 };
                    Some(lane_id(&r.id, ns, target_lane))
                } else {
                    match road_link {
                        Some(rl) if rl.kind == "road" => road_idx.get(rl.id.as_str()).map(|&i| {
                            let other = &roads[i];
                            lane_id(&other.id, section_for_contact(other, rl.contact.as_deref()), target_lane)
                        }),
                        _ => None, // junction: connections below
                    }
                };
                if let Some(to) = to {
                    if lane_exists.contains(&to) {
                        succ.entry(from).or_default().push(to);
                    } else {
                        let at = Location {
                            file: file.into(),
                            line: l.line,
                            element: "lane".into(),
                            id: Some(from.clone()),
                        };
                        report.warn(at, format!("lane link to unknown lane `{to}` ignored"));
                    }
                }
            }
        }
    }

    // --- signals
    let mut controller_of: HashMap<String, String> = HashMap::new();
    for c in children(root, "controller") {
        let cid = req(file, c, "id")?;
        for ctl in children(c, "control") {
            if let Some(sid) = ctl.attribute("signalId") {
                controller_of.insert(sid.to_owned(), cid.to_owned());
            }
        }
    }
    let mut sigs: Vec<Sig<'_>> = Vec::new();
    for r in children(root, "road") {
        let rid = r.attribute("id").unwrap_or_default();
        let Some(ss) = child(r, "signals") else {
            continue;
        };
        for s in children(ss, "signal") {
            let sid = req(file, s, "id")?.to_owned();
            if s.attribute("dynamic") != Some("yes") {
                report.warn(
                    loc(file, s),
                    format!("static signal (type {}) not imported", s.attribute("type").unwrap_or("?")),
                );
                continue;
            }
            let (from_lane, to_lane) = match child(s, "validity") {
                Some(v) => (Some(parse_i32(file, v, "fromLane")?), Some(parse_i32(file, v, "toLane")?)),
                None => (None, None),
            };
            let arrow = match (s.attribute("type"), s.attribute("subtype")) {
                (Some("1000011"), Some("10")) => Some(Manoeuvre::Left),
                (Some("1000011"), Some("20")) => Some(Manoeuvre::Right),
                (Some("1000011"), Some("30")) => Some(Manoeuvre::Straight),
                _ => None,
            };
            sigs.push(Sig {
                node: s,
                id: sid,
                road: rid.to_owned(),
                from_lane,
                to_lane,
                orientation: s.attribute("orientation").unwrap_or("none").to_owned(),
                arrow,
            });
        }
        for s in children(ss, "signalReference") {
            report.warn(loc(file, s), "signalReference not imported (signals are taken from their own road)");
        }
    }
    for r in children(root, "road") {
        if let Some(objs) = child(r, "objects") {
            let rid = r.attribute("id").unwrap_or_default();
            let road = road_idx.get(rid).and_then(|&i| roads.get(i));
            for o in children(objs, "object") {
                let is_crosswalk = o.attribute("type").is_some_and(|t| t.eq_ignore_ascii_case("crosswalk"));
                match (is_crosswalk, road) {
                    (true, Some(road)) => map.crosswalks.push(crosswalk(file, road, o, &georef)?),
                    _ => report.warn(
                        loc(file, o),
                        format!(
                            "road object of type `{}` not imported (only crosswalks are)",
                            o.attribute("type").unwrap_or("?")
                        ),
                    ),
                }
            }
        }
    }
    let signal_ref = |s: &Sig<'_>| -> SignalRef {
        let numbered = s.id.rsplit_once('_').and_then(|(tl, idx)| Some((tl, idx.parse::<u16>().ok()?)));
        match (controller_of.get(&s.id), numbered) {
            // netconvert: one controller per TLS, signal ids `<tls>_<linkIndex>`
            (Some(c), Some((tl, i))) if c == tl => SignalRef { controller: c.clone(), group: SignalGroupId(i) },
            // OpenDRIVE proper: a controller is a set of signals that switch together
            (Some(c), _) => SignalRef { controller: c.clone(), group: SignalGroupId(0) },
            (None, Some((tl, i))) => SignalRef { controller: tl.to_owned(), group: SignalGroupId(i) },
            (None, None) => SignalRef { controller: s.id.clone(), group: SignalGroupId(0) },
        }
    };
    let mut groups: BTreeMap<SignalRef, (String, Vec<String>)> = BTreeMap::new();
    for s in &sigs {
        groups.entry(signal_ref(s)).or_insert_with(|| (s.id.clone(), Vec::new()));
    }

    // --- junctions and connections
    let lanes_by_id: HashMap<&str, usize> = map.lanes.iter().enumerate().map(|(i, l)| (l.id.as_str(), i)).collect();
    let mut conns = Vec::new();
    for j in children(root, "junction") {
        let jid = req(file, j, "id")?.to_owned();
        let mut sum = [0.0, 0.0];
        let mut cnt = 0.0;
        for c in children(j, "connection") {
            let inc = req(file, c, "incomingRoad")?;
            let conn_road = req(file, c, "connectingRoad")?;
            let Some(&ii) = road_idx.get(inc) else {
                return Err(ImportError::Dangling {
                    at: Box::new(loc(file, c)),
                    kind: "road (incomingRoad)",
                    target: inc.to_owned(),
                });
            };
            let Some(&ci) = road_idx.get(conn_road) else {
                return Err(ImportError::Dangling {
                    at: Box::new(loc(file, c)),
                    kind: "road (connectingRoad)",
                    target: conn_road.to_owned(),
                });
            };
            let (inc_r, con_r) = (&roads[ii], &roads[ci]);
            let contact = c.attribute("contactPoint").unwrap_or("start");
            // the incoming road touches the junction at its end (successor) or start (predecessor)
            let inc_at_end = inc_r.succ.as_ref().is_some_and(|l| l.kind == "junction" && l.id == jid)
                || !inc_r.pred.as_ref().is_some_and(|l| l.kind == "junction" && l.id == jid);
            let inc_sec = if inc_at_end { inc_r.sections.len().saturating_sub(1) } else { 0 };
            let con_sec = if contact == "end" { con_r.sections.len().saturating_sub(1) } else { 0 };
            for ll in children(c, "laneLink") {
                let from = parse_i32(file, ll, "from")?;
                let to = parse_i32(file, ll, "to")?;
                let ingress = lane_id(&inc_r.id, inc_sec, from);
                let via0 = lane_id(&con_r.id, con_sec, to);
                for (lid, what) in [(&ingress, "lane (from)"), (&via0, "lane (to)")] {
                    if !lane_exists.contains(lid) {
                        return Err(ImportError::Dangling {
                            at: Box::new(loc(file, ll)),
                            kind: what,
                            target: lid.clone(),
                        });
                    }
                }
                // follow the connecting lane through its sections to the lane it leads to
                let mut via = vec![via0.clone()];
                let mut cur = via0.clone();
                let mut egress = None;
                for _ in 0..64 {
                    match succ.get(&cur).and_then(|v| v.first()) {
                        Some(next)
                            if lanes_by_id.get(next.as_str()).and_then(|&i| map.lanes[i].road.as_deref())
                                == Some(con_r.id.as_str()) =>
                        {
                            via.push(next.clone());
                            cur = next.clone();
                        }
                        Some(next) => {
                            egress = Some(next.clone());
                            break;
                        }
                        None => break,
                    }
                }
                succ.entry(ingress.clone()).or_default().push(via0.clone());
                let Some(egress) = egress else {
                    report.warn(
                        loc(file, ll),
                        format!("connecting lane `{via0}` leads nowhere; connection from `{ingress}` skipped"),
                    );
                    continue;
                };
                let manoeuvre = manoeuvre_of(&map, &lanes_by_id, &ingress, &egress);
                if let Some(&li) = lanes_by_id.get(via0.as_str()) {
                    for p in &map.lanes[li].centre_line_m {
                        sum = [sum[0] + p[0], sum[1] + p[1]];
                        cnt += 1.0;
                    }
                }
                // the traffic light on the incoming road covering this lane (arrow first)
                let covers = |s: &&Sig<'_>| {
                    s.road == inc_r.id
                        && match (s.from_lane, s.to_lane) {
                            (Some(a), Some(b)) => (a.min(b)..=a.max(b)).contains(&from),
                            _ => match s.orientation.as_str() {
                                "+" => from < 0,
                                "-" => from > 0,
                                _ => true,
                            },
                        }
                };
                let cands: Vec<&Sig<'_>> = sigs.iter().filter(covers).collect();
                let chosen = cands
                    .iter()
                    .find(|s| s.arrow == Some(manoeuvre))
                    .or_else(|| cands.iter().find(|s| s.arrow.is_none()))
                    .or(cands.first());
                let signal = chosen.map(|s| signal_ref(s));
                if let Some(sr) = &signal {
                    if let Some(g) = groups.get_mut(sr) {
                        g.1.push(jid.clone());
                    }
                }
                conns.push(Connection {
                    id: u32::try_from(conns.len()).unwrap_or(u32::MAX),
                    ingress: LaneId::new(&ingress),
                    egress: LaneId::new(&egress),
                    via: via.iter().map(LaneId::new).collect(),
                    junction: Some(jid.clone()),
                    manoeuvre,
                    signal,
                    conflict_zones: Vec::new(),
                    priority: Priority::Unknown,
                });
            }
        }
        let centre = if cnt > 0.0 { [sum[0] / cnt, sum[1] / cnt] } else { [0.0, 0.0] };
        map.junctions.push(Junction {
            id: jid,
            kind: j.attribute("type").unwrap_or("default").to_owned(),
            centre_m: centre,
            outline_m: Vec::new(),
        });
    }
    for s in &sigs {
        if groups.get(&signal_ref(s)).is_none_or(|g| g.1.is_empty()) {
            report.warn(loc(file, s.node), "traffic light governs no junction connection (kept as a signal group)");
        }
    }
    map.connections = conns;
    map.signal_groups = groups
        .into_iter()
        .map(|(signal, (source_id, junctions))| SignalGroup { signal, source_id, junctions })
        .collect();
    for l in &mut map.lanes {
        if let Some(s) = succ.remove(l.id.as_str()) {
            l.successors = s.into_iter().map(|x| LaneId::new(&x)).collect();
        }
    }
    if map.lanes.is_empty() {
        return Err(ImportError::Invalid { file: file.into(), message: "the file has no lanes".into() });
    }
    crate::derive::stop_lines_at_signals(&mut map);
    crate::derive::conflict_zones(&mut map);
    map.normalize();
    Ok(Imported { map, report })
}

/// A crosswalk object: its footprint (`length` x `width`, or the extent of its `cornerLocal`
/// outline) in the object's local u/v frame at (s, t, hdg) on the road; the centre line runs
/// along the longer side (the walking direction), the width is the shorter one.
fn crosswalk(file: &str, road: &Road, o: Node<'_, '_>, georef: &Georef) -> Result<Crosswalk, ImportError> {
    let id = req(file, o, "id")?.to_owned();
    let s = f64_req(file, o, "s")?;
    let t = f64_or(file, o, "t", 0.0)?;
    let hdg = f64_or(file, o, "hdg", 0.0)?;
    let corners: Vec<(f64, f64)> = match child(o, "outline") {
        Some(ol) => children(ol, "cornerLocal")
            .map(|c| Ok((f64_req(file, c, "u")?, f64_req(file, c, "v")?)))
            .collect::<Result<_, ImportError>>()?,
        None => Vec::new(),
    };
    let (u0, u1, v0, v1) = if corners.len() >= 3 {
        corners.iter().fold((f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY), |b, c| {
            (b.0.min(c.0), b.1.max(c.0), b.2.min(c.1), b.3.max(c.1))
        })
    } else {
        let length = crate::xml::opt_f64(file, o, "length")?;
        let width = crate::xml::opt_f64(file, o, "width")?;
        match (length, width) {
            (Some(l), Some(w)) => (-l / 2.0, l / 2.0, -w / 2.0, w / 2.0),
            _ => {
                return Err(ImportError::MissingAttribute {
                    at: Box::new(loc(file, o)),
                    attribute: "length/width or outline",
                })
            }
        }
    };
    let (x, y, h) = road.reference(s);
    let (ox, oy) = (x - t * h.sin(), y + t * h.cos());
    let a = h + hdg;
    let to_xy = |u: f64, v: f64| georef.enu(ox + u * a.cos() - v * a.sin(), oy + u * a.sin() + v * a.cos());
    let (uc, vc) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
    let (centre_line_m, width_m) = if (v1 - v0) >= (u1 - u0) {
        (vec![to_xy(uc, v0), to_xy(uc, v1)], u1 - u0)
    } else {
        (vec![to_xy(u0, vc), to_xy(u1, vc)], v1 - v0)
    };
    Ok(Crosswalk { id, junction: road.junction.clone(), centre_line_m, width_m, signal: None })
}

/// Straight / left / right / U-turn from the heading change between the end of `ingress`
/// and the start of `egress`.
pub(crate) fn manoeuvre_of(map: &HdMap, idx: &HashMap<&str, usize>, ingress: &str, egress: &str) -> Manoeuvre {
    let (Some(&a), Some(&b)) = (idx.get(ingress), idx.get(egress)) else {
        return Manoeuvre::Unknown;
    };
    let (pa, pb) = (&map.lanes[a].centre_line_m, &map.lanes[b].centre_line_m);
    if pa.len() < 2 || pb.len() < 2 {
        return Manoeuvre::Unknown;
    }
    let h_in = crate::geom::heading_rad(pa[pa.len() - 2], pa[pa.len() - 1]);
    let h_out = crate::geom::heading_rad(pb[0], pb[1]);
    let d = crate::geom::angle_diff_rad(h_out, h_in).to_degrees();
    if d.abs() < 30.0 {
        Manoeuvre::Straight
    } else if d.abs() > 150.0 {
        Manoeuvre::UTurn
    } else if d > 0.0 {
        Manoeuvre::Left
    } else {
        Manoeuvre::Right
    }
}
