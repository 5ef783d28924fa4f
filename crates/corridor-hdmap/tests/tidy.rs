//! House rules checked by a test: every module opens with a `//!` doc, no `unwrap`/`expect`
//! outside tests in the library sources.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failure

#[test]
fn every_module_has_a_doc_and_no_unwrap() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.starts_with("//!"), "{} does not start with a //! module doc", p.display());
            let lib_part = text.split("#[cfg(test)]").next().unwrap();
            for bad in [".unwrap()", ".expect("] {
                assert!(!lib_part.contains(bad), "{} uses {bad} outside tests", p.display());
            }
            n += 1;
        }
    }
    assert!(n >= 12, "only {n} modules found");
}
