//! Captures: values taken from a response into the scenario's variables.

use super::*;

/// Captures values from a response into variables. Returns the first capture that found
/// nothing.
pub fn apply_captures(
    captures: &BTreeMap<String, CaptureSpec>,
    resp: &ResponseData,
    vars: &mut Vars,
) -> Result<(), Mismatch> {
    let doc = resp.json();
    for (name, spec) in captures {
        let value = match spec {
            CaptureSpec::Status(_) => Some(Value::from(resp.status)),
            CaptureSpec::Header(h) => resp.header(&h.header).map(Value::String),
            CaptureSpec::Json(path) => match &doc {
                Some(d) => query_json(path, d).map_err(|e| Mismatch {
                    message: e,
                    expected: path.clone(),
                    actual: "not evaluated".into(),
                })?,
                None => None,
            },
        };
        match value {
            Some(v) => vars.set(name.clone(), v),
            None => {
                let what = match spec {
                    CaptureSpec::Json(p) => format!("`{p}` in the response body"),
                    CaptureSpec::Header(h) => format!("header `{}`", h.header),
                    CaptureSpec::Status(_) => "the status".into(),
                };
                return Err(Mismatch {
                    message: format!("capture `{name}`: {what} was not found"),
                    expected: format!("{what} present"),
                    actual: "absent".into(),
                });
            }
        }
    }
    Ok(())
}
