//! A headless Chromium driven over the DevTools protocol (CDP) with a small blocking client
//! on `tungstenite`: one page, its network events, JavaScript evaluation, screenshots.

use std::{
    io::ErrorKind,
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// The browser to use: `TAKEDOWN_CHROMIUM` or `/usr/bin/chromium`; `None` (after saying
/// so) when it is missing and `TAKEDOWN_REQUIRE_BROWSER` is not `1`.
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("TAKEDOWN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("TAKEDOWN_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "chromium not installed at {} but TAKEDOWN_REQUIRE_BROWSER=1 (install the Debian package `chromium`)",
            path.display()
        );
    }
    println!("skipped: chromium not installed");
    None
}

/// A headless Chromium with one page, driven over the DevTools protocol (CDP).
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Events of the page's session not yet looked at.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const DEADLINE: Duration = Duration::from_secs(60);

impl Browser {
    pub fn launch(exe: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes its port and browser path to DevToolsActivePort once listening.
        let port_file = profile.path().join("DevToolsActivePort");
        let start = Instant::now();
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Some((port, path)) = text.split_once('\n')
                && !path.trim().is_empty()
            {
                break (port.trim().to_string(), path.trim().to_string());
            }
            assert!(
                start.elapsed() < DEADLINE,
                "chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .expect("DevTools websocket");
        // From now on reads poll, so that waits can end.
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = b.call_on(None, "Target.createTarget", json!({"url": "about:blank"}));
        let attached = b.call_on(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Network.enable", json!({}));
        b.call("Page.enable", json!({}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1200, "height": 1600, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    /// The next message, or `None` after the read timeout.
    fn read(&mut self) -> Option<Value> {
        match self.ws.read() {
            Ok(Message::Text(t)) => Some(serde_json::from_str(t.as_str()).unwrap()),
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                None
            }
            Err(e) => panic!("DevTools connection: {e}"),
        }
    }

    fn keep_event(&mut self, msg: Value) {
        if msg.get("method").is_some() && msg["sessionId"] == self.session.as_str() {
            self.events.push(msg);
        }
    }

    fn call_on(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < DEADLINE, "no answer to {method}");
            let Some(msg) = self.read() else { continue };
            if msg["id"] == id {
                assert!(msg.get("error").is_none(), "{method}: {}", msg["error"]);
                return msg["result"].clone();
            }
            self.keep_event(msg);
        }
    }

    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call_on(Some(&session), method, params)
    }

    /// Loads `url`, waits for its load event and a quiet second after it; returns the URL
    /// of every request the page made.
    pub fn load(&mut self, url: &str) -> Vec<String> {
        self.events.clear();
        let nav = self.call("Page.navigate", json!({"url": url}));
        assert!(nav.get("errorText").is_none(), "navigate: {nav}");
        let start = Instant::now();
        while !self
            .events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            assert!(start.elapsed() < DEADLINE, "{url} did not load");
            if let Some(msg) = self.read() {
                self.keep_event(msg);
            }
        }
        let quiet = Instant::now();
        while quiet.elapsed() < Duration::from_secs(1) {
            if let Some(msg) = self.read() {
                self.keep_event(msg);
            }
        }
        self.events
            .iter()
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .map(|e| {
                e["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    /// Evaluates a JavaScript expression in the page (the test's, not the report's).
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    pub fn screenshot(&mut self, file: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            shot["data"].as_str().unwrap(),
        )
        .unwrap();
        std::fs::write(file, png).unwrap();
    }
}

pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Requests other than the page itself.
pub fn external(requests: &[String], page: &str) -> Vec<String> {
    requests.iter().filter(|u| *u != page).cloned().collect()
}
