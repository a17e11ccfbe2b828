//! The live progress line and the server memory samples, from one background task.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::early_stop::EarlyStop;
use crate::plan::LoadPlan;
use crate::recorder::Recorder;
use crate::Snapshots;

/// Resident memory of the server process, sampled at the start, at each window's end
/// and at the end of the phase.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemorySamples {
    /// (seconds since the start, bytes), in time order.
    pub(crate) samples: Vec<(f64, f64)>,
}

pub(crate) struct Monitor {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<MemorySamples>,
}

const METRIC: &str = "process_resident_memory_bytes";

impl Monitor {
    /// `label` names the phase on its progress line; `users` is how many it runs.
    /// `early_stop`, when given, is checked on every tick: when the phase can no longer
    /// pass, goose's kill switch stops it and the recorder keeps the reason.
    pub(crate) fn start(
        recorder: Arc<Recorder>,
        progress: Option<(String, usize)>,
        metrics_url: String,
        early_stop: Option<EarlyStop>,
        snapshots: Option<(Snapshots, Arc<LoadPlan>)>,
    ) -> Self {
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(run(
            recorder,
            progress,
            metrics_url,
            early_stop,
            snapshots,
            rx,
        ));
        Monitor {
            stop: Some(tx),
            task,
        }
    }

    pub(crate) async fn stop(mut self) -> MemorySamples {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap_or_default()
    }
}

async fn run(
    recorder: Arc<Recorder>,
    progress: Option<(String, usize)>,
    metrics_url: String,
    mut early_stop: Option<EarlyStop>,
    snapshots: Option<(Snapshots, Arc<LoadPlan>)>,
    mut stop: oneshot::Receiver<()>,
) -> MemorySamples {
    let terminal = std::io::stderr().is_terminal();
    let print_every = if terminal {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok();
    let mut memory = MemorySamples::default();
    let started = recorder.started();
    sample(&client, &metrics_url, &started, &mut memory).await;
    let window = recorder.window();
    let mut next_sample = Instant::now() + window;
    let mut next_print = Instant::now() + print_every;
    let mut next_snapshot = snapshots.as_ref().map(|(s, _)| Instant::now() + s.every);
    let mut last_requests = 0u64;
    let mut last_print = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {}
        }
        if let Some(reason) = early_stop.as_ref().and_then(|e| e.reason(&recorder)) {
            early_stop = None;
            recorder.stop_early(reason.clone());
            goose::trigger_killswitch(&reason);
            if progress.is_some() {
                let _ = writeln!(std::io::stderr(), "\nload: stopping early: {reason}");
            }
        }
        let now = Instant::now();
        if now >= next_sample {
            next_sample = now + window;
            sample(&client, &metrics_url, &started, &mut memory).await;
        }
        if let (Some((snap, plan)), Some(due)) = (&snapshots, next_snapshot) {
            if now >= due {
                next_snapshot = Some(now + snap.every);
                (snap.sink)(crate::summary::partial(plan, &recorder, &memory));
            }
        }
        if let Some((label, users)) = progress.as_ref().filter(|_| now >= next_print) {
            next_print = now + print_every;
            let requests = recorder.requests.load(Ordering::Relaxed);
            let dt = now.duration_since(last_print).as_secs_f64().max(1e-3);
            let rps = requests.saturating_sub(last_requests) as f64 / dt;
            last_requests = requests;
            last_print = now;
            let line = progress_line(label, *users, started.elapsed(), &recorder, rps);
            let mut err = std::io::stderr().lock();
            if terminal {
                let _ = write!(err, "\r\x1b[2K{line}");
            } else {
                let _ = writeln!(err, "{line}");
            }
            let _ = err.flush();
        }
    }
    if progress.is_some() && terminal {
        let _ = writeln!(std::io::stderr());
    }
    sample(&client, &metrics_url, &started, &mut memory).await;
    memory
}

/// `load sustained_load: 12s  12 users  1840 requests  151.2 req/s  0 errors  p95 18.4 ms
/// flows 96/120 completed`: what a QA engineer watches during a phase.
fn progress_line(
    label: &str,
    users: usize,
    elapsed: Duration,
    recorder: &Recorder,
    rps: f64,
) -> String {
    let requests = recorder.requests.load(Ordering::Relaxed);
    let errors = recorder.errors.load(Ordering::Relaxed);
    let mut all = crate::histogram::Histogram::default();
    for w in recorder.windows().values() {
        all.merge(&w.latency);
    }
    let p95 = if all.count() == 0 {
        "p95 —".to_string()
    } else {
        format!("p95 {:.1} ms", all.quantile_ms(0.95))
    };
    let (created, completed) = recorder
        .flows()
        .iter()
        .fold((0, 0), |(c, d), (_, f)| (c + f.created, d + f.completed));
    let flows = if created == 0 {
        String::new()
    } else {
        format!("  flows {completed}/{created} completed")
    };
    format!(
        "{label}: {:>4.0}s  {users} users  {requests} requests  {rps:.1} req/s  {errors} errors  {p95}{flows}",
        elapsed.as_secs_f64()
    )
}

async fn sample(
    client: &Option<reqwest::Client>,
    url: &str,
    started: &Instant,
    memory: &mut MemorySamples,
) {
    let at = started.elapsed().as_secs_f64();
    if let Some(client) = client {
        if let Some(bytes) = resident_memory(client, url).await {
            memory.samples.push((at, bytes));
        }
    }
}

/// `process_resident_memory_bytes` from a Prometheus text page, when the page has it.
async fn resident_memory(client: &reqwest::Client, url: &str) -> Option<f64> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let text = response.text().await.ok()?;
    parse_resident_memory(&text)
}

pub(crate) fn parse_resident_memory(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let rest = line.strip_prefix(METRIC)?;
            // `name value` or `name{labels} value`
            let rest = if rest.starts_with('{') {
                &rest[rest.find('}')? + 1..]
            } else {
                rest
            };
            if !rest.starts_with([' ', '\t']) {
                return None;
            }
            rest.split_whitespace().next()?.parse::<f64>().ok()
        })
        .filter(|v| v.is_finite() && *v >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resident_memory_from_prometheus_text() {
        let page = "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                    # TYPE process_resident_memory_bytes gauge\n\
                    process_resident_memory_bytes_total 1\n\
                    process_resident_memory_bytes 1.2345e7\n";
        assert_eq!(parse_resident_memory(page), Some(12_345_000.0));
        assert_eq!(
            parse_resident_memory("process_resident_memory_bytes{pid=\"1\"} 42\n"),
            Some(42.0)
        );
        assert_eq!(parse_resident_memory("http_requests_total 3\n"), None);
    }
}
