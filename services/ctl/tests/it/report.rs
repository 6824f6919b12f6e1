//! Coordinator reports: `summary` and `watch` against a stand-in SummaryService over mutual
//! TLS, and the HTML report in a real headless Chromium, driven over the DevTools protocol:
//! the tables and chart are in the DOM, hostile names stay text, and the page makes no
//! network request (a control page with an external image must be caught).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use serde_json::{Value, json};
use takedown_net::{TlsMaterial, install_crypto_provider, server_tls};
use takedown_protocol::{
    pb::{
        summary_service_server::{SummaryService, SummaryServiceServer},
        *,
    },
    timestamp::from_millis,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, transport::Server};

use crate::helpers::Workdir;

mod browser;
use browser::{Browser, chromium, external, file_url};

/// 2026-11-30T06:00:00Z.
const H_HOUR_MS: i64 = 1_796_018_400_000;
const EVIL: &str = "<script>alert(1)</script>";

fn platform(name: &str, delivered: u64, blocked: u64, rejected: &[(&str, u64)]) -> PlatformSummary {
    PlatformSummary {
        platform: name.into(),
        referred: delivered + 20,
        released: delivered + 10,
        delivered,
        acknowledged: delivered,
        blocked,
        rejected: rejected.iter().map(|(_, n)| n).sum(),
        rejected_by_reason: rejected
            .iter()
            .map(|(r, n)| RejectCount {
                reason: r.to_string(),
                count: *n,
            })
            .collect(),
        block_rate: blocked as f64 / delivered as f64,
        release_to_ack: Some(Percentiles {
            count: delivered,
            p50_ms: 850,
            p90_ms: 2400,
            p99_ms: 180_000,
        }),
        ..Default::default()
    }
}

fn series(name: &str, points: &[(i64, u64)]) -> BlockSeries {
    BlockSeries {
        platform: name.into(),
        points: points
            .iter()
            .map(|(min, n)| BlockPoint {
                at: Some(from_millis(H_HOUR_MS + min * 60_000)),
                cumulative_blocked: *n,
            })
            .collect(),
    }
}

/// Three platforms (one named hostilely), two agencies, a series per platform.
fn summary(id: &str, state: &str, telegram_blocked: u64) -> ActionDaySummary {
    let hostile = format!("tam{EVIL}");
    ActionDaySummary {
        action_day_id: id.into(),
        name: format!("Operation Daybreak {EVIL}"),
        starts_at: Some(from_millis(H_HOUR_MS)),
        state: state.into(),
        generated_at: Some(from_millis(H_HOUR_MS + 95 * 60_000)),
        platforms: vec![
            platform(
                "telegram",
                1150,
                telegram_blocked,
                &[("NOT_A_VIOLATION", 8), ("INSUFFICIENT_INFORMATION", 4)],
            ),
            PlatformSummary {
                circuit_open: true,
                last_error: format!("sidecar unavailable: connection refused {EVIL}"),
                removal_orders: 4,
                removal_orders_acted: 3,
                removal_orders_within_hour: 1,
                ..platform(&hostile, 600, 410, &[("NOT_A_VIOLATION", 30)])
            },
            platform("x", 80, 20, &[]),
        ],
        agencies: vec![
            AgencySummary {
                agency_id: "agency-fr".into(),
                lists: 3,
                items: 1300,
                delivered: 1210,
                blocked: 900,
                not_a_violation_share: 0.017,
                ..Default::default()
            },
            AgencySummary {
                agency_id: format!("agency{EVIL}"),
                lists: 2,
                items: 770,
                delivered: 620,
                blocked: 480,
                not_a_violation_share: 0.02,
                ..Default::default()
            },
        ],
        blocks_over_time: vec![
            series(
                "telegram",
                &[(0, 0), (10, 300), (30, 800), (90, telegram_blocked)],
            ),
            series(&hostile, &[(0, 0), (20, 150), (90, 410)]),
            series("x", &[(5, 0), (60, 20)]),
        ],
    }
}

struct StandIn;

#[tonic::async_trait]
impl SummaryService for StandIn {
    async fn get_action_day_summary(
        &self,
        req: Request<GetActionDaySummaryRequest>,
    ) -> Result<Response<ActionDaySummary>, Status> {
        let id = req.into_inner().action_day_id;
        if id != "ad-1" {
            return Err(Status::not_found(format!("action day {id} not found")));
        }
        Ok(Response::new(summary(&id, "ACTION_DAY_STATE_LIVE", 950)))
    }

    type WatchActionDayStream = ReceiverStream<Result<ActionDaySummary, Status>>;

    /// `ad-1`: two updates, then the day closes; `ad-broken`: one update, then an error.
    async fn watch_action_day(
        &self,
        req: Request<WatchActionDayRequest>,
    ) -> Result<Response<Self::WatchActionDayStream>, Status> {
        let id = req.into_inner().action_day_id;
        let updates = match id.as_str() {
            "ad-1" => vec![
                Ok(summary(&id, "ACTION_DAY_STATE_LIVE", 300)),
                Ok(summary(&id, "ACTION_DAY_STATE_CLOSED", 950)),
            ],
            "ad-broken" => vec![
                Ok(summary(&id, "ACTION_DAY_STATE_LIVE", 300)),
                Err(Status::unavailable("hub shutting down")),
            ],
            _ => return Err(Status::not_found(format!("action day {id} not found"))),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for u in updates {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if tx.send(u).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    /// Two pages: the first names the second by its token.
    async fn list_failed_deliveries(
        &self,
        req: Request<ListFailedDeliveriesRequest>,
    ) -> Result<Response<ListFailedDeliveriesResponse>, Status> {
        let req = req.into_inner();
        let failed = |n: u32, reason: &str| FailedDelivery {
            delivery_id: format!("d-{n}"),
            target_id: format!("t-{n}"),
            platform: req.platform.clone(),
            normalized_target: format!("channel{n}"),
            kind: DeliveryKind::Takedown as i32,
            action_day_id: req.action_day_id.clone(),
            attempts: n,
            failed_at: Some(from_millis(H_HOUR_MS + 1_000)),
            reason: reason.into(),
        };
        let page = match req.page_token.as_str() {
            "" => ListFailedDeliveriesResponse {
                deliveries: vec![failed(
                    1,
                    "refused by the platform's receiver: not decodable",
                )],
                next_page_token: "d-1".into(),
            },
            "d-1" => ListFailedDeliveriesResponse {
                deliveries: vec![failed(2, "no referral of the target can be delivered")],
                next_page_token: String::new(),
            },
            other => return Err(Status::invalid_argument(format!("bad token {other}"))),
        };
        Ok(Response::new(page))
    }

    async fn list_refused_reports(
        &self,
        req: Request<ListRefusedReportsRequest>,
    ) -> Result<Response<ListRefusedReportsResponse>, Status> {
        Ok(Response::new(ListRefusedReportsResponse {
            reports: vec![RefusedReport {
                platform: req.into_inner().platform,
                report_id: "rep-9".into(),
                target_id: "42".into(),
                reason: "report 0: unknown target \"42\"".into(),
                first_refused_at: Some(from_millis(H_HOUR_MS)),
                last_refused_at: Some(from_millis(H_HOUR_MS + 2_000)),
                times: 3,
            }],
            next_page_token: String::new(),
        }))
    }
}

async fn spawn_stand_in(w: &Workdir) -> SocketAddr {
    install_crypto_provider();
    let material = TlsMaterial::load_dir(&w.path("pki"), "hub").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .tls_config(server_tls(&material))
        .unwrap()
        .add_service(SummaryServiceServer::new(StandIn))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_and_watch_print_what_the_hub_sends() {
    let w = Arc::new(Workdir::new());
    w.run(&["certs", "dev", "--out", "pki"]).ok();
    let hub = format!("https://127.0.0.1:{}", spawn_stand_in(&w).await.port());
    let ctl = |args: &[&str]| {
        let w = Arc::clone(&w);
        let mut all: Vec<String> = ["--hub", &hub, "--certs", "pki", "--as", "europol"]
            .map(String::from)
            .to_vec();
        all.extend(args.iter().map(|s| s.to_string()));
        tokio::task::spawn_blocking(move || {
            w.run(&all.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };

    // The quarantine, every page of it, with the filters passed on.
    let r = ctl(&[
        "deliveries",
        "failed",
        "--day",
        "ad-1",
        "--platform",
        "telegram",
        "--format",
        "json",
    ])
    .await
    .unwrap();
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(
        (
            &v[1]["target_id"],
            &v[1]["platform"],
            &v[1]["action_day_id"]
        ),
        (&json!("t-2"), &json!("telegram"), &json!("ad-1"))
    );
    let r = ctl(&["deliveries", "failed"]).await.unwrap();
    let table = r.ok();
    assert!(
        table.contains("channel1") && table.contains("not decodable"),
        "{table}"
    );
    assert!(table.contains("2026-11-30T06:00:01Z"), "{table}");

    let r = ctl(&["deliveries", "refused-reports", "--platform", "x"])
        .await
        .unwrap();
    let table = r.ok();
    assert!(
        table.contains("rep-9") && table.contains("unknown target"),
        "{table}"
    );

    let r = ctl(&["summary", "ad-1"]).await.unwrap();
    let table = r.ok();
    assert!(table.contains("12 (NAV 8, INF 4)"), "{table}");
    assert!(table.contains("850 ms / 2.4 s / 3 min"), "{table}");
    assert!(table.contains("total (3)"), "{table}");

    let r = ctl(&["summary", "ad-1", "--format", "csv", "--section", "blocks"])
        .await
        .unwrap();
    let mut csv = csv::Reader::from_reader(r.ok().as_bytes());
    assert_eq!(
        csv.headers().unwrap(),
        vec!["platform", "at", "cumulative_blocked"]
    );
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 9);
    assert_eq!(&rows[3], vec!["telegram", "2026-11-30T07:30:00Z", "950"]);

    let r = ctl(&["summary", "ad-1", "--format", "json"]).await.unwrap();
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v["platforms"][0]["blocked"], 950);
    assert_eq!(v["state"], "live");

    let r = ctl(&["summary", "ad-1", "--format", "html", "--out", "day.html"])
        .await
        .unwrap();
    assert_eq!(
        r.ok().trim(),
        format!("wrote the report of action day ad-1 to day.html")
    );
    let page = std::fs::read_to_string(w.path("day.html")).unwrap();
    assert!(page.contains("id=\"platforms\"") && page.contains("&lt;script&gt;"));

    let r = ctl(&["summary", "ad-1", "--section", "agencies"])
        .await
        .unwrap();
    assert!(
        r.one_error_line()
            .contains("--section only applies to --format csv")
    );
    let r = ctl(&["summary", "ad-9"]).await.unwrap();
    assert_eq!(
        r.one_error_line(),
        "error: NOT_FOUND: action day ad-9 not found"
    );

    // Not a terminal: each update is a plain table, then a blank line; exit 0 at the end.
    let r = ctl(&["watch", "ad-1"]).await.unwrap();
    let out = r.ok();
    assert!(!out.contains('\x1b'), "{out}");
    let frames: Vec<&str> = out.split("\n\nlast update ").collect();
    assert_eq!(frames.len(), 2, "{out}");
    assert!(frames[0].starts_with("last update ") && frames[0].contains("· day live ·"));
    assert!(frames[1].contains("· day closed ·") && frames[1].contains("950"));
    assert!(
        out.ends_with("the hub ended the watch of action day ad-1 (day closed)\n"),
        "{out}"
    );

    // A stream that breaks: the update seen, then one error line and exit 1.
    let r = ctl(&["watch", "ad-broken"]).await.unwrap();
    assert_eq!(
        r.one_error_line(),
        "error: watching action day ad-broken: UNAVAILABLE: hub shutting down"
    );
    assert!(r.stdout.contains("· day live ·"));
}

// ---- the HTML report in a real browser -------------------------------------------------

#[test]
fn the_html_report_renders_in_chromium_without_any_request() {
    let Some(exe) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let page = takedown_ctl::report::html::render(&summary("ad-1", "ACTION_DAY_STATE_LIVE", 950));
    std::fs::write(&report, &page).unwrap();
    // The control: the same report plus one external image (on a closed loopback port).
    let control = dir.path().join("control.html");
    let image = "http://127.0.0.1:9/pixel.png";
    std::fs::write(
        &control,
        page.replace(
            "</footer>",
            &format!("<img alt=\"\" src=\"{image}\"></footer>"),
        ),
    )
    .unwrap();

    let mut browser = Browser::launch(&exe);

    // The checker sees an external request when there is one.
    let control_url = file_url(&control);
    let requests = browser.load(&control_url);
    assert_eq!(
        external(&requests, &control_url),
        [image],
        "control page: {requests:?}"
    );

    // The report itself makes none.
    let url = file_url(&report);
    let requests = browser.load(&url);
    assert_eq!(requests, [url], "the report must fetch nothing");

    // The DOM holds the tables, one polyline per platform, and the hostile names as text.
    let dom = browser.eval(
        r#"JSON.stringify({
            title: document.title,
            h1: document.querySelector('h1').textContent,
            platforms: [...document.querySelectorAll('#platforms tbody tr')]
                .map(r => r.cells[0].textContent),
            total: document.querySelector('#platforms tfoot tr').cells[0].textContent,
            agencies: [...document.querySelectorAll('#agencies tbody tr')]
                .map(r => r.cells[0].textContent),
            polylines: document.querySelectorAll('#blocks-chart polyline').length,
            legend: [...document.querySelectorAll('#blocks-chart .legend text')]
                .map(t => t.textContent),
            scripts: document.scripts.length,
            chartWidth: document.querySelector('#blocks-chart').getBoundingClientRect().width,
            tableWidth: document.querySelector('#platforms').getBoundingClientRect().width,
            pageWidth: document.querySelector('#platforms').parentElement.clientWidth,
            columns: [...document.querySelectorAll('#platforms thead th')]
                .map(c => Math.round(c.getBoundingClientRect().width)),
        })"#,
    );
    let dom: Value = serde_json::from_str(dom.as_str().unwrap()).unwrap();
    assert_eq!(
        dom["platforms"],
        json!(["telegram", format!("tam{EVIL}"), "x"])
    );
    assert_eq!(dom["total"], "total (3)");
    assert_eq!(
        dom["agencies"],
        json!(["agency-fr", format!("agency{EVIL}")])
    );
    assert_eq!(dom["polylines"], 3);
    assert_eq!(dom["legend"][0], "telegram (950)");
    assert_eq!(dom["scripts"], 0);
    assert_eq!(
        dom["h1"],
        format!("Action day report: Operation Daybreak {EVIL}")
    );
    assert!(dom["chartWidth"].as_f64().unwrap() > 600.0, "{dom}");
    // The platform table fits a 1200 px wide window without scrolling.
    assert!(
        dom["tableWidth"].as_f64().unwrap() <= dom["pageWidth"].as_f64().unwrap(),
        "{dom}"
    );

    // The page and screenshots (screen and print) to look at: kept under the temp dir.
    let shots = std::env::temp_dir().join("takedown-ctl-report");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::copy(&report, shots.join("report.html")).unwrap();
    browser.screenshot(&shots.join("report.png"));

    // At 1200 and at 800 px the platform names stay whole: "telegram" is one line box.
    let lines_of = |row: usize| {
        format!(
            r#"(() => {{
                const cell = document.querySelectorAll('#platforms tbody tr')[{row}].cells[0];
                const range = document.createRange();
                range.selectNodeContents(cell);
                return range.getClientRects().length;
            }})()"#
        )
    };
    let lines_of_telegram = lines_of(0);
    assert_eq!(browser.eval(&lines_of_telegram), json!(1), "1200 px");
    // The measure counts line boxes: the long hostile name does wrap.
    let hostile = browser.eval(&lines_of(1)).as_u64().unwrap();
    assert!(hostile > 1, "{hostile}");
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 800, "height": 1600, "deviceScaleFactor": 1, "mobile": false}),
    );
    assert_eq!(browser.eval(&lines_of_telegram), json!(1), "800 px");
    browser.screenshot(&shots.join("report-800.png"));

    browser.call("Emulation.setEmulatedMedia", json!({"media": "print"}));
    browser.screenshot(&shots.join("report-print.png"));
    println!("screenshots in {}", shots.display());
}
