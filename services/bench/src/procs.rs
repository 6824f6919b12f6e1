//! The processes under test: building and locating the release binaries, a hub started from
//! a TOML config, sidecars in `auto` mode, and reading a process's peak memory.

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, Result, bail};
use takedown_tests::{clients::Clients, db::TestDb, pki::TestPki, proc::ChildProc};

/// The directory the bench binary itself lives in (`target/release`), where the hub and
/// sidecar binaries are built too.
fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    exe.parent()
        .map(Path::to_path_buf)
        .context("the bench binary has no directory")
}

/// Builds `takedown-hub` and `takedown-sidecar` in the bench's own profile.
pub fn build_binaries() -> Result<()> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        // The bench itself is in the selection so that features resolve exactly as for
        // `cargo run -p takedown-bench` (which depends on both crates): nothing rebuilds.
        .args([
            "-p",
            "takedown-hub",
            "-p",
            "takedown-sidecar",
            "-p",
            "takedown-bench",
            "--bins",
        ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    // `cargo run` gives the bench its package's variables; build scripts that watch them
    // (ring's) would rerun and rebuild half the tree.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
            "CARGO_PRIMARY_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || k == "OUT_DIR"
        {
            cmd.env_remove(k.as_ref());
        }
    }
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("building takedown-hub and takedown-sidecar failed");
    }
    Ok(())
}

fn binary(name: &str) -> Result<PathBuf> {
    let p = bin_dir()?.join(name);
    if !p.exists() {
        bail!("{} was not built", p.display());
    }
    Ok(p)
}

/// Peak resident memory (`VmHWM`) of a process, in KiB.
pub fn peak_kib(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/<pid>/status")
}

/// Resets a process's peak resident memory to its current size (`clear_refs` 5).
pub fn reset_peak(pid: u32) -> Result<()> {
    fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("resetting the peak memory of {pid}"))
}

/// CPU time (user and system, all threads) a process has used so far, in milliseconds:
/// fields 14 and 15 of `/proc/<pid>/stat`, in clock ticks of 1/100 s (Linux's `USER_HZ`).
pub fn cpu_ms(pid: u32) -> Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("no ')' in /proc/<pid>/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        Ok(f.get(i).context("short /proc/<pid>/stat")?.parse::<u64>()? as f64)
    };
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    Ok((ticks(11)? + ticks(12)?) * 10.0)
}

/// CPU time used so far by every process named `comm` (e.g. a database server's
/// processes), in milliseconds; processes that exited in between are not counted.
pub fn cpu_ms_of_all(comm: &str) -> Result<f64> {
    let mut total = 0.0;
    for entry in fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let named = fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim_end() == comm)
            .unwrap_or(false);
        if named && let Ok(ms) = cpu_ms(pid) {
            total += ms;
        }
    }
    Ok(total)
}

/// A bench process: the test kit's child process, on the bench's own (release) build.
fn proc(binary: &'static str, config: PathBuf, log: PathBuf) -> Result<ChildProc> {
    Ok(ChildProc::of_program(
        binary,
        self::binary(binary)?,
        config,
        log,
        "BENCH_LOG",
    ))
}

/// The port the system chose for `key`, from the process's ready file.
async fn bound(proc: &mut ChildProc, key: &str) -> Result<SocketAddr> {
    let addrs = proc.addresses().await.map_err(anyhow::Error::msg)?;
    addrs
        .get(key)
        .copied()
        .with_context(|| format!("the ready file names no {key}: {addrs:?}"))
}

/// A running hub.
pub struct Hub {
    pub endpoint: String,
    proc: ChildProc,
}

impl Hub {
    /// Writes `hub.toml` into `dir` (delivery settings left at their defaults) and starts
    /// the hub on a port the system picks; returns once it answers a coordinator.
    pub async fn start(
        pki: &TestPki,
        db: &TestDb,
        dir: &Path,
        max_list_items: usize,
    ) -> Result<Self> {
        let config = dir.join("hub.toml");
        let defaults = takedown_hub::Config::default();
        let mut c = takedown_hub::Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: db.url.clone(),
            hub_id: "hub".into(),
            audience: "takedown-hub".into(),
            tls: takedown_net::tls::TlsPaths {
                ca: pki.ca_pem(),
                cert: pki.cert("hub"),
                key: pki.key("hub"),
            },
            ..defaults.clone()
        };
        c.trust.roots = vec![pki.root_public()];
        c.limits.max_list_items = max_list_items.max(defaults.limits.max_list_items);
        c.limits.max_list_bytes = defaults.limits.max_list_bytes.max(max_list_items * 400);
        takedown_tests::write_toml(&config, &c);
        let mut proc = proc("takedown-hub", config, dir.join("hub.log"))?;
        proc.spawn();
        let addr = bound(&mut proc, "listen").await?;
        let mut hub = Self {
            endpoint: format!("https://{addr}"),
            proc,
        };
        hub.wait_ready(pki).await?;
        Ok(hub)
    }

    async fn wait_ready(&mut self, pki: &TestPki) -> Result<()> {
        let m = pki.material(takedown_tests::pki::COORDINATOR);
        for _ in 0..400 {
            self.check_alive()?;
            if let Ok(mut c) = Clients::connect(&self.endpoint, &m).await
                && c.directory
                    .list_platforms(takedown_protocol::pb::ListPlatformsRequest {})
                    .await
                    .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "takedown-hub did not become ready:\n{}",
            self.proc.log_tail()
        )
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn check_alive(&mut self) -> Result<()> {
        self.proc.check_running().map_err(anyhow::Error::msg)
    }

    pub fn log_tail(&self) -> String {
        self.proc.log_tail()
    }

    pub fn stop(&mut self) {
        self.proc.stop();
    }
}

/// A running sidecar in `auto` mode (zero delay, block share 0.8), pushed to or pulling.
pub struct Sidecar {
    pub inbox: PathBuf,
    /// Where the hub reaches it (push mode).
    pub endpoint: Option<String>,
    proc: ChildProc,
}

impl Sidecar {
    /// Writes `sidecar-<platform>.toml` into `dir` and starts the sidecar: listening on a
    /// port the system picks (`push`), or pulling from the hub; returns once it serves or
    /// pulls.
    pub async fn start(
        pki: &TestPki,
        dir: &Path,
        platform: &str,
        push: bool,
        hub: &str,
    ) -> Result<Self> {
        use takedown_sidecar::config;
        let config = dir.join(format!("sidecar-{platform}.toml"));
        let inbox = dir.join(format!("sidecar-{platform}.db"));
        let mut c =
            takedown_tests::sidecar::base_config(pki, platform, platform, inbox.clone(), hub);
        c.integration = config::Integration::Auto(config::AutoSettings {
            block_share: 0.8,
            reject_share: 0.1,
            gone_share: 0.1,
            min_delay_ms: 0,
            max_delay_ms: 0,
            ..config::AutoSettings::default()
        });
        if !push {
            c.mode = config::DeliveryMode::Pull;
            // Pull mode opens no gRPC port: its ready file names this one.
            c.metrics.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        takedown_tests::write_toml(&config, &c);
        let mut proc = proc(
            "takedown-sidecar",
            config,
            dir.join(format!("sidecar-{platform}.log")),
        )?;
        proc.spawn();
        let endpoint = if push {
            Some(format!("https://{}", bound(&mut proc, "listen").await?))
        } else {
            bound(&mut proc, "metrics.listen").await?;
            None
        };
        Ok(Self {
            inbox,
            endpoint,
            proc,
        })
    }

    pub fn check_alive(&mut self) -> Result<()> {
        self.proc.check_running().map_err(anyhow::Error::msg)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn stop(&mut self) {
        self.proc.stop();
    }
}
