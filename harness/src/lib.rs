//! voicegate: calls voice agents the way a phone caller does and checks
//! what production voice agents get wrong.

pub mod audio;
pub mod canary;
pub mod checks;
pub mod cli;
pub mod deployment;
pub mod doubles;
pub mod driver;
pub mod faults;
pub mod fixture;
pub mod gate;
pub mod line;
pub mod metrics;
pub mod parallel;
pub mod record;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod steps;
pub mod traffic;
