//! Map projections: just enough of PROJ to place SUMO nets and OpenDRIVE files on WGS84.
//!
//! Supported PROJ strings: `+proj=utm +zone=N [+south]` and
//! `+proj=tmerc +lat_0 +lon_0 +k|+k_0 +x_0 +y_0` on the WGS84 (or GRS80) ellipsoid; other
//! `+` parameters that do not change the 2-D result (`+units=m`, `+no_defs`, `+datum`,
//! `+ellps`, `+towgs84=0,...`, `+geoidgrids`, `+vunits`, `+type`, `+wktext`) are accepted
//! and ignored. The transverse Mercator is the Krüger series to 4th order in `n`
//! (sub-millimetre within a few thousand km of the central meridian), pure Rust, so no
//! PROJ C library is needed on the RSU.

use corridor_model::GeoPoint;

/// A transverse Mercator projection (UTM is a special case).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransverseMercator {
    /// Latitude of origin, degrees.
    pub lat0_deg: f64,
    /// Central meridian, degrees.
    pub lon0_deg: f64,
    /// Scale on the central meridian.
    pub k0: f64,
    /// False easting, metres.
    pub x0_m: f64,
    /// False northing, metres.
    pub y0_m: f64,
}

const A_WGS84: f64 = 6_378_137.0;
const F_WGS84: f64 = 1.0 / 298.257_223_563;

struct Series {
    a_rect: f64,
    alpha: [f64; 4],
    beta: [f64; 4],
    delta: [f64; 4],
    n: f64,
}

fn series() -> Series {
    let n = F_WGS84 / (2.0 - F_WGS84);
    let (n2, n3, n4) = (n * n, n * n * n, n * n * n * n);
    Series {
        a_rect: A_WGS84 / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0),
        alpha: [
            n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0 + 41.0 * n4 / 180.0,
            13.0 * n2 / 48.0 - 3.0 * n3 / 5.0 + 557.0 * n4 / 1440.0,
            61.0 * n3 / 240.0 - 103.0 * n4 / 140.0,
            49561.0 * n4 / 161_280.0,
        ],
        beta: [
            n / 2.0 - 2.0 * n2 / 3.0 + 37.0 * n3 / 96.0 - n4 / 360.0,
            n2 / 48.0 + n3 / 15.0 - 437.0 * n4 / 1440.0,
            17.0 * n3 / 480.0 - 37.0 * n4 / 840.0,
            4397.0 * n4 / 161_280.0,
        ],
        delta: [
            2.0 * n - 2.0 * n2 / 3.0 - 2.0 * n3 + 116.0 * n4 / 45.0,
            7.0 * n2 / 3.0 - 8.0 * n3 / 5.0 - 227.0 * n4 / 45.0,
            56.0 * n3 / 15.0 - 136.0 * n4 / 35.0,
            4279.0 * n4 / 630.0,
        ],
        n,
    }
}

impl TransverseMercator {
    /// UTM zone `zone` (1..=60), north or south.
    pub fn utm(zone: u8, south: bool) -> Self {
        Self {
            lat0_deg: 0.0,
            lon0_deg: f64::from(zone) * 6.0 - 183.0,
            k0: 0.9996,
            x0_m: 500_000.0,
            y0_m: if south { 10_000_000.0 } else { 0.0 },
        }
    }

    /// Unscaled (k0 = 1, no false origin) easting/northing relative to the central meridian.
    fn raw_forward(&self, lat_deg: f64, lon_deg: f64) -> (f64, f64) {
        let s = series();
        let phi = lat_deg.to_radians();
        let lam = (lon_deg - self.lon0_deg).to_radians();
        let c = 2.0 * s.n.sqrt() / (1.0 + s.n);
        let t = (phi.sin().atanh() - c * (c * phi.sin()).atanh()).sinh();
        let xi_p = t.atan2(lam.cos());
        let eta_p = (lam.sin() / (1.0 + t * t).sqrt()).atanh();
        let mut e = eta_p;
        let mut nn = xi_p;
        for (j, a) in s.alpha.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            e += a * (k * xi_p).cos() * (k * eta_p).sinh();
            nn += a * (k * xi_p).sin() * (k * eta_p).cosh();
        }
        (s.a_rect * e, s.a_rect * nn)
    }

    /// Projected metres of a WGS84 point.
    pub fn forward(&self, p: &GeoPoint) -> (f64, f64) {
        let (e, n) = self.raw_forward(p.lat_deg, p.lon_deg);
        let (_, n0) = self.raw_forward(self.lat0_deg, self.lon0_deg);
        (self.x0_m + self.k0 * e, self.y0_m + self.k0 * (n - n0))
    }

    /// The WGS84 point of projected metres.
    pub fn inverse(&self, x_m: f64, y_m: f64) -> GeoPoint {
        let s = series();
        let (_, n0) = self.raw_forward(self.lat0_deg, self.lon0_deg);
        let xi = ((y_m - self.y0_m) / self.k0 + n0) / s.a_rect;
        let eta = ((x_m - self.x0_m) / self.k0) / s.a_rect;
        let mut xi_p = xi;
        let mut eta_p = eta;
        for (j, b) in s.beta.iter().enumerate() {
            let k = 2.0 * (j as f64 + 1.0);
            xi_p -= b * (k * xi).sin() * (k * eta).cosh();
            eta_p -= b * (k * xi).cos() * (k * eta).sinh();
        }
        let chi = (xi_p.sin() / eta_p.cosh()).asin();
        let mut phi = chi;
        for (j, d) in s.delta.iter().enumerate() {
            phi += d * (2.0 * (j as f64 + 1.0) * chi).sin();
        }
        let lam = eta_p.sinh().atan2(xi_p.cos());
        GeoPoint::new(phi.to_degrees(), self.lon0_deg + lam.to_degrees())
    }

    /// Parses a PROJ string. `Ok(None)` for "no projection" (`!` or empty, as SUMO writes).
    pub fn from_proj_string(s: &str) -> Result<Option<Self>, String> {
        let s = s.trim();
        if s.is_empty() || s == "!" {
            return Ok(None);
        }
        let mut proj = None;
        let mut zone = None;
        let mut south = false;
        let mut tm = TransverseMercator { lat0_deg: 0.0, lon0_deg: 0.0, k0: 1.0, x0_m: 0.0, y0_m: 0.0 };
        for tok in s.split_whitespace() {
            let tok = tok.trim_start_matches('+');
            let (k, v) = tok.split_once('=').unwrap_or((tok, ""));
            let num = || v.parse::<f64>().map_err(|_| format!("`{k}={v}` is not a number")).and_then(finite);
            match k {
                "proj" => proj = Some(v.to_owned()),
                "zone" => {
                    zone = Some(
                        v.parse::<u8>().ok().filter(|z| (1..=60).contains(z)).ok_or(format!("bad UTM zone `{v}`"))?,
                    )
                }
                "south" => south = true,
                "north" => south = false,
                "lat_0" => tm.lat0_deg = num()?,
                "lon_0" => tm.lon0_deg = num()?,
                "k" | "k_0" => tm.k0 = num()?,
                "x_0" => tm.x0_m = num()?,
                "y_0" => tm.y0_m = num()?,
                "ellps" | "datum" if !matches!(v, "WGS84" | "GRS80") => {
                    return Err(format!("ellipsoid/datum `{v}` is not supported (only WGS84/GRS80)"))
                }
                "towgs84" if v.split(',').any(|c| c.parse::<f64>() != Ok(0.0)) => {
                    return Err(format!("datum shift `towgs84={v}` is not supported"))
                }
                "ellps" | "datum" | "towgs84" | "units" | "no_defs" | "geoidgrids" | "vunits" | "type" | "wktext"
                | "" => {}
                other => return Err(format!("PROJ parameter `+{other}` is not supported")),
            }
        }
        match proj.as_deref() {
            Some("utm") => Ok(Some(Self::utm(zone.ok_or("`+proj=utm` without `+zone`")?, south))),
            Some("tmerc") => {
                if !(tm.lat0_deg.abs() <= 90.0 && tm.lon0_deg.abs() <= 360.0 && tm.k0 > 0.0) {
                    return Err("tmerc parameters out of range".into());
                }
                Ok(Some(tm))
            }
            Some(p) => Err(format!("projection `{p}` is not supported (only utm and tmerc)")),
            None => Err("no `+proj=`".into()),
        }
    }
}

fn finite(v: f64) -> Result<f64, String> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{v} is not finite"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utm_known_points() {
        // the central meridian of zone 32 on the equator is (500000, 0)
        let z = TransverseMercator::utm(32, false);
        let p = z.inverse(500_000.0, 0.0);
        assert!(p.lat_deg.abs() < 1e-9 && (p.lon_deg - 9.0).abs() < 1e-9, "{p:?}");
        // Wikipedia's UTM example: the CN Tower, 43°38'33.24"N 79°23'13.7"W, is 17T 630084 4833438
        let z17 = TransverseMercator::utm(17, false);
        let (e, n) =
            z17.forward(&GeoPoint::new(43.0 + 38.0 / 60.0 + 33.24 / 3600.0, -(79.0 + 23.0 / 60.0 + 13.7 / 3600.0)));
        assert!((e - 630_084.0).abs() < 1.0 && (n - 4_833_438.0).abs() < 1.0, "{e} {n}");
    }

    #[test]
    fn round_trip_is_sub_millimetre() {
        for (lat, lon, tm) in [
            (44.4946, 11.3144, TransverseMercator::utm(32, false)),
            (53.55, 9.99, TransverseMercator::utm(32, false)),
            (-33.9, 18.4, TransverseMercator::utm(34, true)),
            (
                52.2773,
                10.5390,
                TransverseMercator { lat0_deg: 52.2773, lon0_deg: 10.5390, k0: 1.0, x0_m: 0.0, y0_m: 0.0 },
            ),
        ] {
            let (x, y) = tm.forward(&GeoPoint::new(lat, lon));
            let back = tm.inverse(x, y);
            let dlat_m = (back.lat_deg - lat) * 111_000.0;
            let dlon_m = (back.lon_deg - lon) * 111_000.0 * lat.to_radians().cos();
            assert!(dlat_m.abs() < 1e-3 && dlon_m.abs() < 1e-3, "{lat} {lon}: {back:?}");
        }
    }

    #[test]
    fn tmerc_origin_is_at_false_origin() {
        let tm = TransverseMercator::from_proj_string(
            "+proj=tmerc +lat_0=52.27732947001164 +lon_0=10.53906321682368 +k=1 +x_0=0 +y_0=0 +datum=WGS84",
        )
        .unwrap()
        .unwrap();
        let p = tm.inverse(0.0, 0.0);
        assert!((p.lat_deg - 52.27732947001164).abs() < 1e-10 && (p.lon_deg - 10.53906321682368).abs() < 1e-10);
        // 100 m north is ~0.000898 degrees of latitude
        let q = tm.inverse(0.0, 100.0);
        assert!(((q.lat_deg - p.lat_deg) - 100.0 / 111_257.0).abs() < 2e-6, "{q:?}");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(TransverseMercator::from_proj_string("!"), Ok(None));
        assert!(TransverseMercator::from_proj_string("+proj=lcc +lat_1=1").is_err());
        assert!(TransverseMercator::from_proj_string("+proj=utm").is_err());
        assert!(TransverseMercator::from_proj_string("+proj=utm +zone=99").is_err());
        assert!(TransverseMercator::from_proj_string("+proj=tmerc +lat_0=abc").is_err());
    }
}
