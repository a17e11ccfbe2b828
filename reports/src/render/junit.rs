//! JUnit XML for CI systems, written with the `junit-report` crate.
//!
//! One `<testsuite>` per category (load phases in a `load` suite), one `<testcase>` per
//! check with classname = the scenario id (the category is the `<testsuite>`); the
//! `<testsuites>` time is the run's wall time. Assertion failures are `<failure>`, infrastructure
//! errors `<error>`, skipped and waived checks `<skipped message>`. Text is made safe for
//! XML 1.0 first: characters XML cannot carry are replaced, and `]]>` inside the details
//! (written as CDATA by the crate) is split across two CDATA sections.
//!
//! One pass with quick-xml (the writer junit-report itself uses) then fixes what the
//! crate cannot be told: `time` attributes are written with exactly three decimals (the
//! crate prints f64 sums such as `1.1179999999999999`, which the Surefire/Jenkins XSD's
//! `SUREFIRE_TIME` pattern rejects), each `<testsuite>` gets its `skipped` count, and
//! `<testsuites>` gets the run's totals.

use junit_report::{Duration, OffsetDateTime, ReportBuilder, TestCase, TestCaseBuilder, TestSuite};
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};

use super::{categories, checks, finding_details, line, severity_label, Check, CheckSource};
use crate::error::ReportError;
use crate::model::{Outcome, RunReport};

/// Renders the run as a JUnit XML document (`<testsuites>` root).
pub fn render_junit(report: &RunReport) -> Result<String, ReportError> {
    let all = checks(report);
    let timestamp = OffsetDateTime::from_unix_timestamp(report.started_at.timestamp())
        .map_err(|e| ReportError::Junit(format!("start time out of range: {e}")))?;
    let mut builder = ReportBuilder::new();
    let mut skipped_per_suite = Vec::new();
    for cat in categories(&all) {
        skipped_per_suite.push(
            all.iter()
                .filter(|c| c.category == cat)
                .filter(|c| matches!(c.outcome, Outcome::Skipped | Outcome::Waived))
                .count(),
        );
        let mut suite = TestSuite::new(&xml_text(cat));
        suite.set_timestamp(timestamp);
        for c in all.iter().filter(|c| c.category == cat) {
            suite.add_testcase(testcase(c));
        }
        builder.add_testsuite(suite);
    }
    let mut buf = Vec::new();
    builder
        .build()
        .write_xml(&mut buf)
        .map_err(|e| ReportError::Junit(e.to_string()))?;
    let text = String::from_utf8(buf).map_err(|e| ReportError::Junit(e.to_string()))?;
    let summary = report.summary();
    let totals = Totals {
        tests: summary.total,
        failures: summary.failed,
        errors: summary.errored,
        // Scenarios run concurrently: the run's time is its wall time, not the sum.
        time_ms: report.duration_ms,
    };
    let mut text = fix_attributes(&text, &skipped_per_suite, &totals)?;
    text.push('\n');
    Ok(text)
}

struct Totals {
    tests: usize,
    failures: usize,
    errors: usize,
    time_ms: u64,
}

/// Rewrites `time` attributes with three decimals, adds `skipped` to each `<testsuite>`
/// (in document order) and totals to `<testsuites>`; every other event is copied as is.
fn fix_attributes(
    xml: &str,
    skipped_per_suite: &[usize],
    totals: &Totals,
) -> Result<String, ReportError> {
    let err = |e: &dyn std::fmt::Display| ReportError::Junit(e.to_string());
    let mut reader = Reader::from_str(xml);
    let mut writer = Writer::new(Vec::new());
    let mut suite_index = 0;
    loop {
        let event = reader.read_event().map_err(|e| err(&e))?;
        let event = match event {
            Event::Eof => break,
            Event::Start(e) => Event::Start(fix_element(
                &e,
                skipped_per_suite,
                &mut suite_index,
                totals,
            )?),
            Event::Empty(e) => Event::Empty(fix_element(
                &e,
                skipped_per_suite,
                &mut suite_index,
                totals,
            )?),
            other => other,
        };
        writer.write_event(event).map_err(|e| err(&e))?;
    }
    String::from_utf8(writer.into_inner()).map_err(|e| err(&e))
}

fn fix_element(
    e: &BytesStart<'_>,
    skipped_per_suite: &[usize],
    suite_index: &mut usize,
    totals: &Totals,
) -> Result<BytesStart<'static>, ReportError> {
    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    let mut out = BytesStart::new(name.clone());
    for attr in e.attributes() {
        let attr = attr.map_err(|x| ReportError::Junit(x.to_string()))?;
        if attr.key.as_ref() == b"time" {
            let raw = String::from_utf8_lossy(&attr.value);
            let secs: f64 = raw.trim().parse().unwrap_or(0.0);
            out.push_attribute(("time", format!("{secs:.3}").as_str()));
        } else {
            out.push_attribute(Attribute::from((attr.key.as_ref(), attr.value.as_ref())));
        }
    }
    match name.as_str() {
        "testsuite" => {
            let skipped = skipped_per_suite.get(*suite_index).copied().unwrap_or(0);
            out.push_attribute(("skipped", skipped.to_string().as_str()));
            *suite_index += 1;
        }
        "testsuites" => {
            out.push_attribute(("name", "flowgate"));
            out.push_attribute(("tests", totals.tests.to_string().as_str()));
            out.push_attribute(("failures", totals.failures.to_string().as_str()));
            out.push_attribute(("errors", totals.errors.to_string().as_str()));
            out.push_attribute((
                "time",
                format!("{:.3}", totals.time_ms as f64 / 1000.0).as_str(),
            ));
        }
        _ => {}
    }
    Ok(out)
}

fn testcase(c: &Check<'_>) -> TestCase {
    let name = xml_text(c.name);
    let time = Duration::milliseconds(i64::try_from(c.duration_ms).unwrap_or(i64::MAX));
    let mut builder = match c.outcome {
        Outcome::Passed => {
            let mut b = TestCaseBuilder::success(&name, time);
            if let CheckSource::Load(_) = c.source {
                b.set_system_out(&cdata_text(&details(c)));
            }
            b
        }
        Outcome::Failed => {
            let mut b = TestCaseBuilder::failure(&name, time, "assertion", &message(c));
            b.set_trace(&cdata_text(&details(c)));
            b
        }
        Outcome::Error => {
            let mut b = TestCaseBuilder::error(&name, time, "infrastructure", &message(c));
            b.set_trace(&cdata_text(&details(c)));
            b
        }
        Outcome::Skipped => {
            let mut b = TestCaseBuilder::skipped_with_cause(
                &name,
                "skipped",
                &xml_attr(&format!("skipped: {}", c.skip_reason())),
            );
            b.testcase.time = time;
            b
        }
        Outcome::Waived => {
            let waiver = c
                .waiver()
                .map(|w| format!("waived until {} by {}: {}", w.expires, w.owner, w.reason))
                .unwrap_or_else(|| "waived".into());
            let mut b = TestCaseBuilder::skipped_with_cause(&name, "waived", &xml_attr(&waiver));
            b.testcase.time = time;
            // The details of the waived failure stay visible to whoever reads the CI log.
            b.set_system_out(&cdata_text(&details(c)));
            b
        }
    };
    // The scenario id (`tenant_isolation/access_matrix`): stable across runs, and what
    // CI test views group and track history by; the category is the suite name.
    builder.set_classname(&xml_text(c.id));
    builder.build()
}

/// The one-line message attribute: severity and the first thing that went wrong.
fn message(c: &Check<'_>) -> String {
    let findings = c.findings();
    let first = findings
        .first()
        .map(|f| {
            if f.step.is_empty() {
                f.message.clone()
            } else {
                format!("{}: {}", f.step, f.message)
            }
        })
        .unwrap_or_else(|| c.outcome.as_str().to_string());
    let more = if findings.len() > 1 {
        format!(" (+{} more)", findings.len() - 1)
    } else {
        String::new()
    };
    let expired = c
        .expired_waiver()
        .map(|w| format!(" [waiver expired on {}]", w.expires))
        .unwrap_or_default();
    xml_attr(&format!(
        "[{}] {first}{more}{expired}",
        severity_label(c.severity)
    ))
}

/// The full text: every finding with expected vs actual, response excerpt and curl
/// reproducer; for load phases every threshold and the per-request figures.
fn details(c: &Check<'_>) -> String {
    let mut out = String::new();
    line!(out, "check: {} ({})", c.id, c.severity.as_str());
    match c.source {
        CheckSource::Scenario(_) => {
            for f in c.findings() {
                line!(out);
                out.push_str(&finding_details(&f));
            }
            if let Some(w) = c.waiver() {
                line!(out);
                let state = if w.expired {
                    "expired on"
                } else {
                    "valid until"
                };
                line!(
                    out,
                    "waiver ({state} {}): owner {}, reason: {}",
                    w.expires,
                    w.owner,
                    w.reason
                );
            }
            if c.outcome != Outcome::Passed {
                if let Some(r) = c.remediation() {
                    line!(out);
                    line!(out, "remediation: {r}");
                }
            }
        }
        CheckSource::Load(l) => {
            line!(out, "{} users, {} ms", l.users, l.duration_ms);
            line!(out);
            line!(out, "thresholds:");
            for t in &l.thresholds {
                line!(
                    out,
                    "  [{}] {}{}: {}",
                    if t.passed { "met" } else { "NOT MET" },
                    t.expression,
                    t.request
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default(),
                    t.observation()
                );
            }
            line!(out);
            line!(out, "requests:");
            for r in &l.requests {
                line!(
                    out,
                    "  {}: {} requests, {} failed, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.1} req/s",
                    r.name,
                    r.count,
                    r.failures,
                    r.p50_ms,
                    r.p95_ms,
                    r.p99_ms,
                    r.max_ms,
                    r.rps
                );
            }
            if let Some(f) = &l.flows {
                line!(
                    out,
                    "flows: {} created, {} completed, {} failed, {} timed out",
                    f.created,
                    f.completed,
                    f.failed,
                    f.timed_out
                );
            }
            for n in &l.notes {
                line!(out, "note: {n}");
            }
        }
    }
    out
}

/// Replaces characters XML 1.0 cannot carry (control characters other than tab, newline
/// and carriage return; U+FFFE, U+FFFF) with U+FFFD.
fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Attribute text: XML-safe and on one line (parsers turn newlines in attributes into
/// spaces anyway).
fn xml_attr(s: &str) -> String {
    xml_text(s).replace(['\n', '\r'], " ").replace('\t', " ")
}

/// CDATA content: XML-safe, and a literal `]]>` split into `]]` + `>` across two
/// sections, so a parser reads back exactly the original text.
fn cdata_text(s: &str) -> String {
    xml_text(s).replace("]]>", "]]]]><![CDATA[>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(xml_text("a\u{1b}[31mb\tc"), "a\u{FFFD}[31mb\tc");
        assert_eq!(xml_attr("one\ntwo"), "one two");
    }

    #[test]
    fn times_get_three_decimals_and_suites_their_skipped_count() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite id="0" name="a" tests="1" time="1.1179999999999999"><testcase name="x &amp; y" time="1.1179999999999999"><skipped/></testcase></testsuite></testsuites>"#;
        let totals = Totals {
            tests: 1,
            failures: 0,
            errors: 0,
            time_ms: 1118,
        };
        let fixed = fix_attributes(xml, &[1], &totals).unwrap_or_default();
        assert_eq!(
            fixed,
            r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="flowgate" tests="1" failures="0" errors="0" time="1.118"><testsuite id="0" name="a" tests="1" time="1.118" skipped="1"><testcase name="x &amp; y" time="1.118"><skipped/></testcase></testsuite></testsuites>"#
        );
    }

    #[test]
    fn cdata_terminator_is_split() {
        assert_eq!(cdata_text("x]]>y"), "x]]]]><![CDATA[>y");
    }
}
