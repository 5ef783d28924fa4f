//! The real maps land where SOURCES.md (checked there with pyproj / the source tools) says
//! they are: every lane point, taken back to WGS84 through the map's origin, lies inside the
//! documented bounding box (plus a small margin for lane widths and rounding of the bbox).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

mod common;

use corridor_hdmap::{load_path, ImportOptions};
use corridor_model::EnuFrame;

/// (file name part, lat min, lat max, lon min, lon max) from ../shared/realmaps/SOURCES.md.
const BBOXES: [(&str, f64, f64, f64, f64); 9] = [
    ("acosta_buslanes", 44.4899, 44.5016, 11.3084, 11.3317),
    ("pasubio_buslanes", 44.4952, 44.5068, 11.3043, 11.3277),
    ("Forschungskreuzung_cutmap", 48.7682, 48.7835, 11.4123, 11.4430),
    ("fkk_in/ingolstadt", 48.7739, 48.7766, 11.4218, 11.4275),
    ("fokr_bs", 52.2735, 52.2771, 10.5317, 10.5382),
    ("tavf_hamburg", 53.5432, 53.5695, 9.9514, 10.0112),
    ("fzi_mapping_example", 49.0018, 49.0111, 8.4119, 8.4588),
    ("tier4_kashiwanoha", 35.9026, 35.9039, 139.9327, 139.9345),
    ("tier4_test_intersection_tokyo", 35.6412, 35.6425, 139.7468, 139.7497),
];

#[test]
fn real_maps_are_where_sources_md_says() {
    let margin_deg = 0.0006; // ~50 m
    let mut checked = 0;
    for f in common::realmap_files() {
        let name = f.display().to_string();
        let Some(&(_, lat0, lat1, lon0, lon1)) = BBOXES.iter().find(|b| name.contains(b.0)) else { continue };
        let m = load_path(&f, &ImportOptions::default()).unwrap().map;
        let frame = EnuFrame::new(m.origin.expect("geo-referenced"));
        let mut n = 0;
        for l in &m.lanes {
            for p in &l.centre_line_m {
                let g = frame.geo_from_enu(&nalgebra::Point3::new(p[0], p[1], 0.0));
                assert!(
                    (lat0 - margin_deg..=lat1 + margin_deg).contains(&g.lat_deg)
                        && (lon0 - margin_deg..=lon1 + margin_deg).contains(&g.lon_deg),
                    "{name}: lane {} point {p:?} is at {g:?}, outside {lat0}..{lat1} N {lon0}..{lon1} E",
                    l.id
                );
                n += 1;
            }
        }
        assert!(n > 100, "{name}");
        checked += 1;
    }
    assert_eq!(checked, BBOXES.len());
}

#[test]
fn opendrive_geo_reference() {
    let r = common::realmaps_dir().join("opendrive/commonroad");
    // MONAEast: tmerc centred on 48.17723 N 11.59293 E; the map is ~1 km across
    let m = load_path(r.join("MONAEast.xodr"), &ImportOptions::default()).unwrap().map;
    let o = m.origin.unwrap();
    assert!((o.lat_deg - 48.17723).abs() < 0.01 && (o.lon_deg - 11.59293).abs() < 0.015, "{o:?}");
    // USA_Lanker has an empty geoReference: local frame, no origin unless given
    let m = load_path(r.join("USA_Lanker-1_17_T-1.xodr"), &ImportOptions::default()).unwrap().map;
    assert!(m.origin.is_none());
    let given = corridor_model::GeoPoint::new(34.14, -118.36);
    let m2 = load_path(r.join("USA_Lanker-1_17_T-1.xodr"), &ImportOptions { origin: Some(given) }).unwrap().map;
    assert_eq!(m2.origin, Some(given));
    assert_eq!(m2.lanes, m.lanes, "--origin anchors the frame, it does not move the lanes");
}
