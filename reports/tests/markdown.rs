//! The Markdown sign-off report: snapshots, CommonMark structure, the seed's figures.

mod common;

use flowgate_reports::render_markdown;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// Rows (header included) of every table in the document, in order.
/// The report's tables after the header facts (the first table, with an empty header).
fn table_rows(md: &str) -> Vec<Vec<Vec<String>>> {
    let mut all = all_tables(md);
    assert_eq!(
        all[0][0],
        ["", ""],
        "the report opens with its header facts"
    );
    all.remove(0);
    all
}

fn all_tables(md: &str) -> Vec<Vec<Vec<String>>> {
    let mut tables = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut in_cell = false;
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS) {
        match ev {
            Event::Start(Tag::Table(_)) => rows.clear(),
            Event::End(TagEnd::Table) => tables.push(std::mem::take(&mut rows)),
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => row.clear(),
            Event::End(TagEnd::TableHead) | Event::End(TagEnd::TableRow) => {
                rows.push(std::mem::take(&mut row))
            }
            Event::Start(Tag::TableCell) => {
                cell.clear();
                in_cell = true;
            }
            Event::End(TagEnd::TableCell) => {
                row.push(cell.clone());
                in_cell = false;
            }
            Event::Text(t) | Event::Code(t) if in_cell => cell.push_str(&t),
            _ => {}
        }
    }
    tables
}

/// (checked, text) of every task-list item.
fn task_items(md: &str) -> Vec<(bool, String)> {
    let mut items = Vec::new();
    let mut current: Option<(bool, String)> = None;
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS) {
        match ev {
            Event::TaskListMarker(checked) => current = Some((checked, String::new())),
            Event::Text(t) => {
                if let Some((_, s)) = current.as_mut() {
                    s.push_str(&t);
                }
            }
            Event::End(TagEnd::Item) => {
                if let Some(item) = current.take() {
                    items.push(item);
                }
            }
            _ => {}
        }
    }
    items
}

fn headings(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Heading { .. }) => current = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = current.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = current.take() {
                    out.push(h);
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn seed_report_reproduces_the_seed_verdict() {
    let md = render_markdown(&common::seed_run());
    insta::assert_snapshot!("markdown_seed", md);
    assert!(md.starts_with("# Production Validation Report - Master Flow Orchestrator\n"));
    assert!(md.contains("**System Version**: Master Flow Orchestrator v2.1.0"));
    assert!(md.contains("### Overall Status: **NOT PRODUCTION READY** ⚠️"));
    assert!(md.contains("**Success Rate**: 62.5% (5/8 tests passed)"));
    let h = headings(&md);
    assert!(h.contains(&"✅ PASSED Tests (5/8)".to_string()), "{h:?}");
    assert!(h.contains(&"❌ FAILED Tests (3/8)".to_string()), "{h:?}");
    assert!(
        h.contains(&"1. Discovery Flow Execution (P0 - Blocker)".to_string()),
        "{h:?}"
    );
    assert!(
        h.contains(&"2. Multi-tenant Isolation (P0 - Blocker)".to_string()),
        "{h:?}"
    );
    assert!(md.contains("1. **Discovery Flow Execution** (CRITICAL)\n"));
    assert!(md.contains("**Error Handling** (MODERATE)"));
    // Performance table: header + one row per measurement (3 in the seed run).
    let tables = table_rows(&md);
    assert_eq!(tables.len(), 1, "{tables:?}");
    assert_eq!(tables[0].len(), 1 + 3);
    assert_eq!(tables[0][0], ["Metric", "Result", "Target", "Status"]);
    assert_eq!(tables[0][2][1], "30.4 ms");
    assert_eq!(tables[0][2][2], "< 1000ms");
    // Checklist: execution, tenancy and error handling unticked; health ticked.
    let tasks = task_items(&md);
    let find = |label: &str| {
        tasks
            .iter()
            .find(|(_, t)| t.starts_with(label))
            .map(|(c, _)| *c)
    };
    assert_eq!(find("Flow Execution Working"), Some(false));
    assert_eq!(find("Multi-tenant Security Verified"), Some(false));
    assert_eq!(find("Error Handling Correct"), Some(false));
    assert_eq!(find("Health Checks Passing"), Some(true));
    assert_eq!(find("Performance Targets Met"), Some(true));
    assert_eq!(find("Load Testing Complete"), Some(false));
    assert!(md.contains("Load Testing Complete — not tested"));
    assert!(md.ends_with("**Date**: 2026-11-29 14:00:00 UTC\n"));
    let facts = &all_tables(&md)[0];
    let fact = |label: &str| {
        facts
            .iter()
            .find(|r| r[0] == label)
            .map(|r| r[1].clone())
            .unwrap_or_default()
    };
    assert_eq!(fact("Started"), "2026-11-29 14:00:00 UTC");
    assert_eq!(
        fact("Counts"),
        "5 passed, 3 failed, 0 errors, 0 skipped, 0 waived (of 8)"
    );
    assert_eq!(fact("Filters"), "none (the whole suite)");
}

#[test]
fn passing_report_is_production_ready() {
    let md = render_markdown(&common::passing_run());
    insta::assert_snapshot!("markdown_passing", md);
    assert!(md.contains("### Overall Status: **PRODUCTION READY** ✅"));
    assert!(md.contains("**Success Rate**: 100.0% (7/7 tests passed)"));
    assert!(md.contains("None: no critical or high severity check failed."));
    let tables = table_rows(&md);
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].len(), 1 + 2);
    for (checked, text) in task_items(&md) {
        if !text.starts_with("Load Testing Complete") {
            assert!(checked, "{text} should be ticked");
        }
    }
}

#[test]
fn complex_report_lists_every_kind_of_outcome() {
    let md = render_markdown(&common::complex_run());
    insta::assert_snapshot!("markdown_complex", md);
    // 9 checks (8 scenarios, 1 load phase), 2 skipped: 2 passed of the 7 that ran.
    assert!(md.contains("**Success Rate**: 28.6% (2/7 tests passed)"));
    let h = headings(&md);
    for wanted in [
        "✅ PASSED Tests (2/7)",
        "❌ FAILED Tests (3/7)",
        "🔌 ERRORS - infrastructure, not counted as failures (1/7)",
        "🏳️ WAIVED Failures (1)",
        "⏭️ SKIPPED - not counted in the success rate (2)",
        "Suite Strength (defect injection)",
    ] {
        assert!(
            h.iter().any(|x| x == wanted),
            "missing heading {wanted}: {h:?}"
        );
    }
    assert!(md.contains("Waiver expired on 2026-10-31 (owner: bob@example.com"));
    assert!(md.contains("waived until 2026-12-31 by alice@example.com"));
    assert!(md.contains("**Detection rate**: 75.0% (3/4 defects caught)"));
    // Tables: performance (1 measurement + 3 thresholds, one with no samples) and the
    // self-check (4 defects).
    let tables = table_rows(&md);
    assert_eq!(tables.len(), 2, "{tables:?}");
    assert_eq!(tables[0].len(), 1 + 4);
    assert_eq!(tables[1].len(), 1 + 4);
    // The pipe in a scenario name did not split a cell, and the name reads back intact.
    assert!(md.contains("Pipes \\| and \\<tags\\> \\& \\`ticks\\` \\*stars\\*"));
    let tasks = task_items(&md);
    assert!(tasks
        .iter()
        .any(|(c, t)| !c && t.starts_with("Load Testing Complete")));
}

#[test]
fn rendering_is_deterministic_whatever_the_input_order() {
    let a = common::seed_run();
    let mut b = a.clone();
    b.scenarios.reverse();
    assert_eq!(render_markdown(&a), render_markdown(&b));
}
