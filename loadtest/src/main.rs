//! placeholder: filled by its own issue
fn main() {}
