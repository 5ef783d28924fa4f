//! Things every importer derives the same way from lanes and connections: stop lines at the
//! end of signalised ingress lanes, and conflict zones where movement paths cross or merge.

use std::collections::{BTreeMap, HashMap};

use crate::geom;
use crate::model::{ConflictZone, HdMap, StopLine};

/// Adds a stop line across the end of every ingress lane with a signalised connection, unless
/// the source already gave that lane one. The stop line's signal is the lane's group when
/// all its connections share one, else none (a shared lane with several groups).
pub(crate) fn stop_lines_at_signals(map: &mut HdMap) {
    let mut by_lane: BTreeMap<&str, Vec<Option<&crate::model::SignalRef>>> = BTreeMap::new();
    for c in &map.connections {
        by_lane.entry(c.ingress.as_str()).or_default().push(c.signal.as_ref());
    }
    let has: std::collections::HashSet<String> =
        map.stop_lines.iter().filter_map(|s| s.lane.as_ref().map(|l| l.as_str().to_owned())).collect();
    let lanes: HashMap<&str, &crate::model::Lane> = map.lanes.iter().map(|l| (l.id.as_str(), l)).collect();
    let mut new = Vec::new();
    for (lane_id, sigs) in by_lane {
        if has.contains(lane_id) || sigs.iter().all(Option::is_none) {
            continue;
        }
        let Some(lane) = lanes.get(lane_id) else {
            continue;
        };
        let pts = &lane.centre_line_m;
        let n = pts.len();
        if n < 2 {
            continue;
        }
        let end = pts[n - 1];
        let h = geom::heading_rad(pts[n - 2], end);
        let hw = lane.width_m.last().copied().unwrap_or(0.0) / 2.0;
        let (nx, ny) = (-h.sin() * hw, h.cos() * hw);
        let first = sigs[0];
        let signal = if sigs.iter().all(|s| *s == first) { first.cloned() } else { None };
        new.push(StopLine {
            id: format!("stop:{lane_id}"),
            lane: Some(lane.id.clone()),
            line_m: vec![[end[0] + nx, end[1] + ny], [end[0] - nx, end[1] - ny]],
            signal,
        });
    }
    map.stop_lines.extend(new);
}

/// Finds, junction by junction, every pair of connections (from different ingress lanes)
/// whose paths through the junction (their `via` lanes) cross or merge, and records a
/// conflict zone at the first meeting point. Connections without `via` lanes have no path
/// inside the junction and get no zones.
pub(crate) fn conflict_zones(map: &mut HdMap) {
    let lanes: HashMap<&str, &Vec<[f64; 2]>> = map.lanes.iter().map(|l| (l.id.as_str(), &l.centre_line_m)).collect();
    struct Path {
        conn: u32,
        ingress: String,
        pts: Vec<[f64; 2]>,
        bb: [f64; 4],
    }
    let mut by_junction: BTreeMap<String, Vec<Path>> = BTreeMap::new();
    for c in &map.connections {
        let Some(j) = &c.junction else { continue };
        if c.via.is_empty() {
            continue;
        }
        let mut pts: Vec<[f64; 2]> = Vec::new();
        for v in &c.via {
            if let Some(p) = lanes.get(v.as_str()) {
                pts.extend(p.iter().copied());
            }
        }
        geom::dedup_points(&mut pts);
        if pts.len() < 2 {
            continue;
        }
        let bb = pts.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, p| {
            [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])]
        });
        by_junction.entry(j.clone()).or_default().push(Path {
            conn: c.id,
            ingress: c.ingress.as_str().to_owned(),
            pts,
            bb,
        });
    }
    let mut zones = Vec::new();
    for (j, paths) in &by_junction {
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[i + 1..] {
                if a.ingress == b.ingress
                    || a.bb[0] > b.bb[2]
                    || b.bb[0] > a.bb[2]
                    || a.bb[1] > b.bb[3]
                    || b.bb[1] > a.bb[3]
                {
                    continue;
                }
                if let Some(p) = geom::polyline_intersection(&a.pts, &b.pts) {
                    zones.push(ConflictZone {
                        id: 0,
                        junction: Some(j.clone()),
                        centre_m: p,
                        connections: [a.conn.min(b.conn), a.conn.max(b.conn)],
                    });
                }
            }
        }
    }
    map.conflict_zones = zones;
}
