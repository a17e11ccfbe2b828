//! JUnit XML: snapshots, counts, and a real consumer (junitparser + the Jenkins XSD).

mod common;

use std::path::Path;
use std::process::Command;

use flowgate_reports::{render_junit, RunReport};
use quick_xml::events::Event;
use quick_xml::Reader;

#[derive(Debug, Default, PartialEq)]
struct Counts {
    suites: usize,
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// Parses the document with a strict XML reader and counts the elements.
fn count(xml: &str) -> Counts {
    let mut reader = Reader::from_str(xml);
    let mut c = Counts::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match e.name().as_ref() {
                b"testsuite" => c.suites += 1,
                b"testcase" => c.tests += 1,
                b"failure" => c.failures += 1,
                b"error" => c.errors += 1,
                b"skipped" => c.skipped += 1,
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("junit.xml is not well-formed: {e}"),
        }
    }
    c
}

/// CDATA sections and attribute values, decoded, in document order.
fn texts(xml: &str) -> Vec<String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::CData(t)) => out.push(String::from_utf8_lossy(&t).into_owned()),
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                for a in e.attributes().flatten() {
                    if let Ok(v) = a.normalized_value(quick_xml::XmlVersion::default()) {
                        out.push(v.into_owned());
                    }
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed: {e}"),
        }
    }
    out
}

fn expected(r: &RunReport) -> Counts {
    let s = r.summary();
    let mut cats: Vec<&str> = r.scenarios.iter().map(|s| s.category.as_str()).collect();
    if !r.load.is_empty() {
        cats.push("load");
    }
    cats.sort_unstable();
    cats.dedup();
    Counts {
        suites: cats.len(),
        tests: s.total,
        failures: s.failed,
        errors: s.errored,
        skipped: s.skipped + s.waived,
    }
}

fn render(r: &RunReport) -> String {
    match render_junit(r) {
        Ok(x) => x,
        Err(e) => panic!("render_junit failed: {e}"),
    }
}

#[test]
fn junit_snapshots() {
    insta::assert_snapshot!("junit_seed", render(&common::seed_run()));
    insta::assert_snapshot!("junit_passing", render(&common::passing_run()));
    insta::assert_snapshot!("junit_complex", render(&common::complex_run()));
}

#[test]
fn counts_match_the_run() {
    for r in [
        common::seed_run(),
        common::passing_run(),
        common::complex_run(),
    ] {
        assert_eq!(count(&render(&r)), expected(&r));
    }
    let seed = count(&render(&common::seed_run()));
    assert_eq!((seed.tests, seed.failures, seed.errors), (8, 3, 0));
}

#[test]
fn details_survive_xml_intact() {
    let xml = render(&common::complex_run());
    let all = texts(&xml);
    // `]]>` split across two CDATA sections reads back as two adjacent texts.
    let joined = all.join("");
    assert!(joined.contains("<script>alert(1)</script>]]>"), "{joined}");
    assert!(
        joined.contains("expected: no echo of \"<script>\""),
        "{joined}"
    );
    assert!(joined.contains("reproduce: curl -sS 'http://127.0.0.1:18080/api/v1/flows?q=<x>&y=1'"));
    // The ESC control character is not allowed in XML 1.0: replaced.
    assert!(!xml.contains('\u{1b}'));
    // Waived and expired-waiver cases say so.
    assert!(joined.contains("waived until 2026-12-31 by alice@example.com"));
    assert!(joined.contains("[waiver expired on 2026-10-31]"));
    // Load thresholds are in the load suite's message and details.
    assert!(joined.contains("threshold error_rate < 0.05% not met: observed 0.2%"));
}

/// Two checks of 1000 ms and 118 ms: their sum as an f64 prints as 1.1179999999999999,
/// which the XSD's time pattern (at most three decimals) rejects unless rewritten.
fn awkward_times() -> RunReport {
    let mut r = common::passing_run();
    r.scenarios.truncate(2);
    r.scenarios[0].category = "health".into();
    r.scenarios[1].category = "health".into();
    r.scenarios[0].duration_ms = 1000;
    r.scenarios[1].duration_ms = 118;
    r
}

#[test]
fn the_run_time_is_wall_time_and_classnames_are_scenario_ids() {
    let mut r = common::seed_run();
    // Eight checks of 120 ms each ran concurrently within 0.5 s.
    r.duration_ms = 500;
    let xml = render(&r);
    let root = xml
        .lines()
        .find(|l| l.contains("<testsuites"))
        .unwrap_or_default();
    assert!(root.contains(r#"time="0.500""#), "{root}");
    assert!(
        xml.contains(r#"classname="seed/multi_tenant_isolation""#),
        "{xml}"
    );
}

#[test]
fn times_have_at_most_three_decimals() {
    let xml = render(&awkward_times());
    assert!(xml.contains(r#"time="1.118""#), "{xml}");
    assert!(!xml.contains("1.1179999"));
}

/// Validates against junit-10.xsd and reads with junitparser, when Python has them.
#[test]
fn a_real_junit_consumer_reads_it() {
    let have_python = Command::new("python3")
        .args(["-c", "import junitparser, xmlschema"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !have_python {
        eprintln!(
            "SKIPPED a_real_junit_consumer_reads_it: python3 with junitparser and xmlschema not found \
             (pip install junitparser xmlschema)"
        );
        return;
    }
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/junit_consumer.py");
    let xsd = root.join("tests/xsd/junit-10.xsd");
    for (name, r) in [
        ("seed", common::seed_run()),
        ("passing", common::passing_run()),
        ("complex", common::complex_run()),
        ("awkward_times", awkward_times()),
    ] {
        let path = dir.path().join(format!("{name}.xml"));
        if let Err(e) = std::fs::write(&path, render(&r)) {
            panic!("write {}: {e}", path.display());
        }
        let c = expected(&r);
        let out = Command::new("python3")
            .arg(&script)
            .arg(&path)
            .arg(&xsd)
            .args([c.tests, c.failures, c.errors, c.skipped].map(|n| n.to_string()))
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) => panic!("cannot run python3: {e}"),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{name}: {stdout}{stderr}");
        assert!(
            out.status.success(),
            "{name}: consumer rejected junit.xml: {stderr}"
        );
    }
}
