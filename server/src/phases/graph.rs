//! The dependency graph of a set of assets: edges `a → b` mean "a depends on b".
//! Cycles are found as strongly connected components (Tarjan); layers put every asset
//! after everything it depends on, members of a cycle together.

use super::records::Asset;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) struct DependencyGraph {
    /// Asset names in input order.
    pub names: Vec<String>,
    /// `deps[i]`: indexes of the assets `names[i]` depends on (known ones only).
    pub deps: Vec<Vec<usize>>,
    /// (asset, reference) pairs naming nothing in the set.
    pub unknown: Vec<(String, String)>,
}

impl DependencyGraph {
    pub(crate) fn build(assets: &[Asset]) -> DependencyGraph {
        let index: BTreeMap<String, usize> = assets
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.to_lowercase(), i))
            .collect();
        let mut deps = Vec::with_capacity(assets.len());
        let mut unknown = Vec::new();
        for a in assets {
            let mut d = Vec::new();
            for r in &a.dependencies {
                match index.get(&r.to_lowercase()) {
                    Some(&j) => {
                        if !d.contains(&j) {
                            d.push(j)
                        }
                    }
                    None => unknown.push((a.name.clone(), r.clone())),
                }
            }
            deps.push(d);
        }
        DependencyGraph {
            names: assets.iter().map(|a| a.name.clone()).collect(),
            deps,
            unknown,
        }
    }

    pub(crate) fn edge_count(&self) -> usize {
        self.deps.iter().map(Vec::len).sum()
    }

    /// How many assets depend on each asset.
    pub(crate) fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.names.len()];
        for (i, d) in self.deps.iter().enumerate() {
            for &j in d {
                out[j].push(i);
            }
        }
        out
    }

    /// Strongly connected components (Tarjan, iterative), each sorted by input order.
    pub(crate) fn components(&self) -> Vec<Vec<usize>> {
        let n = self.names.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0usize; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0usize;
        let mut out = Vec::new();
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            // (node, next edge to look at)
            let mut work = vec![(root, 0usize)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut ei)) = work.last_mut() {
                if let Some(&w) = self.deps[v].get(*ei) {
                    *ei += 1;
                    if index[w] == usize::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    work.pop();
                    if let Some(&(parent, _)) = work.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        comp.sort_unstable();
                        out.push(comp);
                    }
                }
            }
        }
        out
    }

    /// Cycles: components of more than one asset (self-references are dropped by cleansing).
    pub(crate) fn cycles(&self) -> Vec<Vec<String>> {
        let mut c: Vec<Vec<String>> = self
            .components()
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| c.into_iter().map(|i| self.names[i].clone()).collect())
            .collect();
        c.sort();
        c
    }

    /// Layer of each asset: 0 for assets depending on nothing, else 1 + the highest layer
    /// of what it depends on; all members of a cycle share one layer.
    pub(crate) fn layers(&self) -> Vec<usize> {
        let comps = self.components();
        let mut comp_of = vec![0usize; self.names.len()];
        for (ci, c) in comps.iter().enumerate() {
            for &v in c {
                comp_of[v] = ci;
            }
        }
        // Tarjan emits components in reverse topological order of the "depends on" edges:
        // a component is emitted after everything it depends on.
        let mut comp_layer = vec![0usize; comps.len()];
        for (ci, c) in comps.iter().enumerate() {
            let mut layer = 0;
            for &v in c {
                for &w in &self.deps[v] {
                    let cw = comp_of[w];
                    if cw != ci {
                        layer = layer.max(comp_layer[cw] + 1);
                    }
                }
            }
            comp_layer[ci] = layer;
        }
        (0..self.names.len())
            .map(|v| comp_layer[comp_of[v]])
            .collect()
    }

    /// Asset indexes grouped by layer, in input order within a layer.
    pub(crate) fn layered(&self) -> Vec<Vec<usize>> {
        let layers = self.layers();
        let mut by: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (v, l) in layers.into_iter().enumerate() {
            by.entry(l).or_default().push(v);
        }
        by.into_values().collect()
    }

    /// Names of the assets in cycles (for marking).
    pub(crate) fn in_cycle(&self) -> BTreeSet<usize> {
        self.components()
            .into_iter()
            .filter(|c| c.len() > 1)
            .flatten()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phases::records::assets;
    use serde_json::json;

    #[test]
    fn cycles_share_a_layer_after_their_dependencies() {
        let a = assets(&json!({"raw_data": [
            {"name": "a", "dependencies": ["b"]},
            {"name": "b", "dependencies": ["c"]},
            {"name": "c", "dependencies": ["b", "d", "ghost"]},
            {"name": "d"}
        ]}))
        .unwrap();
        let g = DependencyGraph::build(&a);
        assert_eq!(g.cycles(), vec![vec!["b".to_string(), "c".to_string()]]);
        assert_eq!(g.layers(), vec![2, 1, 1, 0]);
        assert_eq!(g.unknown, vec![("c".to_string(), "ghost".to_string())]);
        assert_eq!(g.edge_count(), 4);
    }
}
