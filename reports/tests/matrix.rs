//! `flowgate report matrix`: runs side by side, a check a run did not select shown as
//! "—", each run's verdict and per-level pass rates on top.

mod common;

use flowgate_reports::*;

#[test]
fn matrix_of_two_targets() {
    let seed = common::seed_run();
    let passing = common::passing_run();
    let mut columns = vec![MatrixColumn::of(&passing), MatrixColumn::of(&seed)];
    columns[1].label = "original system".into();
    let md = render_matrix_markdown(&columns);
    insta::assert_snapshot!(md);
    // Every check of either run has a row; a check only one run made is "—" in the other.
    let ids: std::collections::BTreeSet<&str> = seed
        .checks()
        .chain(passing.checks())
        .map(|(id, _, _, _)| id)
        .collect();
    let rows = md
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("(`"))
        .count();
    assert_eq!(rows, ids.len());
    assert!(md.contains("| — |") || md.contains("| — "), "{md}");

    let html = render_matrix_html(&columns);
    assert!(html.contains("<th>original system</th>"));
    assert_eq!(html.matches("<tr><td>").count(), ids.len());
}
