//! The tool double: the customer's tool backend, as a scenario scripts it.
//! It writes every invocation it gets, with its arguments and the names of
//! the credentials that came with it, into the call record, so the tool
//! checks read what reached the backend, never the agent's own account.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use voicegate_agent::config::sha256_hex;
use voicegate_agent::services::{ServiceError, ToolRequest, ToolService};

use super::Latency;
use crate::record::{CallClock, Event, Recorder};
use crate::seed::Rng;

/// How the tool backend answers, per tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolScript {
    /// A tool's answer, or the error it fails with. A tool not named here
    /// answers `"<tool> done"`.
    pub answers: BTreeMap<String, Result<String, String>>,
    pub latency: Latency,
}

impl Default for ToolScript {
    fn default() -> Self {
        Self { answers: BTreeMap::new(), latency: Latency { base_ms: 80, jitter_ms: 40 } }
    }
}

/// A credential as the backend received it: its name and a fingerprint of
/// its value (never the value), so a record can show whose it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSeen {
    pub name: String,
    pub fingerprint: String,
}

/// The first 12 hex digits of the value's SHA-256.
pub fn fingerprint(value: &str) -> String {
    sha256_hex(value.as_bytes())[..12].to_string()
}

pub struct ToolDouble {
    script: ToolScript,
    rng: Mutex<Rng>,
    recorder: Recorder,
    clock: CallClock,
}

impl ToolDouble {
    pub fn new(script: ToolScript, rng: Rng, recorder: Recorder, clock: CallClock) -> Self {
        Self { script, rng: Mutex::new(rng), recorder, clock }
    }
}

impl ToolService for ToolDouble {
    fn invoke(&self, request: ToolRequest) -> BoxFuture<'static, Result<String, ServiceError>> {
        let result =
            self.script.answers.get(&request.name).cloned().unwrap_or_else(|| Ok(format!("{} done", request.name)));
        let credentials = request
            .credentials
            .iter()
            .map(|(name, secret)| CredentialSeen { name: name.clone(), fingerprint: fingerprint(secret.expose()) })
            .collect();
        // Written when the call arrives: a call whose answer the agent stops
        // waiting for still happened.
        self.recorder.push(
            self.clock.now_us(),
            Event::ToolInvoked {
                name: request.name.clone(),
                arguments: request.arguments.clone(),
                credentials,
                result: result.clone(),
            },
        );
        let delay = self.script.latency.draw(&mut self.rng.lock().unwrap_or_else(|p| p.into_inner()));
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            result.map_err(|message| ServiceError { service: "tools", message })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voicegate_agent::config::Secret;

    #[tokio::test(start_paused = true)]
    async fn answers_as_scripted_and_records_the_call_without_the_secret() {
        let recorder = Recorder::default();
        let script = ToolScript {
            answers: BTreeMap::from([("check_order".to_string(), Err("504 from the CRM".to_string()))]),
            ..ToolScript::default()
        };
        let tools = ToolDouble::new(script, Rng::new(1), recorder.clone(), CallClock::start());
        let request = |name: &str| ToolRequest {
            name: name.into(),
            arguments: serde_json::json!({"order_id": "A1"}),
            credentials: BTreeMap::from([("crm_api_key".to_string(), Secret::new("sk-acme-secret"))]),
        };
        let failed = tools.invoke(request("check_order")).await;
        assert_eq!(failed.map_err(|e| e.message), Err("504 from the CRM".to_string()));
        assert_eq!(tools.invoke(request("issue_refund")).await.ok(), Some("issue_refund done".to_string()));
        let record = recorder.finish();
        let json = serde_json::to_string(&record).expect("serialises");
        assert!(!json.contains("sk-acme-secret"), "{json}");
        let seen: Vec<_> = record
            .events()
            .filter_map(|(_, e)| match e {
                Event::ToolInvoked { name, credentials, .. } => {
                    Some((name.clone(), credentials[0].fingerprint.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("check_order".into(), fingerprint("sk-acme-secret")),
                ("issue_refund".into(), fingerprint("sk-acme-secret"))
            ]
        );
    }
}
