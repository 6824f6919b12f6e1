//! takedownctl library.
#![forbid(unsafe_code)]
