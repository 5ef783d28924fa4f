//! Association: spatial pre-gating, Mahalanobis gating, class-aware cost, clustered global
//! nearest-neighbour assignment.
//!
//! 1. **Pre-gate** with a uniform grid over the frame's detections (counting sort into cells):
//!    each track looks only at the cells its gate can reach, so a 200 x 400 step does a few
//!    thousand distance checks instead of 80 000.
//! 2. **Gate** on the squared Mahalanobis distance `d2 = y^T S^-1 y`, `S = H P H^T + R`, against a
//!    chi-square quantile (`gate_d2`, 2 dof). The caller computes `S` (it owns the filters).
//! 3. **Cost** `d2 + class_mismatch_cost * min(conf_track, conf_det) * mismatch(class_t, class_d)`:
//!    a pedestrian detection is expensive for a car track but not forbidden (classifiers err).
//! 4. **Clusters**: tracks and detections linked by a gated pair form connected components
//!    (union-find); each component is solved on its own (as in cluster-wise JPDA/MHT, Reid 1979),
//!    most are 1x1 and need no solver at all.
//! 5. **Assignment** per cluster: `pathfinding::kuhn_munkres::kuhn_munkres_min` on integer weights
//!    (costs scaled by 1000, never NaN or infinite). Rows are tracks; columns are the cluster's
//!    detections plus one "missed" column per track with cost `gate_d2`, so rows <= columns always
//!    and every track can stay unassigned. Infeasible pairs get a large finite weight that no
//!    optimal solution picks (every track has a feasible "missed" column).

use corridor_model::ObjectClass;
use nalgebra::Vector2;
use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

/// A gated (track, detection) pair and its cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Track index.
    pub track: u32,
    /// Detection index.
    pub det: u32,
    /// Assignment cost (finite, >= 0).
    pub cost: f64,
}

/// How unlike two classes are, 0 (same or unknown) ..= 1 (pedestrian vs. bus).
pub fn class_mismatch(a: ObjectClass, b: ObjectClass) -> f64 {
    use ObjectClass as C;
    if a == b || a == C::Unknown || b == C::Unknown {
        return 0.0;
    }
    let group = |c: ObjectClass| match c {
        C::Car | C::Bus | C::Truck => 0,
        C::Motorcycle | C::Cyclist => 1,
        C::Pedestrian => 2,
        _ => 3,
    };
    match (group(a), group(b)) {
        (x, y) if x == y => 0.25,
        (1, 2) | (2, 1) | (0, 1) | (1, 0) => 0.6,
        _ => 1.0,
    }
}

/// A uniform grid over points (counting sort), rebuilt per frame, reusing its buffers.
#[derive(Debug, Default, Clone)]
pub struct Grid {
    cell_m: f64,
    x0: f64,
    y0: f64,
    nx: usize,
    ny: usize,
    start: Vec<u32>,
    items: Vec<u32>,
}

/// The most cells per grid axis; beyond it cells grow.
const MAX_CELLS_PER_AXIS: usize = 256;

impl Grid {
    /// Rebuilds the grid over `points` with cells of about `cell_m`.
    pub fn build(&mut self, points: &[Vector2<f64>], cell_m: f64) {
        self.start.clear();
        self.items.clear();
        if points.is_empty() {
            self.nx = 0;
            self.ny = 0;
            return;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in points {
            x0 = x0.min(p.x);
            y0 = y0.min(p.y);
            x1 = x1.max(p.x);
            y1 = y1.max(p.y);
        }
        let span = (x1 - x0).max(y1 - y0);
        let cell_m = cell_m.max(span / (MAX_CELLS_PER_AXIS - 1) as f64).max(1e-3);
        self.cell_m = cell_m;
        self.x0 = x0;
        self.y0 = y0;
        self.nx = ((x1 - x0) / cell_m) as usize + 1;
        self.ny = ((y1 - y0) / cell_m) as usize + 1;
        let n_cells = self.nx * self.ny;
        self.start.resize(n_cells + 1, 0);
        let cell_of = |p: &Vector2<f64>| -> usize {
            let cx = (((p.x - x0) / cell_m) as usize).min(self.nx - 1);
            let cy = (((p.y - y0) / cell_m) as usize).min(self.ny - 1);
            cy * self.nx + cx
        };
        for p in points {
            self.start[cell_of(p) + 1] += 1;
        }
        for i in 0..n_cells {
            self.start[i + 1] += self.start[i];
        }
        self.items.resize(points.len(), 0);
        let mut fill = self.start.clone();
        for (i, p) in points.iter().enumerate() {
            let c = cell_of(p);
            self.items[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
    }

    /// Calls `f` with every point index whose cell intersects the square `centre +- radius_m`.
    pub fn for_each_near(&self, centre: &Vector2<f64>, radius_m: f64, mut f: impl FnMut(u32)) {
        if self.nx == 0 || !(radius_m.is_finite() && centre.x.is_finite() && centre.y.is_finite()) {
            return;
        }
        // no floor(): negatives are rejected or clamped to 0 below, positives truncate
        let lo = |v: f64, o: f64| (v - o) / self.cell_m;
        let (fx0, fx1) = (lo(centre.x - radius_m, self.x0), lo(centre.x + radius_m, self.x0));
        let (fy0, fy1) = (lo(centre.y - radius_m, self.y0), lo(centre.y + radius_m, self.y0));
        if fx1 < 0.0 || fy1 < 0.0 || fx0 >= self.nx as f64 || fy0 >= self.ny as f64 {
            return;
        }
        let cx0 = fx0.max(0.0) as usize;
        let cy0 = fy0.max(0.0) as usize;
        let cx1 = (fx1 as usize).min(self.nx - 1);
        let cy1 = (fy1 as usize).min(self.ny - 1);
        for cy in cy0..=cy1 {
            let row = cy * self.nx;
            let (a, b) = (self.start[row + cx0] as usize, self.start[row + cx1 + 1] as usize);
            for &i in &self.items[a..b] {
                f(i);
            }
        }
    }
}

/// Scale from f64 cost to integer weight.
const WEIGHT_SCALE: f64 = 1000.0;
/// Weight of an infeasible pair: finite, larger than any sum of feasible weights in practice.
const INFEASIBLE: i64 = 1 << 40;

fn weight(cost: f64) -> i64 {
    if cost.is_finite() {
        (cost.clamp(0.0, 1.0e6) * WEIGHT_SCALE).round() as i64
    } else {
        INFEASIBLE
    }
}

/// Reusable buffers of [`assign`].
#[derive(Debug, Default, Clone)]
pub struct AssignScratch {
    parent: Vec<u32>,
    roots: Vec<u32>,
    count: Vec<u32>,
    order: Vec<u32>,
    /// Clusters solved greedily because they were too large, in total.
    pub greedy_clusters: u64,
    local: Vec<u32>,
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[i as usize];
        parent[i as usize] = parent[p as usize];
        i = p;
    }
    i
}

/// Solves the assignment of `n_tracks` tracks to `n_dets` detections given the gated
/// candidate pairs; a track left unassigned costs `miss_cost`. Returns the matched
/// `(track, det)` pairs, cluster by cluster (deterministic for a given `pairs` order).
pub fn assign(
    n_tracks: usize,
    n_dets: usize,
    pairs: &[Candidate],
    miss_cost: f64,
    s: &mut AssignScratch,
) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    if pairs.is_empty() {
        return out;
    }
    // a public function: pairs that index outside the problem or carry a NaN/inf cost are
    // dropped rather than trusted (the solver must never see them)
    let valid = |p: &Candidate| (p.track as usize) < n_tracks && (p.det as usize) < n_dets && p.cost.is_finite();
    if !pairs.iter().all(valid) {
        let kept: Vec<Candidate> = pairs.iter().copied().filter(valid).collect();
        return assign(n_tracks, n_dets, &kept, miss_cost, s);
    }
    let n = n_tracks + n_dets;
    s.parent.clear();
    s.parent.extend(0..n as u32);
    for p in pairs {
        let (a, b) = (find(&mut s.parent, p.track), find(&mut s.parent, n_tracks as u32 + p.det));
        if a != b {
            s.parent[a.max(b) as usize] = a.min(b);
        }
    }
    // group pairs by cluster root with a stable counting sort (a root is the smallest node
    // of its component, always a track, so roots index 0..n_tracks)
    s.roots.clear();
    for p in pairs {
        let r = find(&mut s.parent, p.track);
        s.roots.push(r);
    }
    s.count.clear();
    s.count.resize(n_tracks + 1, 0);
    for &r in &s.roots {
        s.count[r as usize + 1] += 1;
    }
    for i in 0..n_tracks {
        s.count[i + 1] += s.count[i];
    }
    s.order.clear();
    s.order.resize(pairs.len(), 0);
    for (i, &r) in s.roots.iter().enumerate() {
        let slot = &mut s.count[r as usize];
        s.order[*slot as usize] = i as u32;
        *slot += 1;
    }
    let roots = &s.roots;
    s.local.clear();
    s.local.resize(n, u32::MAX);
    let miss_w = weight(miss_cost);
    let mut i = 0;
    while i < s.order.len() {
        let root = roots[s.order[i] as usize];
        let mut j = i;
        while j < s.order.len() && roots[s.order[j] as usize] == root {
            j += 1;
        }
        let group = &s.order[i..j];
        if group.len() == 1 {
            let p = pairs[group[0] as usize];
            if p.cost < miss_cost {
                out.push((p.track, p.det));
            }
        } else if group.len() > MAX_EXACT_CLUSTER_PAIRS {
            // a pathological cluster (a flood inside a crowd): Kuhn-Munkres is cubic, so take
            // the cheapest pairs first instead and say so in the counters
            s.greedy_clusters += 1;
            solve_greedy(group, pairs, n_tracks, miss_cost, &mut s.local, &mut out);
        } else {
            solve_cluster(group, pairs, n_tracks, miss_w, &mut s.local, &mut out);
        }
        i = j;
    }
    out
}

/// Reusable buffers of [`ambiguous_matches`].
#[derive(Debug, Default, Clone)]
pub struct AmbiguityScratch {
    /// Eligible candidates per detection.
    count: Vec<u32>,
    /// The match index of each detection (`u32::MAX`: unmatched).
    match_of_det: Vec<u32>,
    /// The matched detection of each track (`u32::MAX`: unmatched).
    det_of_track: Vec<u32>,
    /// Eligible pairs of detections with two or more eligible candidates, by (track, det).
    multi: Vec<Candidate>,
    /// Per match: the one other match it is ambiguous with by a swap, `NO_PARTNER`, or
    /// `MANY_PARTNERS` (see [`AmbiguityScratch::swap_partner`]).
    partner: Vec<u32>,
}

const NO_PARTNER: u32 = u32::MAX;
const MANY_PARTNERS: u32 = u32::MAX - 1;

impl AmbiguityScratch {
    /// After [`ambiguous_matches`]: the other match that match `k` is ambiguous with, when the
    /// two form an ambiguous swap on their own (two tracks, each gating both detections, the
    /// swapped assignment within the margin) and neither is ambiguous with anything else (a
    /// third track, an unmatched rival).
    pub fn swap_partner(&self, k: usize) -> Option<usize> {
        let p = *self.partner.get(k)?;
        if p >= MANY_PARTNERS {
            return None;
        }
        (self.partner.get(p as usize) == Some(&(k as u32))).then_some(p as usize)
    }
}

/// Flags the matches whose assignment is ambiguous: another eligible track explains the
/// detection almost as well.
///
/// For a matched pair `(a, d)` and another eligible track `b` gated to `d`:
/// - `b` matched to `e`: the swap `(a, e), (b, d)` costs less than `margin` more than the chosen
///   `(a, d), (b, e)` (both matches are flagged);
/// - `b` unmatched: `cost(b, d) - cost(a, d) < margin` (the match of `d` is flagged).
///
/// This is the "ambiguous measurement" of GNN trackers (Blackman & Popoli 1999, sec. 6.4.3):
/// when two tracks compete for one measurement with nearly equal likelihood, a hard assignment
/// is a coin toss, and a wrong one pulls each track toward the other object; two crossing
/// pedestrians then swap identities. Returning a flag (not a choice) lets the caller leave both
/// tracks predicted on their own velocities until the measurements separate again. `matches`
/// must be one-to-one; `eligible(track)` says which tracks take part (the published ones).
/// Returns one flag per match, in `matches` order.
pub fn ambiguous_matches(
    n_tracks: usize,
    n_dets: usize,
    pairs: &[Candidate],
    matches: &[(u32, u32)],
    eligible: impl Fn(u32) -> bool,
    margin: f64,
    s: &mut AmbiguityScratch,
) -> Vec<bool> {
    let mut flags = vec![false; matches.len()];
    s.partner.clear();
    s.partner.resize(matches.len(), NO_PARTNER);
    if margin <= 0.0 || matches.is_empty() {
        return flags;
    }
    s.count.clear();
    s.count.resize(n_dets, 0);
    for p in pairs {
        if (p.det as usize) < n_dets && (p.track as usize) < n_tracks && eligible(p.track) {
            s.count[p.det as usize] += 1;
        }
    }
    s.multi.clear();
    s.multi.extend(pairs.iter().filter(|p| {
        (p.det as usize) < n_dets
            && (p.track as usize) < n_tracks
            && s.count[p.det as usize] >= 2
            && eligible(p.track)
            && p.cost.is_finite()
    }));
    if s.multi.is_empty() {
        return flags;
    }
    s.multi.sort_unstable_by_key(|p| (p.track, p.det));
    let multi = &s.multi;
    let cost = |t: u32, d: u32| -> Option<f64> {
        multi.binary_search_by_key(&(t, d), |p| (p.track, p.det)).ok().map(|i| multi[i].cost)
    };
    s.match_of_det.clear();
    s.match_of_det.resize(n_dets, u32::MAX);
    s.det_of_track.clear();
    s.det_of_track.resize(n_tracks, u32::MAX);
    for (k, &(t, d)) in matches.iter().enumerate() {
        if (t as usize) < n_tracks && (d as usize) < n_dets {
            s.match_of_det[d as usize] = k as u32;
            s.det_of_track[t as usize] = d;
        }
    }
    for p in multi {
        let (b, d) = (p.track, p.det);
        let k = s.match_of_det[d as usize];
        if k == u32::MAX {
            continue;
        }
        let a = matches[k as usize].0;
        if a == b {
            continue;
        }
        let Some(c_ad) = cost(a, d) else { continue };
        let e = s.det_of_track[b as usize];
        if e == u32::MAX {
            if p.cost - c_ad < margin {
                flags[k as usize] = true;
                s.partner[k as usize] = MANY_PARTNERS;
            }
        } else if let (Some(c_ae), Some(c_be)) = (cost(a, e), cost(b, e)) {
            if c_ae + p.cost - c_ad - c_be < margin {
                let k2 = s.match_of_det[e as usize];
                flags[k as usize] = true;
                flags[k2 as usize] = true;
                for (x, y) in [(k, k2), (k2, k)] {
                    let slot = &mut s.partner[x as usize];
                    *slot = if *slot == NO_PARTNER || *slot == y { y } else { MANY_PARTNERS };
                }
            }
        }
    }
    flags
}

/// Clusters with more gated pairs than this are assigned greedily (cheapest pair first).
pub const MAX_EXACT_CLUSTER_PAIRS: usize = 2_000;

fn solve_greedy(
    group: &[u32],
    pairs: &[Candidate],
    n_tracks: usize,
    miss_cost: f64,
    used: &mut [u32],
    out: &mut Vec<(u32, u32)>,
) {
    let mut order: Vec<u32> = group.to_vec();
    order.sort_by(|a, b| pairs[*a as usize].cost.total_cmp(&pairs[*b as usize].cost));
    for &k in &order {
        let p = pairs[k as usize];
        let (ti, di) = (p.track as usize, n_tracks + p.det as usize);
        if p.cost < miss_cost && used[ti] == u32::MAX && used[di] == u32::MAX {
            used[ti] = 0;
            used[di] = 0;
            out.push((p.track, p.det));
        }
    }
    for &k in &order {
        let p = pairs[k as usize];
        used[p.track as usize] = u32::MAX;
        used[n_tracks + p.det as usize] = u32::MAX;
    }
}

fn solve_cluster(
    group: &[u32],
    pairs: &[Candidate],
    n_tracks: usize,
    miss_w: i64,
    local: &mut [u32],
    out: &mut Vec<(u32, u32)>,
) {
    let mut tracks: Vec<u32> = Vec::new();
    let mut dets: Vec<u32> = Vec::new();
    for &k in group {
        let p = pairs[k as usize];
        if local[p.track as usize] == u32::MAX {
            local[p.track as usize] = tracks.len() as u32;
            tracks.push(p.track);
        }
        let dk = n_tracks + p.det as usize;
        if local[dk] == u32::MAX {
            local[dk] = dets.len() as u32;
            dets.push(p.det);
        }
    }
    let (r, c) = (tracks.len(), dets.len());
    let cols = c + r;
    let mut w = vec![INFEASIBLE; r * cols];
    for &k in group {
        let p = pairs[k as usize];
        let (ti, di) = (local[p.track as usize] as usize, local[n_tracks + p.det as usize] as usize);
        w[ti * cols + di] = weight(p.cost);
    }
    for ti in 0..r {
        w[ti * cols + c + ti] = miss_w;
    }
    if let Ok(m) = Matrix::from_vec(r, cols, w) {
        let (_, assignment) = kuhn_munkres_min(&m);
        for (ti, &col) in assignment.iter().enumerate() {
            if col < c && m[(ti, col)] < INFEASIBLE {
                out.push((tracks[ti], dets[col]));
            }
        }
    }
    for t in tracks {
        local[t as usize] = u32::MAX;
    }
    for d in dets {
        local[n_tracks + d as usize] = u32::MAX;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(track: u32, det: u32, cost: f64) -> Candidate {
        Candidate { track, det, cost }
    }

    #[test]
    fn near_ties_are_ambiguous_clear_choices_are_not() {
        let mut s = AmbiguityScratch::default();
        let all = |_| true;
        // two tracks, two detections; the swap costs only 1 more: both matches ambiguous
        let pairs = [c(0, 0, 1.0), c(0, 1, 2.0), c(1, 0, 2.0), c(1, 1, 2.0)];
        let m = [(0, 0), (1, 1)];
        assert_eq!(ambiguous_matches(2, 2, &pairs, &m, all, 3.0, &mut s), vec![true, true]);
        // the swap costs 9 more: clear
        let pairs = [c(0, 0, 1.0), c(0, 1, 6.0), c(1, 0, 6.0), c(1, 1, 2.0)];
        assert_eq!(ambiguous_matches(2, 2, &pairs, &m, all, 3.0, &mut s), vec![false, false]);
        // the rival track missed: its cost against the detection decides
        let pairs = [c(0, 0, 1.0), c(1, 0, 2.5)];
        assert_eq!(ambiguous_matches(2, 1, &pairs, &[(0, 0)], all, 3.0, &mut s), vec![true]);
        let pairs = [c(0, 0, 1.0), c(1, 0, 9.0)];
        assert_eq!(ambiguous_matches(2, 1, &pairs, &[(0, 0)], all, 3.0, &mut s), vec![false]);
        // a rival that does not take part (a tentative track), or margin 0: never ambiguous
        let pairs = [c(0, 0, 1.0), c(1, 0, 1.5)];
        assert_eq!(ambiguous_matches(2, 1, &pairs, &[(0, 0)], |t| t == 0, 3.0, &mut s), vec![false]);
        assert_eq!(ambiguous_matches(2, 1, &pairs, &[(0, 0)], all, 0.0, &mut s), vec![false]);
    }

    #[test]
    fn an_ambiguous_swap_of_two_matches_is_paired_anything_more_is_not() {
        let mut s = AmbiguityScratch::default();
        let all = |_| true;
        // two tracks, two detections, the swap within the margin: a pair
        let pairs = [c(0, 0, 1.0), c(0, 1, 2.0), c(1, 0, 2.0), c(1, 1, 2.0)];
        let m = [(0, 0), (1, 1)];
        assert_eq!(ambiguous_matches(2, 2, &pairs, &m, all, 3.0, &mut s), vec![true, true]);
        assert_eq!((s.swap_partner(0), s.swap_partner(1)), (Some(1), Some(0)));
        // a clear choice: no pair
        let pairs = [c(0, 0, 1.0), c(0, 1, 6.0), c(1, 0, 6.0), c(1, 1, 2.0)];
        assert_eq!(ambiguous_matches(2, 2, &pairs, &m, all, 3.0, &mut s), vec![false, false]);
        assert_eq!((s.swap_partner(0), s.swap_partner(1)), (None, None));
        // a third, unmatched track also explains detection 0: withheld, not paired
        let pairs = [c(0, 0, 1.0), c(0, 1, 2.0), c(1, 0, 2.0), c(1, 1, 2.0), c(2, 0, 1.5)];
        assert_eq!(ambiguous_matches(3, 2, &pairs, &m, all, 3.0, &mut s), vec![true, true]);
        assert_eq!((s.swap_partner(0), s.swap_partner(1)), (None, None));
        // three matched tracks, each swap within the margin: no pair
        let mut pairs = Vec::new();
        for t in 0..3 {
            for d in 0..3 {
                pairs.push(c(t, d, if t == d { 1.0 } else { 2.0 }));
            }
        }
        let m3 = [(0, 0), (1, 1), (2, 2)];
        assert_eq!(ambiguous_matches(3, 3, &pairs, &m3, all, 3.0, &mut s), vec![true, true, true]);
        assert!((0..3).all(|k| s.swap_partner(k).is_none()));
    }

    #[test]
    fn bad_pairs_are_ignored_not_trusted() {
        let pairs = [c(0, 0, 1.0), c(5, 0, 0.1), c(0, 9, 0.1), c(1, 1, f64::NAN), c(1, 1, 2.0)];
        let mut m = assign(2, 2, &pairs, 13.8, &mut AssignScratch::default());
        m.sort_unstable();
        assert_eq!(m, vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn global_beats_greedy() {
        // greedy would give t0-d0 (1) and leave t1 with d1 (10): total 11; optimal t0-d1, t1-d0: 2+2
        let pairs = [c(0, 0, 1.0), c(0, 1, 2.0), c(1, 0, 2.0), c(1, 1, 10.0)];
        let mut m = assign(2, 2, &pairs, 13.8, &mut AssignScratch::default());
        m.sort_unstable();
        assert_eq!(m, vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn more_tracks_than_detections_and_independent_clusters() {
        // cluster A: 3 tracks compete for 1 detection; cluster B: 1x1; cluster C: cost above miss
        let pairs = [c(0, 0, 5.0), c(1, 0, 1.0), c(2, 0, 3.0), c(3, 1, 0.5), c(4, 2, 20.0)];
        let mut m = assign(5, 3, &pairs, 13.8, &mut AssignScratch::default());
        m.sort_unstable();
        assert_eq!(m, vec![(1, 0), (3, 1)]);
    }

    #[test]
    fn unassigned_when_cheaper() {
        // a chain t0-d0-t1-d1: matching t1-d1 costs 12, leaving t0 unmatched costs 13.8
        let pairs = [c(0, 0, 1.0), c(1, 0, 1.0), c(1, 1, 12.0)];
        let m = assign(2, 2, &pairs, 13.8, &mut AssignScratch::default());
        assert_eq!(m.len(), 2);
        let pairs = [c(0, 0, 1.0), c(1, 0, 1.0), c(1, 1, 13.0), c(0, 1, 13.5)];
        let mut m = assign(2, 2, &pairs, 13.8, &mut AssignScratch::default());
        m.sort_unstable();
        assert_eq!(m, vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn a_huge_cluster_falls_back_to_greedy_and_stays_one_to_one() {
        // 60 tracks x 60 detections, all gated together: 3600 pairs
        let mut pairs = Vec::new();
        for t in 0..60u32 {
            for d in 0..60u32 {
                let cost = if t == d { 0.5 } else { 5.0 + f64::from((t * 7 + d * 3) % 8) };
                pairs.push(c(t, d, cost));
            }
        }
        let mut s = AssignScratch::default();
        let m = assign(60, 60, &pairs, 13.8, &mut s);
        assert_eq!(s.greedy_clusters, 1);
        assert_eq!(m.len(), 60);
        assert!(m.iter().all(|(t, d)| t == d));
    }

    #[test]
    fn grid_finds_exactly_the_points_in_range() {
        let pts: Vec<Vector2<f64>> =
            (0..400).map(|i| Vector2::new((i % 20) as f64 * 7.3 - 50.0, (i / 20) as f64 * 5.1 - 40.0)).collect();
        let mut g = Grid::default();
        g.build(&pts, 6.0);
        for q in [Vector2::new(0.0, 0.0), Vector2::new(-60.0, 30.0), Vector2::new(200.0, 0.0)] {
            let r = 9.0;
            let mut got = Vec::new();
            g.for_each_near(&q, r, |i| got.push(i));
            for (i, p) in pts.iter().enumerate() {
                if (p.x - q.x).abs() <= r && (p.y - q.y).abs() <= r {
                    assert!(got.contains(&(i as u32)), "missing {i} near {q}");
                }
            }
            let n = got.len();
            got.sort_unstable();
            got.dedup();
            assert_eq!(got.len(), n, "each point is reported once");
        }
    }

    #[test]
    fn class_mismatch_is_symmetric_and_zero_on_diagonal() {
        for a in ObjectClass::ALL {
            assert_eq!(class_mismatch(a, a), 0.0);
            for b in ObjectClass::ALL {
                assert_eq!(class_mismatch(a, b), class_mismatch(b, a));
            }
        }
        assert!(
            class_mismatch(ObjectClass::Pedestrian, ObjectClass::Bus)
                > class_mismatch(ObjectClass::Car, ObjectClass::Truck)
        );
    }
}
