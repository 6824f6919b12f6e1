//! Integration tests of the `takedown-hub` binary.

mod check_config;
