//! HTML: snapshots, strict well-formedness, escaping, self-containment.

mod common;

use flowgate_reports::render_html;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Parses the page as XML (end names checked): every element is closed and nested.
/// Returns the element names in document order.
fn parse_strict(html: &str) -> Vec<String> {
    let mut reader = Reader::from_str(html);
    reader.config_mut().check_end_names = true;
    let mut names = Vec::new();
    let mut depth: i64 = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(Event::Empty(e)) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => {
                if let Err(e) = t.decode() {
                    panic!("bad text: {e}");
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "HTML is not well-formed at byte {}: {e}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "unbalanced elements");
    names
}

#[test]
fn html_snapshots() {
    insta::assert_snapshot!("html_seed", render_html(&common::seed_run()));
    insta::assert_snapshot!("html_complex", render_html(&common::complex_run()));
}

#[test]
fn html_is_well_formed_and_self_contained() {
    for r in [
        common::seed_run(),
        common::passing_run(),
        common::complex_run(),
    ] {
        let html = render_html(&r);
        let names = parse_strict(&html);
        assert!(!names
            .iter()
            .any(|n| n == "script" || n == "link" || n == "img" || n == "iframe"));
        assert!(!html.contains("http-equiv"));
        // Nothing to fetch: no src/href attributes, no url(...) in CSS, no @import.
        assert!(!html.contains(" src="));
        assert!(!html.contains(" href="));
        assert!(!html.contains("url("));
        assert!(!html.contains("@import"));
    }
}

#[test]
fn html_escapes_hostile_text_and_draws_the_plot() {
    let html = render_html(&common::complex_run());
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;html&gt;&lt;script&gt;alert(1)&lt;/script&gt;]]&gt;"));
    assert!(
        html.contains("curl -sS &#39;http://127.0.0.1:18080/api/v1/flows?q=&lt;x&gt;&amp;y=1&#39;")
    );
    let names = parse_strict(&html);
    assert_eq!(names.iter().filter(|n| *n == "svg").count(), 1);
    assert_eq!(names.iter().filter(|n| *n == "polyline").count(), 2);
    assert!(html.contains(">latency (ms)</text>"));
    assert!(html.contains(">time (s)</text>"));
    assert!(html.contains(">requests/s</text>"));
    assert!(html.contains("Detection rate: 75.0%"));
    // Failed checks come first in the table of checks.
    let first_row = html.split("<tbody>").nth(1).unwrap_or_default();
    assert!(first_row
        .trim_start()
        .starts_with("<tr><td><span class=\"badge o-failed\">"));
}

/// Writes the complex report where a person (or headless Chromium) can look at it.
#[test]
fn write_sample_for_visual_check() {
    let dir = std::env::temp_dir().join("flowgate-report-sample");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("report.html"), render_html(&common::complex_run()));
        let _ = std::fs::write(dir.join("seed.html"), render_html(&common::seed_run()));
    }
}
