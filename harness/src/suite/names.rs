//! Names against a profile: every variable, identity, template and state machine a
//! scenario uses is defined where it is used (with a suggestion when it is not).

use super::*;

/// The variable names a list of steps captures (visible to the steps after them).
pub(crate) fn captures_of(steps: &[Step], suite: &Suite) -> Vec<String> {
    let mut out = Vec::new();
    captures_into(steps, suite, &mut out, 0);
    out
}

pub(super) fn captures_into(steps: &[Step], suite: &Suite, out: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    for s in steps {
        if let Some(c) = &s.capture {
            out.extend(c.keys().cloned());
        }
        if let Some(p) = &s.parallel {
            out.extend(p.collect.keys().cloned());
        }
        if let Some(name) = &s.use_template {
            if let Some(t) = suite.template(name) {
                captures_into(&t.steps, suite, out, depth + 1);
            }
        }
    }
}

// ---- names against a profile ----

pub(super) struct NameCtx<'a> {
    pub(super) profile: &'a Profile,
    pub(super) suite: &'a Suite,
}

pub(super) type Scope = BTreeSet<String>;

pub(super) fn suggest(name: &str, scope: &Scope) -> String {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                cur[j + 1] = (prev[j + 1] + 1)
                    .min(cur[j] + 1)
                    .min(prev[j] + usize::from(ca != *cb));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    scope
        .iter()
        .map(|s| (distance(name, s), s))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, s)| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

pub(super) fn check_placeholder_list(
    ctx: &Ctx,
    found: Vec<Result<Placeholder, String>>,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    for p in found {
        match p {
            Ok(p) => {
                if !scope.contains(p.root()) {
                    errors.push(ctx.err(
                        path,
                        format!(
                            "undefined variable `{}`{}",
                            p.root(),
                            suggest(p.root(), scope)
                        ),
                    ));
                }
            }
            Err(e) => errors.push(ctx.err(path, e)),
        }
    }
}

pub(super) fn check_str(
    ctx: &Ctx,
    s: &str,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    let found = match placeholders(s) {
        Ok(ps) => ps.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e)],
    };
    check_placeholder_list(ctx, found, scope, path, errors);
}

pub(super) fn check_value(
    ctx: &Ctx,
    v: &Value,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    match v {
        Value::Object(m) => {
            for (k, item) in m {
                check_str(ctx, k, scope, &path.key(k), errors);
                check_value(ctx, item, scope, &path.key(k), errors);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_value(ctx, item, scope, &path.index(i), errors);
            }
        }
        other => {
            let mut found = Vec::new();
            value_placeholders(other, &mut found);
            check_placeholder_list(ctx, found, scope, path, errors);
        }
    }
}

pub(super) fn check_identity(
    ctx: &Ctx,
    nc: &NameCtx,
    name: &str,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    if !nc.profile.spec.identities.contains_key(name) {
        let known: Scope = nc.profile.spec.identities.keys().cloned().collect();
        errors.push(ctx.err(
            path,
            format!(
                "unknown identity `{name}`{} (profile `{}` defines: {})",
                suggest(name, &known),
                nc.profile.spec.name,
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
}

pub(super) fn check_names(
    s: &SuiteScenario,
    profile: &Profile,
    suite: &Suite,
    errors: &mut Vec<ParseError>,
) {
    let dir = Path::new(&s.file)
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let ctx = Ctx {
        file: &s.file,
        index: &s.index,
        dir: &dir,
    };
    let nc = NameCtx { profile, suite };
    let root = YamlPath::default();
    let mut scope: Scope = BUILTINS.iter().map(|s| s.to_string()).collect();
    scope.extend(profile.spec.variables.keys().cloned());
    for (k, v) in &s.scenario.variables {
        check_value(&ctx, v, &scope, &root.key("variables").key(k), errors);
        scope.insert(k.clone());
    }
    if let Some(load) = &s.scenario.load {
        for (i, ident) in load.identities.iter().enumerate() {
            check_identity(
                &ctx,
                &nc,
                ident,
                &root.key("load").key("identities").index(i),
                errors,
            );
        }
        for (ti, tx) in load.transactions.iter().enumerate() {
            let mut tx_scope = scope.clone();
            names_in_steps(
                &ctx,
                &nc,
                &tx.steps,
                &mut tx_scope,
                &root.key("load").key("transactions").index(ti).key("steps"),
                errors,
                0,
            );
        }
    }
    names_in_steps(
        &ctx,
        &nc,
        &s.scenario.setup,
        &mut scope,
        &root.key("setup"),
        errors,
        0,
    );
    names_in_steps(
        &ctx,
        &nc,
        &s.scenario.steps,
        &mut scope,
        &root.key("steps"),
        errors,
        0,
    );
    names_in_steps(
        &ctx,
        &nc,
        &s.scenario.teardown,
        &mut scope,
        &root.key("teardown"),
        errors,
        0,
    );
}

pub(super) fn names_in_request(
    ctx: &Ctx,
    r: &RequestSpec,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    check_str(ctx, &r.path, scope, &path.key("path"), errors);
    for (k, v) in &r.query {
        check_str(ctx, k, scope, &path.key("query").key(k), errors);
        check_value(ctx, v, scope, &path.key("query").key(k), errors);
    }
    for (k, v) in &r.headers {
        if let Some(v) = v {
            check_str(ctx, v, scope, &path.key("headers").key(k), errors);
        }
    }
    if let Some(j) = &r.json {
        check_value(ctx, j, scope, &path.key("json"), errors);
    }
    if let Some(b) = &r.body {
        check_str(ctx, b, scope, &path.key("body"), errors);
    }
    if let Some(c) = &r.content_type {
        check_str(ctx, c, scope, &path.key("content_type"), errors);
    }
}

pub(super) fn names_in_expect(
    ctx: &Ctx,
    e: &Expect,
    scope: &Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
) {
    if let Some(StatusSpec::Template(t)) = &e.status {
        check_str(ctx, t, scope, &path.key("status"), errors);
    }
    for (k, v) in &e.headers {
        check_value(ctx, v, scope, &path.key("headers").key(k), errors);
    }
    for (k, v) in &e.json {
        check_str(ctx, k, scope, &path.key("json").key(k), errors);
        check_value(ctx, v, scope, &path.key("json").key(k), errors);
    }
    if let Some(b) = &e.body {
        check_value(ctx, b, scope, &path.key("body"), errors);
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn names_in_steps(
    ctx: &Ctx,
    nc: &NameCtx,
    steps: &[Step],
    scope: &mut Scope,
    path: &YamlPath,
    errors: &mut Vec<ParseError>,
    depth: usize,
) {
    if depth > 16 {
        errors.push(ctx.err(
            path,
            "templates nest more than 16 levels deep (a template uses itself?)",
        ));
        return;
    }
    for (i, step) in steps.iter().enumerate() {
        let sp = path.index(i);
        if let Some(id) = &step.identity {
            check_identity(ctx, nc, id, &sp.key("as"), errors);
        }
        if let Some(r) = &step.request {
            names_in_request(ctx, r, scope, &sp.key("request"), errors);
        }
        if let Some(e) = &step.expect {
            names_in_expect(ctx, e, scope, &sp.key("expect"), errors);
        }
        if let Some(p) = &step.poll {
            let pp = sp.key("poll");
            names_in_request(ctx, &p.request, scope, &pp.key("request"), errors);
            names_in_expect(ctx, &p.until, scope, &pp.key("until"), errors);
            if let Some(f) = &p.fail_fast {
                names_in_expect(ctx, f, scope, &pp.key("fail_fast"), errors);
            }
            if let Some(sm) = &p.state_machine {
                if !nc.profile.spec.state_machines.contains_key(sm) {
                    errors.push(ctx.err(
                        &pp.key("state_machine"),
                        format!(
                                "unknown state machine `{sm}` (profile `{}` defines: {})",
                                nc.profile.spec.name,
                                nc.profile
                                    .spec
                                    .state_machines
                                    .keys()
                                    .cloned()
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                    ));
                }
            }
        }
        if let Some(par) = &step.parallel {
            let mut inner = scope.clone();
            inner.insert("copy".into());
            names_in_steps(
                ctx,
                nc,
                &par.steps,
                &mut inner,
                &sp.key("parallel").key("steps"),
                errors,
                depth,
            );
        }
        if let Some(fe) = &step.for_each {
            let fp = sp.key("for_each");
            if let Some(items) = &fe.items {
                if fe.items_file.is_none() {
                    check_value(
                        ctx,
                        &Value::Array(items.clone()),
                        scope,
                        &fp.key("items"),
                        errors,
                    );
                }
            }
            let mut inner = scope.clone();
            inner.insert(fe.var.clone().unwrap_or_else(|| "item".into()));
            inner.insert("index".into());
            names_in_steps(
                ctx,
                nc,
                &fe.steps,
                &mut inner,
                &fp.key("steps"),
                errors,
                depth,
            );
        }
        if let Some(name) = &step.use_template {
            if let Some(w) = &step.with {
                for (k, v) in w {
                    check_value(ctx, v, scope, &sp.key("with").key(k), errors);
                }
            }
            if let Some(t) = nc.suite.templates.get(name) {
                let tdir = Path::new(&t.file)
                    .parent()
                    .unwrap_or(Path::new("."))
                    .to_path_buf();
                let tctx = Ctx {
                    file: &t.file,
                    index: &t.index,
                    dir: &tdir,
                };
                let mut inner = scope.clone();
                inner.extend(t.template.params.iter().cloned());
                names_in_steps(
                    &tctx,
                    nc,
                    &t.template.steps,
                    &mut inner,
                    &t.path.key("steps"),
                    errors,
                    depth + 1,
                );
                scope.extend(captures_of(&t.template.steps, nc.suite));
            }
        }
        if let Some(m) = &step.matrix {
            let mp = sp.key("matrix");
            for (i, o) in m.owners.iter().enumerate() {
                check_identity(ctx, nc, o, &mp.key("owners").index(i), errors);
            }
            for (i, o) in m.intruders.iter().enumerate() {
                check_identity(ctx, nc, o, &mp.key("intruders").index(i), errors);
            }
            let mut inner = scope.clone();
            inner.insert("owner".into());
            inner.insert("intruder".into());
            names_in_request(
                ctx,
                &m.create.request,
                &inner,
                &mp.key("create").key("request"),
                errors,
            );
            if let Some(e) = &m.create.expect {
                names_in_expect(ctx, e, &inner, &mp.key("create").key("expect"), errors);
            }
            if let Some(c) = &m.create.capture {
                inner.extend(c.keys().cloned());
            }
            for (i, a) in m.attempts.iter().enumerate() {
                names_in_request(
                    ctx,
                    &a.request,
                    &inner,
                    &mp.key("attempts").index(i).key("request"),
                    errors,
                );
            }
            names_in_expect(ctx, &m.denied, &inner, &mp.key("denied"), errors);
            for (key, r) in [("list", &m.list), ("verify", &m.verify)] {
                if let Some(r) = r {
                    names_in_request(ctx, &r.request, &inner, &mp.key(key).key("request"), errors);
                    if let Some(e) = &r.expect {
                        names_in_expect(ctx, e, &inner, &mp.key(key).key("expect"), errors);
                    }
                }
            }
        }
        // Captures become visible to the following steps.
        if let Some(c) = &step.capture {
            scope.extend(c.keys().cloned());
        }
        if let Some(par) = &step.parallel {
            scope.extend(par.collect.keys().cloned());
        }
    }
}
