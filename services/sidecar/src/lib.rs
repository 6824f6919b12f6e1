//! takedown receiver sidecar.
#![forbid(unsafe_code)]
