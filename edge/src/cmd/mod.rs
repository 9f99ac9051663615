//! The commands of `baycount-edge`, one module each (`main.rs` parses flags, prints reports).

pub mod bench;
pub mod count;
pub mod eval;
pub mod press;
pub mod run;
