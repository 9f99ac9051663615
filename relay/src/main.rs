//! `baycount-relay`: parses flags, sets up logging, loads the config and runs the relay.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use baycount_relay::Relay;
use baycount_relay::config::{Config, Overrides};
use clap::Parser;
use tokio_util::sync::CancellationToken;

/// The baycount relay: Telegram bot, REST + WebSocket API, dashboard and SQLite history of
/// every loading bay, with an embedded MQTT broker by default.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// TOML config file (see relay.example.toml); flags and environment override it.
    #[arg(long, env = "BAYCOUNT_CONFIG")]
    config: Option<PathBuf>,
    /// Address of the REST API and dashboard [default: 127.0.0.1:8080].
    #[arg(long, env = "BAYCOUNT_HTTP")]
    http: Option<SocketAddr>,
    /// Names the API answers to besides IP addresses, localhost and this machine's hostname,
    /// comma-separated (e.g. relay.site.example); others are refused (DNS rebinding).
    #[arg(long, env = "BAYCOUNT_HTTP_HOSTS")]
    http_hosts: Option<String>,
    /// Run the embedded MQTT broker on this address [default: 127.0.0.1:1883].
    #[arg(long, env = "BAYCOUNT_MQTT_LISTEN", conflicts_with = "mqtt")]
    mqtt_listen: Option<SocketAddr>,
    /// Use an external broker instead, e.g. mqtt://user:password@host:1883.
    #[arg(long, env = "BAYCOUNT_MQTT")]
    mqtt: Option<String>,
    /// SQLite history file [default: ./baycount.db].
    #[arg(long, env = "BAYCOUNT_DB")]
    db: Option<PathBuf>,
    /// The operators' token, required to start, stop and correct (prefer the environment).
    #[arg(long, env = "BAYCOUNT_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// The viewers' token: when set, reading the API and dashboard needs it (or the operators').
    #[arg(long, env = "BAYCOUNT_VIEWER_TOKEN", hide_env_values = true)]
    viewer_token: Option<String>,
    /// For an mqtts:// broker: the authority that signed its certificate [default: the system's].
    #[arg(long, env = "BAYCOUNT_MQTT_CA")]
    mqtt_ca: Option<PathBuf>,
    /// For an mqtts:// broker that wants client certificates: the relay's certificate...
    #[arg(long, env = "BAYCOUNT_MQTT_CERT")]
    mqtt_cert: Option<PathBuf>,
    /// ...and its private key.
    #[arg(long, env = "BAYCOUNT_MQTT_KEY")]
    mqtt_key: Option<PathBuf>,
    /// The Telegram bot's token from BotFather; without one the relay runs without the bot.
    #[arg(long, env = "TELOXIDE_TOKEN", hide_env_values = true)]
    telegram_token: Option<String>,
    /// Another Bot API server (a local telegram-bot-api, or a test's).
    #[arg(long, env = "TELOXIDE_API_URL")]
    telegram_api_url: Option<String>,
    /// Telegram user ids allowed to control bays, comma-separated.
    #[arg(long, env = "BAYCOUNT_TELEGRAM_ALLOW")]
    telegram_allow: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Adds a bay's MQTT user to the embedded broker's password file (Mosquitto's format), or
    /// changes its password. The password is read from BAYCOUNT_MQTT_PASSWORD or standard input.
    MqttUser {
        /// The password file ([broker] password_file); created readable by its owner only.
        file: PathBuf,
        /// The user: the bay id.
        user: String,
    },
    /// Checks the history against its chain of digests: recomputes every bay's chain from its
    /// first sealed session and names the first session that does not match. Reads only.
    /// Exits 0 when everything matches, 1 when something does not.
    Verify {
        /// The history database.
        #[arg(long, env = "BAYCOUNT_DB")]
        db: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match &args.command {
        Some(Command::MqttUser { file, user }) => return mqtt_user(file, user),
        Some(Command::Verify { db }) => return verify(db).await,
        None => {}
    }
    baycount_relay::logging::init();
    // Before anything is opened: the connection caps come from the limit in force.
    baycount_relay::limits::raise_open_files();
    let overrides = Overrides {
        http: args.http,
        http_hosts: args.http_hosts,
        mqtt_listen: args.mqtt_listen,
        mqtt: args.mqtt,
        db: args.db,
        api_token: args.api_token,
        viewer_token: args.viewer_token,
        mqtt_ca: args.mqtt_ca,
        mqtt_cert: args.mqtt_cert,
        mqtt_key: args.mqtt_key,
        telegram_token: args.telegram_token,
        telegram_api_url: args.telegram_api_url,
        telegram_allow: args.telegram_allow,
    };
    let config = Config::load(args.config.as_deref(), overrides)?;
    let shutdown = CancellationToken::new();
    let relay = Relay::start(config, shutdown.clone())
        .await
        .context("the relay could not start")?;
    // For whoever started it on port 0 (tests, scripts): the addresses it got.
    match relay.mqtt_addr {
        Some(mqtt) => println!(
            "baycount-relay listening http={} mqtt={mqtt}",
            relay.http_addr
        ),
        None => println!("baycount-relay listening http={}", relay.http_addr),
    }
    tokio::spawn(async move {
        wait_for_signal().await;
        log::info!("shutting down");
        shutdown.cancel();
    });
    relay.wait().await;
    Ok(())
}

fn mqtt_user(file: &std::path::Path, user: &str) -> anyhow::Result<()> {
    let password = match std::env::var("BAYCOUNT_MQTT_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprintln!("password for {user} (one line on standard input):");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    baycount_relay::broker::users::set_password(file, user, &password)?;
    eprintln!("{user} can now connect; give its edge the same password in BAYCOUNT_MQTT_PASSWORD");
    Ok(())
}

async fn verify(db: &std::path::Path) -> anyhow::Result<()> {
    let report = baycount_relay::history::History::verify_file(db)
        .await
        .with_context(|| format!("cannot check {}", db.display()))?;
    for (bay, links, head) in &report.bays {
        println!("{bay}: {links} sealed links match; head {links}:{head}");
    }
    match report.broken {
        None => {
            println!("{}: the history matches its chain", db.display());
            Ok(())
        }
        Some(broken) => {
            eprintln!("{}: DOES NOT MATCH its chain: {broken}", db.display());
            eprintln!(
                "the sessions before it are as sealed; from this one on, compare with a printed report's digests"
            );
            std::process::exit(1);
        }
    }
}

async fn wait_for_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            log::warn!("cannot listen for SIGTERM: {e}");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
