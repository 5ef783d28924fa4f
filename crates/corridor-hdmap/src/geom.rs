//! Plane geometry on polylines: lengths, projection of a point, resampling, offsets.
//!
//! Points are `[east_m, north_m]`. Headings are radians counter-clockwise from east.

/// Length of a polyline, metres.
pub fn polyline_length_m(pts: &[[f64; 2]]) -> f64 {
    pts.windows(2).map(|w| dist(w[0], w[1])).sum()
}

/// Euclidean distance.
pub fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Heading of the segment a -> b, radians.
pub fn heading_rad(a: [f64; 2], b: [f64; 2]) -> f64 {
    (b[1] - a[1]).atan2(b[0] - a[0])
}

/// The difference of two angles, wrapped to `[-pi, pi]`.
pub fn angle_diff_rad(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(std::f64::consts::TAU);
    if d > std::f64::consts::PI {
        d - std::f64::consts::TAU
    } else {
        d
    }
}

/// Where a point projects onto a polyline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// Arc length from the start to the foot point, metres.
    pub s_m: f64,
    /// Signed distance, positive to the left of the direction of travel, metres.
    pub lateral_m: f64,
    /// Index of the segment the foot point is on.
    pub segment: usize,
    /// Fraction along that segment, 0..=1.
    pub t: f64,
}

/// Projects `p` onto the closest point of `pts` (at least two points).
pub fn project(pts: &[[f64; 2]], p: [f64; 2]) -> Option<Projection> {
    let mut best: Option<(f64, Projection)> = None;
    let mut s0 = 0.0;
    for (i, w) in pts.windows(2).enumerate() {
        let (a, b) = (w[0], w[1]);
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let len2 = dx * dx + dy * dy;
        let len = len2.sqrt();
        let t = if len2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let f = [a[0] + t * dx, a[1] + t * dy];
        let d = dist(f, p);
        if best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            let cross = dx * (p[1] - a[1]) - dy * (p[0] - a[0]);
            let lateral = if cross >= 0.0 { d } else { -d };
            best = Some((d, Projection { s_m: s0 + t * len, lateral_m: lateral, segment: i, t }));
        }
        s0 += len;
    }
    best.map(|(_, pr)| pr)
}

/// The point and heading at arc length `s_m` (clamped to the polyline).
pub fn point_at(pts: &[[f64; 2]], s_m: f64) -> Option<([f64; 2], f64)> {
    let mut s0 = 0.0;
    let n = pts.len();
    if n < 2 {
        return None;
    }
    for w in pts.windows(2) {
        let len = dist(w[0], w[1]);
        if s_m <= s0 + len || std::ptr::eq(w.as_ptr(), pts[n - 2..].as_ptr()) {
            let t = if len > 0.0 { ((s_m - s0) / len).clamp(0.0, 1.0) } else { 0.0 };
            let p = [w[0][0] + t * (w[1][0] - w[0][0]), w[0][1] + t * (w[1][1] - w[0][1])];
            return Some((p, heading_rad(w[0], w[1])));
        }
        s0 += len;
    }
    None
}

/// Resamples a polyline to `n >= 2` points equally spaced in arc length.
pub fn resample(pts: &[[f64; 2]], n: usize) -> Vec<[f64; 2]> {
    let total = polyline_length_m(pts);
    let n = n.max(2);
    (0..n).filter_map(|i| point_at(pts, total * i as f64 / (n - 1) as f64).map(|(p, _)| p)).collect()
}

/// Drops consecutive duplicate points (closer than 1 mm).
pub fn dedup_points(pts: &mut Vec<[f64; 2]>) {
    pts.dedup_by(|b, a| dist(*a, *b) < 1e-3);
}

/// Intersection of segments a0-a1 and b0-b1, if they cross.
pub fn segment_intersection(a0: [f64; 2], a1: [f64; 2], b0: [f64; 2], b1: [f64; 2]) -> Option<[f64; 2]> {
    let r = [a1[0] - a0[0], a1[1] - a0[1]];
    let s = [b1[0] - b0[0], b1[1] - b0[1]];
    let denom = r[0] * s[1] - r[1] * s[0];
    if denom.abs() < 1e-12 {
        return None;
    }
    let q = [b0[0] - a0[0], b0[1] - a0[1]];
    let t = (q[0] * s[1] - q[1] * s[0]) / denom;
    let u = (q[0] * r[1] - q[1] * r[0]) / denom;
    if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
        Some([a0[0] + t * r[0], a0[1] + t * r[1]])
    } else {
        None
    }
}

/// First crossing of two polylines, if any.
pub fn polyline_intersection(a: &[[f64; 2]], b: &[[f64; 2]]) -> Option<[f64; 2]> {
    for wa in a.windows(2) {
        for wb in b.windows(2) {
            if let Some(p) = segment_intersection(wa[0], wa[1], wb[0], wb[1]) {
                return Some(p);
            }
        }
    }
    None
}

/// A polyline's vertices each moved `offset_m` to the left (negative: right) of the direction
/// of travel (normals averaged at inner vertices).
pub fn offset_polyline(pts: &[[f64; 2]], offset_m: f64) -> Vec<[f64; 2]> {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let h = heading_rad(pts[i.saturating_sub(1)], pts[(i + 1).min(n - 1)]);
            [pts[i][0] - offset_m * h.sin(), pts[i][1] + offset_m * h.cos()]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_gives_s_and_signed_lateral() {
        let line = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]];
        let p = project(&line, [5.0, 1.0]).unwrap();
        assert!((p.s_m - 5.0).abs() < 1e-9 && (p.lateral_m - 1.0).abs() < 1e-9);
        let p = project(&line, [11.0, 5.0]).unwrap();
        assert!((p.s_m - 15.0).abs() < 1e-9 && (p.lateral_m + 1.0).abs() < 1e-9, "{p:?}");
        assert!((polyline_length_m(&line) - 20.0).abs() < 1e-12);
    }

    #[test]
    fn point_at_and_resample() {
        let line = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]];
        let (p, h) = point_at(&line, 15.0).unwrap();
        assert!((p[0] - 10.0).abs() < 1e-9 && (p[1] - 5.0).abs() < 1e-9);
        assert!((h - std::f64::consts::FRAC_PI_2).abs() < 1e-9);
        let r = resample(&line, 5);
        assert_eq!(r.len(), 5);
        assert!((r[2][0] - 10.0).abs() < 1e-9 && r[2][1].abs() < 1e-9);
    }

    #[test]
    fn segments_cross() {
        let p = segment_intersection([0.0, 0.0], [2.0, 2.0], [0.0, 2.0], [2.0, 0.0]).unwrap();
        assert!((p[0] - 1.0).abs() < 1e-12 && (p[1] - 1.0).abs() < 1e-12);
        assert!(segment_intersection([0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]).is_none());
    }

    #[test]
    fn offset_moves_left() {
        let o = offset_polyline(&[[0.0, 0.0], [10.0, 0.0]], 2.0);
        assert!((o[0][1] - 2.0).abs() < 1e-12 && (o[1][1] - 2.0).abs() < 1e-12);
    }
}
