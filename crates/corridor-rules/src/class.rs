//! Vehicle classes a rule applies to, and sets of them.
//!
//! The rule language names eight classes (`car`, `bus`, `truck`, `taxi`,
//! `cyclist`, `pedestrian`, `emergency`, `automated`); a [`ClassSet`] is a
//! bit set over them, so "does this rule apply to a bus" is one `&`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A class of road user, as named in rule files and queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VehicleClass {
    /// Passenger car (private).
    Car,
    /// Bus (scheduled public transport).
    Bus,
    /// Truck, lorry, heavy goods vehicle.
    Truck,
    /// Taxi.
    Taxi,
    /// Bicycle with rider.
    Cyclist,
    /// Person on foot.
    Pedestrian,
    /// Emergency vehicle on duty (fire, ambulance, police).
    Emergency,
    /// Automated (driverless) vehicle.
    Automated,
}

impl VehicleClass {
    /// Every class, in bit order.
    pub const ALL: [VehicleClass; 8] = [
        VehicleClass::Car,
        VehicleClass::Bus,
        VehicleClass::Truck,
        VehicleClass::Taxi,
        VehicleClass::Cyclist,
        VehicleClass::Pedestrian,
        VehicleClass::Emergency,
        VehicleClass::Automated,
    ];

    /// The name used in rule files, queries and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleClass::Car => "car",
            VehicleClass::Bus => "bus",
            VehicleClass::Truck => "truck",
            VehicleClass::Taxi => "taxi",
            VehicleClass::Cyclist => "cyclist",
            VehicleClass::Pedestrian => "pedestrian",
            VehicleClass::Emergency => "emergency",
            VehicleClass::Automated => "automated",
        }
    }

    /// Parses a class name (the names of [`Self::as_str`] plus the long forms
    /// `passenger_car` and `automated_vehicle`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "car" | "passenger_car" => VehicleClass::Car,
            "bus" => VehicleClass::Bus,
            "truck" => VehicleClass::Truck,
            "taxi" => VehicleClass::Taxi,
            "cyclist" => VehicleClass::Cyclist,
            "pedestrian" => VehicleClass::Pedestrian,
            "emergency" => VehicleClass::Emergency,
            "automated" | "automated_vehicle" => VehicleClass::Automated,
            _ => return None,
        })
    }

    /// The class's position in [`Self::ALL`] (0..8).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for VehicleClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for VehicleClass {
    type Err = UnknownClass;
    fn from_str(s: &str) -> Result<Self, UnknownClass> {
        Self::parse(s).ok_or_else(|| UnknownClass(s.to_owned()))
    }
}

/// A class name that is not one of [`VehicleClass::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown vehicle class `{0}`; known: car, bus, truck, taxi, cyclist, pedestrian, emergency, automated")]
pub struct UnknownClass(pub String);

impl Serialize for VehicleClass {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for VehicleClass {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A set of [`VehicleClass`]es (a bit set).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClassSet(u8);

impl ClassSet {
    /// No class.
    pub const EMPTY: ClassSet = ClassSet(0);
    /// Every class.
    pub const ALL: ClassSet = ClassSet(0xff);

    /// The set holding only `c`.
    pub fn of(c: VehicleClass) -> Self {
        ClassSet(1 << c.index())
    }

    /// The raw bits (bit i = `VehicleClass::ALL[i]`).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From raw bits.
    pub fn from_bits(bits: u8) -> Self {
        ClassSet(bits)
    }

    /// Whether `c` is in the set.
    pub fn contains(self, c: VehicleClass) -> bool {
        self.0 & (1 << c.index()) != 0
    }

    /// `self` plus `c`.
    pub fn with(self, c: VehicleClass) -> Self {
        ClassSet(self.0 | (1 << c.index()))
    }

    /// `self` less `c`.
    pub fn without(self, c: VehicleClass) -> Self {
        ClassSet(self.0 & !(1 << c.index()))
    }

    /// Whether the two sets share a class.
    pub fn intersects(self, other: ClassSet) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The classes in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = VehicleClass> {
        VehicleClass::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl fmt::Debug for ClassSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(VehicleClass::as_str)).finish()
    }
}

impl FromIterator<VehicleClass> for ClassSet {
    fn from_iter<I: IntoIterator<Item = VehicleClass>>(iter: I) -> Self {
        iter.into_iter().fold(ClassSet::EMPTY, ClassSet::with)
    }
}

impl Serialize for ClassSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ClassSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<VehicleClass>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_long_forms_parse() {
        for c in VehicleClass::ALL {
            assert_eq!(VehicleClass::parse(c.as_str()), Some(c));
        }
        assert_eq!(VehicleClass::parse("passenger_car"), Some(VehicleClass::Car));
        assert_eq!(VehicleClass::parse("automated_vehicle"), Some(VehicleClass::Automated));
        assert_eq!(VehicleClass::parse("tram"), None);
    }

    #[test]
    fn set_operations() {
        let s = ClassSet::ALL.without(VehicleClass::Bus);
        assert!(!s.contains(VehicleClass::Bus));
        assert!(s.contains(VehicleClass::Car));
        assert_eq!(s.iter().count(), 7);
        assert!(!ClassSet::of(VehicleClass::Bus).intersects(s));
        let json = serde_json::to_string(&ClassSet::of(VehicleClass::Taxi).with(VehicleClass::Bus)).unwrap();
        assert_eq!(json, r#"["bus","taxi"]"#);
        assert_eq!(serde_json::from_str::<ClassSet>(&json).unwrap().bits(), 0b1010);
    }
}
