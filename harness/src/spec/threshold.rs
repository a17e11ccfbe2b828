//! Thresholds: the pass/fail rules of a load phase. This is the one parser: the suite
//! checks a scenario's thresholds with it (exit 2 before anything is sent) and the load
//! crate evaluates what it returns.
//!
//! Syntax: `[REQUEST:] METRIC OP VALUE[UNIT]`, for example `p95 < 250ms`,
//! `create flow: p99 < 500ms`, `error_rate < 0.1%`, `rps >= 20`,
//! `flow_completion_rate >= 100%`, `requests >= 100`.
//!
//! A rule that names an unknown metric, a unit that does not fit the metric, or a request
//! no step makes is an error before anything is sent (exit 2): a threshold never passes
//! silently because it measured nothing.

use std::fmt;

/// A latency statistic of the response times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    P50,
    P90,
    P95,
    P99,
    Mean,
    Max,
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Response time, in milliseconds.
    Latency(Latency),
    /// Failed requests as a percentage of all requests.
    ErrorRate,
    /// Requests per second over the phase.
    Rps,
    /// Polls that reached `until`, as a percentage of polls started.
    FlowCompletionRate,
    /// Number of requests.
    Requests,
    /// Change of the target's resident memory (`process_resident_memory_bytes`) from the
    /// first sample of the phase to the last, as a percentage of the first.
    MemoryDrift,
}

impl Metric {
    /// The unit observed values are reported in.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Latency(_) => "ms",
            Metric::ErrorRate | Metric::FlowCompletionRate | Metric::MemoryDrift => "%",
            Metric::Rps => "req/s",
            Metric::Requests => "count",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Metric::Latency(Latency::P50) => "p50",
            Metric::Latency(Latency::P90) => "p90",
            Metric::Latency(Latency::P95) => "p95",
            Metric::Latency(Latency::P99) => "p99",
            Metric::Latency(Latency::Mean) => "mean",
            Metric::Latency(Latency::Max) => "max",
            Metric::ErrorRate => "error_rate",
            Metric::Rps => "rps",
            Metric::FlowCompletionRate => "flow_completion_rate",
            Metric::Requests => "requests",
            Metric::MemoryDrift => "memory_drift",
        }
    }

    fn from_name(name: &str) -> Option<Metric> {
        Some(match name {
            "p50" | "median" => Metric::Latency(Latency::P50),
            "p90" => Metric::Latency(Latency::P90),
            "p95" => Metric::Latency(Latency::P95),
            "p99" => Metric::Latency(Latency::P99),
            "mean" | "avg" => Metric::Latency(Latency::Mean),
            "max" => Metric::Latency(Latency::Max),
            "error_rate" => Metric::ErrorRate,
            "rps" => Metric::Rps,
            "flow_completion_rate" => Metric::FlowCompletionRate,
            "requests" => Metric::Requests,
            "memory_drift" => Metric::MemoryDrift,
            _ => return None,
        })
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        })
    }
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written (trimmed).
    pub expression: String,
    /// The request (step name) it judges; `None` judges all requests together.
    pub request: Option<String>,
    pub metric: Metric,
    pub op: Op,
    /// The limit in the metric's unit (ms, %, req/s, count).
    pub limit: f64,
}

/// Why a threshold was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("threshold `{expression}`: {message}")]
pub struct ThresholdError {
    /// The threshold as written.
    pub expression: String,
    /// Index of the threshold in the scenario's `thresholds` list.
    pub index: usize,
    pub message: String,
}

const KNOWN_METRICS: &str =
    "p50, p90, p95, p99, mean, max, error_rate, rps, flow_completion_rate, requests, memory_drift";

/// Parses one threshold. `index` is its position in the list, carried into the error.
pub fn parse_threshold(expression: &str, index: usize) -> Result<Threshold, ThresholdError> {
    let text = expression.trim();
    let err = |message: String| ThresholdError {
        expression: text.to_string(),
        index,
        message,
    };
    if text.is_empty() {
        return Err(err("empty threshold".into()));
    }
    // `REQUEST: rule` — the rule never contains a colon, so the last one splits.
    let (request, rule) = match text.rfind(':') {
        Some(at) => {
            let name = text[..at].trim();
            if name.is_empty() {
                return Err(err("a request name is missing before `:`".into()));
            }
            (Some(name.to_string()), text[at + 1..].trim())
        }
        None => (None, text),
    };
    let op_at = rule
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| err("expected `METRIC OP VALUE`, e.g. `p95 < 250ms`".into()))?;
    let metric_name = rule[..op_at].trim();
    let rest = &rule[op_at..];
    let (op, value_text) = if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Op::Lt, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else {
        return Err(err(format!(
            "unknown operator in `{rule}`: use <, <=, > or >="
        )));
    };
    if metric_name.is_empty() {
        return Err(err(format!("a metric is missing; known: {KNOWN_METRICS}")));
    }
    let metric = Metric::from_name(&metric_name.to_ascii_lowercase()).ok_or_else(|| {
        err(format!(
            "unknown metric `{metric_name}`; known: {KNOWN_METRICS}"
        ))
    })?;
    let value_text = value_text.trim();
    let limit = parse_limit(metric, value_text).map_err(err)?;
    Ok(Threshold {
        expression: text.to_string(),
        request,
        metric,
        op,
        limit,
    })
}

/// Splits `250ms` into (250, "ms"); the number may have a sign, decimals and spaces
/// before the unit.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '-' || *c == '+'))
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let number: f64 = text[..end].parse().ok()?;
    if !number.is_finite() {
        return None;
    }
    Some((number, text[end..].trim()))
}

fn parse_limit(metric: Metric, text: &str) -> Result<f64, String> {
    if text.is_empty() {
        return Err("a value is missing after the operator".into());
    }
    let (number, unit) =
        split_number(text).ok_or_else(|| format!("`{text}` is not a number followed by a unit"))?;
    if number < 0.0 {
        return Err(format!("`{text}`: the value must not be negative"));
    }
    let unit_lc = unit.to_ascii_lowercase();
    match metric {
        Metric::Latency(_) => match unit_lc.as_str() {
            "ms" => Ok(number),
            "s" => Ok(number * 1000.0),
            "us" | "µs" => Ok(number / 1000.0),
            "" => Err(format!(
                "`{text}` needs a unit: ms or s (e.g. `{number}ms`)"
            )),
            other => Err(format!(
                "unit `{other}` does not fit {}: use ms or s",
                metric.name()
            )),
        },
        Metric::ErrorRate | Metric::FlowCompletionRate | Metric::MemoryDrift => {
            match unit_lc.as_str() {
                "%" => Ok(number),
                "" => Err(format!(
                    "write {} as a percentage, e.g. `{number}%`",
                    metric.name()
                )),
                other => Err(format!(
                    "unit `{other}` does not fit {}: use %",
                    metric.name()
                )),
            }
        }
        Metric::Rps => match unit_lc.as_str() {
            "" | "/s" | "rps" | "req/s" => Ok(number),
            other => Err(format!(
                "unit `{other}` does not fit rps: use a bare number"
            )),
        },
        Metric::Requests => match unit_lc.as_str() {
            "" => {
                if number.fract() != 0.0 {
                    Err(format!("`{text}`: requests is a whole number"))
                } else {
                    Ok(number)
                }
            }
            other => Err(format!(
                "unit `{other}` does not fit requests: use a bare number"
            )),
        },
    }
}

/// Parses every threshold and checks that each named request is one of `request_names`
/// (the step names of the load phase; poll step names also name flow completion).
/// The loader calls this before anything is sent; the first error wins.
pub fn validate_thresholds<S: AsRef<str>>(
    expressions: &[S],
    request_names: &[&str],
) -> Result<Vec<Threshold>, ThresholdError> {
    let mut out = Vec::with_capacity(expressions.len());
    for (index, expression) in expressions.iter().enumerate() {
        let threshold = parse_threshold(expression.as_ref(), index)?;
        if let (Some(name), Metric::MemoryDrift) = (&threshold.request, threshold.metric) {
            return Err(ThresholdError {
                expression: threshold.expression.clone(),
                index,
                message: format!("memory_drift is the target's, not a request's: drop `{name}:`"),
            });
        }
        if let Some(name) = &threshold.request {
            if !request_names.iter().any(|n| n == name) {
                let known = if request_names.is_empty() {
                    "none".to_string()
                } else {
                    request_names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(ThresholdError {
                    expression: threshold.expression.clone(),
                    index,
                    message: format!("no step is named `{name}`; step names: {known}"),
                });
            }
        }
        out.push(threshold);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Threshold {
        parse_threshold(s, 0).unwrap()
    }

    fn err(s: &str) -> String {
        parse_threshold(s, 3).unwrap_err().to_string()
    }

    #[test]
    fn every_latency_metric_and_unit() {
        for (name, l) in [
            ("p50", Latency::P50),
            ("p90", Latency::P90),
            ("p95", Latency::P95),
            ("p99", Latency::P99),
            ("mean", Latency::Mean),
            ("max", Latency::Max),
        ] {
            let x = t(&format!("{name} < 250ms"));
            assert_eq!(
                (x.metric, x.op, x.limit),
                (Metric::Latency(l), Op::Lt, 250.0)
            );
        }
        assert_eq!(t("p95 < 1.5s").limit, 1500.0);
        assert_eq!(t("p95 < 500us").limit, 0.5);
        assert_eq!(t("p95<250ms").limit, 250.0);
        assert_eq!(t("  P95   <=   2 s ").limit, 2000.0);
    }

    #[test]
    fn every_operator() {
        assert_eq!(t("rps < 1").op, Op::Lt);
        assert_eq!(t("rps <= 1").op, Op::Le);
        assert_eq!(t("rps > 1").op, Op::Gt);
        assert_eq!(t("rps >= 1").op, Op::Ge);
        assert!(err("rps == 1").contains("unknown operator"));
        assert!(err("rps != 1").contains("unknown operator"));
        assert!(err("rps => 1").contains("unknown operator"));
    }

    #[test]
    fn rates_counts_and_throughput() {
        let e = t("error_rate < 0.1%");
        assert_eq!((e.metric, e.limit), (Metric::ErrorRate, 0.1));
        let f = t("flow_completion_rate >= 100%");
        assert_eq!(
            (f.metric, f.op, f.limit),
            (Metric::FlowCompletionRate, Op::Ge, 100.0)
        );
        assert_eq!(t("rps >= 20").limit, 20.0);
        assert_eq!(t("rps >= 20/s").limit, 20.0);
        assert_eq!(t("rps >= 20 req/s").limit, 20.0);
        let r = t("requests >= 100");
        assert_eq!((r.metric, r.limit), (Metric::Requests, 100.0));
    }

    #[test]
    fn request_names() {
        let x = t("create flow: p99 < 500ms");
        assert_eq!(x.request.as_deref(), Some("create flow"));
        assert_eq!(x.expression, "create flow: p99 < 500ms");
        assert_eq!(
            t("GET /api/v1/flows/{id}: p95 < 1s").request.as_deref(),
            Some("GET /api/v1/flows/{id}")
        );
        assert!(err(": p95 < 1s").contains("request name is missing"));
    }

    #[test]
    fn wrong_units_and_values_are_refused() {
        assert!(err("p95 < 250").contains("needs a unit"));
        assert!(err("p95 < 250%").contains("does not fit p95"));
        assert!(err("error_rate < 0.1").contains("percentage"));
        assert!(err("error_rate < 1ms").contains("does not fit error_rate"));
        assert!(err("flow_completion_rate >= 1").contains("percentage"));
        assert!(err("requests >= 1.5").contains("whole number"));
        assert!(err("requests >= 10ms").contains("does not fit requests"));
        assert!(err("rps >= 2ms").contains("does not fit rps"));
        assert!(err("p95 < -1ms").contains("negative"));
        assert!(err("p95 < fast").contains("not a number"));
        assert!(err("p95 <").contains("value is missing"));
        assert!(err("").contains("empty"));
        assert!(err("p95 250ms").contains("METRIC OP VALUE"));
        assert!(err("< 250ms").contains("metric is missing"));
    }

    #[test]
    fn unknown_metric_names_the_threshold_and_its_position() {
        let e = parse_threshold("latency < 5ms", 4).unwrap_err();
        assert_eq!(e.index, 4);
        assert_eq!(e.expression, "latency < 5ms");
        assert!(e.to_string().contains("unknown metric `latency`"), "{e}");
    }

    #[test]
    fn unknown_request_is_refused_by_validation() {
        let e = validate_thresholds(&["p95 < 1s", "nope: p95 < 1s"], &["create flow"]).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.message.contains("no step is named `nope`"), "{e}");
        assert!(e.message.contains("`create flow`"));
        assert_eq!(
            validate_thresholds(&["create flow: p95 < 1s"], &["create flow"])
                .unwrap()
                .len(),
            1
        );
    }

    proptest! {
        #[test]
        fn the_parser_never_panics(s in "\\PC{0,40}") {
            let _ = parse_threshold(&s, 0);
        }

        #[test]
        fn the_parser_never_panics_on_near_misses(
            req in proptest::option::of("[a-z :/{}]{0,12}"),
            metric in "(p50|p9[059]|mean|max|error_rate|rps|flow_completion_rate|requests|x)",
            op in "(<|<=|>|>=|=|!)",
            num in "-?[0-9]{0,4}(\\.[0-9]{0,3})?",
            unit in "(ms|s|us|%|/s|req/s|h|)",
        ) {
            let text = match req {
                Some(r) => format!("{r}: {metric} {op} {num}{unit}"),
                None => format!("{metric} {op} {num}{unit}"),
            };
            if let Ok(t) = parse_threshold(&text, 0) {
                prop_assert!(t.limit.is_finite() && t.limit >= 0.0);
            }
        }
    }

    #[test]
    fn memory_drift_is_a_percentage_of_the_target_not_of_a_request() {
        let m = t("memory_drift < 10%");
        assert_eq!(
            (m.metric, m.limit, m.metric.unit()),
            (Metric::MemoryDrift, 10.0, "%")
        );
        let named = validate_thresholds(&["create flow: memory_drift < 10%"], &["create flow"])
            .unwrap_err()
            .to_string();
        assert!(named.contains("memory_drift is the target's"), "{named}");
    }
}
