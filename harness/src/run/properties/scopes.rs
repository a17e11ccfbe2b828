//! Which scopes (tenants) a request acts in, from its identity and the headers it sent.

use super::*;

/// The scope an identity belongs to by the profile (`identity:NAME` when not listed).
pub(super) fn declared_scope(spec: Option<&PropertiesSpec>, identity: &str) -> String {
    spec.and_then(|p| p.scopes.get(identity))
        .cloned()
        .unwrap_or_else(|| format!("identity:{identity}"))
}

/// The scopes a request acts in. Sent with its identity's headers: the identity's scope.
/// With headers changed (`overridden`) and `credentials` declared: the identity whose
/// headers it sends exactly, else every scope whose identities send the same credential,
/// else none (no or an unknown credential owns nothing).
pub(crate) fn scopes_of(
    profile: &Profile,
    identity: &str,
    overridden: bool,
    sent: &[(String, String)],
) -> Vec<String> {
    let spec = profile.spec.properties.as_ref();
    let credentials = spec.map(|p| p.credentials.as_slice()).unwrap_or_default();
    if !overridden || credentials.is_empty() {
        return vec![declared_scope(spec, identity)];
    }
    let sent_value = |name: &str| {
        sent.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let identities = &profile.spec.identities;
    // Header names that make an identity (anything else, like Content-Type, does not).
    let mut names: Vec<String> = identities
        .values()
        .flat_map(|i| i.headers.keys().map(|k| k.to_ascii_lowercase()))
        .collect();
    names.sort();
    names.dedup();
    fn declared_value<'i>(i: &'i crate::spec::model::Identity, name: &str) -> Option<&'i str> {
        i.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    if let Some((name, _)) = identities
        .iter()
        .find(|(_, i)| names.iter().all(|n| declared_value(i, n) == sent_value(n)))
    {
        return vec![declared_scope(spec, name)];
    }
    let credential: Vec<Option<&str>> = credentials.iter().map(|c| sent_value(c)).collect();
    if credential.iter().all(Option::is_none) {
        return Vec::new();
    }
    let mut out: Vec<String> = identities
        .iter()
        .filter(|(_, i)| {
            credentials
                .iter()
                .zip(&credential)
                .all(|(c, v)| declared_value(i, c) == *v)
        })
        .map(|(name, _)| declared_scope(spec, name))
        .collect();
    out.sort();
    out.dedup();
    out
}
