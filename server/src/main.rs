//! `observatory`: parse the command line, set up logging, run the server until a signal.

use anyhow::Result;
use observatory::cli::{Cli, Command, ServeArgs};
use observatory::config::{self, Config, LogFormat};

/// glibc's malloc spent a third of the ingest workers' time (perf, `scripts/bench` with
/// BENCH_PERF=1): big request bodies next to many small attribute strings keep it consolidating.
/// jemalloc took durable ingest from ~50,000 to ~80,000 records/s with idle memory unchanged
/// (mimalloc was as fast but cost 10 MB of idle RSS).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> Result<()> {
    let cli = match Cli::parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        // A hook must never fail its agent (to Claude Code, exit 2 blocks the tool call), not
        // even when the command line an older or newer setup wrote does not parse.
        Err(e) if observatory::hook::swallows_parse_error(&e, std::env::args_os()) => return Ok(()),
        Err(e) => e.exit(),
    };
    match cli.command {
        Some(Command::PrintConfig) => {
            print!("{}", config::EXAMPLE);
            Ok(())
        }
        Some(Command::Hook(args)) => {
            observatory::hook::run(&args);
            Ok(())
        }
        Some(Command::Setup(args)) => observatory::agents::setup(&args),
        Some(Command::Token(args)) => observatory::client::token(&args),
        Some(Command::Pair(args)) => observatory::client::pair(&args),
        Some(Command::Tunnel(args)) => observatory::client::tunnel::run(&args),
        Some(Command::Ctl(args)) => observatory::client::ctl(&args),
        Some(Command::Status(args)) => observatory::client::status::status(&args),
        Some(Command::Export(args)) => observatory::client::export::export(&args),
        Some(Command::Compact(args)) => observatory::client::compact(&args),
        Some(Command::Service(args)) => observatory::client::service::service(&args),
        Some(Command::Run(args)) => std::process::exit(observatory::client::run::run(&args)?),
        Some(Command::LeadTerminal { argv }) => {
            std::process::exit(observatory::client::terminal::lead(&argv)?)
        }
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    let config = Config::load(args.config.as_deref(), env, &args.overrides())?;
    init_logging(&config)?;
    let data_dir = config.data_dir(env)?;
    explain_a_damaged_store(data_dir.join(observatory::store::DB_FILE));
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let stop = shutdown_signal()?;
            let running = observatory::app::start(&config, &data_dir).await?;
            stop.await;
            tracing::info!("shutting down: finishing in-flight requests and committing");
            running.shutdown().await?;
            tracing::info!("stopped cleanly");
            Ok(())
        })
}

/// A panic inside redb means the store file is damaged: say so, name the file and what to do,
/// before the usual panic report.
fn explain_a_damaged_store(store: std::path::PathBuf) {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if let Some(m) = observatory::store::damaged_store_message(&store, &location, &what) {
            tracing::error!("{m}");
        }
        report(info);
    }));
}

fn init_logging(config: &Config) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .map_err(|e| anyhow::anyhow!("invalid log level {:?}: {e}", config.log.level))?;
    // Colour only for a person at a terminal, never into files or pipes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// Listens for SIGINT and SIGTERM. Created before the server starts, so a signal sent the moment
/// it logs that it listens is already caught.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
