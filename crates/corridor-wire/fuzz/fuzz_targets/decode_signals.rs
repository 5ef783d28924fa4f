//! Fuzz: the envelope + bincode decoder for `SignalFrame` never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = corridor_wire::decode::<corridor_model::SignalFrame>(data, corridor_wire::Limits::default());
});
