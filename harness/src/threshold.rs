//! Load-phase thresholds: `"p95 < 250ms"`, `"create flow: p99 < 500ms"`,
//! `"error_rate < 0.1%"`, `"rps >= 20"`. Parsed at load time so that an unknown metric or
//! request name is a load error, never a silent pass.

/// The metric a threshold names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    P50,
    P90,
    P95,
    P99,
    Mean,
    Max,
    /// Failed requests / all requests, in %.
    ErrorRate,
    /// Requests per second.
    Rps,
    /// Polls that reached `until` / polls started, in %.
    FlowCompletionRate,
    /// Number of requests.
    Requests,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::Mean => "mean",
            Metric::Max => "max",
            Metric::ErrorRate => "error_rate",
            Metric::Rps => "rps",
            Metric::FlowCompletionRate => "flow_completion_rate",
            Metric::Requests => "requests",
        }
    }

    fn parse(s: &str) -> Option<Metric> {
        Some(match s {
            "p50" => Metric::P50,
            "p90" => Metric::P90,
            "p95" => Metric::P95,
            "p99" => Metric::P99,
            "mean" => Metric::Mean,
            "max" => Metric::Max,
            "error_rate" => Metric::ErrorRate,
            "rps" => Metric::Rps,
            "flow_completion_rate" => Metric::FlowCompletionRate,
            "requests" => Metric::Requests,
            _ => return None,
        })
    }

    /// True for latency metrics (value in ms).
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Metric::P50 | Metric::P90 | Metric::P95 | Metric::P99 | Metric::Mean | Metric::Max
        )
    }

    /// The unit the value is expressed in: `ms`, `%`, `req/s` or `count`.
    pub fn unit(self) -> &'static str {
        match self {
            m if m.is_latency() => "ms",
            Metric::ErrorRate | Metric::FlowCompletionRate => "%",
            Metric::Rps => "req/s",
            _ => "count",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub fn holds(self, observed: f64, bound: f64) -> bool {
        match self {
            Comparison::Lt => observed < bound,
            Comparison::Le => observed <= bound,
            Comparison::Gt => observed > bound,
            Comparison::Ge => observed >= bound,
        }
    }
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub expression: String,
    /// The request (step name) it applies to; `None` = all requests.
    pub request: Option<String>,
    pub metric: Metric,
    pub comparison: Comparison,
    /// The bound in the metric's unit (latency in ms, rates in %).
    pub value: f64,
}

impl Threshold {
    pub fn holds(&self, observed: f64) -> bool {
        self.comparison.holds(observed, self.value)
    }
}

/// Parses one threshold expression.
pub fn parse_threshold(expr: &str) -> Result<Threshold, String> {
    let (request, rest) = match expr.rsplit_once(':') {
        Some((r, rest)) => (Some(r.trim().to_string()), rest.trim()),
        None => (None, expr.trim()),
    };
    if request.as_deref() == Some("") {
        return Err(format!("threshold `{expr}`: empty request name before `:`"));
    }
    let ops = ["<=", ">=", "<", ">"];
    let (at, op) = ops
        .iter()
        .filter_map(|op| rest.find(op).map(|i| (i, *op)))
        .min_by_key(|(i, op)| (*i, std::cmp::Reverse(op.len())))
        .ok_or_else(|| {
            format!("threshold `{expr}`: expected `METRIC < VALUE` (operators: < <= > >=)")
        })?;
    let metric_name = rest[..at].trim();
    let value_text = rest[at + op.len()..].trim();
    let metric = Metric::parse(metric_name).ok_or_else(|| {
        format!(
            "threshold `{expr}`: unknown metric `{metric_name}` (known: p50, p90, p95, p99, mean, max, error_rate, rps, flow_completion_rate, requests)"
        )
    })?;
    let comparison = match op {
        "<=" => Comparison::Le,
        ">=" => Comparison::Ge,
        "<" => Comparison::Lt,
        _ => Comparison::Gt,
    };
    let split = value_text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value_text.len());
    let (number, unit) = value_text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("threshold `{expr}`: `{value_text}` is not a number"))?;
    let unit = unit.trim();
    let value = match (metric.unit(), unit) {
        ("ms", "ms") => number,
        ("ms", "s") => number * 1000.0,
        ("ms", _) => {
            return Err(format!(
                "threshold `{expr}`: a latency needs a unit, `ms` or `s` (got `{value_text}`)"
            ))
        }
        ("%", "%") => number,
        ("%", _) => {
            return Err(format!(
                "threshold `{expr}`: a rate needs `%` (got `{value_text}`)"
            ))
        }
        ("req/s", "" | "/s" | "req/s") => number,
        ("count", "") => number,
        (_, u) => return Err(format!("threshold `{expr}`: unexpected unit `{u}`")),
    };
    Ok(Threshold {
        expression: expr.to_string(),
        request,
        metric,
        comparison,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let t = parse_threshold("create flow: p99 < 500ms").unwrap();
        assert_eq!(t.request.as_deref(), Some("create flow"));
        assert_eq!(t.metric, Metric::P99);
        assert_eq!(t.value, 500.0);
        assert_eq!(parse_threshold("p95 <= 1s").unwrap().value, 1000.0);
        assert_eq!(parse_threshold("error_rate < 0.1%").unwrap().value, 0.1);
        assert_eq!(
            parse_threshold("rps >= 20").unwrap().comparison,
            Comparison::Ge
        );
        assert!(parse_threshold("p42 < 1ms").is_err());
        assert!(parse_threshold("p95 < 100").is_err());
    }
}
