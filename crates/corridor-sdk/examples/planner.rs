//! A planner-style consumer: every 100 ms, drives a simulated ego along a polyline route and
//! asks what a planner needs: the objects predicted in its path, the signal's time to change
//! on its connection, and the rules in force; prints gaps, restarts, staleness and map
//! changes as they happen.
//!
//! ```text
//! cargo run -p corridor-sdk --example planner -- tcp/127.0.0.1:7447 demo ix-a
//! ```
//! The route is the straight south-north line through the demo intersection (map ENU);
//! it is matched to intersections once their maps are fetched.
#![allow(clippy::print_stdout)]

use corridor_model::{IntersectionId, RegionId};
use corridor_sdk::{EgoPose, InPathOptions, Position, Route, Vehicle, VehicleClass, VehicleConfig};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: planner ENDPOINT REGION INTERSECTION...");
        std::process::exit(2);
    }
    let region = RegionId::new(&args[1])?;
    let candidates = args[2..].iter().map(IntersectionId::new).collect::<Result<Vec<_>, _>>()?;
    let zenoh = corridor_wire::presets::peer(&[], &[args[0].clone()])?;
    let vehicle = Vehicle::connect(VehicleConfig::new(region, candidates.clone(), zenoh), None).await?;

    // match the polyline to the intersections whose maps it runs through
    let line: Vec<Position> =
        [[3.2, -140.0], [3.2, 0.0], [3.2, 300.0]].iter().map(|p| Position::Enu { x_m: p[0], y_m: p[1] }).collect();
    let maps = vehicle.fetch_latest_maps(&candidates).await?;
    let refs: Vec<&corridor_sdk::Knowledge> = maps.iter().map(|k| k.as_ref()).collect();
    let route = Route::from_polyline(&line, &refs)?;
    println!("route: {:?}", route.stops().iter().map(|s| s.intersection.as_str()).collect::<Vec<_>>());
    vehicle.set_route(route).await?;

    let mut y = -120.0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        y += 1.0; // 10 m/s
        let pose = EgoPose::enu(3.2, y, std::f64::consts::FRAC_PI_2);
        for passed in vehicle.update_pose(&pose) {
            println!("passed {passed}");
        }
        for s in vehicle.poll_status() {
            println!("status: {s:?}");
        }
        let lane = match vehicle.my_lane(&pose, VehicleClass::Car) {
            Ok(l) => l,
            Err(e) => {
                println!("y={y:.0}: {e}");
                continue;
            }
        };
        let ttc = lane.signal.as_ref().and_then(|s| s.time_to_change.map(|t| (s.state, t.best_s())));
        let rules = lane.rules.as_ref();
        let path = vehicle.in_path(&pose, VehicleClass::Car, InPathOptions::default());
        let in_path: Vec<String> = path
            .map(|p| {
                p.objects
                    .iter()
                    .map(|o| {
                        format!("{}#{} in {:.1}s", o.object.class.as_str(), o.object.track_id.0, o.time_to_enter_s)
                    })
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "y={y:.0} lane={} to_stop={:.0}m signal={:?} limit={:?} closed={} turn_ok={:?} in_path=[{}] conf={:.2}",
            lane.lane,
            lane.to_lane_end_m,
            ttc,
            rules.and_then(|r| r.speed_limit_kmh),
            rules.is_some_and(|r| r.closed),
            rules.and_then(|r| r.turn_allowed),
            in_path.join(", "),
            lane.provenance.confidence
        );
        for h in vehicle.hazards() {
            println!("  hazard {} {:?} age {:.1}s", h.event.kind.label(), h.event.severity, h.provenance.age_s);
        }
    }
    vehicle.close().await?;
    Ok(())
}
