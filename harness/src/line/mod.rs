//! The line between the caller and the agent: the only way they talk.
//!
//! A backend carries caller and agent messages (in process now, on the
//! call's virtual clock) and the network model shapes them in both
//! directions: delay on the agent's leg, and on the access leg loss, jitter
//! against a playout buffer and, over a phone line, the µ-law codec.

mod downlink;
mod in_process;
mod network;
mod packets;

pub use downlink::Downlink;
pub use in_process::{CallerEnd, in_process};
pub use network::{GilbertElliott, Network};
pub use packets::{PacketFate, PacketPath};

/// One packet of the access leg, ms.
pub const PACKET_MS: u64 = 20;
