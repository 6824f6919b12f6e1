//! A database outage during intake: the hub answers UNAVAILABLE with a retry delay (not an
//! opaque INTERNAL), stores nothing of the refused call, and `takedownctl` retries until the
//! database is back, saying so. PostgreSQL goes away behind a relay (connections cut, new
//! ones refused); SQLite's write lock is held by another process past the busy timeout.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use sqlx::Connection;
use takedown_ctl::envelope::Envelope;
use takedown_tests::lists::{referrals, request};
use takedown_tests::{Backend, hub::HubOptions, world::World};
use tonic::Code;
use tonic_types::StatusExt;

both_backends!(a_database_outage_answers_unavailable_and_takedownctl_retries);

/// What keeps the hub from its database.
enum Outage {
    /// The PostgreSQL relay is cut.
    Relay,
    /// Another process holds SQLite's write lock.
    Lock(Box<sqlx::SqliteConnection>),
}

async fn begin(w: &mut World) -> Outage {
    match w.relay.as_mut() {
        Some(relay) => {
            relay.cut().await;
            Outage::Relay
        }
        None => {
            let mut tool = sqlx::SqliteConnection::connect(&w.db.url)
                .await
                .expect("the tool opens the hub's database");
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut tool)
                .await
                .expect("the tool takes the write lock");
            Outage::Lock(Box::new(tool))
        }
    }
}

async fn end(w: &mut World, outage: Outage) {
    match outage {
        Outage::Relay => w.relay.as_mut().expect("relay").resume().await,
        Outage::Lock(mut tool) => {
            sqlx::query("ROLLBACK")
                .execute(&mut *tool)
                .await
                .expect("the tool lets go");
        }
    }
}

async fn a_database_outage_answers_unavailable_and_takedownctl_retries(backend: Backend) {
    let opts = HubOptions {
        relay_database: true,
        ..HubOptions::default()
    };
    let Some(mut w) = World::start(backend, opts).await else {
        return;
    };
    let fr = w.key("agency-fr").clone();
    let mut c = w.as_org("agency-fr").await;
    c.referral
        .submit_referral_list(request(&fr.list(
            "before",
            None,
            referrals("telegram", "before", 3),
        )))
        .await
        .expect("the database is up");
    let stored = w.db.intake_counts().await;

    let outage = begin(&mut w).await;
    let during = fr.list("during", None, referrals("telegram", "during", 4));
    let refused = c
        .referral
        .submit_referral_list(request(&during))
        .await
        .expect_err("the database is away");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("retried"),
        "says a retry can help: {}",
        refused.message()
    );
    let retry = refused.get_error_details().retry_info().cloned();
    assert!(
        retry.and_then(|r| r.retry_delay).is_some(),
        "carries a retry delay"
    );

    // takedownctl submits the same list meanwhile; the outage ends once it says it retries.
    let file = w.dir.path().join("during.signed.json");
    Envelope::from_signed(&during, "agency-fr", None, 4)
        .write(&file)
        .expect("write the signed list");
    let mut ctl = Command::new(takedown_tests::bins::path("takedownctl"))
        .args(["--hub", &w.hub.endpoint, "--certs"])
        .arg(&w.pki.dir)
        .args(["--as", "agency-fr", "list", "submit"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run takedownctl");
    let stderr = ctl.stderr.take().expect("stderr");
    let (said, heard) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = said.send(line);
        }
    });
    let retrying = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        while let Ok(line) = heard.recv_timeout(Duration::from_secs(60)) {
            let done = line.contains("unavailable");
            lines.push(line);
            if done {
                return (true, lines, heard);
            }
        }
        (false, lines, heard)
    })
    .await
    .expect("reader");
    let (retried, lines, heard) = retrying;
    assert!(retried, "takedownctl says it retries: {lines:?}");
    end(&mut w, outage).await;

    let out = tokio::task::spawn_blocking(move || ctl.wait_with_output())
        .await
        .expect("join")
        .expect("takedownctl exits");
    let rest: Vec<String> = heard.try_iter().collect();
    assert!(
        out.status.success(),
        "takedownctl succeeds once the database is back: {lines:?} {rest:?}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("during"), "{stdout}");

    // Nothing of the refused call was stored, and the list that got through is there once.
    let now = w.db.intake_counts().await;
    assert_eq!(now[0], stored[0] + 1, "lists");
    assert_eq!(now[2], stored[2] + 4, "referrals");
}
