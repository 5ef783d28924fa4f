//! corridor's traffic rules as code: a declarative language, a validator and
//! a compiled index.
//!
//! Traffic engineers write rules in TOML (`maps/<name>/rules.toml`, language
//! reference in `docs/rules.md`). [`check`] parses and validates a file
//! against a map's [`MapFacts`] and returns a canonical [`RuleSet`] or every
//! problem found ([`Diagnostics`], each at `file:line:col` with the offending
//! text underlined). [`CompiledRules`] indexes a rule set so
//! [`CompiledRules::applicable`] answers "what applies to lane L, class C at
//! time T" well under a microsecond, and [`CompiledRules::next_change`] says
//! when that answer changes. A rule set's version is its content hash and it
//! records the map version it was validated against; [`CompiledRules::load`]
//! refuses a set made for another map.
//!
//! This crate is **sans-IO**: text in, answers out; time is always an argument.
//!
//! | module | what it holds |
//! |---|---|
//! | [`parse`] | TOML -> [`RuleSet`], all validation |
//! | [`diag`] | typed [`RuleError`]s with spans, miette rendering |
//! | [`ruleset`] | [`Rule`], [`Scope`], [`RuleSet`] and its content hash |
//! | [`validity`] | date ranges, weekdays, time windows in civil time |
//! | [`effect`] | [`Effect`]s and the answer slots they fill |
//! | [`class`] | [`VehicleClass`], [`ClassSet`] |
//! | [`facts`] | [`MapFacts`]: what the validator knows about a map |
//! | [`compiled`] | [`CompiledRules`]: the query index |
//! | [`reference`](mod@reference) | a slow, obvious interpreter used as the test oracle |
//! | [`synth`] | synthetic maps and rule files for benches and tests |
//! | `hdmap` (feature `hdmap`) | `hdmap::facts`: `corridor_hdmap::HdMap` -> [`MapFacts`] |
#![forbid(unsafe_code)]

pub mod class;
pub mod compiled;
pub mod diag;
pub mod effect;
pub mod facts;
#[cfg(feature = "hdmap")]
pub mod hdmap;
pub mod parse;
pub mod reference;
pub mod ruleset;
pub mod synth;
pub mod validity;

pub use class::{ClassSet, VehicleClass};
pub use compiled::{AppliedEffect, CompiledRules, Effects, LoadError, QueryError};
pub use diag::{Diagnostic, Diagnostics, RuleError};
pub use effect::{Effect, Manoeuvre};
pub use facts::{LaneFacts, MapFacts};
pub use parse::check;
pub use ruleset::{Rule, RuleSet, Scope};
pub use validity::Validity;

/// Checks `source` against `facts` and compiles it: the cloud's one-call path.
///
/// The result records `facts.version` as its map version.
pub fn compile(source: &str, file_name: &str, facts: &MapFacts) -> Result<CompiledRules, Diagnostics> {
    let set = check(source, file_name, facts)?;
    CompiledRules::new(set).map_err(|e| {
        // `check` already verified the time zone and lanes; this is a defensive path.
        let d = Diagnostic::new(RuleError::Invalid { message: e.to_string() }, 0..0, "cannot compile");
        Diagnostics::new(file_name, source, vec![d])
    })
}
