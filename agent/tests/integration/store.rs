//! The store suite, run against SQLite and PostgreSQL.
//!
//! PostgreSQL comes from `DATABASE_URL` if set, else a testcontainers
//! container where a Docker engine answers, else a throwaway local cluster
//! (initdb + pg_ctl). With none, the PostgreSQL test prints why it was
//! skipped, unless `VOICEGATE_REQUIRE_POSTGRES=1` (CI), where it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use voicegate_agent::services::{ChatMessage, Role};
use voicegate_agent::store::{SessionRecord, Store, StoreError};
use voicegate_agent::telemetry::{SessionId, TenantId};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn session(id: &SessionId) -> SessionRecord {
    SessionRecord {
        session_id: id.clone(),
        trace_id: unique("trace"),
        agent_version: "support@1.0.0".into(),
        overlay_version: Some(1),
        created_at_ms: 1,
        ended_at_ms: None,
    }
}

async fn overlay_versions_restore_and_tenancy(store: &Store) {
    let (a, b) = (TenantId::new(unique("acme")), TenantId::new(unique("globex")));
    assert_eq!(store.current_overlay(&a).await.expect("read"), None);
    let v1 = store.put_overlay(&a, r#"{"schema_version":1,"voice":"verse"}"#).await.expect("put");
    let v2 = store.put_overlay(&a, r#"{"schema_version":1,"voice":"alloy"}"#).await.expect("put");
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(store.current_overlay(&a).await.expect("read").expect("some").document, v2.document);
    let restored = store.restore_overlay(&a, 1).await.expect("restore");
    assert_eq!((restored.version, restored.restored_from), (3, Some(1)));
    assert_eq!(restored.document, v1.document);
    let versions: Vec<u64> = store.overlay_versions(&a).await.expect("list").iter().map(|v| v.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    // Tenant B has none of it, and cannot restore A's versions.
    assert_eq!(store.current_overlay(&b).await.expect("read"), None);
    assert!(store.overlay_versions(&b).await.expect("list").is_empty());
    assert!(matches!(store.restore_overlay(&b, 1).await, Err(StoreError::NotFound)));
    assert_eq!(store.put_overlay(&b, "{}").await.expect("put").version, 1, "versions count per tenant");
}

async fn concurrent_overlay_updates_get_distinct_versions(store: &Store) {
    let tenant = TenantId::new(unique("busy"));
    let writers = (0..6).map(|i| {
        let (store, tenant) = (store.clone(), tenant.clone());
        tokio::spawn(async move { store.put_overlay(&tenant, &format!("{{\"n\":{i}}}")).await.expect("put").version })
    });
    let mut versions = Vec::new();
    for writer in writers {
        versions.push(writer.await.expect("task"));
    }
    versions.sort();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
}

async fn history_is_persisted_once_and_only_for_its_tenant(store: &Store) {
    let (a, b) = (TenantId::new(unique("acme")), TenantId::new(unique("globex")));
    let id = SessionId::new(unique("session"));
    store.create_session(&a, &session(&id)).await.expect("create");
    let history = vec![
        ChatMessage::new(Role::Assistant, "Hello, how can I help?"),
        ChatMessage::new(Role::User, "canary-acme-4411"),
    ];
    let attempts =
        store.end_session_retrying(&a, &id, &history, &serde_json::json!({"turns": 1}), 3).await.expect("end");
    assert_eq!(attempts, 1);
    assert_eq!(store.history(&a, &id).await.expect("history"), history);
    assert!(store.session(&a, &id).await.expect("session").ended_at_ms.is_some());
    assert!(
        matches!(store.end_session(&a, &id, &history, &serde_json::json!({})).await, Err(StoreError::Conflict(_))),
        "history is written once, never silently replaced"
    );

    let before = store.isolation_violations();
    assert!(matches!(store.history(&b, &id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.session(&b, &id).await, Err(StoreError::NotFound)));
    assert!(matches!(store.end_session(&b, &id, &[], &serde_json::json!({})).await, Err(StoreError::NotFound)));
    assert_eq!(store.isolation_violations(), before + 3, "each refused cross-tenant access is counted");
    assert_eq!(store.history(&a, &id).await.expect("history"), history, "B's attempt wrote nothing");

    let unknown = SessionId::new(unique("nobody"));
    assert!(matches!(store.history(&b, &unknown).await, Err(StoreError::NotFound)));
    assert_eq!(store.isolation_violations(), before + 3, "a guess that matches nothing is not a violation");
    assert!(matches!(store.create_session(&b, &session(&id)).await, Err(StoreError::Conflict(_))));
}

async fn suite(store: &Store) {
    overlay_versions_restore_and_tenancy(store).await;
    concurrent_overlay_updates_get_distinct_versions(store).await;
    history_is_persisted_once_and_only_for_its_tenant(store).await;
}

#[tokio::test]
async fn sqlite_store_suite() {
    let store = Store::connect("sqlite::memory:").await.expect("in-memory SQLite");
    suite(&store).await;
}

#[tokio::test]
async fn sqlite_file_keeps_everything_across_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("voicegate.db").display());
    let tenant = TenantId::new("acme");
    let id = SessionId::new("s-1");
    {
        let store = Store::connect(&url).await.expect("file SQLite");
        suite(&store).await;
        store.create_session(&tenant, &session(&id)).await.expect("create");
        let history = vec![ChatMessage::new(Role::User, "still here after a restart")];
        store.end_session(&tenant, &id, &history, &serde_json::json!({})).await.expect("end");
    }
    let store = Store::connect(&url).await.expect("reopen");
    assert_eq!(store.history(&tenant, &id).await.expect("history")[0].content, "still here after a restart");
}

// ---- PostgreSQL ----

/// A PostgreSQL server for the suite, stopped on drop.
enum Postgres {
    External(String),
    /// The container lives as long as the server is needed.
    Container {
        _container: Box<testcontainers::ContainerAsync<testcontainers_modules::postgres::Postgres>>,
        url: String,
    },
    Local(LocalCluster),
}

impl Postgres {
    fn url(&self) -> &str {
        match self {
            Postgres::External(url) | Postgres::Container { url, .. } => url,
            Postgres::Local(cluster) => &cluster.url,
        }
    }
}

struct LocalCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    url: String,
}

impl LocalCluster {
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn start() -> Result<Self, String> {
        let bin = postgres_bin().ok_or("no initdb found (install the postgresql package)")?;
        let as_postgres = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
        let dir = tempfile::Builder::new().prefix("voicegate-pg").tempdir().map_err(|e| e.to_string())?;
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let cluster = Self { url: format!("postgres://postgres@127.0.0.1:{port}/postgres"), dir, bin, as_postgres };
        if as_postgres {
            // initdb refuses to run as root; the cluster belongs to `postgres`.
            let status = Command::new("chown").args(["-R", "postgres"]).arg(cluster.dir.path()).status();
            if !status.is_ok_and(|s| s.success()) {
                return Err("cannot hand the cluster folder to the postgres user".into());
            }
        }
        let data = cluster.dir.path().join("data");
        run(cluster.command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
        let options =
            format!("-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", cluster.dir.path().display());
        let log = cluster.dir.path().join("server.log");
        run(cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(&log)
            .args(["-w", "start"]))?;
        Ok(cluster)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.command("pg_ctl").arg("-D").arg(&data).args(["-m", "immediate", "stop"]).output();
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop().or_else(|| {
        let on_path = Path::new("/usr/bin/initdb");
        on_path.is_file().then(|| PathBuf::from("/usr/bin"))
    })
}

async fn postgres() -> Result<Postgres, Vec<String>> {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        return Ok(Postgres::External(url));
    }
    let mut reasons = vec!["DATABASE_URL is not set".to_string()];
    use testcontainers::ImageExt;
    use testcontainers::runners::AsyncRunner;
    match testcontainers_modules::postgres::Postgres::default().with_tag("15-alpine").start().await {
        Ok(container) => {
            let port = container.get_host_port_ipv4(5432).await.map_err(|e| vec![e.to_string()])?;
            let url = format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres");
            return Ok(Postgres::Container { _container: Box::new(container), url });
        }
        Err(error) => reasons.push(format!("no Docker engine for testcontainers ({error})")),
    }
    match LocalCluster::start() {
        Ok(cluster) => Ok(Postgres::Local(cluster)),
        Err(error) => {
            reasons.push(format!("no local cluster ({error})"));
            Err(reasons)
        }
    }
}

#[tokio::test]
async fn postgres_store_suite() {
    let server = match postgres().await {
        Ok(server) => server,
        Err(reasons) => {
            let message = format!("skipped: no PostgreSQL available: {}", reasons.join("; "));
            if std::env::var("VOICEGATE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("{message}");
            }
            eprintln!("postgres_store_suite: {message}");
            return;
        }
    };
    let kind = match &server {
        Postgres::External(_) => "DATABASE_URL",
        Postgres::Container { .. } => "testcontainers",
        Postgres::Local(_) => "a throwaway local cluster",
    };
    eprintln!("postgres_store_suite: running against {kind}");
    let store = Store::connect(server.url()).await.expect("connect to PostgreSQL");
    suite(&store).await;
    // A second connection sees what the first wrote: nothing is kept in the process.
    let again = Store::connect(server.url()).await.expect("reconnect");
    let tenant = TenantId::new(unique("acme"));
    store.put_overlay(&tenant, "{}").await.expect("put");
    assert_eq!(again.current_overlay(&tenant).await.expect("read").expect("some").version, 1);
}
