//! The conversation history of one session.
//!
//! The responder appends caller and tool messages; the output transport
//! appends assistant messages, and only with words the caller heard.
//! History is handed over when the session ends.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::services::{ChatMessage, Role};

#[derive(Debug, Clone, Default)]
pub struct SharedHistory(Arc<Mutex<Vec<ChatMessage>>>);

impl SharedHistory {
    fn lock(&self) -> MutexGuard<'_, Vec<ChatMessage>> {
        // A panic while holding this lock would already have ended the
        // session's task; recover the data rather than lose the history.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn push(&self, role: Role, content: impl Into<String>) {
        self.lock().push(ChatMessage::new(role, content));
    }

    /// Replace the content of the last message if it has `role`; otherwise
    /// append. Used when a caller's turn turns out to continue.
    pub fn replace_last(&self, role: Role, content: impl Into<String>) {
        let mut messages = self.lock();
        match messages.last_mut() {
            Some(last) if last.role == role => last.content = content.into(),
            _ => messages.push(ChatMessage::new(role, content)),
        }
    }

    /// Add `content` to the end of the last message if it has `role`;
    /// otherwise append it as a new message. Used when a reply cut off by a
    /// false interruption goes on.
    pub fn extend_last(&self, role: Role, content: &str) {
        let mut messages = self.lock();
        match messages.last_mut() {
            Some(last) if last.role == role => {
                last.content.push(' ');
                last.content.push_str(content);
            }
            _ => messages.push(ChatMessage::new(role, content)),
        }
    }

    pub fn snapshot(&self) -> Vec<ChatMessage> {
        self.lock().clone()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_history() {
        let a = SharedHistory::default();
        let b = a.clone();
        a.push(Role::User, "hi");
        b.push(Role::Assistant, "hello");
        assert_eq!(a.snapshot(), b.snapshot());
        assert_eq!(a.len(), 2);
        b.replace_last(Role::Assistant, "hello");
        b.extend_last(Role::Assistant, "there");
        a.replace_last(Role::User, "bye");
        let roles: Vec<_> = a.snapshot().into_iter().map(|m| (m.role, m.content)).collect();
        assert_eq!(
            roles,
            vec![(Role::User, "hi".into()), (Role::Assistant, "hello there".into()), (Role::User, "bye".into())]
        );
    }
}
