//! The CLI's I/O: the native driver of `embedgate_client`, and the migration's driver (the `embedgate`
//! binary is `main.rs`).

pub mod migrate;
pub mod net;
