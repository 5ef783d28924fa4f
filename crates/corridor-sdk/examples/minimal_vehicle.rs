//! A minimal vehicle: follows some intersections and prints, twice a second, its lane's
//! signal group, the time to green (min / likely / max) and the speed limit in force.
//!
//! ```text
//! cargo run -p corridor-sdk --example minimal_vehicle -- tcp/127.0.0.1:7447 demo 3.2 -22 90 ix-a ix-b
//! ```
//! Arguments: a zenoh endpoint to connect to (a router, or any peer), the region, the ego
//! pose in map ENU (x m, y m, heading degrees counter-clockwise from east), then the
//! intersections of the route in order. Maps and rules are fetched from cloud-control by the
//! version each state names.
#![allow(clippy::print_stdout)]

use corridor_model::{IntersectionId, RegionId};
use corridor_sdk::{EgoPose, QueryError, Vehicle, VehicleClass, VehicleConfig};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 6 {
        eprintln!("usage: minimal_vehicle ENDPOINT REGION X_M Y_M HEADING_DEG INTERSECTION...");
        std::process::exit(2);
    }
    let region = RegionId::new(&args[1])?;
    let (x, y, heading_deg): (f64, f64, f64) = (args[2].parse()?, args[3].parse()?, args[4].parse()?);
    let intersections = args[5..].iter().map(IntersectionId::new).collect::<Result<Vec<_>, _>>()?;
    let zenoh = corridor_wire::presets::peer(&[], &[args[0].clone()])?;
    let vehicle = Vehicle::connect(VehicleConfig::new(region, intersections, zenoh), None).await?;
    let pose = EgoPose::enu(x, y, heading_deg.to_radians());
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        for s in vehicle.poll_status() {
            println!("status: {s:?}");
        }
        match vehicle.my_lane(&pose, VehicleClass::Car) {
            Ok(a) => {
                let speed = a.rules.as_ref().and_then(|r| r.speed_limit_kmh);
                let signal = match &a.signal {
                    Some(sg) => {
                        let phase = sg.state.map_or("unknown".into(), |p| format!("{p:?}"));
                        match sg.time_to_change {
                            Some(t) if sg.state.is_some_and(|p| !p.is_green()) => format!(
                                "sg{} {phase}: green in {:.1} s (min {:.1}, max {})",
                                sg.group.0,
                                t.best_s(),
                                t.min_s,
                                t.max_s.map_or("?".into(), |m| format!("{m:.1}"))
                            ),
                            Some(t) => format!("sg{} {phase}: changes in {:.1} s", sg.group.0, t.best_s()),
                            None => format!("sg{} {phase}", sg.group.0),
                        }
                    }
                    None => "no signal".into(),
                };
                println!(
                    "{} lane {} | {signal} | speed limit {} | age {:.0} ms, map {}",
                    a.provenance.intersection,
                    a.lane,
                    speed.map_or("none".into(), |v| format!("{v:.0} km/h")),
                    a.provenance.age_s * 1e3,
                    a.provenance.map_version.short()
                );
            }
            Err(QueryError::Unusable { intersection, usability }) => {
                println!("{intersection}: waiting ({usability:?})")
            }
            Err(e) => println!("no answer: {e}"),
        }
    }
    let stats = vehicle.stats();
    eprintln!(
        "accepted={} dropped={:?} gaps={} restarts={}",
        stats.accepted, stats.dropped, stats.gaps, stats.restarts
    );
    vehicle.close().await?;
    Ok(())
}
