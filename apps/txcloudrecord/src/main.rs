//! `txcloudrecord`: the local classroom recording service.
//!
//! Glue only: flags → config → the HTTP service built from the library crates.
//! See ARCHITECTURE.md for the crates and README.md for the API.
//!
//! On Windows it is a GUI-subsystem program: launched by a browser through
//! `tc-record://`, the service opens no console window (one the teacher
//! closes would end the recording mid-slice). `record`, `doctor` and
//! `register-protocol`, started from a terminal, attach to that terminal's
//! console so they still print.
#![cfg_attr(windows, windows_subsystem = "windows")]

mod app;
mod config;
mod doctor;
mod errors;
mod events;
mod instance;
mod logs;
mod record;
mod register;
mod server;
mod service;
#[cfg(windows)]
mod session_end;
mod task;
mod uploads;

use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::sync::Notify;

use crate::config::{CaptureMode, Config, Flags};

#[derive(Debug, Parser)]
#[command(
    name = "txcloudrecord",
    version,
    about = "Local classroom recording service (TIC TXCloudRecord compatible)"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// A `tc-record://…` URL, as a browser passes it when launching us.
    launch_url: Option<String>,
    #[command(flatten)]
    flags: Flags,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Serve the API (the default).
    Serve,
    /// Register this executable as the handler of tc-record:// links.
    RegisterProtocol,
    /// Record a window from the command line (no HTTP): a live progress
    /// line, Ctrl-C stops cleanly.
    Record(record::RecordArgs),
    /// Check this machine: port, display and compositor, sound, disk,
    /// storage and clock; each problem with how to fix it. Exit status 1
    /// when something would stop a class from being recorded or uploaded.
    Doctor {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> std::process::ExitCode {
    // Before anything allocates: x264's huge pages cost 6 MiB at 1080p.
    txcr_recorder::decline_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            attach_parent_console();
            e.exit()
        }
    };
    if !matches!(cli.command, Some(Cmd::Serve) | None) {
        attach_parent_console();
    }
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("txcloudrecord: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Print to the terminal we were started from, if any (Windows: a
/// GUI-subsystem program has no console of its own). Elsewhere a no-op.
fn attach_parent_console() {
    #[cfg(windows)]
    // SAFETY: AttachConsole takes a process id constant and touches no memory
    // of ours; it fails harmlessly when there is no parent console.
    unsafe {
        windows_sys::Win32::System::Console::AttachConsole(
            windows_sys::Win32::System::Console::ATTACH_PARENT_PROCESS,
        );
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // The one-shot command keeps the terminal for its progress line.
    let quiet = matches!(cli.command, Some(Cmd::Record(_) | Cmd::Doctor { .. }));
    if !matches!(cli.command, Some(Cmd::Serve) | None) {
        logs::init_stderr(
            cli.flags.log.as_deref(),
            if quiet { "warn" } else { "info" },
        );
    }
    if let Some(url) = &cli.launch_url {
        if !url.to_ascii_lowercase().starts_with("tc-record:") {
            anyhow::bail!(
                "unexpected argument {url:?}: expected a tc-record:// URL or a subcommand"
            );
        }
        tracing::info!(
            "launched through {}",
            url.split('?').next().unwrap_or_default()
        );
    }
    match cli.command {
        Some(Cmd::RegisterProtocol) => {
            let exe = std::env::current_exe().context("finding this executable")?;
            register::register(&exe)
        }
        Some(Cmd::Record(args)) => {
            if record::run(&cli.flags, &args)? {
                Ok(())
            } else {
                anyhow::bail!("the recording failed (its slices are kept)")
            }
        }
        Some(Cmd::Doctor { json }) => {
            if doctor::run(&cli.flags, json)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Some(Cmd::Serve) | None => serve(&cli.flags),
    }
}

fn serve(flags: &Flags) -> anyhow::Result<()> {
    let cfg = Config::load(flags);
    let log_dir = cfg.as_ref().ok().map(|c| c.data_dir.join("logs"));
    logs::init_service(flags.log.as_deref(), log_dir.as_deref());
    let cfg = cfg?;
    if cfg.capture == CaptureMode::Windows && !cfg!(windows) {
        anyhow::bail!("--capture windows works on Windows only");
    }
    if cfg.capture == CaptureMode::X11 && !cfg!(target_os = "linux") {
        anyhow::bail!("--capture x11 works on Linux only");
    }
    if cfg.apps.is_empty() {
        tracing::warn!("no application configured (TXCR_SDKAPPID/TXCR_SECRET_KEY or [[apps]]): every Init will fail");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // The API answers within a couple of milliseconds while the
        // recording keeps the CPU busy (its threads run at a lower priority).
        .on_thread_start(txcr_recorder::answer_promptly)
        // Each request is answered on a blocking thread: a bound keeps a
        // flood of requests from growing the process (they queue instead).
        .max_blocking_threads(16)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", cfg.port)).await {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                let port = cfg.port;
                if port != 0 && tokio::task::spawn_blocking(move || instance::is_ours(port)).await?
                {
                    tracing::info!(
                        "txcloudrecord already serves 127.0.0.1:{port}; leaving it running"
                    );
                    return Ok(());
                }
                anyhow::bail!("port {port} is used by another program");
            }
            Err(e) => return Err(e).context("binding 127.0.0.1"),
        };
        // Port 0 picks a free port; say which on stdout, for scripts and tests.
        let port = listener.local_addr()?.port();
        println!("txcloudrecord listening on http://127.0.0.1:{port}/localrecord/v1/");
        tracing::info!(
            port,
            record_root = %cfg.record_root.display(),
            data_dir = %cfg.data_dir.display(),
            "serving"
        );
        // Only the instance that owns the port touches the upload journal.
        let (uploads, creds) = uploads::start(&cfg, "uploads")?;
        let app = Arc::new(app::App {
            port,
            origins: cfg.origins.clone(),
            service: service::Service::new(cfg, uploads, creds),
            exit: Notify::new(),
            closing: tokio::sync::watch::channel(false).0,
            changed: Notify::new(),
        });
        // Type=notify (the packaged user unit): ready once the port is ours.
        #[cfg(target_os = "linux")]
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        server::serve(listener, app).await
    })
}
