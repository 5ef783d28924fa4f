//! Scoring tracks against ground truth: CLEAR MOT (MOTA, MOTP, ID switches)
//! and IDF1, with the MOTChallenge-style CSV both sides are written in.
//!
//! Rows are `frame,id,x,y,z,vx,vy,class,confidence`. A ground-truth object and
//! a track match in a frame when their centres are within `threshold_m`
//! (2 m). Per frame, matches of the previous frame are kept while still within
//! the threshold (CLEAR MOT, Bernardin & Stiefelhagen 2008); the rest are
//! assigned by minimum total *squared* distance (Kuhn-Munkres from `pathfinding`).
//! IDF1 (Ristani et al. 2016) assigns ground-truth ids to track ids once for
//! the whole sequence, maximising the frames in which both are present within
//! the threshold.
//!
//! This is py-motmetrics 1.4.0's algorithm with `norm2squared_matrix(max_d2 =
//! threshold^2)` (MOTP reported as the mean Euclidean distance, i.e. the mean
//! of the square roots): `simulations/python/motmetrics_score.py` scores the same
//! CSVs with motmetrics and `tests/motmetrics.rs` asserts that both agree.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

/// One row of a MOTChallenge-style CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct MotRow {
    /// Frame number (`round(t / 0.1 s)`).
    pub frame: u64,
    /// Object or track id.
    pub id: u64,
    /// Position, m.
    pub x: f64,
    /// Position, m.
    pub y: f64,
    /// Height of the centre, m.
    pub z: f64,
    /// Velocity, m/s.
    pub vx: f64,
    /// Velocity, m/s.
    pub vy: f64,
    /// Class name.
    pub class: &'static str,
    /// Confidence.
    pub confidence: f64,
}

/// Writes rows as CSV with a header line.
pub fn to_csv(rows: &[MotRow]) -> String {
    let mut s = String::from("frame,id,x,y,z,vx,vy,class,confidence\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{},{:.3}",
            r.frame, r.id, r.x, r.y, r.z, r.vx, r.vy, r.class, r.confidence
        );
    }
    s
}

/// A bad CSV line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads rows written by [`to_csv`] (the header line is required).
pub fn from_csv(text: &str) -> Result<Vec<MotRow>, CsvError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == "frame,id,x,y,z,vx,vy,class,confidence" => {}
        _ => {
            return Err(CsvError {
                line: 1,
                message: "expected the header frame,id,x,y,z,vx,vy,class,confidence".into(),
            })
        }
    }
    let mut rows = Vec::new();
    for (i, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(',').collect();
        let bad = |what: &str| CsvError { line: i + 1, message: format!("{what} in `{l}`") };
        if f.len() != 9 {
            return Err(bad("expected 9 fields"));
        }
        let num = |k: usize| f[k].trim().parse::<f64>().map_err(|_| bad(&format!("field {k} is not a number")));
        let int = |k: usize| f[k].trim().parse::<u64>().map_err(|_| bad(&format!("field {k} is not an integer")));
        let class = corridor_model::ObjectClass::parse(f[7].trim()).map_or("unknown", |c| c.as_str());
        rows.push(MotRow {
            frame: int(0)?,
            id: int(1)?,
            x: num(2)?,
            y: num(3)?,
            z: num(4)?,
            vx: num(5)?,
            vy: num(6)?,
            class,
            confidence: num(8)?,
        });
    }
    Ok(rows)
}

/// CLEAR MOT and identity scores.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MotScore {
    /// 1 - (FN + FP + IDSW) / GT.
    pub mota: f64,
    /// Mean distance of matches, m.
    pub motp_m: f64,
    /// Identity F1.
    pub idf1: f64,
    /// Ground-truth object-frames.
    pub gt: u64,
    /// Matches.
    pub matches: u64,
    /// Misses.
    pub false_negatives: u64,
    /// False tracks.
    pub false_positives: u64,
    /// Identity switches.
    pub id_switches: u64,
    /// Distinct ground-truth ids.
    pub gt_ids: usize,
    /// Distinct ground-truth ids matched at least once.
    pub gt_ids_matched: usize,
    /// Distinct track ids.
    pub track_ids: usize,
}

const SCALE: f64 = 1000.0;

fn by_frame(rows: &[MotRow]) -> BTreeMap<u64, Vec<&MotRow>> {
    let mut m: BTreeMap<u64, Vec<&MotRow>> = BTreeMap::new();
    for r in rows {
        m.entry(r.frame).or_default().push(r);
    }
    m
}

fn dist(a: &MotRow, b: &MotRow) -> f64 {
    ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt()
}

/// Minimum-cost assignment of `rows x cols` with costs (None = not allowed). Returns pairs.
fn assign(n_rows: usize, n_cols: usize, cost: impl Fn(usize, usize) -> Option<f64>) -> Vec<(usize, usize)> {
    if n_rows == 0 || n_cols == 0 {
        return vec![];
    }
    // square matrix, maximise weight = BIG - cost for allowed pairs, 0 otherwise
    let n = n_rows.max(n_cols);
    let big = (1e6 * SCALE) as i64;
    let mut weights = Matrix::new(n, n, 0i64);
    for r in 0..n_rows {
        for c in 0..n_cols {
            if let Some(d) = cost(r, c) {
                weights[(r, c)] = big - (d * SCALE) as i64;
            }
        }
    }
    let (_, cols) = kuhn_munkres(&weights);
    cols.iter()
        .enumerate()
        .filter(|&(r, &c)| r < n_rows && c < n_cols && cost(r, c).is_some())
        .map(|(r, &c)| (r, c))
        .collect()
}

/// CLEAR MOT and IDF1, and the CLEAR matches per (gt id, track id).
fn score_inner(gt: &[MotRow], tracks: &[MotRow], threshold_m: f64) -> (MotScore, HashMap<(u64, u64), u64>) {
    let g = by_frame(gt);
    let t = by_frame(tracks);
    let frames: BTreeSet<u64> = g.keys().chain(t.keys()).copied().collect();
    let mut s = MotScore::default();
    let mut last_match: HashMap<u64, u64> = HashMap::new(); // gt id -> track id (last ever)
    let mut prev: HashMap<u64, u64> = HashMap::new(); // gt id -> track id in the previous frame
    let mut dist_sum = 0.0;
    let mut id_pairs: HashMap<(u64, u64), u64> = HashMap::new();
    let mut near_pairs: HashMap<(u64, u64), u64> = HashMap::new();
    let empty = Vec::new();
    for f in frames {
        let gs = g.get(&f).unwrap_or(&empty);
        let ts = t.get(&f).unwrap_or(&empty);
        s.gt += gs.len() as u64;
        let mut matched: Vec<(usize, usize)> = Vec::new();
        let mut g_used = vec![false; gs.len()];
        let mut t_used = vec![false; ts.len()];
        // keep previous matches still within the threshold
        for (gi, gr) in gs.iter().enumerate() {
            if let Some(&tid) = prev.get(&gr.id) {
                if let Some(ti) = ts.iter().position(|tr| tr.id == tid) {
                    if !t_used[ti] && dist(gr, ts[ti]) <= threshold_m {
                        matched.push((gi, ti));
                        g_used[gi] = true;
                        t_used[ti] = true;
                    }
                }
            }
        }
        let gi_free: Vec<usize> = (0..gs.len()).filter(|&i| !g_used[i]).collect();
        let ti_free: Vec<usize> = (0..ts.len()).filter(|&i| !t_used[i]).collect();
        for (r, c) in assign(gi_free.len(), ti_free.len(), |r, c| {
            let d = dist(gs[gi_free[r]], ts[ti_free[c]]);
            (d <= threshold_m).then_some(d * d)
        }) {
            matched.push((gi_free[r], ti_free[c]));
        }
        // IDF1 counts every frame in which a pair is within the threshold (Ristani et al.;
        // py-motmetrics does the same), not only the CLEAR MOT matches
        for gr in gs {
            for tr in ts {
                if dist(gr, tr) <= threshold_m {
                    *id_pairs.entry((gr.id, tr.id)).or_default() += 1;
                }
            }
        }
        let mut now_prev = HashMap::new();
        for &(gi, ti) in &matched {
            let (gid, tid) = (gs[gi].id, ts[ti].id);
            if let Some(&last) = last_match.get(&gid) {
                if last != tid {
                    s.id_switches += 1;
                }
            }
            last_match.insert(gid, tid);
            now_prev.insert(gid, tid);
            dist_sum += dist(gs[gi], ts[ti]);
        }
        prev = now_prev;
        for gr in gs.iter() {
            for tr in ts.iter() {
                if dist(gr, tr) <= threshold_m {
                    *near_pairs.entry((gr.id, tr.id)).or_default() += 1;
                }
            }
        }
        s.matches += matched.len() as u64;
        s.false_negatives += (gs.len() - matched.len()) as u64;
        s.false_positives += (ts.len() - matched.len()) as u64;
    }
    s.mota =
        if s.gt > 0 { 1.0 - (s.false_negatives + s.false_positives + s.id_switches) as f64 / s.gt as f64 } else { 0.0 };
    s.motp_m = if s.matches > 0 { dist_sum / s.matches as f64 } else { 0.0 };
    // IDF1: one global gt-id <-> track-id assignment maximising frames together within the threshold
    let gt_ids: Vec<u64> = gt.iter().map(|r| r.id).collect::<BTreeSet<_>>().into_iter().collect();
    let tr_ids: Vec<u64> = tracks.iter().map(|r| r.id).collect::<BTreeSet<_>>().into_iter().collect();
    s.gt_ids = gt_ids.len();
    s.track_ids = tr_ids.len();
    s.gt_ids_matched = last_match.len();
    // maximise the frames shared (not the number of pairs first, as the per-frame `assign` does)
    let idtp: u64 = if gt_ids.is_empty() || tr_ids.is_empty() {
        0
    } else {
        let n = gt_ids.len().max(tr_ids.len());
        let mut weights = Matrix::new(n, n, 0i64);
        for (r, g) in gt_ids.iter().enumerate() {
            for (c, t) in tr_ids.iter().enumerate() {
                weights[(r, c)] = near_pairs.get(&(*g, *t)).map_or(0, |&k| k as i64);
            }
        }
        kuhn_munkres(&weights).0.max(0) as u64
    };
    let denom = gt.len() as f64 + tracks.len() as f64;
    s.idf1 = if denom > 0.0 { 2.0 * idtp as f64 / denom } else { 0.0 };
    (s, id_pairs)
}

/// Scores `tracks` against `gt` with a match threshold in metres.
pub fn score(gt: &[MotRow], tracks: &[MotRow], threshold_m: f64) -> MotScore {
    score_inner(gt, tracks, threshold_m).0
}

/// Scores per ground-truth class: each track counts for the class of the ground-truth object it
/// was matched with most often (a track never matched counts for its own reported class), so a
/// misclassified but well-tracked object does not become a miss plus a false track.
pub fn score_per_class(gt: &[MotRow], tracks: &[MotRow], threshold_m: f64) -> BTreeMap<String, MotScore> {
    let (_, pairs) = score_inner(gt, tracks, threshold_m);
    let gt_class: HashMap<u64, &'static str> = gt.iter().map(|r| (r.id, r.class)).collect();
    let mut best: HashMap<u64, (u64, u64)> = HashMap::new(); // track -> (frames, gt id)
    for (&(g, t), &n) in &pairs {
        let e = best.entry(t).or_insert((0, g));
        if n > e.0 || (n == e.0 && g < e.1) {
            *e = (n, g);
        }
    }
    let track_class =
        |r: &MotRow| -> &'static str { best.get(&r.id).and_then(|(_, g)| gt_class.get(g).copied()).unwrap_or(r.class) };
    let classes: BTreeSet<&'static str> = gt.iter().map(|r| r.class).collect();
    classes
        .into_iter()
        .map(|c| {
            let g: Vec<MotRow> = gt.iter().filter(|r| r.class == c).cloned().collect();
            let t: Vec<MotRow> = tracks.iter().filter(|r| track_class(r) == c).cloned().collect();
            (c.to_owned(), score(&g, &t, threshold_m))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(frame: u64, id: u64, x: f64) -> MotRow {
        MotRow { frame, id, x, y: 0.0, z: 0.0, vx: 0.0, vy: 0.0, class: "car", confidence: 1.0 }
    }

    #[test]
    fn csv_round_trips_and_bad_lines_are_named() {
        let rows = vec![row(3, 7, 1.25), row(4, 7, -2.5)];
        assert_eq!(from_csv(&to_csv(&rows)).unwrap(), rows);
        let e = from_csv("frame,id,x,y,z,vx,vy,class,confidence\n1,2,x,0,0,0,0,car,1\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn perfect_tracking_scores_one() {
        let gt: Vec<MotRow> = (0..10).flat_map(|f| [row(f, 1, 0.0), row(f, 2, 10.0)]).collect();
        let tr: Vec<MotRow> = (0..10).flat_map(|f| [row(f, 7, 0.5), row(f, 8, 10.0)]).collect();
        let s = score(&gt, &tr, 2.0);
        assert_eq!((s.mota, s.idf1, s.id_switches), (1.0, 1.0, 0));
        assert!((s.motp_m - 0.25).abs() < 1e-9);
    }

    #[test]
    fn idf1_maximises_shared_frames_not_pairs() {
        // gt 1 shares 10 frames with track 7 and 1 with track 8; gt 2 shares 1 frame with track 7.
        // Best: 1<->7 (10 frames), not the two pairs 1<->8 + 2<->7 (2 frames).
        let mut gt: Vec<MotRow> = (0..10).map(|f| row(f, 1, 0.0)).collect();
        let mut tr: Vec<MotRow> = (0..10).map(|f| row(f, 7, 0.2)).collect();
        gt.push(row(20, 2, 100.0));
        tr.push(row(20, 7, 100.5));
        tr.push(row(21, 8, 50.0));
        gt.push(row(21, 1, 50.3));
        let s = score(&gt, &tr, 2.0);
        // idtp = 10 (1<->7); the old pairs-first assignment gave 2
        assert!((s.idf1 - 2.0 * 10.0 / (12.0 + 12.0)).abs() < 1e-9, "{}", s.idf1);
    }

    #[test]
    fn misses_false_tracks_and_switches_are_counted() {
        // gt 1 for 10 frames; track 5 follows it for frames 0..5, track 6 for 5..10 (one switch);
        // frame 9 has a far-away false track; frame 3 misses.
        let gt: Vec<MotRow> = (0..10).map(|f| row(f, 1, 0.0)).collect();
        let mut tr: Vec<MotRow> = (0..10).filter(|&f| f != 3).map(|f| row(f, if f < 5 { 5 } else { 6 }, 0.3)).collect();
        tr.push(row(9, 9, 50.0));
        let s = score(&gt, &tr, 2.0);
        assert_eq!(s.false_negatives, 1);
        assert_eq!(s.false_positives, 1);
        assert_eq!(s.id_switches, 1);
        assert!((s.mota - (1.0 - 3.0 / 10.0)).abs() < 1e-9);
        // IDF1: gt 1 <-> track 6 share 5 frames; 2*5 / (10 + 10)
        assert!((s.idf1 - 0.5).abs() < 1e-9, "{}", s.idf1);
    }
}
