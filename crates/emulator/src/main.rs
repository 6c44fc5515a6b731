//! `pbi-emulator --listen 127.0.0.1:PORT --embed-listen 127.0.0.1:PORT2 --embed-host emu.powerbi.com --state FIXTURE.json`

use std::net::SocketAddr;

use embedgate_emulator::{start, Fixture, Options, DEMO_FIXTURE};

const USAGE: &str = "usage: pbi-emulator [--listen ADDR] [--embed-listen ADDR] [--embed-host HOST] [--state FIXTURE.json]
  --listen        HTTP listener for Entra ID, Power BI REST and /__emulator (default 127.0.0.1:0)
  --embed-listen  HTTPS listener for the embed iframe (default 127.0.0.1:0)
  --embed-host    host name put in embedUrl; powerbi-client needs one ending in .powerbi.com (default emu.powerbi.com)
  --state         fixture JSON (default: the built-in demo fixture)
Prints {\"api\":...,\"embed\":...} on stdout once listening.";

fn main() {
    let mut listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut embed_listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut embed_host = "emu.powerbi.com".to_string();
    let mut state: Option<String> = None;
    let mut args = std::env::args().skip(1);
    let fail = |msg: String| -> ! {
        eprintln!("pbi-emulator: {msg}\n{USAGE}");
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| fail(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--listen" => {
                listen = value()
                    .parse()
                    .unwrap_or_else(|e| fail(format!("--listen: {e}")))
            }
            "--embed-listen" => {
                embed_listen = value()
                    .parse()
                    .unwrap_or_else(|e| fail(format!("--embed-listen: {e}")))
            }
            "--embed-host" => embed_host = value(),
            "--state" => state = Some(value()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => fail(format!("unknown argument {other}")),
        }
    }
    if !embed_host.ends_with(".powerbi.com") {
        eprintln!("pbi-emulator: warning: powerbi-client refuses embed hosts that don't end in .powerbi.com");
    }
    let text = match &state {
        Some(p) => {
            std::fs::read_to_string(p).unwrap_or_else(|e| fail(format!("cannot read {p}: {e}")))
        }
        None => DEMO_FIXTURE.to_string(),
    };
    let fixture = Fixture::parse(&text).unwrap_or_else(|e| fail(e));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let running = start(Options {
            listen,
            embed_listen,
            embed_host,
            fixture,
        })
        .await
        .unwrap_or_else(|e| fail(format!("cannot listen: {e}")));
        println!(
            "{}",
            serde_json::json!({"api": running.api_base, "embed": running.embed_base})
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}
