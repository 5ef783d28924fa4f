//! Fuzz: the JSON detection-frame parser never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = corridor_wire::json::detection_frame_from_json(data);
});
