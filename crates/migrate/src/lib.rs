//! Migrating a multi-customer app to service principal profiles (seed 000), as pure logic: the inventory
//! (today's layout), the plan (steps and the identity each customer has afterwards), the resumable step machine
//! that drives `embedgate-client` (requests to make, answers to read), and the checks of `verify` and
//! `cleanup`; and a new customer's onboarding (`onboard`). Its drivers: the CLI (`embedgate migrate`) and the
//! worker's `POST /api/admin/customers/{id}/onboard`.

pub mod checks;
pub mod inventory;
pub mod machine;
pub mod onboard;
pub mod plan;

pub use inventory::{read as read_inventory, InputError, Inventory};
pub use machine::{Action, Expect, Machine, Progress, Session, StepError, Worker};
pub use plan::{plan, Plan};
