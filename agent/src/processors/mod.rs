//! The stages of the reference agent, in pipeline order.

mod input;
mod output;
mod responder;
mod spoken;
mod stt;
mod tool_policy;
mod tts;
mod user_turn;
mod vad;

pub use input::input_frames;
pub use output::OutputTransport;
pub use responder::Responder;
pub use stt::Stt;
pub use tts::Tts;
pub use user_turn::UserTurnAggregator;
pub use vad::Vad;
