//! The byte-level readers the browser runs on every keystroke, in a crate of their own so that
//! they can be compiled for speed (`opt-level = 3` in the workspace's release profile) while the
//! rest of the wasm module is compiled for size: the JSON reader ([`json`]) and the GUID decoder
//! ([`guid`]). About 10 KiB of code; measured in docs/benchmarks.md.

pub mod guid;
pub mod json;
