//! The reference agent's integration tests: one binary, one module per area.

mod api;
mod store;
