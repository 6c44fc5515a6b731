//! The emulator in-process, on free ports with the demo fixture, for the CLI's integration tests.

use embedgate_emulator::{start, Fixture, Options, DEMO_FIXTURE};

pub struct Emu {
    pub base: String,
    _rt: tokio::runtime::Runtime,
}

pub fn emulator() -> Emu {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let running = rt
        .block_on(start(Options {
            listen: "127.0.0.1:0".parse().unwrap(),
            embed_listen: "127.0.0.1:0".parse().unwrap(),
            embed_host: "127.0.0.1".into(),
            fixture: Fixture::parse(DEMO_FIXTURE).unwrap(),
        }))
        .unwrap();
    Emu {
        base: running.api_base,
        _rt: rt,
    }
}
