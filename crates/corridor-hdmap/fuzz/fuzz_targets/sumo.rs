//! Fuzz target: the sumo importer never panics; what it returns can be hashed and matched.
#![no_main]

use corridor_hdmap::{import_bytes, ImportOptions, LaneMatcher, SourceFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = import_bytes(SourceFormat::Sumo, "fuzz", data, &ImportOptions::default()) {
        let _ = i.map.version();
        let _ = LaneMatcher::new(&i.map).match_position(0.0, 0.0, Some(0.0));
    }
});
