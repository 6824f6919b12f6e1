//! A hub process: started from the real binary with a TOML config, killed with SIGKILL,
//! restarted on the same database, or stopped with SIGTERM.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{clients::Clients, db::TestDb, pki::TestPki, proc::ChildProc};

/// Settings the tests vary.
#[derive(Debug, Clone)]
pub struct HubOptions {
    pub batch_size: u32,
    pub max_in_flight: usize,
    pub rpc_timeout_ms: u64,
    pub lease_ms: u64,
    pub retry_schedule_ms: Vec<u64>,
    pub breaker_failures: u32,
    pub breaker_cooldown_ms: u64,
    pub poll_ms: u64,
    pub max_list_items: usize,
    pub max_list_bytes: usize,
    /// PostgreSQL: the hub reaches its database through a [`takedown_store::testing::TcpRelay`]
    /// that the test can cut (`World::relay`), as if the server went away.
    pub relay_database: bool,
    /// More coordinator roots the hub trusts besides the test PKI's (SPKI PEM files): a
    /// hub whose configuration an attacker changed.
    pub extra_roots: Vec<PathBuf>,
    /// `[retention]`: (days, interval_ms); `None` keeps the hub's defaults.
    pub retention: Option<(u32, u64)>,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            batch_size: 200,
            max_in_flight: 2,
            rpc_timeout_ms: 3_000,
            lease_ms: 4_000,
            retry_schedule_ms: vec![200, 400, 800, 1_000],
            breaker_failures: 3,
            breaker_cooldown_ms: 1_000,
            poll_ms: 250,
            max_list_items: 1_000,
            max_list_bytes: 1 << 20,
            relay_database: false,
            extra_roots: Vec::new(),
            retention: None,
        }
    }
}

pub struct HubProcess {
    pub endpoint: String,
    pub port: u16,
    /// `http://127.0.0.1:<port>/metrics`: every test hub serves its metrics.
    pub metrics_url: String,
    pki_dir: PathBuf,
    proc: ChildProc,
}

impl HubProcess {
    /// Writes the config and starts the hub; returns once it answers.
    pub async fn start(pki: &TestPki, db: &TestDb, dir: &Path, opts: &HubOptions) -> Self {
        Self::start_on(pki, &db.url, dir, opts).await
    }

    /// [`Self::start`] on the database at `database_url`.
    pub async fn start_on(
        pki: &TestPki,
        database_url: &str,
        dir: &Path,
        opts: &HubOptions,
    ) -> Self {
        let config = dir.join("hub.toml");
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut c = takedown_hub::Config {
            listen: any_port,
            database_url: database_url.to_string(),
            hub_id: "hub".into(),
            audience: "takedown-hub".into(),
            ..takedown_hub::Config::default()
        };
        c.tls = takedown_net::tls::TlsPaths {
            ca: pki.ca_pem(),
            cert: pki.cert("hub"),
            key: pki.key("hub"),
        };
        c.trust.roots = std::iter::once(pki.root_public())
            .chain(opts.extra_roots.iter().cloned())
            .collect();
        c.limits.max_list_items = opts.max_list_items;
        c.limits.max_list_bytes = opts.max_list_bytes;
        let d = &mut c.delivery;
        d.batch_size = opts.batch_size;
        d.max_in_flight = opts.max_in_flight;
        d.rpc_timeout_ms = opts.rpc_timeout_ms;
        d.lease_ms = opts.lease_ms;
        d.retry_schedule_ms = opts.retry_schedule_ms.clone();
        d.retry_jitter = 0.1;
        d.breaker_failures = opts.breaker_failures;
        d.breaker_cooldown_ms = opts.breaker_cooldown_ms;
        d.poll_ms = opts.poll_ms;
        c.metrics.listen = Some(any_port);
        if let Some((days, interval_ms)) = opts.retention {
            c.retention = takedown_hub::config::RetentionConfig { days, interval_ms };
        }
        crate::write_toml(&config, &c);
        let mut proc = ChildProc::new("takedown-hub", config.clone(), dir.join("hub.log"));
        proc.spawn();
        let addrs = proc.addresses().await.unwrap_or_else(|e| panic!("{e}"));
        // A restart keeps the ports the system chose, so that sidecars and clients find it.
        c.listen = addrs["listen"];
        c.metrics.listen = Some(addrs["metrics.listen"]);
        crate::write_toml(&config, &c);
        let port = c.listen.port();
        let mut hub = Self {
            endpoint: format!("https://127.0.0.1:{port}"),
            port,
            metrics_url: format!("http://{}/metrics", addrs["metrics.listen"]),
            pki_dir: pki.dir.clone(),
            proc,
        };
        hub.wait_ready().await;
        hub
    }

    /// Waits until the hub answers a coordinator over mTLS.
    pub async fn wait_ready(&mut self) {
        let pki_dir = self.pki_dir.clone();
        let endpoint = self.endpoint.clone();
        for _ in 0..200 {
            self.proc.assert_running();
            let m = takedown_net::TlsMaterial::load_dir(&pki_dir, crate::pki::COORDINATOR)
                .expect("tls");
            if let Ok(mut c) = Clients::connect(&endpoint, &m).await
                && c.directory
                    .list_platforms(takedown_protocol::pb::ListPlatformsRequest {})
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("takedown-hub did not become ready:\n{}", self.log_tail());
    }

    /// SIGKILL: the process dies at once, mid-whatever.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts the same hub (same config, ports and database) again.
    pub async fn restart(&mut self) {
        self.proc.restart_on(self.port).await;
        self.wait_ready().await;
    }

    /// The process id of the running hub.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// SIGTERM, then waits for a clean exit; true when it exited successfully.
    pub fn stop(&mut self) -> bool {
        self.proc.stop()
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }
}
