//! `voicegate-agent`: serve the reference agent's HTTP API, mint development
//! tokens, and release agent definitions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use voicegate_agent::config::{DefinitionRegistry, release};
use voicegate_agent::control::ControlPlane;
use voicegate_agent::server::{AppState, router};
use voicegate_agent::store::Store;
use voicegate_agent::tenant::{TenantId, TokenKeys};

#[derive(Debug, Parser)]
#[command(name = "voicegate-agent", version, about = "The voicegate reference voice agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// `sqlite://voicegate.db?mode=rwc`, `sqlite::memory:` or `postgres://...`.
        #[arg(long, default_value = "sqlite://voicegate.db?mode=rwc")]
        db: String,
        #[arg(long, env = "VOICEGATE_TOKEN_SECRET", hide_env_values = true)]
        token_secret: String,
        /// Serve this definition (`name@version`) from `--definitions`; default: the built-in one.
        #[arg(long)]
        agent: Option<String>,
        #[arg(long, default_value = "agent/definitions")]
        definitions: PathBuf,
    },
    /// Mint a bearer token for a tenant (development).
    Token {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        #[arg(long, env = "VOICEGATE_TOKEN_SECRET", hide_env_values = true)]
        token_secret: String,
    },
    /// List or release agent definitions.
    Definitions {
        #[arg(long, default_value = "agent/definitions")]
        dir: PathBuf,
        /// Record drafts in definitions.lock, making them immutable.
        #[arg(long)]
        release: bool,
    },
}

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env("VOICEGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Token { tenant, ttl, token_secret } => {
            let token = TokenKeys::new(token_secret.as_bytes())
                .mint(&TenantId::new(tenant.clone()), ttl)
                .map_err(|e| anyhow::anyhow!("{tenant:?}: {e}"))?;
            println!("{token}");
            Ok(())
        }
        Command::Definitions { dir, release: do_release } => {
            let report = |errors: Vec<voicegate_agent::config::DefinitionError>| {
                anyhow::anyhow!(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
            };
            if do_release {
                for added in release(&dir).map_err(report)? {
                    println!("released {}@{} sha256 {}", added.name, added.version, added.sha256);
                }
            }
            for loaded in DefinitionRegistry::load(&dir).map_err(report)?.all() {
                let state = if loaded.released { "released" } else { "draft" };
                println!(
                    "{:<24} {:<8} {}  {}",
                    loaded.definition.id(),
                    state,
                    loaded.definition.content_hash,
                    loaded.path.display()
                );
            }
            Ok(())
        }
        Command::Serve { listen, db, token_secret, agent, definitions } => {
            let definition = match agent {
                None => Arc::new(voicegate_agent::AgentDefinition::reference()),
                Some(id) => {
                    let (name, version) =
                        id.split_once('@').ok_or_else(|| anyhow::anyhow!("--agent takes name@version"))?;
                    let registry = DefinitionRegistry::load(&definitions).map_err(|errors| {
                        anyhow::anyhow!(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
                    })?;
                    registry
                        .get(name, version)
                        .ok_or_else(|| anyhow::anyhow!("no definition {id} under {}", definitions.display()))?
                }
            };
            if token_secret.len() < 16 {
                anyhow::bail!("--token-secret must be at least 16 bytes");
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                let store = Store::connect(&db).await?;
                let state = AppState {
                    control: Arc::new(ControlPlane::new(store, definition.clone())),
                    keys: Arc::new(TokenKeys::new(token_secret.as_bytes())),
                };
                let listener = tokio::net::TcpListener::bind(listen).await?;
                tracing::info!(%listen, agent_version = %definition.id(), "serving");
                axum::serve(listener, router(state)).await?;
                anyhow::Ok(())
            })
        }
    }
}
