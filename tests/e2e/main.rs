//! End-to-end tests: the real binaries over real gRPC + mTLS on 127.0.0.1, each test on a
//! fresh SQLite file and on a fresh PostgreSQL database.

/// Runs each named `async fn(Backend)` once per backend, as `sqlite::name` and
/// `postgres::name`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(takedown_tests::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(takedown_tests::Backend::Postgres).await
                }
            )*
        }
    };
}

mod access;
mod chaos;
mod claims;
mod cli;
mod coop;
mod decoding;
mod delivery;
mod handoff;
mod ids;
mod intake;
mod keys;
mod metrics;
mod moving;
mod multi_hub;
mod outage;
mod policy;
mod pull;
mod rate_limits;
mod readme;
mod removal_orders;
mod restoration;
mod retention;
mod staffed_hours;
mod summary;
mod withdrawal;

/// The status code of an RPC result (OK for success).
pub fn code<T>(r: &Result<tonic::Response<T>, tonic::Status>) -> tonic::Code {
    match r {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    }
}
