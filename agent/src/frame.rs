//! The one closed set of frames that travel through the pipeline.
//!
//! Frames fall into three classes that decide how the runner treats them:
//! - **system** frames jump ahead of queued work and survive an interruption;
//! - **control** and **data** frames are delivered in order and are dropped
//!   from every queue when an interruption passes through a stage.
//!
//! Caller audio is a system frame on purpose: an interruption must never
//! throw away what the caller said (the interruption is *caused* by it).

use std::time::Duration;

use crate::services::WordTiming;

/// Identifies one spoken reply of the agent (one bot turn). Every TTS chunk,
/// playback mark and history commit of that reply carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtteranceId(pub u32);

/// A tool call the LLM proposed; code decides whether it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    // ---- system ----
    /// The call started; carries the caller's audio sample rate.
    Start {
        sample_rate: u32,
    },
    /// The caller hung up or the agent ended the call. Every stage forwards
    /// it and then stops.
    Stop,
    /// Mono PCM from the caller. `media_time` is the position of the first
    /// sample in the caller's stream.
    InputAudio {
        samples: Vec<i16>,
        media_time: Duration,
    },
    /// The caller began speaking at `media_time` (first speech sample).
    UserStartedSpeaking {
        media_time: Duration,
    },
    /// The caller's turn ended (end-of-turn silence elapsed).
    UserStoppedSpeaking {
        media_time: Duration,
    },
    /// Cancel everything in flight: queued data and control frames are
    /// dropped and cancellable jobs are aborted in every stage it reaches.
    Interruption,
    /// The transport reports that playback reached a mark we sent.
    PlaybackMark {
        name: String,
    },
    /// The caller began hearing a reply (travels upstream).
    BotStartedSpeaking {
        utterance: UtteranceId,
    },
    /// The caller finished hearing a reply, or it was cut off (upstream),
    /// having heard its first `heard_words` words.
    BotStoppedSpeaking {
        utterance: UtteranceId,
        interrupted: bool,
        heard_words: usize,
    },
    /// Reply audio just sent to the caller (upstream), so that voice
    /// activity detection can tell the agent's own echo from the caller.
    PlaybackReference {
        samples: Vec<i16>,
        sample_rate: u32,
    },

    // ---- control ----
    /// The responder begins a reply; TTS and output group audio under it.
    ReplyStarted {
        utterance: UtteranceId,
    },
    /// The reply that follows goes on with one the caller cut off by a
    /// false interruption: its heard words join that assistant message.
    ReplyResumes {
        utterance: UtteranceId,
    },
    /// The responder has produced all text of the reply.
    ReplyTextDone {
        utterance: UtteranceId,
    },
    /// The flow decided to end the call after the current reply is played.
    EndAfterReply,

    // ---- data ----
    /// The recogniser's text for one caller turn.
    Transcription {
        text: String,
    },
    /// The caller's turn, as the responder should answer it. With
    /// `continues_previous`, it extends the previous turn, which the agent
    /// had not started to answer aloud: it replaces that turn.
    UserTurn {
        text: String,
        continues_previous: bool,
    },
    /// Reply text produced by the responder (LLM tokens or fixed prompts).
    ReplyText {
        utterance: UtteranceId,
        text: String,
    },
    /// Synthesised speech for a reply, with word timings relative to the
    /// start of this chunk's first sample.
    OutputAudio {
        utterance: UtteranceId,
        samples: Vec<i16>,
        sample_rate: u32,
        words: Vec<WordTiming>,
    },
    /// Job results fed back to the processor that started the job.
    LlmToken {
        text: String,
    },
    LlmToolCall(ToolCall),
    LlmDone,
    /// A tool backend's answer (or its error) to an authorised call.
    ToolResult {
        name: String,
        result: Result<String, String>,
    },
    ServiceError {
        service: &'static str,
        message: String,
    },
    /// A timer a processor asked for has fired.
    Timer {
        name: &'static str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameClass {
    System,
    Control,
    Data,
}

impl Frame {
    pub fn class(&self) -> FrameClass {
        match self {
            Frame::Start { .. }
            | Frame::Stop
            | Frame::InputAudio { .. }
            | Frame::UserStartedSpeaking { .. }
            | Frame::UserStoppedSpeaking { .. }
            | Frame::Interruption
            | Frame::PlaybackMark { .. }
            | Frame::BotStartedSpeaking { .. }
            | Frame::BotStoppedSpeaking { .. }
            | Frame::PlaybackReference { .. } => FrameClass::System,
            Frame::ReplyStarted { .. }
            | Frame::ReplyResumes { .. }
            | Frame::ReplyTextDone { .. }
            | Frame::EndAfterReply => FrameClass::Control,
            Frame::Transcription { .. }
            | Frame::UserTurn { .. }
            | Frame::ReplyText { .. }
            | Frame::OutputAudio { .. }
            | Frame::LlmToken { .. }
            | Frame::LlmToolCall(_)
            | Frame::LlmDone
            | Frame::ToolResult { .. }
            | Frame::ServiceError { .. }
            | Frame::Timer { .. } => FrameClass::Data,
        }
    }

    pub fn is_system(&self) -> bool {
        self.class() == FrameClass::System
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_audio_and_marks_are_system_frames_so_interruptions_keep_them() {
        let audio = Frame::InputAudio { samples: vec![0; 4], media_time: Duration::ZERO };
        assert!(audio.is_system());
        assert!(Frame::PlaybackMark { name: "m".into() }.is_system());
        assert_eq!(Frame::ReplyStarted { utterance: UtteranceId(1) }.class(), FrameClass::Control);
        assert_eq!(Frame::Transcription { text: "x".into() }.class(), FrameClass::Data);
    }
}
