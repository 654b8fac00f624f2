//! Faults in the memory the agent hands over at the end of the call.

use voicegate_agent::services::{ChatMessage, Role};

use crate::checks::{CallTruth, words};
use crate::record::{CallRecord, Event};

/// The history an agent that keeps what it generated would hand over:
/// every assistant message that is the start of a reply the LLM double
/// streamed or the agent asked the TTS double to say (the words the caller
/// heard before cutting in) becomes the whole of that reply.
pub fn keep_generated_reply(history: Vec<ChatMessage>, record: &CallRecord) -> Vec<ChatMessage> {
    // What the LLM double streamed, and what each reply asked the TTS
    // double to say (replies the flow writes itself, such as the greeting).
    let llm = record.events().filter_map(|(_, e)| match e {
        Event::LlmDone { text, .. } => Some(text.trim().to_string()),
        _ => None,
    });
    let replies = CallTruth::from_record(record)
        .replies
        .into_iter()
        .map(|reply| reply.responses.iter().map(|r| r.text.trim()).collect::<Vec<_>>().join(" "));
    let generated: Vec<(String, Vec<String>)> =
        llm.chain(replies).filter(|text| !text.is_empty()).map(|text| (text.clone(), words(&text))).collect();
    history
        .into_iter()
        .map(|message| {
            if message.role != Role::Assistant {
                return message;
            }
            let kept = words(&message.content);
            match generated.iter().find(|(_, all)| all.len() > kept.len() && all.starts_with(&kept)) {
                Some((text, _)) => ChatMessage::new(Role::Assistant, text.clone()),
                None => message,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Entry;

    #[test]
    fn a_cut_reply_becomes_the_whole_generated_reply_and_nothing_else_changes() {
        let done = |request, text: &str| Entry { t_us: 0, event: Event::LlmDone { request, text: text.into() } };
        let record = CallRecord {
            entries: vec![done(1, "We are open from nine to five, Monday to Friday."), done(2, "Goodbye.")],
        };
        let history = vec![
            ChatMessage::new(Role::Assistant, "Hello, how can I help?"),
            ChatMessage::new(Role::User, "we are open"),
            ChatMessage::new(Role::Assistant, "We are open from"),
            ChatMessage::new(Role::Assistant, "Goodbye."),
        ];
        let kept = keep_generated_reply(history.clone(), &record);
        assert_eq!(kept[2].content, "We are open from nine to five, Monday to Friday.");
        assert_eq!([&kept[0], &kept[1], &kept[3]], [&history[0], &history[1], &history[3]]);
    }
}
