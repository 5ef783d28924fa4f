//! From a source's coordinates to the map's local ENU frame.
//!
//! Projected sources (SUMO with `projParameter`, OpenDRIVE with `geoReference`) go
//! projected xy -> WGS84 (inverse projection) -> ENU at the map origin, so the ENU frame is
//! a true east-north-up frame (no grid convergence or scale error). Sources without a geo
//! reference keep their own metric xy as ENU; the origin is then whatever the caller says
//! (`ImportOptions::origin`), or none.

use corridor_model::{EnuFrame, GeoPoint};

use crate::proj::TransverseMercator;

/// A 2-D point `[east_m, north_m]`.
type Point = [f64; 2];

/// How to place source xy in the map's ENU frame.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Georef {
    /// Projected source: `geo = proj.inverse(x - offset)`, then ENU at `frame`.
    Projected { proj: TransverseMercator, offset: [f64; 2], frame: EnuFrame },
    /// WGS84 source (Lanelet2): ENU at `frame`.
    Geographic { frame: EnuFrame },
    /// Local metric source: ENU = xy - offset.
    Local { offset: [f64; 2], origin: Option<GeoPoint> },
}

impl Georef {
    /// A projected source whose ENU origin is the WGS84 point of source xy `centre`.
    pub(crate) fn projected(proj: TransverseMercator, offset: [f64; 2], centre: [f64; 2]) -> Self {
        let o = proj.inverse(centre[0] - offset[0], centre[1] - offset[1]);
        Georef::Projected { proj, offset, frame: EnuFrame::new(o) }
    }

    /// ENU of source xy.
    pub(crate) fn enu(&self, x: f64, y: f64) -> Point {
        match self {
            Georef::Projected { proj, offset, frame } => {
                let g = proj.inverse(x - offset[0], y - offset[1]);
                let p = frame.enu_from_geo(&g);
                [p.x, p.y]
            }
            Georef::Geographic { frame } => {
                // x = lon, y = lat here
                let p = frame.enu_from_geo(&GeoPoint::new(y, x));
                [p.x, p.y]
            }
            Georef::Local { offset, .. } => [x - offset[0], y - offset[1]],
        }
    }

    /// The WGS84 origin of the ENU frame, if known.
    pub(crate) fn origin(&self) -> Option<GeoPoint> {
        match self {
            Georef::Projected { frame, .. } | Georef::Geographic { frame } => Some(frame.origin),
            Georef::Local { origin, .. } => *origin,
        }
    }
}
