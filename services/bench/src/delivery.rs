//! `delivery`: an action day of N targets over five platforms whose real sidecars (auto
//! mode, zero delay) run on 127.0.0.1. The lists go in before H-hour; from H-hour on we
//! measure the first delivery at each sidecar (its inbox's stored receive time), the time
//! until every target is delivered and acknowledged at the hub (polling the hub's
//! database), deliveries per second and the hub's peak memory during delivery; against raw
//! tonic throughput ([`crate::rawgrpc`]). `--mode pull` runs the same day with the platforms
//! registered for pull and their sidecars long-polling the hub, beside push in the same run
//! when `--mode both`.

use std::{str::FromStr, time::Duration};

use anyhow::{Context, Result, bail};
use sqlx::{Connection, Row, sqlite::SqliteConnectOptions};
use takedown_protocol::list::SignedList;
use takedown_protocol::timestamp::now_millis;
use takedown_tests::{
    Backend,
    lists::{AgencyKey, request},
    pki::TestPki,
};

use crate::{
    backend_name, floor, lists,
    procs::{Sidecar, cpu_ms, cpu_ms_of_all, peak_kib, reset_peak},
    rawgrpc,
    stats::{Summary, Table, mib, percentile},
    world::{self, DAY, World},
};

/// Items per submitted list, unless the command line says otherwise: the same at every
/// size, so that the hub's memory compares days of different sizes, not list sizes.
pub const LIST_ITEMS: usize = 10_000;
/// How often the hub's database is polled for completion.
const POLL: Duration = Duration::from_millis(250);
/// Longest wait for an action day to be delivered.
const TIMEOUT: Duration = Duration::from_secs(300);
/// Goals: the hub's rate against the durable floor's ([`crate::floor`]), CPU per target of
/// every process together, first delivery. Raw tonic is shown for reference, without a goal.
const GOAL_FLOOR_RATIO: f64 = 0.5;
const GOAL_CPU_US: f64 = 50.0;
const GOAL_FIRST_P99_MS: f64 = 50.0;

#[derive(Default)]
struct Run {
    intake_s: f64,
    first_ms: Vec<f64>,
    delivered_ms: f64,
    done_ms: f64,
    rate: f64,
    peak_intake_mib: f64,
    peak_delivery_mib: f64,
    /// Targets whose acknowledgement the hub never recorded.
    unacked: f64,
    /// CPU time per target from H-hour until every target was delivered and acknowledged:
    /// the hub's, and the five sidecars' together.
    hub_cpu_us: f64,
    sidecars_cpu_us: f64,
    /// The PostgreSQL server's processes (zero for SQLite, which runs inside the hub).
    db_cpu_us: f64,
}

/// How the sidecars get their share.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Push,
    Pull,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
        }
    }
}

struct Size {
    backend: Backend,
    mode: Mode,
    targets: usize,
    runs: Vec<Run>,
    raw_rate: Vec<f64>,
    /// The durable floor on this backend: deliveries/s and CPU µs per target (its process
    /// and the database server together).
    floor_rate: Vec<f64>,
    floor_cpu_us: Vec<f64>,
}

/// Runs the delivery benchmark for each backend and size; returns whether every goal was
/// met.
pub async fn run(
    backends: &[Backend],
    modes: &[Mode],
    sizes: &[usize],
    runs: usize,
    list_items: usize,
) -> Result<bool> {
    let keys = world::agency_keys();
    let defaults = takedown_hub::Config::default().delivery;
    let mut all = Vec::new();
    for &n in sizes {
        println!("delivery: generating {n} targets in lists of ≤ {list_items} items");
        let lists = make_lists(&keys, n, list_items)?;
        let payloads = rawgrpc::payloads(&lists, DAY, defaults.batch_size as usize)?;
        let mut raw_rate = Vec::new();
        let dir = tempfile::tempdir()?;
        let pki = TestPki::generate(dir.path());
        for p in lists::PLATFORMS {
            if !pki.cert(p).exists() {
                pki.issue(takedown_protocol::ident::IdentityRole::Platform, p);
            }
        }
        for r in 1..=runs {
            let (took, accepted) = rawgrpc::run(&pki, &payloads, defaults.max_in_flight).await?;
            if accepted != n {
                bail!("raw receivers accepted {accepted} of {n}");
            }
            let rate = n as f64 / took.as_secs_f64();
            println!(
                "  raw tonic {n} run {r}: {:.2} s = {rate:.0} deliveries/s",
                took.as_secs_f64()
            );
            raw_rate.push(rate);
        }
        let mut floors: Vec<(Backend, Vec<f64>, Vec<f64>)> = Vec::new();
        for &backend in backends {
            let (mut rates, mut cpus) = (Vec::new(), Vec::new());
            for r in 1..=runs {
                let f = floor::run(
                    backend,
                    &pki,
                    &keys,
                    &payloads,
                    defaults.batch_size as usize,
                    defaults.max_in_flight,
                    n,
                )
                .await?;
                let rate = n as f64 / f.took.as_secs_f64();
                println!(
                    "  durable floor {} {n} run {r}: {:.2} s = {rate:.0} deliveries/s; CPU per target: process {:.0} µs, PostgreSQL server {:.0} µs",
                    backend_name(backend),
                    f.took.as_secs_f64(),
                    f.process_cpu_us,
                    f.db_cpu_us
                );
                rates.push(rate);
                cpus.push(f.process_cpu_us + f.db_cpu_us);
            }
            floors.push((backend, rates, cpus));
        }
        for (&backend, &mode) in backends
            .iter()
            .flat_map(|b| modes.iter().map(move |m| (b, m)))
        {
            let floor = floors.iter().find(|f| f.0 == backend);
            let mut size = Size {
                backend,
                mode,
                targets: n,
                runs: vec![],
                raw_rate: raw_rate.clone(),
                floor_rate: floor.map(|f| f.1.clone()).unwrap_or_default(),
                floor_cpu_us: floor.map(|f| f.2.clone()).unwrap_or_default(),
            };
            // H-hour lead: generous for the first run (intake runs at 20 000–30 000 items/s
            // here, so n/5 ms is about four times what it needs), then from the measured
            // intake.
            let mut lead_ms = 5_000 + n as i64 / 5;
            for r in 1..=runs {
                let fig = one_run(backend, mode, &keys, &lists, n, list_items, lead_ms).await?;
                lead_ms = (fig.intake_s * 1500.0) as i64 + 3_000;
                println!(
                    "  {} {} {n} run {r}: intake {:.1} s; first delivery {:?} ms; all delivered {:.0} ms, \
                     delivered+reported {:.0} ms after H ({} without ack); {:.0} deliveries/s; hub peak {:.0} MiB (intake {:.0} MiB); \
                     CPU per target: hub {:.0} µs, sidecars {:.0} µs, PostgreSQL server {:.0} µs",
                    backend_name(backend),
                    mode.name(),
                    fig.intake_s,
                    fig.first_ms,
                    fig.delivered_ms,
                    fig.done_ms,
                    fig.unacked,
                    fig.rate,
                    fig.peak_delivery_mib,
                    fig.peak_intake_mib,
                    fig.hub_cpu_us,
                    fig.sidecars_cpu_us,
                    fig.db_cpu_us
                );
                size.runs.push(fig);
            }
            all.push(size);
        }
    }
    Ok(report(&all, runs, list_items))
}

/// `n` distinct targets in lists of at most `list_items`, the agencies taking turns.
fn make_lists(keys: &[AgencyKey], n: usize, list_items: usize) -> Result<Vec<SignedList>> {
    let referrals = lists::referrals(n, 0, "day")?;
    Ok(referrals
        .chunks(list_items)
        .enumerate()
        .map(|(i, chunk)| {
            let k = &keys[i % keys.len()];
            k.sign(&k.spec(&format!("bench-day-list-{i}"), Some(DAY), chunk.to_vec()))
        })
        .collect())
}

async fn one_run(
    backend: Backend,
    mode: Mode,
    keys: &[AgencyKey],
    lists: &[SignedList],
    n: usize,
    list_items: usize,
    lead_ms: i64,
) -> Result<Run> {
    let mut w = World::start(backend, keys, list_items, mode == Mode::Pull).await?;
    let mut sidecars = Vec::new();
    for p in lists::PLATFORMS {
        let push = mode != Mode::Pull;
        let s = Sidecar::start(&w.pki, w.dir.path(), p, push, &w.hub.endpoint).await?;
        if let Some(endpoint) = &s.endpoint {
            w.register_endpoint(p, endpoint).await?;
        }
        sidecars.push(s);
    }
    let h_hour = now_millis() + lead_ms;
    w.action_day(h_hour, keys).await?;
    let start = now_millis();
    for s in lists {
        let agency = pb_agency(s)?;
        let mut c = w.as_org(&agency).await?.referral;
        c.submit_referral_list(request(s))
            .await
            .with_context(|| format!("SubmitReferralList {}", s.list_id))?;
    }
    let end = now_millis();
    if end + 500 > h_hour {
        bail!(
            "intake ended {} ms before H-hour: too late to measure from H-hour",
            h_hour - end
        );
    }
    let pid = w.hub.pid();
    let peak_intake = mib(peak_kib(pid)?);
    reset_peak(pid)?;

    let mut probe = Probe::open(backend, &w.db.url).await?;
    // The completion probe's own server process is not the hub's cost: its count scans the
    // targets every POLL.
    let probe_pid = probe.server_pid().await?;
    tokio::time::sleep(Duration::from_millis((h_hour - now_millis()).max(0) as u64)).await;
    let cpu_of = |sidecars: &[Sidecar]| -> Result<(f64, f64, f64)> {
        let mut side = 0.0;
        for s in sidecars {
            side += cpu_ms(s.pid())?;
        }
        // Only PostgreSQL has a server process: SQLite runs inside the hub.
        let db = match probe_pid {
            Some(probe) => cpu_ms_of_all("postgres")? - cpu_ms(probe)?,
            None => 0.0,
        };
        Ok((cpu_ms(pid)?, side, db))
    };
    let (hub_cpu0, side_cpu0, db_cpu0) = cpu_of(&sidecars)?;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let done_at = loop {
        w.hub.check_alive()?;
        for s in &mut sidecars {
            s.check_alive()?;
        }
        let done = probe
            .one(
                "SELECT COUNT(*) FROM targets WHERE delivered_at IS NOT NULL \
                 AND (acked_at IS NOT NULL OR acted_at IS NOT NULL)",
            )
            .await?
            .unwrap_or(0);
        if done as usize >= n {
            break now_millis();
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "only {done} of {n} targets delivered and acknowledged after {TIMEOUT:?}:\n{}",
                w.hub.log_tail()
            );
        }
        tokio::time::sleep(POLL).await;
    };
    let peak_delivery = mib(peak_kib(pid)?);
    let (hub_cpu1, side_cpu1, db_cpu1) = cpu_of(&sidecars)?;
    let last_delivered = probe
        .one("SELECT MAX(delivered_at) FROM targets")
        .await?
        .context("no delivered_at")?;
    let unacked = probe
        .one("SELECT COUNT(*) FROM targets WHERE acked_at IS NULL")
        .await?
        .unwrap_or(0);
    let mut first_ms = Vec::new();
    let mut held = 0;
    for s in &sidecars {
        let (first, count) = inbox_first(&s.inbox).await?;
        held += count;
        first_ms.push((first - h_hour) as f64);
    }
    if held as usize != n {
        bail!("the sidecars hold {held} deliveries, expected {n}");
    }
    for s in &mut sidecars {
        s.stop();
    }
    w.hub.stop();
    let delivered_ms = (last_delivered - h_hour) as f64;
    Ok(Run {
        intake_s: (end - start) as f64 / 1000.0,
        first_ms,
        delivered_ms,
        done_ms: (done_at - h_hour) as f64,
        rate: n as f64 / (delivered_ms / 1000.0),
        peak_intake_mib: peak_intake,
        peak_delivery_mib: peak_delivery,
        unacked: unacked as f64,
        hub_cpu_us: (hub_cpu1 - hub_cpu0) * 1000.0 / n as f64,
        sidecars_cpu_us: (side_cpu1 - side_cpu0) * 1000.0 / n as f64,
        db_cpu_us: (db_cpu1 - db_cpu0) * 1000.0 / n as f64,
    })
}

/// The agency that signed a list (the list's own `agency_id`).
fn pb_agency(s: &SignedList) -> Result<String> {
    use prost::Message;
    Ok(takedown_protocol::pb::ReferralList::decode(s.list.as_slice())?.agency_id)
}

/// The earliest receive time and the number of deliveries in a sidecar's inbox.
async fn inbox_first(path: &std::path::Path) -> Result<(i64, i64)> {
    let opts =
        SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?.read_only(true);
    let mut c = sqlx::SqliteConnection::connect_with(&opts).await?;
    let row = sqlx::query("SELECT MIN(received_at), COUNT(*) FROM deliveries")
        .fetch_one(&mut c)
        .await?;
    let first: Option<i64> = row.try_get(0)?;
    Ok((first.context("empty inbox")?, row.try_get(1)?))
}

/// A connection to the hub's database for polling.
enum Probe {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

impl Probe {
    async fn open(backend: Backend, url: &str) -> Result<Self> {
        Ok(match backend {
            Backend::Sqlite => Self::Sqlite(
                sqlx::SqliteConnection::connect_with(
                    &SqliteConnectOptions::from_str(url)?.read_only(true),
                )
                .await?,
            ),
            Backend::Postgres => Self::Pg(sqlx::PgConnection::connect(url).await?),
        })
    }

    /// The PostgreSQL server process serving this connection (`None` for SQLite, which
    /// runs in the bench's own process).
    async fn server_pid(&mut self) -> Result<Option<u32>> {
        Ok(match self {
            Self::Sqlite(_) => None,
            Self::Pg(c) => {
                let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(c)
                    .await?;
                Some(u32::try_from(pid)?)
            }
        })
    }

    async fn one(&mut self, sql: &'static str) -> Result<Option<i64>> {
        Ok(match self {
            Self::Sqlite(c) => sqlx::query(sql).fetch_one(c).await?.try_get(0)?,
            Self::Pg(c) => sqlx::query(sql).fetch_one(c).await?.try_get(0)?,
        })
    }
}

fn report(all: &[Size], runs: usize, list_items: usize) -> bool {
    let d = takedown_hub::Config::default().delivery;
    println!();
    println!(
        "DELIVERY — action day over 5 platforms, real sidecars (auto, zero delay, block_share 0.8); {runs} runs each, median (min–max)"
    );
    println!(
        "hub config: delivery defaults — batch_size {}, max_in_flight {}, rpc_timeout_ms {}, lease_ms {}, poll_ms {}; \
         lists of ≤ {list_items} items submitted before H-hour; completion (every target delivered and its ack or decision recorded) polled every {} ms",
        d.batch_size,
        d.max_in_flight,
        d.rpc_timeout_ms,
        d.lease_ms,
        d.poll_ms,
        POLL.as_millis()
    );
    println!(
        "baseline: the durable floor on the same backend (crate::floor: the same rows claimed, delivered \
         and reported in batched transactions with their audit entries, the same batches over tonic with \
         mTLS to 5 receivers that verify each list's signature once and each item's proof, and keep inbox \
         and outbox in SQLite); goal hub/floor ≥ {GOAL_FLOOR_RATIO}"
    );
    println!(
        "reference: raw tonic, 5 in-process ReceiverService servers accepting all, same mTLS, same batches \
         ({} per call, same evidence), {} in flight per receiver",
        d.batch_size, d.max_in_flight
    );
    let show = |v: &[f64], d: usize| Summary::of(v).map(|s| s.show(d)).unwrap_or_default();
    let mut t = Table::new(&[
        "backend",
        "mode",
        "targets",
        "first delivery p50 / p99 ms",
        "goal p99 < 50 ms",
        "H→all delivered ms",
        "H→delivered+reported ms",
        "targets without ack",
        "hub deliveries/s",
        "floor deliveries/s",
        "hub/floor",
        "goal ≥ 0.5",
        "raw tonic deliveries/s",
        "hub/raw",
        "hub peak MiB (delivery)",
        "hub peak MiB (intake)",
        "CPU µs/target hub",
        "CPU µs/target 5 sidecars",
        "CPU µs/target PostgreSQL server",
        "CPU µs/target all",
        "goal ≤ 50 µs",
        "CPU µs/target floor (all)",
    ]);
    let mut met = true;
    for s in all {
        let firsts: Vec<f64> = s
            .runs
            .iter()
            .flat_map(|r| r.first_ms.iter().copied())
            .collect();
        let p50 = percentile(&firsts, 50.0).unwrap_or(f64::NAN);
        let p99 = percentile(&firsts, 99.0).unwrap_or(f64::NAN);
        let rates: Vec<f64> = s.runs.iter().map(|r| r.rate).collect();
        let over = |base: &[f64]| match (Summary::of(&rates), Summary::of(base)) {
            (Some(h), Some(r)) => h.median / r.median,
            _ => f64::NAN,
        };
        let (ratio, floor_ratio) = (over(&s.raw_rate), over(&s.floor_rate));
        let col = |f: fn(&Run) -> f64| s.runs.iter().map(f).collect::<Vec<_>>();
        let all_cpu = col(|r| r.hub_cpu_us + r.sidecars_cpu_us + r.db_cpu_us);
        let cpu = Summary::of(&all_cpu).map_or(f64::NAN, |c| c.median);
        let first_ok = p99 < GOAL_FIRST_P99_MS;
        let floor_ok = floor_ratio >= GOAL_FLOOR_RATIO;
        let cpu_ok = cpu <= GOAL_CPU_US;
        met &= first_ok && floor_ok && cpu_ok;
        let goal = |ok: bool| if ok { "goal met" } else { "goal MISSED" }.to_string();
        t.row(vec![
            backend_name(s.backend).into(),
            s.mode.name().into(),
            s.targets.to_string(),
            format!("{p50:.0} / {p99:.0} (n={})", firsts.len()),
            goal(first_ok),
            show(&col(|r| r.delivered_ms), 0),
            show(&col(|r| r.done_ms), 0),
            show(&col(|r| r.unacked), 0),
            show(&rates, 0),
            show(&s.floor_rate, 0),
            format!("{floor_ratio:.2}"),
            goal(floor_ok),
            show(&s.raw_rate, 0),
            format!("{ratio:.2}"),
            show(&col(|r| r.peak_delivery_mib), 0),
            show(&col(|r| r.peak_intake_mib), 0),
            show(&col(|r| r.hub_cpu_us), 0),
            show(&col(|r| r.sidecars_cpu_us), 0),
            show(&col(|r| r.db_cpu_us), 0),
            show(&all_cpu, 0),
            goal(cpu_ok),
            show(&s.floor_cpu_us, 0),
        ]);
    }
    println!("{}", t.render());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    for s in all {
        let per: Vec<f64> = s
            .runs
            .iter()
            .map(|r| r.hub_cpu_us + r.sidecars_cpu_us + r.db_cpu_us)
            .collect();
        if let Some(p) = Summary::of(&per) {
            println!(
                "{} {} {}: hub, sidecars and database server use {:.0} µs of CPU per target from H-hour to completion; {cores} cores allow at most {:.0} deliveries/s at that cost",
                backend_name(s.backend),
                s.mode.name(),
                s.targets,
                p.median,
                cores * 1e6 / p.median
            );
        }
    }
    // Pull beside push, measured in the same run.
    let median = |s: &Size, f: fn(&Run) -> f64| {
        Summary::of(&s.runs.iter().map(f).collect::<Vec<_>>()).map_or(f64::NAN, |x| x.median)
    };
    for pull in all.iter().filter(|s| s.mode == Mode::Pull) {
        let Some(push) = all.iter().find(|s| {
            s.mode == Mode::Push && s.backend == pull.backend && s.targets == pull.targets
        }) else {
            continue;
        };
        let total = |r: &Run| r.hub_cpu_us + r.sidecars_cpu_us + r.db_cpu_us;
        println!(
            "{} {}: pull/push — deliveries/s {:.2}, CPU per target hub {:.2}, sidecars {:.2}, all processes {:.2}",
            backend_name(pull.backend),
            pull.targets,
            median(pull, |r| r.rate) / median(push, |r| r.rate),
            median(pull, |r| r.hub_cpu_us) / median(push, |r| r.hub_cpu_us),
            median(pull, |r| r.sidecars_cpu_us) / median(push, |r| r.sidecars_cpu_us),
            median(pull, total) / median(push, total),
        );
    }
    for b in [Backend::Sqlite, Backend::Postgres] {
        let sizes: Vec<String> = all
            .iter()
            .filter(|s| s.backend == b && s.mode == Mode::Push)
            .filter_map(|s| {
                let peaks: Vec<f64> = s.runs.iter().map(|r| r.peak_delivery_mib).collect();
                Summary::of(&peaks).map(|p| format!("{} targets → {:.0} MiB", s.targets, p.median))
            })
            .collect();
        if sizes.len() > 1 {
            println!(
                "hub peak memory during delivery, {}: {}",
                backend_name(b),
                sizes.join(", ")
            );
        }
    }
    met
}
