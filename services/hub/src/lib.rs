//! takedown hub.
#![forbid(unsafe_code)]
