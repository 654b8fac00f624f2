//! voicegate: calls voice agents the way a phone caller does and checks
//! what production voice agents get wrong.

pub mod audio;
pub mod cli;
pub mod seed;
