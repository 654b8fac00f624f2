//! The released definitions compiled into the binary, so a version can be
//! chosen (`--agent support@1.1.0`) with nothing but the binary. A test
//! checks this list against the folder and the lock.

pub(super) const LOCK: &str = include_str!("../../definitions/definitions.lock");

pub(super) const FILES: &[(&str, &str)] = &[
    ("support/1.0.0.toml", include_str!("../../definitions/support/1.0.0.toml")),
    ("support/1.1.0.toml", include_str!("../../definitions/support/1.1.0.toml")),
    ("support/1.2.0.toml", include_str!("../../definitions/support/1.2.0.toml")),
    ("support/1.3.0.toml", include_str!("../../definitions/support/1.3.0.toml")),
];
