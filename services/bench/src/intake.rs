//! `intake`: one signed list submitted over mTLS to a freshly started hub, timed from the
//! RPC's send to its answer (the hub commits before answering), with the hub's peak memory;
//! against the same rows bulk-inserted with plain sqlx ([`crate::baseline`]).

use std::time::Instant;

use anyhow::{Context, Result, bail};
use takedown_protocol::timestamp::now_millis;
use takedown_tests::{Backend, lists::request};

use crate::{
    backend_name,
    baseline::{self, Rows},
    lists,
    procs::peak_kib,
    stats::{Summary, Table, mib},
    world::{self, DAY, World},
};

/// The goal: hub rate / baseline rate.
const GOAL_RATIO: f64 = 0.5;

struct Figures {
    backend: Backend,
    hub_rate: Vec<f64>,
    hub_secs: Vec<f64>,
    base_rate: Vec<f64>,
    base_secs: Vec<f64>,
    peak_mib: Vec<f64>,
    counts: [i64; 4],
}

/// Runs the intake benchmark; returns whether every goal was met.
pub async fn run(backends: &[Backend], items: usize, runs: usize) -> Result<bool> {
    let keys = world::agency_keys();
    let agency = &keys[0];
    println!(
        "intake: generating and signing one list of {items} items (5 platforms, every 10th item a duplicate)"
    );
    let referrals = lists::referrals(items, 10, "intake")?;
    let distinct = lists::distinct_targets(&referrals)?;
    let signed = agency.sign(&agency.spec("bench-intake-list", Some(DAY), referrals));
    println!(
        "intake: {} items, {distinct} distinct targets, {:.1} MiB encoded",
        items,
        signed.list.len() as f64 / 1048576.0
    );
    let mut all = Vec::new();
    for &backend in backends {
        let name = backend_name(backend);
        let mut f = Figures {
            backend,
            hub_rate: vec![],
            hub_secs: vec![],
            base_rate: vec![],
            base_secs: vec![],
            peak_mib: vec![],
            counts: [0; 4],
        };
        let h_hour = now_millis() + 6 * 3_600_000;
        for run in 1..=runs {
            let mut w = World::start(backend, &keys, items, false).await?;
            w.action_day(h_hour, &keys).await?;
            let mut client = w.as_org(&agency.agency).await?.referral;
            let req = request(&signed);
            let start = Instant::now();
            let answer = client
                .submit_referral_list(req)
                .await
                .context("SubmitReferralList")?
                .into_inner();
            let took = start.elapsed().as_secs_f64();
            w.hub.check_alive()?;
            let peak = mib(peak_kib(w.hub.pid())?);
            let counts = w.db.intake_counts().await;
            if answer.items as usize != items || answer.new_targets as usize != distinct {
                bail!(
                    "the hub answered {} items / {} new targets, expected {items} / {distinct}",
                    answer.items,
                    answer.new_targets
                );
            }
            let expected = [1, distinct as i64, items as i64, distinct as i64];
            if counts != expected {
                bail!(
                    "the hub stored {counts:?} rows (lists, targets, referrals, deliveries), expected {expected:?}"
                );
            }
            f.counts = counts;
            w.hub.stop();
            println!(
                "  {name} run {run}: hub {took:.2} s = {:.0} items/s, peak {peak:.0} MiB",
                items as f64 / took
            );
            f.hub_secs.push(took);
            f.hub_rate.push(items as f64 / took);
            f.peak_mib.push(peak);
        }
        let rows = Rows::of(&signed, DAY, h_hour)?;
        for run in 1..=runs {
            let dir = tempfile::tempdir()?;
            let (took, counts) = baseline::run(backend, &rows, dir.path()).await?;
            if counts != f.counts || counts != rows.counts() {
                bail!(
                    "the baseline stored {counts:?} rows, the hub {:?}",
                    f.counts
                );
            }
            let s = took.as_secs_f64();
            println!(
                "  {name} run {run}: baseline {s:.2} s = {:.0} items/s",
                items as f64 / s
            );
            f.base_secs.push(s);
            f.base_rate.push(items as f64 / s);
        }
        all.push(f);
    }
    Ok(report(&all, items, runs))
}

fn report(all: &[Figures], items: usize, runs: usize) -> bool {
    let d = takedown_hub::Config::default();
    println!();
    println!(
        "INTAKE — one signed list of {items} items over mTLS; {runs} runs each, median (min–max)"
    );
    println!(
        "hub config: defaults except listen/database/tls; limits.max_list_items = {}, \
         limits.max_list_bytes = {}",
        items.max(d.limits.max_list_items),
        d.limits.max_list_bytes.max(items * 400)
    );
    println!(
        "baseline: the same rows, plain sqlx, one transaction (PostgreSQL: INSERT ... SELECT FROM UNNEST per table; SQLite: multi-row INSERT chunks ≤ 32766 parameters)"
    );
    let mut t = Table::new(&[
        "backend",
        "rows (list/targets/referrals/deliveries)",
        "hub s",
        "hub items/s",
        "baseline s",
        "baseline items/s",
        "hub/baseline",
        "goal ≥ 0.5",
        "hub peak MiB",
    ]);
    let mut met = true;
    for f in all {
        let ratios: Vec<f64> = f
            .hub_rate
            .iter()
            .zip(&f.base_rate)
            .map(|(h, b)| h / b)
            .collect();
        let hub = Summary::of(&f.hub_rate);
        let base = Summary::of(&f.base_rate);
        let ratio = match (hub, base) {
            (Some(h), Some(b)) => h.median / b.median,
            _ => f64::NAN,
        };
        let ok = ratio >= GOAL_RATIO;
        met &= ok;
        let show = |s: Option<Summary>, d| s.map(|s| s.show(d)).unwrap_or_default();
        t.row(vec![
            backend_name(f.backend).into(),
            format!("{:?}", f.counts),
            show(Summary::of(&f.hub_secs), 2),
            show(hub, 0),
            show(Summary::of(&f.base_secs), 2),
            show(base, 0),
            format!("{ratio:.2} (runs: {})", show(Summary::of(&ratios), 2)),
            if ok { "goal met" } else { "goal MISSED" }.into(),
            show(Summary::of(&f.peak_mib), 0),
        ]);
    }
    println!("{}", t.render());
    met
}
