//! The CLI's I/O: the native driver of `embedgate_client` (the `embedgate` binary is `main.rs`).

pub mod net;
