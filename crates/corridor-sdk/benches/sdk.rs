//! b
#![allow(missing_docs)]
fn main() {}
