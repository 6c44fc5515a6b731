//! Migrating a multi-customer app to service principal profiles ("Migrate multi-customer applications to the
//! service principal profiles model"), as pure logic: the inventory (today's layout), the registry (the worker's
//! customers: who holds which profile and workspace), the plan, the resumable step machine that drives
//! `embedgate-client` (requests to make, answers to read) and the one loop every driver runs it with, and the
//! checks of `apply`, `verify` and `cleanup`; and a new customer's onboarding (`onboard`). Its drivers: the CLI
//! (`embedgate migrate`) and the worker's `POST /api/admin/customers/{id}/onboard`.

pub mod checks;
pub mod drive;
pub mod inventory;
pub mod machine;
pub mod onboard;
pub mod plan;
pub mod registry;

pub use drive::{run, Driver, Stopped};
pub use inventory::{read as read_inventory, InputError, Inventory};
pub use machine::{Action, Expect, Field, Machine, Progress, Session, StepError, Worker};
pub use plan::{plan, Plan};
pub use registry::Registry;
