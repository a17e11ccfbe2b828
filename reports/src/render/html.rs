//! One self-contained HTML page: inline CSS and inline SVG, no script, nothing fetched.
//!
//! The markup is also well-formed XML (every element closed, only XML's five entities),
//! so a strict XML parser can check it.

use super::{
    category_title, checks, executive_summary, fmt_duration, header_facts, line, perf_rows,
    severity_label, sign_off, status_words, success_rate_text, system_name, system_version, Check,
};
use crate::model::{LoadResult, Outcome, RunReport, Verdict};

const CSS: &str = r#"
:root { --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --err:#8250df; --muted:#57606a; --line:#d0d7de; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:#1f2328; background:#fff; margin:0; padding:24px 32px; line-height:1.45; font-size:14px; }
h1 { font-size:24px; margin:0 0 4px; }
h2 { font-size:18px; margin:28px 0 10px; padding-bottom:4px; border-bottom:1px solid var(--line); }
h3 { font-size:15px; margin:16px 0 6px; }
.meta { color:var(--muted); margin:0 0 16px; }
.facts { width:auto; font-size:0.9em; } .facts th { text-align:left; padding-right:12px; color:var(--muted); font-weight:normal; }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin:16px 0; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 16px; min-width:120px; background:var(--bg); }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:22px; font-weight:600; }
.card.verdict-pass { border-color:var(--ok); background:#dafbe1; }
.card.verdict-fail { border-color:var(--bad); background:#ffebe9; }
.card.verdict-error { border-color:var(--err); background:#fbefff; }
table { border-collapse:collapse; width:100%; margin:8px 0 12px; }
th, td { border:1px solid var(--line); padding:4px 8px; text-align:left; vertical-align:top; }
th { background:var(--bg); font-weight:600; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.badge { display:inline-block; padding:0 6px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; white-space:nowrap; }
.o-passed { background:var(--ok); } .o-failed { background:var(--bad); } .o-error { background:var(--err); }
.o-skipped { background:var(--muted); } .o-waived { background:var(--warn); }
.sev { font-size:12px; font-weight:600; }
.sev-critical { color:var(--bad); } .sev-high { color:#bc4c00; } .sev-moderate { color:var(--warn); } .sev-low { color:var(--muted); }
.failure { border:1px solid var(--line); border-left:4px solid var(--bad); border-radius:6px; padding:8px 12px; margin:10px 0; }
.failure.error { border-left-color:var(--err); } .failure.waived { border-left-color:var(--warn); }
.failure dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:6px 0; }
.failure dt { color:var(--muted); } .failure dd { margin:0; }
pre { background:var(--bg); border:1px solid var(--line); border-radius:4px; padding:6px 8px; white-space:pre-wrap; word-break:break-all; font-size:12px; margin:4px 0; }
code { font-size:12px; }
.remediation { background:#fff8c5; border-radius:4px; padding:6px 8px; white-space:pre-wrap; }
.chart { border:1px solid var(--line); border-radius:6px; background:#fff; max-width:100%; height:auto; }
.chart text { font-family: system-ui, sans-serif; font-size:11px; fill:#1f2328; }
.checklist { list-style:none; padding-left:0; } .checklist li { margin:2px 0; }
.ok { color:var(--ok); } .bad { color:var(--bad); } .muted { color:var(--muted); }
.matrix td.hit { background:#dafbe1; text-align:center; } .matrix td.miss { text-align:center; color:var(--muted); }
.matrix th { overflow-wrap:anywhere; word-break:break-all; font-size:11px; } .matrix td:nth-child(2) { min-width:220px; }
.matrix th code { font-size:11px; }
footer { margin-top:32px; color:var(--muted); font-size:12px; border-top:1px solid var(--line); padding-top:8px; }
@media print {
  body { padding:0; font-size:11px; }
  .card { background:#fff !important; }
  table, .failure, figure, svg { break-inside:avoid; page-break-inside:avoid; }
  h2 { break-after:avoid; }
}
"#;

/// Renders the self-contained HTML report.
pub fn render_html(report: &RunReport) -> String {
    let all = checks(report);
    let summary = report.summary();
    let system = system_name(report);
    let verdict = report.verdict();
    let date = report.started_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut out = String::new();

    line!(out, "<!DOCTYPE html>");
    line!(out, "<html lang=\"en\">");
    line!(out, "<head>");
    line!(out, "<meta charset=\"utf-8\" />");
    line!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />"
    );
    line!(
        out,
        "<title>Production Validation Report - {}</title>",
        esc(&system)
    );
    line!(out, "<style>{CSS}</style>");
    line!(out, "</head>");
    line!(out, "<body>");
    line!(out, "<header>");
    line!(
        out,
        "<h1>Production Validation Report - {}</h1>",
        esc(&system)
    );
    line!(
        out,
        "<p class=\"meta\">{} {} · {} · target <code>{}</code> (profile <code>{}</code>) · {} {}</p>",
        esc(&system),
        esc(&system_version(report).unwrap_or_else(|| "(version not reported)".into())),
        esc(&date),
        esc(&report.target.base_url),
        esc(&report.target.name),
        esc(&report.tool.name),
        esc(&report.tool.version)
    );
    line!(out, "<table class=\"facts\">");
    for (label, value) in header_facts(report) {
        line!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(label),
            esc(&value)
        );
    }
    line!(out, "</table>");
    line!(out, "</header>");

    // Summary cards.
    let words = status_words(report);
    let (vclass, vtext) = match verdict {
        Verdict::Pass | Verdict::PassWithWaivers => ("verdict-pass", format!("✔ {words}")),
        Verdict::Error => ("verdict-error", format!("⚠ {words}")),
        Verdict::Fail
        | Verdict::Untested
        | Verdict::NoVerdict
        | Verdict::NotCertified
        | Verdict::InsufficientCoverage => ("verdict-fail", format!("⚠ {words}")),
    };
    line!(out, "<section class=\"cards\">");
    line!(
        out,
        "<div class=\"card {vclass}\"><div class=\"label\">Overall status</div><div class=\"value\">{}</div></div>",
        esc(&vtext)
    );
    line!(
        out,
        "<div class=\"card\"><div class=\"label\">Success rate</div><div class=\"value\">{}</div></div>",
        esc(&success_rate_text(report))
    );
    for (label, n) in [
        ("Passed", summary.passed),
        ("Failed", summary.failed),
        ("Errors", summary.errored),
        ("Waived", summary.waived),
        ("Skipped", summary.skipped),
    ] {
        line!(
            out,
            "<div class=\"card\"><div class=\"label\">{label}</div><div class=\"value\">{n}</div></div>"
        );
    }
    line!(out, "</section>");

    line!(out, "<section>");
    line!(out, "<h2>Executive summary</h2>");
    line!(
        out,
        "<p>{}</p>",
        esc(&executive_summary(report, &all).join(" "))
    );
    line!(out, "</section>");

    // Every check, the ones that need attention first.
    line!(out, "<section>");
    line!(out, "<h2 id=\"checks\">Checks</h2>");
    open_table(
        &mut out,
        &[
            "Outcome", "Severity", "Check", "Category", "Duration", "Observed",
        ],
    );
    let mut ordered: Vec<&Check<'_>> = all.iter().collect();
    ordered.sort_by_key(|c| (outcome_rank(c.outcome), c.severity));
    for c in ordered {
        let observed = match c.outcome {
            Outcome::Passed => c.passed_note(),
            Outcome::Skipped => c.skip_reason(),
            _ => c
                .findings()
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        };
        line!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}<br /><code class=\"muted\">{}</code></td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            badge(c.outcome),
            sev(c),
            esc(c.name),
            esc(c.id),
            esc(&category_title(c.category)),
            esc(&fmt_duration(c.duration_ms)),
            esc(&observed)
        );
    }
    line!(out, "</tbody>");
    line!(out, "</table>");
    line!(out, "</section>");

    failures(&mut out, &all);
    performance(&mut out, &all);
    if !report.load.is_empty() {
        line!(out, "<section>");
        line!(out, "<h2 id=\"load\">Load phases</h2>");
        let mut loads: Vec<&LoadResult> = report.load.iter().collect();
        loads.sort_by(|a, b| a.id.cmp(&b.id));
        for l in loads {
            load_phase(&mut out, l);
        }
        line!(out, "</section>");
    }
    selfcheck(&mut out, report);
    api_coverage(&mut out, report);

    line!(out, "<section>");
    line!(out, "<h2 id=\"signoff\">Sign-off status</h2>");
    line!(out, "<ul class=\"checklist\">");
    for item in sign_off(report, &all) {
        let (mark, class) = match item.ticked {
            Some(true) => ("☑", "ok"),
            Some(false) => ("☐", "bad"),
            None => ("☐", "muted"),
        };
        line!(
            out,
            "<li><span class=\"{class}\">{mark}</span> {} <span class=\"muted\">— {}</span></li>",
            esc(&item.label),
            esc(&item.note)
        );
    }
    line!(out, "</ul>");
    line!(out, "</section>");
    line!(
        out,
        "<footer>Prepared by {} {} · run started {} · took {}</footer>",
        esc(&report.tool.name),
        esc(&report.tool.version),
        esc(&date),
        esc(&fmt_duration(report.duration_ms))
    );
    line!(out, "</body>");
    line!(out, "</html>");
    out
}

fn outcome_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Failed => 0,
        Outcome::Error => 1,
        Outcome::Waived => 2,
        Outcome::Skipped => 3,
        Outcome::Passed => 4,
    }
}

fn badge(o: Outcome) -> String {
    format!(
        "<span class=\"badge o-{}\">{}</span>",
        o.as_str(),
        o.as_str()
    )
}

fn sev(c: &Check<'_>) -> String {
    format!(
        "<span class=\"sev sev-{}\">{}</span>",
        c.severity.as_str(),
        severity_label(c.severity)
    )
}

fn failures(out: &mut String, all: &[Check<'_>]) {
    let mut problems: Vec<&Check<'_>> = all
        .iter()
        .filter(|c| {
            matches!(
                c.outcome,
                Outcome::Failed | Outcome::Error | Outcome::Waived
            )
        })
        .collect();
    if problems.is_empty() {
        return;
    }
    problems.sort_by_key(|c| (outcome_rank(c.outcome), c.severity));
    line!(out, "<section>");
    line!(out, "<h2 id=\"failures\">Failures and errors</h2>");
    for c in problems {
        let class = match c.outcome {
            Outcome::Error => "failure error",
            Outcome::Waived => "failure waived",
            _ => "failure",
        };
        line!(out, "<article class=\"{class}\">");
        line!(
            out,
            "<h3>{} {} {} <code class=\"muted\">{}</code></h3>",
            badge(c.outcome),
            sev(c),
            esc(c.name),
            esc(c.id)
        );
        if let Some(w) = c.waiver() {
            let state = if w.expired {
                format!("Waiver expired on {}", w.expires)
            } else {
                format!("Waived until {}", w.expires)
            };
            line!(
                out,
                "<p><strong>{}</strong> (owner {}): {}</p>",
                esc(&state),
                esc(&w.owner),
                esc(&w.reason)
            );
        }
        for f in c.findings() {
            line!(out, "<dl>");
            if !f.step.is_empty() {
                line!(out, "<dt>step</dt><dd>{}</dd>", esc(&f.step));
            }
            line!(out, "<dt>observed</dt><dd>{}</dd>", esc(&f.message));
            if let Some(fail) = f.failure {
                if let Some(e) = &fail.expected {
                    line!(out, "<dt>expected</dt><dd><pre>{}</pre></dd>", esc(e));
                }
                if let Some(a) = &fail.actual {
                    line!(out, "<dt>actual</dt><dd><pre>{}</pre></dd>", esc(a));
                }
            }
            if !f.states_seen.is_empty() {
                line!(
                    out,
                    "<dt>states seen</dt><dd>{}</dd>",
                    esc(&f.states_seen.join(" → "))
                );
            }
            if let Some(fail) = f.failure {
                if let Some(x) = &fail.response_excerpt {
                    line!(out, "<dt>response</dt><dd><pre>{}</pre></dd>", esc(x));
                }
                if let Some(curl) = &fail.curl {
                    line!(out, "<dt>reproduce</dt><dd><pre>{}</pre></dd>", esc(curl));
                }
            }
            line!(out, "</dl>");
        }
        if let Some(r) = c.remediation() {
            line!(
                out,
                "<p><strong>Remediation</strong></p><div class=\"remediation\">{}</div>",
                esc(r)
            );
        }
        if let Some(w) = c.fails_when() {
            line!(
                out,
                "<p class=\"context\"><em>Context — this check fails when:</em> {}</p>",
                esc(w)
            );
        }
        line!(out, "</article>");
    }
    line!(out, "</section>");
}

fn performance(out: &mut String, all: &[Check<'_>]) {
    let rows = perf_rows(all);
    line!(out, "<section>");
    line!(out, "<h2 id=\"performance\">Performance metrics</h2>");
    if rows.is_empty() {
        line!(
            out,
            "<p class=\"muted\">No performance figures were measured in this run.</p>"
        );
    } else {
        open_table(out, &["Metric", "Result", "Target", "Status"]);
        for r in rows {
            let status = if r.passed {
                "<span class=\"ok\">✔ Met</span>"
            } else {
                "<span class=\"bad\">✘ Missed</span>"
            };
            line!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{status}</td></tr>",
                esc(&r.metric),
                esc(&r.result),
                esc(&r.target)
            );
        }
        line!(out, "</tbody>");
        line!(out, "</table>");
    }
    line!(out, "</section>");
}

fn load_phase(out: &mut String, l: &LoadResult) {
    line!(
        out,
        "<h3>{} {} <code class=\"muted\">{}</code></h3>",
        badge(l.outcome),
        esc(&l.name),
        esc(&l.id)
    );
    let flows = l
        .flows
        .as_ref()
        .map(|f| {
            format!(
                " · flows: {} created, {} completed, {} failed, {} timed out",
                f.created, f.completed, f.failed, f.timed_out
            )
        })
        .unwrap_or_default();
    line!(
        out,
        "<p>{} users for {}{}</p>",
        l.users,
        esc(&fmt_duration(l.duration_ms)),
        esc(&flows)
    );
    line!(out, "<figure>");
    out.push_str(&latency_chart(l));
    line!(
        out,
        "<figcaption class=\"muted\">Latency over time (p50 and p95, left axis) and throughput (bars, right axis) of {}.</figcaption>",
        esc(&l.name)
    );
    line!(out, "</figure>");
    if !l.thresholds.is_empty() {
        open_table(out, &["Threshold", "Applies to", "Observed", "Status"]);
        for t in &l.thresholds {
            let status = if t.passed {
                "<span class=\"ok\">✔ Met</span>"
            } else {
                "<span class=\"bad\">✘ Missed</span>"
            };
            line!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td>{status}</td></tr>",
                esc(&t.expression),
                esc(t.request.as_deref().unwrap_or("all requests")),
                esc(&t.observed_text())
            );
        }
        line!(out, "</tbody>");
        line!(out, "</table>");
    }
    open_table(
        out,
        &[
            "Request", "Count", "Failures", "Mean ms", "p50 ms", "p95 ms", "p99 ms", "Max ms",
            "req/s",
        ],
    );
    for r in &l.requests {
        line!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td></tr>",
            esc(&r.name),
            r.count,
            r.failures,
            r.mean_ms,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            r.rps
        );
    }
    line!(out, "</tbody>");
    line!(out, "</table>");
    for n in &l.notes {
        line!(out, "<p class=\"muted\">{}</p>", esc(n));
    }
}

/// Width, height and margins of the latency plot, in SVG user units.
const W: f64 = 760.0;
const H: f64 = 280.0;
const ML: f64 = 60.0;
const MR: f64 = 64.0;
const MT: f64 = 28.0;
const MB: f64 = 44.0;

/// An inline SVG: p50 and p95 latency lines (left axis, ms), requests per second as bars
/// (right axis), red marks on the time axis where errors occurred.
fn latency_chart(l: &LoadResult) -> String {
    let mut out = String::new();
    let points: Vec<_> = l
        .timeseries
        .iter()
        .filter(|p| {
            p.t_s.is_finite() && p.p50_ms.is_finite() && p.p95_ms.is_finite() && p.rps.is_finite()
        })
        .collect();
    line!(
        out,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Latency over time of {}\">",
        esc(&l.name)
    );
    if points.is_empty() {
        line!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">No time series was recorded for this phase.</text>",
            W / 2.0,
            H / 2.0
        );
        line!(out, "</svg>");
        return out;
    }
    let t_max = points
        .iter()
        .map(|p| p.t_s)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let lat_max = points
        .iter()
        .map(|p| p.p95_ms.max(p.p50_ms))
        .fold(0.0_f64, f64::max);
    let rps_max = points.iter().map(|p| p.rps).fold(0.0_f64, f64::max);
    let (lat_ticks, lat_top) = ticks(lat_max);
    let (rps_ticks, rps_top) = ticks(rps_max);
    let (t_ticks, t_top) = ticks(t_max);
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let x = |t: f64| ML + t / t_top * pw;
    let y_lat = |v: f64| MT + ph - v / lat_top * ph;
    let y_rps = |v: f64| MT + ph - v / rps_top * ph;

    // Grid and left axis (latency).
    for v in &lat_ticks {
        let y = y_lat(*v);
        line!(
            out,
            "<line x1=\"{ML}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\" />",
            ML + pw
        );
        line!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            ML - 6.0,
            y + 4.0,
            tick_label(*v)
        );
    }
    // Right axis (rps).
    for v in &rps_ticks {
        line!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"start\" fill=\"#57606a\">{}</text>",
            ML + pw + 6.0,
            y_rps(*v) + 4.0,
            tick_label(*v)
        );
    }
    // Time axis.
    for v in &t_ticks {
        let xv = x(*v);
        line!(
            out,
            "<line x1=\"{xv:.1}\" y1=\"{:.1}\" x2=\"{xv:.1}\" y2=\"{:.1}\" stroke=\"#1f2328\" />",
            MT + ph,
            MT + ph + 4.0
        );
        line!(
            out,
            "<text x=\"{xv:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            MT + ph + 16.0,
            tick_label(*v)
        );
    }
    // Throughput bars, behind the lines.
    let bar_w = (pw / points.len() as f64 * 0.8).clamp(1.0, 24.0);
    for p in &points {
        let y = y_rps(p.rps);
        line!(
            out,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{:.1}\" fill=\"#d0d7de\" fill-opacity=\"0.6\" />",
            (x(p.t_s) - bar_w / 2.0).max(ML),
            (MT + ph - y).max(0.0)
        );
    }
    // Axes frame.
    line!(
        out,
        "<line x1=\"{ML}\" y1=\"{MT}\" x2=\"{ML}\" y2=\"{:.1}\" stroke=\"#1f2328\" />",
        MT + ph
    );
    line!(
        out,
        "<line x1=\"{ML}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1f2328\" />",
        MT + ph,
        ML + pw,
        MT + ph
    );
    line!(
        out,
        "<line x1=\"{:.1}\" y1=\"{MT}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#8c959f\" />",
        ML + pw,
        ML + pw,
        MT + ph
    );
    // Latency lines.
    for (color, width, pick) in [
        ("#0969da", 2.0, 0_u8), // p50
        ("#bc4c00", 2.0, 1_u8), // p95
    ] {
        let pts: Vec<String> = points
            .iter()
            .map(|p| {
                let v = if pick == 0 { p.p50_ms } else { p.p95_ms };
                format!("{:.1},{:.1}", x(p.t_s), y_lat(v))
            })
            .collect();
        line!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\" points=\"{}\" />",
            pts.join(" ")
        );
    }
    // Errors: red marks under the time axis.
    for p in points.iter().filter(|p| p.errors > 0) {
        line!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"3\" height=\"6\" fill=\"#cf222e\"><title>{} errors at {:.1} s</title></rect>",
            x(p.t_s) - 1.5,
            MT + ph - 6.0,
            p.errors,
            p.t_s
        );
    }
    // Axis labels.
    line!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time (s)</text>",
        ML + pw / 2.0,
        H - 8.0
    );
    line!(
        out,
        "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">latency (ms)</text>",
        MT + ph / 2.0
    );
    line!(
        out,
        "<text transform=\"translate({:.1} {:.1}) rotate(90)\" text-anchor=\"middle\" fill=\"#57606a\">requests/s</text>",
        W - 12.0,
        MT + ph / 2.0
    );
    // Legend.
    let lx = ML + 8.0;
    let ly = 14.0;
    line!(
        out,
        "<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"#0969da\" stroke-width=\"2\" /><text x=\"{}\" y=\"{}\">p50</text>",
        lx + 18.0,
        lx + 22.0,
        ly + 4.0
    );
    line!(
        out,
        "<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"#bc4c00\" stroke-width=\"2\" /><text x=\"{}\" y=\"{}\">p95</text>",
        lx + 60.0,
        lx + 78.0,
        lx + 82.0,
        ly + 4.0
    );
    line!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"8\" fill=\"#d0d7de\" /><text x=\"{}\" y=\"{}\">requests/s</text>",
        lx + 120.0,
        ly - 4.0,
        lx + 138.0,
        ly + 4.0
    );
    line!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"3\" height=\"8\" fill=\"#cf222e\" /><text x=\"{}\" y=\"{}\">errors</text>",
        lx + 220.0,
        ly - 4.0,
        lx + 228.0,
        ly + 4.0
    );
    line!(out, "</svg>");
    out
}

/// "Nice" axis ticks from 0 to at least `max`: steps of 1, 2 or 5 × 10^k, about 5 of them.
/// Returns the ticks and the top of the axis.
fn ticks(max: f64) -> (Vec<f64>, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let n = (max / step).ceil().max(1.0) as usize;
    let ticks: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
    (ticks, n as f64 * step)
}

fn tick_label(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if (v * 10.0).fract().abs() < 1e-6 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The documented responses never exercised and the statuses seen undocumented.
fn api_coverage(out: &mut String, report: &RunReport) {
    let Some(c) = &report.coverage else { return };
    line!(out, "<section>");
    line!(out, "<h2 id=\"coverage\">API coverage</h2>");
    line!(
        out,
        "<p>{} (from <code>{}</code>).</p>",
        esc(&super::coverage_text(report)),
        esc(&c.source)
    );
    if c.error.is_none() {
        for (title, items) in [
            ("Never exercised", c.never_exercised()),
            ("Seen but not documented", c.undocumented.clone()),
        ] {
            if items.is_empty() {
                continue;
            }
            line!(
                out,
                "<details><summary>{title} ({})</summary><ul>",
                items.len()
            );
            for i in items {
                line!(out, "<li><code>{}</code></li>", esc(&i));
            }
            line!(out, "</ul></details>");
        }
    }
    line!(out, "</section>");
}

fn selfcheck(out: &mut String, report: &RunReport) {
    let Some(sc) = &report.selfcheck else {
        return;
    };
    line!(out, "<section>");
    line!(
        out,
        "<h2 id=\"selfcheck\">Suite strength (defect injection)</h2>"
    );
    let caught = sc.caught();
    line!(
        out,
        "<p><strong>Detection rate: {:.1}%</strong> ({caught}/{} defects caught by at least one scenario or the explorer)</p>",
        sc.detection_rate() * 100.0,
        sc.defects.len()
    );
    let mut catchers: Vec<&str> = sc
        .defects
        .iter()
        .flat_map(|d| d.caught_by.iter().map(String::as_str))
        .collect();
    catchers.sort_unstable();
    catchers.dedup();
    line!(out, "<table class=\"matrix\">");
    out.push_str("<thead><tr><th>Defect</th><th>Description</th>");
    for s in &catchers {
        out.push_str(&format!("<th><code>{}</code></th>", esc(s)));
    }
    let explored = sc.explored();
    if explored {
        out.push_str("<th>Explore</th>");
    }
    line!(out, "<th>Caught</th></tr></thead>");
    line!(out, "<tbody>");
    for d in &sc.defects {
        out.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td>",
            esc(&d.defect),
            esc(&d.description)
        ));
        for s in &catchers {
            if d.caught_by.iter().any(|c| c == s) {
                out.push_str("<td class=\"hit\">✔</td>");
            } else {
                out.push_str("<td class=\"miss\">·</td>");
            }
        }
        if explored {
            let hit = d.explore.as_ref().is_some_and(|e| e.property.is_some());
            out.push_str(&format!(
                "<td class=\"{}\">{}</td>",
                if hit { "hit" } else { "miss" },
                esc(&d.explore_text().unwrap_or_else(|| "—".into()))
            ));
        }
        let status = if !d.is_caught() {
            "<span class=\"bad\">✘ missed</span>"
        } else {
            "<span class=\"ok\">✔ caught</span>"
        };
        line!(out, "<td>{status}</td></tr>");
    }
    line!(out, "</tbody>");
    line!(out, "</table>");
    if !sc.false_alarms.is_empty() {
        line!(
            out,
            "<p class=\"bad\">False alarms (failed against the correct server): {}</p>",
            esc(&sc.false_alarms.join(", "))
        );
    }
    line!(out, "</section>");
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `<table><thead>…</thead><tbody>` with these column headings (plain text).
fn open_table(out: &mut String, headings: &[&str]) {
    line!(out, "<table>");
    let cells: String = headings
        .iter()
        .map(|h| format!("<th>{}</th>", esc(h)))
        .collect();
    line!(out, "<thead><tr>{cells}</tr></thead>");
    line!(out, "<tbody>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice() {
        assert_eq!(
            ticks(87.0),
            (vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0], 100.0)
        );
        assert_eq!(ticks(0.0).1, 1.0);
        assert_eq!(ticks(9.5).1, 10.0);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
