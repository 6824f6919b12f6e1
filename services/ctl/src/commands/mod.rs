//! One module per command group; [`dispatch`] routes a parsed command line to it.

use anyhow::Result;
use tonic::{Response, Status};

use crate::{
    cli::{Cli, Command},
    client::HubError,
};

pub mod action_day;
pub mod audit;
pub mod certs;
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
        Command::Keys(c) => keys::run(c),
        Command::List(c) => list::run(&global, c).await,
        Command::Directory(c) => directory::run(&global, c).await,
        Command::ActionDay(c) => action_day::run(&global, c).await,
        Command::Hold(c) => hold::run(&global, c).await,
        Command::Summary(a) => summary::run(&global, a).await,
        Command::Watch(a) => watch::run(&global, a).await,
        Command::Audit(c) => audit::run(&global, c).await,
        Command::Export(a) => export::run(&global, a).await,
    }
}

/// The message of a hub answer, or the refusal as a [`HubError`].
pub(crate) fn answer<T>(r: Result<Response<T>, Status>) -> Result<T, HubError> {
    r.map(Response::into_inner).map_err(HubError)
}
