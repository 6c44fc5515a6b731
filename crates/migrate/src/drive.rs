//! The one loop that drives a customer's [`Machine`]: the CLI (ureq, blocking) and the worker (`fetch`) each
//! implement [`Driver`] and call [`run`]. Progress is saved whenever it changes: before a create is sent (the
//! name it creates), and after every answer that confirmed something. A refused Entra token is refreshed once
//! per run and the step asked for again.

use embedgate_client::{Failure, Request};

use crate::machine::{Action, Machine, Progress, Session, StepError};

/// The I/O a run needs.
#[allow(async_fn_in_trait)] // each driver runs its futures on one thread
pub trait Driver {
    /// Why the driver stopped a run (its own I/O failed, or it chose to stop waiting).
    type Stop;
    async fn send(&mut self, req: &Request) -> Result<String, Failure>;
    /// A fresh Entra token, replacing `refused`.
    async fn refresh_token(&mut self, refused: &str) -> Result<String, Self::Stop>;
    async fn save(&mut self, p: &Progress) -> Result<(), Self::Stop>;
    /// Waits `ms` (an import publishing), or stops the run here.
    async fn wait(&mut self, ms: u64) -> Result<(), Self::Stop>;
    /// Told of every request before it is sent.
    fn sending(&mut self, _req: &Request) {}
}

/// How a run ended early.
#[derive(Debug)]
pub enum Stopped<S> {
    /// The machine cannot go on; what Power BI confirmed is saved.
    Step(StepError),
    Driver(S),
}

/// Runs the machine until it is done; returns the number of requests sent.
pub async fn run<D: Driver>(
    m: &mut Machine,
    s: &mut Session<'_>,
    p: &mut Progress,
    d: &mut D,
) -> Result<u32, Stopped<D::Stop>> {
    let mut calls = 0u32;
    let mut refresh = embedgate_client::entra::Refresh::default();
    loop {
        let before = p.clone();
        let action = m.next(s, p);
        if *p != before {
            d.save(p).await.map_err(Stopped::Driver)?;
        }
        match action {
            Action::Done => return Ok(calls),
            Action::Fail(e) => return Err(Stopped::Step(e)),
            Action::Wait(ms) => d.wait(ms).await.map_err(Stopped::Driver)?,
            Action::Send(req, expect) => {
                calls += 1;
                d.sending(&req);
                let answer = d.send(&req).await;
                if refresh.needed(&req, &answer, &s.token) {
                    s.token = d.refresh_token(&s.token).await.map_err(Stopped::Driver)?;
                    continue;
                }
                let before = p.clone();
                let read = m.read(s, p, expect, answer);
                if *p != before {
                    d.save(p).await.map_err(Stopped::Driver)?;
                }
                if let Some(ms) = read.map_err(Stopped::Step)? {
                    d.wait(ms).await.map_err(Stopped::Driver)?;
                }
            }
        }
    }
}

/// Runs a future whose driver never suspends (the CLI's: its I/O blocks the thread), on this thread.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
