//! The README's "Running it for real", run as a newcomer would: its shell blocks are read
//! from README.md itself and run in order, as written, in one shell in a temporary
//! directory that holds only what the section uses from the repository (the example
//! configs and the demo lists). Three things differ, each named here: `target/release/`
//! holds the binaries of this test build (the same `main` functions; CI builds no release
//! profile); the commands that start a service, which the README runs "in a terminal of
//! its own", run in the background with their output in a log, and the next command waits
//! for the service's port; H-hour is `--starts-at +15s` (the README shows that option)
//! instead of two minutes. Then each step's output is checked, and after H-hour the
//! coordinator's summary must show every platform's share delivered and decided.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use takedown_tests::{bins, proc::last_lines};

const SECTION: &str = "## Running it for real";
const MARK: &str = "@@step ";

#[test]
fn running_it_for_real_works_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = fs::read_to_string(root.join("README.md")).expect("README.md");
    let steps = commands(&readme);
    assert!(steps.len() >= 15, "the section's commands: {steps:#?}");

    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    for file in [
        "services/hub/hub.example.toml",
        "services/sidecar/sidecar.example.toml",
        "services/ctl/demo/agency-fr.csv",
        "services/ctl/demo/agency-de.csv",
    ] {
        let to = d.join(file);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(root.join(file), &to).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let release = d.join("target/release");
    fs::create_dir_all(&release).unwrap();
    for bin in ["takedown-hub", "takedown-sidecar", "takedownctl"] {
        std::os::unix::fs::symlink(bins::path(bin), release.join(bin)).unwrap();
    }

    let script = script(&steps);
    fs::write(d.join("readme.sh"), &script).unwrap();
    let out = Command::new("timeout")
        .args(["300", "bash", "readme.sh"])
        .current_dir(d)
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let logs = ["hub.log", "sidecar-telegram.log"]
        .iter()
        .map(|f| {
            let log = fs::read_to_string(d.join(f)).unwrap_or_default();
            format!("--- {f}\n{}", last_lines(&log, 30))
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.status.success(),
        "the README's commands failed ({}):\n{}\n{logs}",
        out.status,
        last_lines(&text, 60)
    );

    // Each step said what it did.
    let outputs = split_steps(&text);
    let expect: &[(&str, &[&str])] = &[
        ("certs dev", &["certs/dev"]),
        ("directory org add --id agency-fr", &["agency-fr"]),
        ("directory platform add --name telegram", &["telegram"]),
        ("directory platform add --name tamtam", &["tamtam"]),
        ("directory platform add --name x", &["x"]),
        ("keys generate", &["fr-2026-1"]),
        ("keys publish", &["fr-2026-1"]),
        ("action-day create", &["day-1"]),
        ("list sign", &["fr.signed.json"]),
        ("list submit", &["fr-day-1"]),
        ("list status fr-day-1", &["embargoed"]),
        ("hold place", &["telegram"]),
        ("summary day-1", &["telegram", "tamtam", "x"]),
    ];
    for (command, words) in expect {
        let (_, said) = outputs
            .iter()
            .find(|(c, _)| c.contains(command))
            .unwrap_or_else(|| panic!("no step runs {command:?}: {steps:#?}"));
        for w in *words {
            assert!(said.contains(w), "`{command}` did not say {w:?}:\n{said}");
        }
    }
    // After H-hour every platform was sent its share and decided on it.
    let (_, json) = outputs
        .iter()
        .find(|(c, _)| c == "check: the summary as JSON")
        .expect("the check step");
    // The JSON document, then what the sidecars the README starts in the background log.
    let summary: serde_json::Value = serde_json::Deserializer::from_str(json)
        .into_iter()
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("no summary JSON:\n{json}"));
    let platforms = summary["platforms"].as_array().expect("platforms");
    assert_eq!(platforms.len(), 3, "{json}");
    for p in platforms {
        let n = |k: &str| p[k].as_u64().unwrap_or_else(|| panic!("{k} in {p}"));
        assert!(n("referred") > 0, "{p}");
        assert_eq!(n("delivered") + n("held"), n("referred"), "{p}");
        assert!(n("blocked") > 0, "{p}");
    }
}

/// The shell commands of the README's section, in order: its ```sh blocks up to its first
/// sub-heading, continuation lines joined, comment lines left out.
fn commands(readme: &str) -> Vec<String> {
    let start = readme.find(SECTION).expect("the README has the section");
    let section = &readme[start + SECTION.len()..];
    let end = ["\n### ", "\n## "]
        .iter()
        .filter_map(|h| section.find(h))
        .min()
        .unwrap_or(section.len());
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in section[..end].lines() {
        match (in_block, line.trim()) {
            (false, "```sh") => in_block = true,
            (true, "```") => in_block = false,
            (true, l) if pending.is_empty() && (l.is_empty() || l.starts_with('#')) => {}
            (true, _) => {
                let l = line.trim();
                if let Some(head) = l.strip_suffix('\\') {
                    pending.push_str(head);
                    pending.push(' ');
                } else {
                    pending.push_str(l);
                    out.push(std::mem::take(&mut pending));
                }
            }
            _ => {}
        }
    }
    assert!(!in_block && pending.is_empty(), "an unterminated block");
    out
}

/// One bash script: each command after a marker line, services started in the background,
/// every service stopped when the script ends.
fn script(commands: &[String]) -> String {
    let mut s = String::from(
        "set -euo pipefail\nshopt -s expand_aliases\nexec 2>&1\n\
         trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n\
         wait_port() { for _ in $(seq 1 200); do \
           (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; \
           echo \"nothing listens on port $1\"; return 1; }\n",
    );
    let mut shortened = false;
    for c in commands {
        let mut c = c.clone();
        if c.contains("--starts-at +2m") {
            c = c.replace("--starts-at +2m", "--starts-at +15s");
            shortened = true;
        }
        s.push_str(&format!("echo {}\n", quote(&format!("{MARK}{c}"))));
        let service = |bin: &str| c.starts_with(bin) && !c.contains("--check-config");
        if c == "cargo build --release" {
            s.push_str("test -x target/release/takedown-hub\n");
        } else if service("target/release/takedown-hub ") {
            s.push_str(&format!("{c} > hub.log 2>&1 &\nwait_port 7400\n"));
        } else if service("target/release/takedown-sidecar ") {
            s.push_str(&format!(
                "{c} > sidecar-telegram.log 2>&1 &\nwait_port 7443\n"
            ));
        } else if c.starts_with("for ") && c.contains("takedown-sidecar") {
            s.push_str(&format!("{c}\nwait_port 7444\nwait_port 7445\n"));
        } else if c.contains("summary day-1") {
            // After H-hour: until no item of the list is embargoed any more, and the
            // platforms' (instant) decisions are in.
            s.push_str(
                "for _ in $(seq 1 60); do \
                 tctl --as agency-fr list status fr-day-1 > status.txt; \
                 grep -q embargoed status.txt || break; sleep 1; done\nsleep 3\n",
            );
            s.push_str(&c);
            s.push('\n');
        } else {
            s.push_str(&c);
            s.push('\n');
        }
    }
    assert!(
        shortened,
        "the README no longer creates its day with --starts-at +2m"
    );
    s.push_str(&format!(
        "echo {}\ntctl --as europol summary day-1 --format json\n",
        quote(&format!("{MARK}check: the summary as JSON"))
    ));
    s
}

/// `s` as one single-quoted shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// (command, what it printed) per step.
fn split_steps(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix(MARK) {
            out.push((c.to_string(), String::new()));
        } else if let Some((_, said)) = out.last_mut() {
            said.push_str(line);
            said.push('\n');
        }
    }
    out
}

#[test]
fn the_section_is_read_as_commands() {
    let md = "intro\n## Running it for real\n\n```sh\na one # note\n# a comment\nb \\\n  c\n```\n\
              text\n```sh\nd\n```\n### Configuration\n```sh\ne\n```\n";
    assert_eq!(commands(md), vec!["a one # note", "b  c", "d"]);
}
