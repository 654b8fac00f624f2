//! Session creation with a stored overlay, on SQLite: 1,000 sessions each
//! for an on-disk and an in-memory database. Each session reads the
//! tenant's current overlay, parses and validates it, merges it over the
//! definition and inserts the session row. Prints p50, p95, p99 and max.
//!
//!     cargo bench -p voicegate-agent --bench session_create

use std::sync::Arc;
use std::time::{Duration, Instant};

use voicegate_agent::AgentDefinition;
use voicegate_agent::control::ControlPlane;
use voicegate_agent::store::Store;
use voicegate_agent::tenant::TenantId;

const SESSIONS: usize = 1_000;
const OVERLAY: &str = r#"{"schema_version": 2, "prompt": {"append": "Mention the 30-day return policy."},
    "tools": {"allow": ["check_order", "end_call"]}, "voice": "verse", "vad": {"end_of_turn_ms": 900},
    "budgets": {"turn_ms": 1500}, "guardrails": {"redact_pii": true},
    "rules": {"refund_limit": 50, "business_hours": {"open": "09:00", "close": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]}},
    "credentials": {"crm_api_key": "sk-bench"}}"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1).min(sorted.len() - 1);
    sorted[index]
}

async fn measure(label: &str, url: &str) {
    let store = Store::connect(url).await.expect("store");
    let control = ControlPlane::new(store, Arc::new(AgentDefinition::reference()));
    let tenant = TenantId::new("acme");
    control.put_overlay(&tenant, OVERLAY).await.expect("overlay");
    for _ in 0..50 {
        control.create_session(&tenant).await.expect("warm-up");
    }
    let mut times = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let started = Instant::now();
        let session = control.create_session(&tenant).await.expect("session");
        times.push(started.elapsed());
        assert_eq!(session.record.overlay_version, Some(1));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<16} {SESSIONS} sessions: p50 {:.3} ms  p95 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().expect("measured"))
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display());
    runtime.block_on(async {
        measure("sqlite (file)", &file).await;
        measure("sqlite (memory)", "sqlite::memory:").await;
    });
}
