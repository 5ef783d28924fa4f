//! `corridor-sim`: run corridor simulations.
//!
//! ```text
//! corridor-sim                         the demo with defaults (what `cargo run --release` runs)
//! corridor-sim demo --seconds 30 --out out/demo
//! corridor-sim sumo --sumocfg simulations/sumo/arterial-3/arterial-3.sumocfg --out out/sumo --seconds 120
//! corridor-sim demo --map maps/demo-4arm/demo-4arm.net.xml --seconds 30
//! corridor-sim run --scenario dense-4arm --out out/dense [--seconds 20]
//! corridor-sim run --scenario path/to/my.toml --out out/mine
//! ```
//! The demo prints, last, one line:
//! `summary: objects=.. mota=.. idf1=.. latency_p50_us=.. latency_p99_us=.. dropped=..`

use clap::{Parser, Subcommand};
use simulations::demo::{run_demo, DemoConfig, MapChoice};
use std::path::PathBuf;

/// corridor simulations.
#[derive(Debug, Parser)]
#[command(name = "corridor-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The built-in corridor: RSUs, vehicles and simulated sensors over an embedded zenoh peer network.
    Demo(DemoArgs),
    /// SUMO co-simulation: one RSU per traffic-light junction, scored against SUMO (docs/sumo.md).
    Sumo(SumoArgs),
    /// A scenario (built-in name or TOML file, see docs/scenarios.md) over zenoh, scored.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
struct SumoArgs {
    /// The SUMO configuration (.sumocfg).
    #[arg(long)]
    sumocfg: PathBuf,
    /// Output directory (tracks.csv, gt.csv, signals.csv, report.json, report.html).
    #[arg(long)]
    out: PathBuf,
    /// Seconds of SUMO time with sensors on (paced to real time).
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Seconds SUMO runs first, fast and without sensors, so traffic has arrived.
    #[arg(long, default_value_t = 60.0)]
    warmup: f64,
    /// SUMO begin time override, s.
    #[arg(long)]
    begin: Option<f64>,
    /// Place RSUs at the first K traffic-light junctions only (sorted by id).
    #[arg(long)]
    max_junctions: Option<usize>,
    /// Place RSUs only at junctions inside this net-coordinate box: xmin,ymin,xmax,ymax.
    #[arg(long, value_delimiter = ',', num_args = 4)]
    bbox: Option<Vec<f64>>,
    /// Seed of the sensors and of SUMO.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Python with libsumo, motmetrics and matplotlib (default: $CORRIDOR_PYTHON, then .venv).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Run SUMO in the configuration's own directory instead of a copy under OUT/scenario.
    #[arg(long)]
    in_place: bool,
    /// Skip py-motmetrics and report.html.
    #[arg(long)]
    no_html: bool,
    /// Rules file published with the network (checked against it by the cloud); default: a
    /// generated one (the network's common speed limit on every lane, written to OUT/rules.toml).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Scripted control faults: a TOML file of `[[fault]]` tables, kind `cloud_down` or
    /// `rsu_restart` (docs/sumo.md), times in seconds after the sensors start.
    #[arg(long)]
    faults: Option<PathBuf>,
    /// No live progress line.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Built-in scenario name (dense-4arm, bus-occlusion, sensor-dropout, clock-skew, cloud-outage) or a file.
    #[arg(long)]
    scenario: String,
    /// Write tracks.csv, gt.csv and report.json here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seconds to run instead of the scenario's duration.
    #[arg(long)]
    seconds: Option<f64>,
    /// No live progress line.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Seconds of simulated (and wall-clock) time.
    #[arg(long, default_value_t = 30.0)]
    seconds: f64,
    /// Signalized intersections of the hand-built corridor (`--hand-built`), one RSU each.
    #[arg(long, default_value_t = 2)]
    intersections: usize,
    /// Vehicles running the SDK.
    #[arg(long, default_value_t = 12)]
    vehicles: usize,
    /// Random seed of the traffic and the sensors.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write tracks.csv, gt.csv and report.json here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No live progress line.
    #[arg(long)]
    quiet: bool,
    /// Run on this HD map (SUMO .net.xml, e.g. maps/demo-4arm/demo-4arm.net.xml; its rules.toml
    /// beside it, if any) instead of the embedded maps/arterial-3: one RSU per signalized junction.
    #[arg(long, conflicts_with = "hand_built")]
    map: Option<PathBuf>,
    /// Run on the hand-built corridor (no HD map: no cloud, no lane queries) with
    /// `--intersections` junctions.
    #[arg(long)]
    hand_built: bool,
}

impl Default for DemoArgs {
    fn default() -> Self {
        Self {
            seconds: 30.0,
            intersections: 2,
            vehicles: 12,
            seed: 7,
            out: None,
            quiet: false,
            map: None,
            hand_built: false,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,zenoh=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Demo(a)) => a,
        Some(Command::Sumo(a)) => return run_sumo_cmd(a).await,
        Some(Command::Run(r)) => {
            let sc = simulations::scenario::load(&r.scenario)?;
            let opts = simulations::run::RunOptions { seconds: r.seconds, out: r.out, progress: !r.quiet };
            let report = simulations::run::run_scenario(&sc, opts).await?;
            report.print_run();
            return Ok(());
        }
        None => DemoArgs::default(),
    };
    anyhow::ensure!(
        args.seconds > 0.0 && args.seconds.is_finite(),
        "--seconds must be a positive number, got {}",
        args.seconds
    );
    anyhow::ensure!(
        (1..=26).contains(&args.intersections),
        "--intersections must be 1..=26, got {}",
        args.intersections
    );
    anyhow::ensure!(args.vehicles >= 1, "--vehicles must be at least 1");
    let report = run_demo(DemoConfig {
        seconds: args.seconds,
        intersections: args.intersections,
        vehicles: args.vehicles,
        seed: args.seed,
        out: args.out,
        progress: !args.quiet,
        map: match (args.map, args.hand_built) {
            (Some(p), _) => MapChoice::File(p),
            (None, true) => MapChoice::HandBuilt,
            (None, false) => MapChoice::Embedded,
        },
    })
    .await?;
    report.print();
    Ok(())
}

async fn run_sumo_cmd(a: SumoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.seconds > 0.0 && a.seconds.is_finite(), "--seconds must be a positive number, got {}", a.seconds);
    anyhow::ensure!(a.warmup >= 0.0 && a.warmup.is_finite(), "--warmup must be >= 0, got {}", a.warmup);
    anyhow::ensure!(a.max_junctions != Some(0), "--max-junctions must be at least 1");
    let bbox = a.bbox.map(|b| [b[0], b[1], b[2], b[3]]);
    let report = simulations::sumo::run_sumo(simulations::sumo::SumoConfig {
        sumocfg: a.sumocfg,
        out: a.out,
        seconds: a.seconds,
        warmup_s: a.warmup,
        begin: a.begin,
        max_junctions: a.max_junctions,
        bbox,
        seed: a.seed,
        python: a.python.unwrap_or_else(simulations::sumo::default_python),
        copy_scenario: !a.in_place,
        html: !a.no_html,
        progress: !a.quiet,
        rules: a.rules,
        faults: a.faults,
    })
    .await?;
    report.print();
    Ok(())
}
