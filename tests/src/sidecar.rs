//! A sidecar process (filled in with the sidecar).
