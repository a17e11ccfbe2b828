//! The reference server as a separate process, as any system the suite was not written for
//! would be: `flowgate tenant create` twice on a fresh SQLite file, `flowgate serve` on a
//! free port, and the `FLOWGATE_*` variables the reference profile reads.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn flowgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowgate"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// A running server; killed when dropped, however the test ends.
pub struct SeparateServer {
    child: Child,
    pub base: String,
    /// `FLOWGATE_*` values for the reference profile (keys included).
    pub env: BTreeMap<String, String>,
    _dir: tempfile::TempDir,
}

impl Drop for SeparateServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `export K=V` lines of `flowgate tenant create --format env`.
fn tenant(db: &str, name: &str, tenant_as: &str, engagements: &[&str]) -> BTreeMap<String, String> {
    let mut cmd = flowgate();
    cmd.args(["tenant", "create", "--name", name, "--database-url", db]);
    for e in engagements {
        cmd.args(["--engagement", e]);
    }
    let out = cmd
        .args(["--format", "env", "--as", tenant_as])
        .output()
        .expect("flowgate runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches(['\'', '"']).to_string()))
        .collect()
}

impl SeparateServer {
    /// Tenants A (engagements default, second) and B, simulated faults allowed, these
    /// defects injected; returns once `/health` answers.
    pub async fn start(defects: &[&str]) -> SeparateServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite://{}", dir.path().join("server.db").display());
        // The schema is created by the first `tenant create`.
        let mut env = tenant(&db, "tenant-a", "A", &["default", "second"]);
        env.extend(tenant(&db, "tenant-b", "B", &["default"]));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = flowgate();
        cmd.args(["serve", "--allow-simulated-faults", "--database-url", &db])
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        for d in defects {
            cmd.args(["--defect", d]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("flowgate serve starts");
        env.insert("FLOWGATE_BASE_URL".into(), base.clone());
        let server = SeparateServer {
            child,
            base,
            env,
            _dir: dir,
        };
        let started = Instant::now();
        while reqwest::get(format!("{}/health", server.base))
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server never answered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// `flowgate ARGS…` with this server's variables; (exit code, stdout + stderr).
    pub fn flowgate(&self, args: &[&str]) -> (Option<i32>, String) {
        let out = flowgate()
            .args(args)
            .envs(&self.env)
            .output()
            .expect("flowgate runs");
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}
