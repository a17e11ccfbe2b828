//! The structure checks of a scenario file: one kind per step, known templates,
//! well-formed assertions, captures, thresholds and load sections.

use super::*;

/// Context of the file being checked.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    pub(super) index: &'a PosIndex,
    pub(super) dir: &'a Path,
}

impl Ctx<'_> {
    pub(super) fn err(&self, path: &YamlPath, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.file, self.index, path, false, msg)
    }
    pub(super) fn err_key(&self, path: &YamlPath, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.file, self.index, path, true, msg)
    }
}

pub(super) fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub(super) fn is_var_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

pub(super) fn check_scenario(
    s: &mut SuiteScenario,
    dir: &Path,
    suite: &Suite,
    errors: &mut Vec<ParseError>,
) {
    let index = s.index.clone();
    let ctx = Ctx {
        file: &s.file,
        index: &index,
        dir,
    };
    let root = YamlPath::default();
    let sc = &mut s.scenario;
    if sc.name.trim().is_empty() {
        errors.push(ctx.err(&root.key("name"), "the scenario name is empty"));
    }
    if !is_snake_case(&sc.category) {
        errors.push(ctx.err(
            &root.key("category"),
            format!("category `{}` must be snake_case", sc.category),
        ));
    }
    for (k, _) in sc.variables.iter() {
        if !is_var_name(k) {
            errors.push(ctx.err_key(
                &root.key("variables").key(k),
                format!("invalid variable name `{k}`"),
            ));
        }
    }
    match &mut sc.load {
        Some(load) => {
            if !sc.steps.is_empty() {
                errors.push(ctx.err_key(
                    &root.key("load"),
                    "a scenario has either `steps` or `load`, not both",
                ));
            }
            let lp = root.key("load");
            if load.users == 0 {
                errors.push(ctx.err(&lp.key("users"), "`users` must be at least 1"));
            }
            if load.duration.is_none() && load.iterations.is_none() {
                errors.push(ctx.err_key(&lp, "a load phase needs `duration` or `iterations`"));
            }
            if let Some(t) = &load.think_time {
                if parse_think_time(t).is_none() {
                    errors.push(ctx.err(
                        &lp.key("think_time"),
                        format!("invalid think_time `{t}`: expected `100ms` or `100ms..500ms`"),
                    ));
                }
            }
            if load.transactions.is_empty() {
                errors.push(ctx.err(
                    &lp.key("transactions"),
                    "a load phase needs at least one transaction",
                ));
            }
            let mut request_names = BTreeSet::new();
            for (ti, tx) in load.transactions.iter_mut().enumerate() {
                let tp = lp.key("transactions").index(ti).key("steps");
                check_steps(&ctx, &mut tx.steps, &tp, suite, errors);
                for (si, step) in tx.steps.iter().enumerate() {
                    request_names.insert(step.name.clone());
                    if !matches!(
                        step.kinds().as_slice(),
                        [StepKind::Request] | [StepKind::Poll]
                    ) {
                        errors.push(ctx.err(
                            &tp.index(si),
                            "load transactions may only contain `request` and `poll` steps",
                        ));
                    }
                }
            }
            for (i, t) in load.thresholds.iter().enumerate() {
                let p = lp.key("thresholds").index(i);
                match parse_threshold(t, i) {
                    Ok(th) => {
                        if let Some(r) = &th.request {
                            if !request_names.contains(r) {
                                errors.push(ctx.err(
                                    &p,
                                    format!(
                                        "threshold `{t}` names request `{r}`, which no step has (steps: {})",
                                        request_names.iter().cloned().collect::<Vec<_>>().join(", ")
                                    ),
                                ));
                            }
                        }
                    }
                    Err(e) => errors.push(ctx.err(&p, e.to_string())),
                }
            }
        }
        None => {
            if sc.steps.is_empty() {
                errors
                    .push(ctx.err_key(&root.key("steps"), "a scenario needs `steps` (or `load`)"));
            }
        }
    }
    check_steps(&ctx, &mut sc.setup, &root.key("setup"), suite, errors);
    check_steps(&ctx, &mut sc.steps, &root.key("steps"), suite, errors);
    check_steps(&ctx, &mut sc.teardown, &root.key("teardown"), suite, errors);
}

pub(super) fn check_steps(
    ctx: &Ctx,
    steps: &mut [Step],
    path: &YamlPath,
    suite: &Suite,
    errors: &mut Vec<ParseError>,
) {
    for (i, step) in steps.iter_mut().enumerate() {
        check_step(ctx, step, &path.index(i), suite, errors);
    }
}

pub(super) fn check_step(
    ctx: &Ctx,
    step: &mut Step,
    path: &YamlPath,
    suite: &Suite,
    errors: &mut Vec<ParseError>,
) {
    let kinds = step.kinds();
    match kinds.as_slice() {
        [] => {
            errors.push(ctx.err(
                path,
                format!(
                    "step `{}` has no kind: expected exactly one of `request`, `poll`, `parallel`, `for_each`, `use`, `matrix`",
                    step.name
                ),
            ));
            return;
        }
        [_] => {}
        [first, second, ..] => {
            let key = match second {
                StepKind::Use => "use",
                k => k.as_str(),
            };
            errors.push(ctx.err_key(
                &path.key(key),
                format!(
                    "step `{}` has two kinds, `{}` and `{}`: a step has exactly one",
                    step.name,
                    first.as_str(),
                    second.as_str()
                ),
            ));
            return;
        }
    }
    let kind = kinds[0];
    if step.expect.is_some() && kind != StepKind::Request {
        errors.push(ctx.err_key(
            &path.key("expect"),
            format!(
                "`expect` belongs to a `request` step (this is a `{}` step; polls use `until`)",
                kind.as_str()
            ),
        ));
    }
    if step.capture.is_some() && !matches!(kind, StepKind::Request | StepKind::Poll) {
        errors.push(ctx.err_key(
            &path.key("capture"),
            format!(
                "`capture` belongs to a `request` or `poll` step, not `{}`",
                kind.as_str()
            ),
        ));
    }
    if step.with.is_some() && kind != StepKind::Use {
        errors.push(ctx.err_key(&path.key("with"), "`with` belongs to a `use` step"));
    }
    if let Some(c) = &step.capture {
        check_captures(ctx, c, &path.key("capture"), errors);
    }
    if let Some(r) = &step.request {
        check_request(ctx, r, &path.key("request"), errors);
    }
    if let Some(e) = step.expect.as_mut() {
        check_expect(ctx, e, &path.key("expect"), errors);
    }
    if let Some(p) = step.poll.as_mut() {
        let pp = path.key("poll");
        check_request(ctx, &p.request, &pp.key("request"), errors);
        check_expect(ctx, &mut p.until, &pp.key("until"), errors);
        if let Some(f) = p.fail_fast.as_mut() {
            check_expect(ctx, f, &pp.key("fail_fast"), errors);
        }
        if p.interval.is_some_and(|d| d.0.is_zero()) {
            errors.push(ctx.err(&pp.key("interval"), "`interval` must be more than 0"));
        }
        if let Some(t) = &p.track {
            if let Err(e) = parse_json_path(t) {
                errors.push(ctx.err(&pp.key("track"), e));
            }
        }
        if p.state_machine.is_some() && p.track.is_none() {
            errors.push(ctx.err_key(
                &pp.key("state_machine"),
                "`state_machine` needs `track` (the JSONPath of the state)",
            ));
        }
        for (i, m) in p.monotonic.iter().enumerate() {
            if let Err(e) = parse_json_path(m) {
                errors.push(ctx.err(&pp.key("monotonic").index(i), e));
            }
        }
        if let Some(o) = &p.order {
            if let Err(e) = parse_json_path(&o.path) {
                errors.push(ctx.err(&pp.key("order").key("path"), e));
            }
        }
    }
    if let Some(par) = step.parallel.as_mut() {
        let pp = path.key("parallel");
        if par.copies == 0 || par.copies > 10_000 {
            errors.push(ctx.err(&pp.key("copies"), "`copies` must be between 1 and 10000"));
        }
        check_steps(ctx, &mut par.steps, &pp.key("steps"), suite, errors);
        let captured: BTreeSet<String> = captures_of(&par.steps, suite).into_iter().collect();
        if let Some(e) = &par.expect {
            for (key, list) in [("distinct", &e.distinct), ("same", &e.same)] {
                for (i, name) in list.iter().enumerate() {
                    if !captured.contains(name) {
                        errors.push(ctx.err(
                            &pp.key("expect").key(key).index(i),
                            format!("`{name}` is not captured by the parallel steps"),
                        ));
                    }
                }
            }
            if let (Some(min), Some(max)) = (e.min_passed, e.max_passed) {
                if min > max {
                    errors.push(ctx.err_key(
                        &pp.key("expect").key("min_passed"),
                        "`min_passed` is greater than `max_passed`",
                    ));
                }
            }
        }
        for (name, cap) in &par.collect {
            if !captured.contains(cap) {
                errors.push(ctx.err(
                    &pp.key("collect").key(name),
                    format!("`{cap}` is not captured by the parallel steps"),
                ));
            }
            if !is_var_name(name) {
                errors.push(ctx.err_key(
                    &pp.key("collect").key(name),
                    format!("invalid variable name `{name}`"),
                ));
            }
        }
    }
    if let Some(fe) = step.for_each.as_mut() {
        let fp = path.key("for_each");
        match (&fe.items, &fe.items_file) {
            (Some(_), Some(_)) => errors.push(ctx.err_key(
                &fp.key("items_file"),
                "give `items` or `items_file`, not both",
            )),
            (None, None) => errors.push(ctx.err(&fp, "`for_each` needs `items` or `items_file`")),
            (None, Some(f)) => {
                let full = ctx.dir.join(f);
                match std::fs::read_to_string(&full) {
                    Ok(text) => match serde_yaml_ng::from_str::<Vec<Value>>(&text) {
                        Ok(items) => fe.items = Some(items),
                        Err(e) => errors.push(ctx.err(
                            &fp.key("items_file"),
                            format!(
                                "items_file `{}` is not a YAML/JSON list: {}",
                                full.display(),
                                ParseError::from_yaml(&full.display().to_string(), &e)
                            ),
                        )),
                    },
                    Err(e) => errors.push(ctx.err(
                        &fp.key("items_file"),
                        format!("cannot read items_file `{}`: {e}", full.display()),
                    )),
                }
            }
            (Some(_), None) => {}
        }
        if let Some(v) = &fe.var {
            if !is_var_name(v) {
                errors.push(ctx.err(&fp.key("var"), format!("invalid variable name `{v}`")));
            }
        }
        check_steps(ctx, &mut fe.steps, &fp.key("steps"), suite, errors);
    }
    if let Some(name) = &step.use_template {
        match suite.templates.get(name) {
            None => {
                let mut known = suite.template_names();
                known.truncate(20);
                errors.push(ctx.err(
                    &path.key("use"),
                    format!(
                        "unknown template `{name}`{}",
                        if known.is_empty() {
                            " (no library templates were found: libraries live in `lib/` under the suite root)".to_string()
                        } else {
                            format!(" (known: {})", known.join(", "))
                        }
                    ),
                ))
            }
            Some(t) => {
                let given: BTreeSet<&String> = step.with.iter().flat_map(|w| w.keys()).collect();
                for p in &t.template.params {
                    if !given.contains(p) {
                        errors.push(ctx.err(
                            &path.key("use"),
                            format!("template `{name}` needs parameter `{p}` (give it in `with`)"),
                        ));
                    }
                }
                for g in given {
                    if !t.template.params.contains(g) {
                        errors.push(ctx.err_key(
                            &path.key("with").key(g),
                            format!(
                                "template `{name}` has no parameter `{g}` (params: {})",
                                t.template.params.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }
    if let Some(m) = step.matrix.as_mut() {
        let mp = path.key("matrix");
        if m.owners.is_empty() {
            errors.push(ctx.err(&mp.key("owners"), "`owners` is empty"));
        }
        if m.intruders.is_empty() {
            errors.push(ctx.err(&mp.key("intruders"), "`intruders` is empty"));
        }
        if m.attempts.is_empty() {
            errors.push(ctx.err(&mp.key("attempts"), "`attempts` is empty"));
        }
        check_request(
            ctx,
            &m.create.request,
            &mp.key("create").key("request"),
            errors,
        );
        if let Some(e) = m.create.expect.as_mut() {
            check_expect(ctx, e, &mp.key("create").key("expect"), errors);
        }
        if let Some(c) = &m.create.capture {
            check_captures(ctx, c, &mp.key("create").key("capture"), errors);
        }
        for (i, mk) in m.markers.iter().enumerate() {
            if let Err(e) = parse_json_path(mk) {
                errors.push(ctx.err(&mp.key("markers").index(i), e));
            }
        }
        for (i, a) in m.attempts.iter().enumerate() {
            check_request(
                ctx,
                &a.request,
                &mp.key("attempts").index(i).key("request"),
                errors,
            );
        }
        check_expect(ctx, &mut m.denied, &mp.key("denied"), errors);
        for key in ["list", "verify"] {
            let r = if key == "list" {
                m.list.as_mut()
            } else {
                m.verify.as_mut()
            };
            if let Some(r) = r {
                check_request(ctx, &r.request, &mp.key(key).key("request"), errors);
                if let Some(e) = r.expect.as_mut() {
                    check_expect(ctx, e, &mp.key(key).key("expect"), errors);
                }
                if r.capture.is_some() {
                    errors.push(ctx.err_key(
                        &mp.key(key).key("capture"),
                        format!("`capture` is not allowed in matrix `{key}`"),
                    ));
                }
            }
        }
    }
}

pub(super) fn check_captures(
    ctx: &Ctx,
    c: &BTreeMap<String, CaptureSpec>,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    for (name, spec) in c {
        if !is_var_name(name) {
            errors.push(ctx.err_key(&path.key(name), format!("invalid variable name `{name}`")));
        }
        if BUILTINS.contains(&name.as_str()) {
            errors.push(ctx.err_key(
                &path.key(name),
                format!("`{name}` is a built-in variable and cannot be captured"),
            ));
        }
        if let CaptureSpec::Json(p) = spec {
            if let Err(e) = parse_json_path(p) {
                errors.push(ctx.err(&path.key(name), e));
            }
        }
    }
}

pub(super) fn check_request(
    ctx: &Ctx,
    r: &RequestSpec,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    let bodies = [r.json.is_some(), r.body.is_some(), r.body_size.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if bodies > 1 {
        errors.push(ctx.err(path, "give one of `json`, `body`, `body_size`, not several"));
    }
    if r.body_size.is_some_and(|n| n > 256 * 1024 * 1024) {
        errors.push(ctx.err(&path.key("body_size"), "`body_size` is limited to 256 MiB"));
    }
}

/// regex's syntax errors span several lines (with a caret); keep the last, the reason.
pub(super) fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or("").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

pub(super) fn check_assertion_value(
    ctx: &Ctx,
    v: &Value,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    match operators_of(v) {
        Ok(ops) => {
            if let Some(re) = &ops.matches {
                if !re.contains("{{") {
                    if let Err(e) = regex::Regex::new(re) {
                        errors.push(ctx.err(
                            &path.key("matches"),
                            format!("invalid regex `{re}`: {}", regex_error(&e)),
                        ));
                    }
                }
            }
            if let Value::Object(m) = v {
                if m.is_empty() {
                    errors.push(ctx.err(path, "an empty assertion object checks nothing"));
                }
            }
        }
        Err(e) => {
            // Point at the offending key when we can tell which.
            let mut at = path.clone();
            if let Value::Object(m) = v {
                for k in m.keys() {
                    if e.contains(&format!("`{k}`")) {
                        at = path.key(k);
                        break;
                    }
                }
            }
            errors.push(ctx.err_key(&at, e));
        }
    }
}

pub(super) fn check_expect(
    ctx: &Ctx,
    e: &mut Expect,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    if let Some(StatusSpec::Template(t)) = &e.status {
        if !t.contains("{{") {
            errors.push(ctx.err(
                &path.key("status"),
                format!(
                    "status `{t}` is not a number, a list of numbers, or a `{{{{ variable }}}}`"
                ),
            ));
        }
    }
    for (name, v) in &e.headers {
        check_assertion_value(ctx, v, &path.key("headers").key(name), errors);
    }
    for (jp, v) in &e.json {
        let p = path.key("json").key(jp);
        if let Err(msg) = parse_json_path(jp) {
            errors.push(ctx.err_key(&p, msg));
        }
        check_assertion_value(ctx, v, &p, errors);
    }
    if let Some(b) = &e.body {
        check_assertion_value(ctx, b, &path.key("body"), errors);
    }
    if let Some(schema) = e.schema.take() {
        let p = path.key("schema");
        let resolved = match schema {
            Value::String(file) => {
                let full = ctx.dir.join(&file);
                match std::fs::read_to_string(&full) {
                    Ok(text) => match serde_yaml_ng::from_str::<Value>(&text) {
                        Ok(v) => Some(v),
                        Err(err) => {
                            errors.push(ctx.err(
                                &p,
                                format!("schema file `{}` is not JSON/YAML: {err}", full.display()),
                            ));
                            None
                        }
                    },
                    Err(err) => {
                        errors.push(ctx.err(
                            &p,
                            format!("cannot read schema file `{}`: {err}", full.display()),
                        ));
                        None
                    }
                }
            }
            v @ Value::Object(_) => Some(v),
            _ => {
                errors.push(ctx.err(
                    &p,
                    "`schema` is a file path or an inline JSON Schema object",
                ));
                None
            }
        };
        if let Some(v) = &resolved {
            if let Err(err) = jsonschema::validator_for(v) {
                errors.push(ctx.err(&p, format!("invalid JSON Schema: {err}")));
            }
        }
        e.schema = resolved;
    }
}
