//! A minimal vehicle: follows some intersections and prints, for each state, the objects
//! and each signal group's phase with its time to change.
//!
//! ```text
//! cargo run -p corridor-sdk --example minimal_vehicle -- tcp/127.0.0.1:7447 demo ix-a ix-b
//! ```
//! The first argument is a zenoh endpoint to connect to (a router, or any peer), then the
//! region, then the intersections.
#![allow(clippy::print_stdout)]

use corridor_model::{Clock, IntersectionId, RegionId, SystemClock};
use corridor_sdk::{StateUpdate, Vehicle, VehicleConfig};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: minimal_vehicle ENDPOINT REGION INTERSECTION...");
        std::process::exit(2);
    }
    let region = RegionId::new(&args[1])?;
    let intersections = args[2..].iter().map(IntersectionId::new).collect::<Result<Vec<_>, _>>()?;
    let zenoh = corridor_wire::presets::peer(&[], &[args[0].clone()])?;
    let on_state = Arc::new(|u: &StateUpdate| {
        let now = SystemClock.now();
        let signals: Vec<String> = u
            .state
            .signals
            .iter()
            .map(|g| format!("sg{}={:?} {:.1}s", g.id, g.state, g.time_to_change_s(now).unwrap_or(f64::NAN)))
            .collect();
        println!(
            "{} seq={} objects={} age={:.0}ms map={} | {}",
            u.state.intersection,
            u.state.seq,
            u.state.objects.len(),
            u.latency_s() * 1e3,
            u.state.map_version.short(),
            signals.join(", ")
        );
    });
    let vehicle = Vehicle::connect(VehicleConfig::new(region, intersections, zenoh), Some(on_state)).await?;
    tokio::signal::ctrl_c().await?;
    let stats = vehicle.stats();
    eprintln!("accepted={} dropped={:?} gaps={}", stats.accepted, stats.dropped, stats.gaps);
    vehicle.close().await?;
    Ok(())
}
