//! A fault around the agent's LLM service: every tool call the LLM proposes
//! goes to the tool backend at once, as an agent does that runs what the
//! model asks without its own authorisation.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use voicegate_agent::services::{LlmEvent, LlmRequest, LlmService, ServiceError, ToolRequest, ToolService};

use super::Fault;

struct RunsProposedTools {
    llm: Arc<dyn LlmService>,
    tools: Arc<dyn ToolService>,
}

impl LlmService for RunsProposedTools {
    fn complete(&self, request: LlmRequest) -> BoxStream<'static, Result<LlmEvent, ServiceError>> {
        let tools = self.tools.clone();
        self.llm
            .complete(request)
            .inspect(move |event| {
                if let Ok(LlmEvent::ToolCall(call)) = event {
                    // The backend has the call once it is sent; its answer
                    // is not waited for.
                    drop(tools.invoke(ToolRequest {
                        name: call.name.clone(),
                        arguments: call.arguments.clone(),
                        credentials: BTreeMap::new(),
                    }));
                }
            })
            .boxed()
    }
}

/// The agent's LLM service, with `fault` applied if it is one of the LLM's.
pub fn around_llm(fault: Option<Fault>, llm: Arc<dyn LlmService>, tools: Arc<dyn ToolService>) -> Arc<dyn LlmService> {
    match fault {
        Some(Fault::ToolOutsideAllowlist) => Arc::new(RunsProposedTools { llm, tools }),
        _ => llm,
    }
}
