//! The processes under test: building and locating the release binaries, a hub started from
//! a TOML config, sidecars in `auto` mode, and reading a process's peak memory.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use takedown_tests::{clients::Clients, db::TestDb, pki::TestPki};

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

/// A child process that is killed when dropped.
struct Proc {
    child: Option<Child>,
    log: PathBuf,
    name: String,
}

impl Proc {
    fn spawn(
        name: &str,
        bin: &str,
        config: &Path,
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        let out = fs::File::create(&log).with_context(|| format!("{}", log.display()))?;
        let mut cmd = Command::new(binary(bin)?);
        cmd.arg("--config")
            .arg(config)
            .env(
                "RUST_LOG",
                std::env::var("BENCH_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("TAKEDOWN_CONFIG")
            .env_remove("TAKEDOWN_SIDECAR_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().with_context(|| format!("spawning {bin}"))?;
        Ok(Self {
            child: Some(child),
            log,
            name: name.to_string(),
        })
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    fn check_alive(&mut self) -> Result<()> {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            bail!("{} exited ({status}):\n{}", self.name, self.log_tail());
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let s = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// SIGTERM, then SIGKILL after 10 s.
    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A running hub.
pub struct Hub {
    pub endpoint: String,
    proc: Proc,
}

impl Hub {
    /// Writes `hub.toml` into `dir` (delivery settings left at their defaults) and starts
    /// the hub; returns once it answers a coordinator.
    pub async fn start(
        pki: &TestPki,
        db: &TestDb,
        dir: &Path,
        max_list_items: usize,
    ) -> Result<Self> {
        let port = takedown_tests::free_port();
        let config = dir.join("hub.toml");
        let defaults = takedown_hub::Config::default();
        fs::write(
            &config,
            format!(
                r#"listen = "127.0.0.1:{port}"
database_url = "{db}"
hub_id = "hub"
audience = "takedown-hub"

[tls]
ca = "{ca}"
cert = "{cert}"
key = "{key}"

[trust]
roots = ["{root}"]

[limits]
max_list_items = {items}
max_list_bytes = {bytes}
"#,
                db = db.url,
                ca = pki.ca_pem().display(),
                root = pki.root_public().display(),
                cert = pki.cert("hub").display(),
                key = pki.key("hub").display(),
                items = max_list_items.max(defaults.limits.max_list_items),
                bytes = defaults.limits.max_list_bytes.max(max_list_items * 400),
            ),
        )?;
        let proc = Proc::spawn(
            "takedown-hub",
            "takedown-hub",
            &config,
            dir.join("hub.log"),
            &[],
        )?;
        let mut hub = Self {
            endpoint: format!("https://127.0.0.1:{port}"),
            proc,
        };
        hub.wait_ready(pki).await?;
        Ok(hub)
    }

    async fn wait_ready(&mut self, pki: &TestPki) -> Result<()> {
        let m = pki.material(takedown_tests::pki::COORDINATOR);
        for _ in 0..400 {
            self.proc.check_alive()?;
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
        self.proc.check_alive()
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
    proc: Proc,
}

impl Sidecar {
    /// Writes `sidecar-<platform>.toml` into `dir` and starts the sidecar: listening on
    /// `port` (push), or pulling from the hub when `port` is `None`; returns once its port
    /// (push) or its metrics port (pull, which opens no other) accepts connections.
    pub async fn start(
        pki: &TestPki,
        dir: &Path,
        platform: &str,
        port: Option<u16>,
        hub: &str,
    ) -> Result<Self> {
        let config = dir.join(format!("sidecar-{platform}.toml"));
        let inbox = dir.join(format!("sidecar-{platform}.db"));
        let (ready_port, mode, metrics) = match port {
            Some(port) => (
                port,
                format!("listen = \"127.0.0.1:{port}\""),
                String::new(),
            ),
            None => {
                let metrics = takedown_tests::free_port();
                (
                    metrics,
                    "mode = \"pull\"".to_string(),
                    format!("\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n"),
                )
            }
        };
        fs::write(
            &config,
            format!(
                r#"platform = "{platform}"
{mode}
hub_endpoint = "{hub}"
hub_id = "hub"
hub_audience = "takedown-hub"
inbox = "{inbox}"

[tls]
ca = "{ca}"
cert = "{cert}"
key = "{key}"

[trust]
roots = ["{root}"]

[integration]
mode = "auto"
block_share = 0.8
reject_share = 0.1
gone_share = 0.1
min_delay_ms = 0
max_delay_ms = 0
{metrics}"#,
                inbox = inbox.display(),
                ca = pki.ca_pem().display(),
                root = pki.root_public().display(),
                cert = pki.cert(platform).display(),
                key = pki.key(platform).display(),
            ),
        )?;
        let mut proc = Proc::spawn(
            &format!("takedown-sidecar ({platform})"),
            "takedown-sidecar",
            &config,
            dir.join(format!("sidecar-{platform}.log")),
            &[],
        )?;
        for _ in 0..400 {
            proc.check_alive()?;
            if tokio::net::TcpStream::connect(("127.0.0.1", ready_port))
                .await
                .is_ok()
            {
                return Ok(Self { inbox, proc });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("sidecar {platform} did not listen:\n{}", proc.log_tail())
    }

    pub fn check_alive(&mut self) -> Result<()> {
        self.proc.check_alive()
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn stop(&mut self) {
        self.proc.stop();
    }
}
