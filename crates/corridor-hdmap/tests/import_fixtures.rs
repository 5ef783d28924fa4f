//! Small hand-written maps: what each importer makes of them, the content hash's properties,
//! and bad input (malformed XML, missing attributes, dangling links, unsupported geometry):
//! errors name the file, the line and the element id.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

use corridor_hdmap::{
    import_bytes, HdMap, ImportError, ImportOptions, Manoeuvre, SourceFormat, TravelDirection, VehicleClass,
};
use corridor_model::{GeoPoint, LaneId, SignalGroupId};

const NET: &str = include_str!("fixtures/tiny.net.xml");
const XODR: &str = include_str!("fixtures/tiny.xodr");
const OSM: &str = include_str!("fixtures/tiny.osm");

fn imp(f: SourceFormat, text: &str) -> Result<HdMap, ImportError> {
    import_bytes(f, "t", text.as_bytes(), &ImportOptions::default()).map(|i| i.map)
}

#[test]
fn sumo_fixture() {
    let m = imp(SourceFormat::Sumo, NET).unwrap();
    assert_eq!(m.lanes.len(), 3);
    assert_eq!(m.connections.len(), 1);
    let c = &m.connections[0];
    assert_eq!((c.ingress.as_str(), c.egress.as_str()), ("E0_0", "E1_0"));
    assert_eq!(c.via, vec![LaneId::new(":J1_0_0")]);
    assert_eq!(c.manoeuvre, Manoeuvre::Straight);
    assert_eq!(c.signal.as_ref().map(|s| (s.controller.as_str(), s.group)), Some(("J1", SignalGroupId(0))));
    assert_eq!(m.signal_groups.len(), 1);
    assert_eq!(m.junctions.len(), 3);
    assert_eq!(m.stop_lines.len(), 1, "a stop line at the end of the signalised ingress lane");
    assert!(m.origin.is_none(), "no projection, no --origin");
    let e1 = m.lane(&LaneId::new("E1_0")).unwrap();
    assert!(e1.allowed.contains(VehicleClass::Bus) && !e1.allowed.contains(VehicleClass::Car));
    assert_eq!(e1.width_m, vec![3.2, 3.2], "SUMO's default lane width");
    assert_eq!(m.lane(&LaneId::new("E0_0")).unwrap().successors, vec![LaneId::new(":J1_0_0")]);
    // --origin gives the local frame a WGS84 anchor
    let with = import_bytes(
        SourceFormat::Sumo,
        "t",
        NET.as_bytes(),
        &ImportOptions { origin: Some(GeoPoint::new(48.0, 11.0)) },
    )
    .unwrap()
    .map;
    assert_eq!(with.origin, Some(GeoPoint::new(48.0, 11.0)));
}

#[test]
fn opendrive_fixture() {
    let i = import_bytes(SourceFormat::OpenDrive, "t", XODR.as_bytes(), &ImportOptions::default()).unwrap();
    let m = i.map;
    assert_eq!(m.lanes.len(), 4, "{:?}", m.lanes.iter().map(|l| &l.id).collect::<Vec<_>>());
    let inl = m.lane(&LaneId::new("1_0_-1")).unwrap();
    assert!((inl.length_m() - 50.0).abs() < 0.1, "{}", inl.length_m());
    assert!((inl.speed_limit_mps.unwrap() - 50.0 / 3.6).abs() < 1e-3);
    // the left lane runs the other way: its centre line starts at the road's end
    let left = m.lane(&LaneId::new("1_0_1")).unwrap();
    assert!(left.centre_line_m[0][0] > left.centre_line_m.last().unwrap()[0]);
    assert_eq!(left.direction, TravelDirection::Forward);
    // right lane centre is 1.75 m right of the reference line (y = 0 at the start)
    assert!((inl.centre_line_m[0][1] + 1.75).abs() < 0.05, "{:?}", inl.centre_line_m[0]);
    assert_eq!(m.connections.len(), 1);
    let c = &m.connections[0];
    assert_eq!((c.ingress.as_str(), c.egress.as_str()), ("1_0_-1", "3_0_-1"));
    assert_eq!(c.via, vec![LaneId::new("2_0_-1")]);
    assert_eq!(c.manoeuvre, Manoeuvre::Straight);
    assert_eq!(c.signal.as_ref().map(|s| s.controller.as_str()), Some("c1"));
    assert_eq!(m.signal_groups.len(), 1);
    assert_eq!(m.junctions.len(), 1);
    let o = m.origin.unwrap();
    assert!((o.lat_deg - 48.0).abs() < 0.001 && (o.lon_deg - 11.0).abs() < 0.002, "{o:?}");
}

#[test]
fn lanelet2_fixture() {
    let m = imp(SourceFormat::Lanelet2, OSM).unwrap();
    assert_eq!(m.lanes.len(), 2);
    // lanelet 100's left way runs backwards: the importer turns it round
    let a = m.lane(&LaneId::new("100")).unwrap();
    let w = a.width_m[0];
    assert!((w - 3.336).abs() < 0.05, "0.00003 deg of latitude is ~3.34 m, got {w}");
    assert!((a.speed_limit_mps.unwrap() - 50.0 / 3.6).abs() < 1e-3);
    assert!(a.centre_line_m[0][0] < a.centre_line_m.last().unwrap()[0], "runs east");
    assert_eq!(m.connections.len(), 1);
    assert_eq!((m.connections[0].ingress.as_str(), m.connections[0].egress.as_str()), ("100", "101"));
    assert_eq!(m.signal_groups.len(), 1);
    assert_eq!(m.stop_lines.len(), 1);
    assert_eq!(m.connections[0].signal.as_ref().map(|s| s.controller.as_str()), Some("200"));
}

#[test]
fn hash_is_canonical() {
    let m = imp(SourceFormat::Sumo, NET).unwrap();
    let v = m.version();
    // same content in another order, and float noise below a millimetre: same version
    let mut n = m.clone();
    n.lanes.reverse();
    n.junctions.reverse();
    n.lanes[0].centre_line_m[0][0] += 1e-7;
    n.normalize();
    assert_eq!(n.version(), v);
    // a centimetre changes it
    let mut w = m.clone();
    w.lanes[0].width_m[0] += 0.01;
    assert_ne!(w.version(), v);
    // the JSON form round-trips to the same version
    let j: HdMap = serde_json::from_str(&m.to_json()).unwrap();
    assert_eq!(j.version(), v);
    // the source format is not part of the content
    let mut f = m.clone();
    f.source_format = SourceFormat::Json;
    assert_eq!(f.version(), v);
}

#[test]
fn demo_map_version_is_pinned() {
    // Regression fixture: the demo map's version must not change by accident (a change of the
    // canonical encoding, the importer or the map file). If you changed one of them on purpose,
    // update this value and say so in the commit.
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../../maps/demo-4arm/demo-4arm.net.xml");
    let m = corridor_hdmap::load_path(p, &ImportOptions::default()).unwrap().map;
    assert_eq!(m.version().to_hex(), include_str!("fixtures/demo-4arm.version").trim());
}

fn err(f: SourceFormat, text: &str) -> String {
    match import_bytes(f, "bad.file", text.as_bytes(), &ImportOptions::default()) {
        Ok(_) => panic!("expected an error for {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_xml_names_file_and_line() {
    let e = err(
        SourceFormat::Sumo,
        "<net>\n<edge id=\"a\">\n<lane id=\"a_0\" speed=\"1\" shape=\"0,0 1,0\">\n</edge>\n</net>",
    );
    assert!(e.starts_with("bad.file:") && e.contains("malformed XML"), "{e}");
    let e = err(SourceFormat::OpenDrive, "<OpenDRIVE>\n<road id=\"1\">\n</OpenDRIVE>");
    assert!(e.starts_with("bad.file:3") && e.contains("malformed XML"), "{e}");
    let e = err(SourceFormat::Lanelet2, "<osm>\n<node id=\"1\" lat=\"1\" lon=\"2\">\n</osm>");
    assert!(e.starts_with("bad.file:3"), "{e}");
    let e = err(SourceFormat::Sumo, "");
    assert!(e.contains("bad.file"), "{e}");
}

#[test]
fn missing_attributes_name_the_element() {
    let net = NET.replace("<lane id=\"E0_0\" index=\"0\" speed=\"13.89\"", "<lane id=\"E0_0\" index=\"0\"");
    let e = err(SourceFormat::Sumo, &net);
    assert!(e.contains("bad.file:8:") && e.contains("id=\"E0_0\"") && e.contains("`speed`"), "{e}");
    let x = XODR.replace(
        "<geometry s=\"0\" x=\"0\" y=\"0.05\" hdg=\"0\" length=\"50\">",
        "<geometry s=\"0\" x=\"0\" y=\"0.05\" length=\"50\">",
    );
    let e = err(SourceFormat::OpenDrive, &x);
    assert!(e.contains("`hdg`") && e.contains("id=\"3\""), "{e}");
    let o = OSM.replace("<node id=\"5\" lat=\"49.0000\" lon=\"8.4020\"/>", "<node id=\"5\" lat=\"49.0000\"/>");
    let e = err(SourceFormat::Lanelet2, &o);
    assert!(e.contains("bad.file:7:") && e.contains("`lon`") && e.contains("id=\"5\""), "{e}");
}

#[test]
fn dangling_links_are_errors() {
    let e = err(
        SourceFormat::Sumo,
        &NET.replace("to=\"E1\" fromLane=\"0\" toLane=\"0\" via", "to=\"E9\" fromLane=\"0\" toLane=\"0\" via"),
    );
    assert!(
        e.contains("bad.file:20: <connection id=\"E0_0->E9_0\">") && e.contains("unknown lane (to/toLane) `E9_0`"),
        "{e}"
    );
    let e = err(SourceFormat::Sumo, &NET.replace("tl=\"J1\"", "tl=\"J7\""));
    assert!(e.contains("unknown tlLogic `J7`"), "{e}");
    let e = err(SourceFormat::OpenDrive, &XODR.replace("connectingRoad=\"2\"", "connectingRoad=\"22\""));
    assert!(e.contains("unknown road (connectingRoad) `22`"), "{e}");
    let e = err(
        SourceFormat::OpenDrive,
        &XODR.replace("<laneLink from=\"-1\" to=\"-1\"/>", "<laneLink from=\"-4\" to=\"-1\"/>"),
    );
    assert!(e.contains("1_0_-4"), "{e}");
    let e = err(
        SourceFormat::Lanelet2,
        &OSM.replace(
            "<member type=\"way\" ref=\"12\" role=\"right\"/>",
            "<member type=\"way\" ref=\"99\" role=\"right\"/>",
        ),
    );
    assert!(e.contains("unknown way `99`") && e.contains("id=\"101\""), "{e}");
    let e = err(SourceFormat::Lanelet2, &OSM.replace("<nd ref=\"5\"/>", "<nd ref=\"55\"/>"));
    assert!(e.contains("unknown node `55`") && e.contains("id=\"12\""), "{e}");
}

#[test]
fn unsupported_geometry_is_an_error_not_a_gap() {
    let x = XODR.replace(
        "<line/></geometry>\n            <geometry s=\"20\"",
        "<clothoid/></geometry>\n            <geometry s=\"20\"",
    );
    let e = err(SourceFormat::OpenDrive, &x);
    assert!(e.contains("unsupported geometry type <clothoid>") && e.contains("id=\"1\""), "{e}");
    let e = err(SourceFormat::Sumo, &NET.replace("projParameter=\"!\"", "projParameter=\"+proj=lcc +lat_1=1\""));
    assert!(e.contains("projParameter") && e.contains("lcc"), "{e}");
    let e = err(SourceFormat::Sumo, &NET.replace("shape=\"0.00,-1.60 98.00,-1.60\"", "shape=\"0.00,-1.60 98.00,x\""));
    assert!(e.contains("`shape`"), "{e}");
}

#[test]
fn skipped_things_are_reported() {
    let x = XODR.replace("<signals>", "<signals>\n<signal s=\"1\" t=\"2\" id=\"speed\" dynamic=\"no\" type=\"274\"/>");
    let i = import_bytes(SourceFormat::OpenDrive, "t", x.as_bytes(), &ImportOptions::default()).unwrap();
    assert!(
        i.report.warnings.iter().any(|w| w.message.contains("static signal") && w.at.id.as_deref() == Some("speed")),
        "{:?}",
        i.report
    );
    let o = OSM.replace("<relation id=\"200\">", "<relation id=\"300\"><tag k=\"type\" v=\"regulatory_element\"/><tag k=\"subtype\" v=\"traffic_sign\"/></relation>\n  <relation id=\"200\">");
    let i = import_bytes(SourceFormat::Lanelet2, "t", o.as_bytes(), &ImportOptions::default()).unwrap();
    assert!(
        i.report.warnings.iter().any(|w| w.message.contains("traffic_sign") && w.at.id.as_deref() == Some("300")),
        "{:?}",
        i.report
    );
}

#[test]
fn right_of_way() {
    use corridor_hdmap::Priority;
    let m = imp(SourceFormat::Sumo, &NET.replace("dir=\"s\" state=\"O\"", "dir=\"s\" state=\"m\"")).unwrap();
    assert_eq!(m.connections[0].priority, Priority::Yield);
    let o = OSM.replace(
        "<relation id=\"200\">",
        "<relation id=\"300\"><member type=\"relation\" ref=\"100\" role=\"yield\"/><member type=\"way\" ref=\"14\" role=\"ref_line\"/><tag k=\"type\" v=\"regulatory_element\"/><tag k=\"subtype\" v=\"right_of_way\"/></relation>\n  <relation id=\"200\">",
    );
    let m = imp(SourceFormat::Lanelet2, &o).unwrap();
    assert_eq!(m.connections[0].priority, Priority::Yield);
    assert_eq!(m.stop_lines.len(), 2, "the right-of-way stop line beside the traffic light's");
    let plain = imp(SourceFormat::Lanelet2, OSM).unwrap();
    assert_eq!(plain.connections[0].priority, Priority::Unknown);
}
