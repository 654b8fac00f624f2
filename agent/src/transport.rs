//! The messages between the agent and the caller's phone line.
//!
//! They follow Twilio Media Streams: the caller sends media and echoes back
//! each mark once playback reaches it; the agent sends media, marks and
//! `Clear` (drop everything buffered, stop playing now).

use tokio::sync::mpsc;

#[derive(Debug, Clone, PartialEq)]
pub enum CallerMessage {
    Start {
        sample_rate: u32,
    },
    Media {
        samples: Vec<i16>,
    },
    /// Playback reached this mark.
    Mark {
        name: String,
    },
    Stop,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AgentMessage {
    Media {
        samples: Vec<i16>,
        sample_rate: u32,
    },
    /// Echo this name back when everything sent before it has been played.
    Mark {
        name: String,
    },
    /// Stop playback and drop everything buffered.
    Clear,
    /// The agent ends the call.
    Hangup,
}

/// One call's line, as the agent sees it.
pub struct CallTransport {
    pub inbound: mpsc::UnboundedReceiver<CallerMessage>,
    pub outbound: mpsc::UnboundedSender<AgentMessage>,
}
