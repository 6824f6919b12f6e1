//! One module per command group; [`dispatch`] routes a parsed command line to it.

use anyhow::Result;
use tonic::{Response, Status};

use crate::{
    cli::{Cli, Command},
    client::HubError,
};

/// `ask!(client => method(request))`: calls the hub with [`retrying`] and gives the answer's
/// message or the refusal as a [`HubError`]. The request is built once and cloned per try.
macro_rules! ask {
    ($client:expr => $method:ident($request:expr)) => {{
        let client = ($client).clone();
        let request = $request;
        $crate::commands::answer(
            $crate::commands::retrying(stringify!($method), move || {
                let mut client = client.clone();
                let request = request.clone();
                async move { client.$method(request).await }
            })
            .await,
        )
    }};
}

pub mod action_day;
pub mod audit;
pub mod certs;
pub mod deliveries;
pub mod directory;
pub mod export;
pub mod hold;
pub mod keys;
pub mod list;
pub mod summary;
pub mod watch;

/// Runs one parsed command line.
pub async fn dispatch(cli: Cli) -> Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Certs(c) => certs::run(&global, c),
        Command::Keys(c) => keys::run(&global, c).await,
        Command::List(c) => list::run(&global, c).await,
        Command::Directory(c) => directory::run(&global, c).await,
        Command::ActionDay(c) => action_day::run(&global, c).await,
        Command::Hold(c) => hold::run(&global, c).await,
        Command::Summary(a) => summary::run(&global, a).await,
        Command::Watch(a) => watch::run(&global, a).await,
        Command::Audit(c) => audit::run(&global, c).await,
        Command::Export(a) => export::run(&global, a).await,
        Command::Deliveries(c) => deliveries::run(&global, c).await,
    }
}

/// The message of a hub answer, or the refusal as a [`HubError`].
pub(crate) fn answer<T>(r: Result<Response<T>, Status>) -> Result<T, HubError> {
    r.map(Response::into_inner).map_err(HubError)
}

/// How many times a call is tried while the hub answers UNAVAILABLE.
const ATTEMPTS: u32 = 4;

/// Runs `call` until the hub answers something other than UNAVAILABLE, at most
/// [`ATTEMPTS`] times: UNAVAILABLE means a retry can succeed (the hub's database is
/// restarting, or the hub itself), and the hub's calls are safe to repeat (a list resubmitted
/// is idempotent). It waits what the hub asks for (`google.rpc.RetryInfo`), or 0.5 s doubling,
/// and says so on stderr.
pub(crate) async fn retrying<T, F, Fut>(what: &str, mut call: F) -> Result<Response<T>, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Response<T>, Status>>,
{
    use tonic_types::StatusExt;
    let mut delay = std::time::Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(s) if s.code() == tonic::Code::Unavailable && attempt < ATTEMPTS => {
                let wait = s
                    .get_error_details()
                    .retry_info()
                    .and_then(|r| r.retry_delay)
                    .unwrap_or(delay);
                attempt += 1;
                eprintln!(
                    "takedownctl: the hub is unavailable ({}); {what} again in {:.1} s \
                     (try {attempt} of {ATTEMPTS})",
                    s.message(),
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(8));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use tonic::{Code, Response, Status};
    use tonic_types::{ErrorDetails, StatusExt};

    use super::{ATTEMPTS, retrying};

    fn unavailable() -> Status {
        Status::with_error_details(
            Code::Unavailable,
            "the hub's database is unavailable just now",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(5))),
        )
    }

    #[tokio::test]
    async fn unavailable_is_retried_until_the_hub_answers() {
        let calls = Cell::new(0);
        let r = retrying("submit_referral_list", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(unavailable())
                } else {
                    Ok(Response::new(7))
                }
            }
        })
        .await;
        assert_eq!(r.unwrap().into_inner(), 7);
        assert_eq!(calls.get(), 3);
    }

    #[tokio::test]
    async fn other_refusals_are_not_retried() {
        let calls = Cell::new(0);
        let r: Result<Response<()>, Status> = retrying("get_list_status", || {
            calls.set(calls.get() + 1);
            async { Err(Status::invalid_argument("item 3: unknown platform")) }
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Code::InvalidArgument);
        assert_eq!(calls.get(), 1);
    }

    #[tokio::test]
    async fn it_gives_up_after_its_attempts() {
        let calls = Cell::new(0);
        let r: Result<Response<()>, Status> = retrying("list_holds", || {
            calls.set(calls.get() + 1);
            async { Err(unavailable()) }
        })
        .await;
        assert_eq!(r.unwrap_err().code(), Code::Unavailable);
        assert_eq!(calls.get(), ATTEMPTS);
    }
}
