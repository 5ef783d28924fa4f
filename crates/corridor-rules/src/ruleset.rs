//! A validated rule set: the canonical, serialisable form of a rules file.
//!
//! A [`RuleSet`] is what the validator produces and what travels from the
//! cloud to the RSU. It is canonical (rules sorted by id, zones already
//! resolved to lanes, classes after `except`), so its [`RuleSet::version`]
//! is a content hash that ignores comments, layout and rule order. It records
//! the [`MapVersion`] it was validated against.

use corridor_model::{LaneId, MapVersion};
use serde::{Deserialize, Serialize};

use crate::class::ClassSet;
use crate::effect::Effect;
use crate::validity::Validity;

/// The language version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Where a rule applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Scope {
    /// Listed lanes (most specific).
    Lanes {
        /// The lanes, sorted.
        lanes: Vec<LaneId>,
    },
    /// A polygon in the intersection's ENU frame, resolved to the lanes whose centre line enters it.
    Zone {
        /// The polygon's corners, metres (east, north).
        polygon_enu_m: Vec<[f64; 2]>,
        /// The lanes it covers, sorted.
        lanes: Vec<LaneId>,
    },
    /// Every lane of the intersection (least specific).
    Intersection,
}

impl Scope {
    /// Specificity for precedence: lanes 2, zone 1, intersection 0.
    pub fn specificity(&self) -> u8 {
        match self {
            Scope::Lanes { .. } => 2,
            Scope::Zone { .. } => 1,
            Scope::Intersection => 0,
        }
    }

    /// Whether the scope covers `lane`.
    pub fn covers(&self, lane: &LaneId) -> bool {
        match self {
            Scope::Lanes { lanes } | Scope::Zone { lanes, .. } => lanes.binary_search(lane).is_ok(),
            Scope::Intersection => true,
        }
    }

    /// The scope's kind as a word (`lanes`, `zone`, `intersection`).
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Lanes { .. } => "lanes",
            Scope::Zone { .. } => "zone",
            Scope::Intersection => "intersection",
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Unique id within the file.
    pub id: String,
    /// Where it applies.
    pub scope: Scope,
    /// When it applies.
    pub validity: Validity,
    /// To whom it applies (after `except`).
    pub classes: ClassSet,
    /// Tie-breaker between rules of equal scope specificity; higher wins.
    pub priority: i32,
    /// What it does.
    pub effect: Effect,
}

impl Rule {
    /// The precedence key: greater wins (scope specificity, then priority).
    pub fn precedence(&self) -> (u8, i32) {
        (self.scope.specificity(), self.priority)
    }
}

/// A validated, canonical rule set for one map version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSet {
    /// Language version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// The intersection's IANA time zone (validity windows are in its civil time).
    pub time_zone: String,
    /// The map the rules were validated against.
    pub map_version: MapVersion,
    /// Every lane of that map, sorted (the `intersection` scope covers them all).
    pub lanes: Vec<LaneId>,
    /// The rules, sorted by id.
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// Puts the set in canonical order (rules by id, lane lists sorted and deduplicated).
    pub fn canonicalize(&mut self) {
        self.rules.sort_by(|a, b| a.id.cmp(&b.id));
        self.lanes.sort();
        self.lanes.dedup();
        for r in &mut self.rules {
            if let Scope::Lanes { lanes } | Scope::Zone { lanes, .. } = &mut r.scope {
                lanes.sort();
                lanes.dedup();
            }
        }
    }

    /// The rule set's version: BLAKE3 of its canonical JSON form (which includes the map version).
    pub fn version(&self) -> MapVersion {
        let mut h = blake3::Hasher::new();
        h.update(b"corridor-rules/ruleset/v1\0");
        // Serialising plain data to a Vec cannot fail; an empty hash input would still be versioned.
        let json = serde_json::to_vec(self).unwrap_or_default();
        h.update(&json);
        MapVersion(*h.finalize().as_bytes())
    }
}
