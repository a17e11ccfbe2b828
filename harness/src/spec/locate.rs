//! Where each YAML node is: an index from a node's path (`steps[0].request.path`) to its
//! line and column, built from yaml-rust2's marked events. serde_yaml_ng locates syntax
//! and type errors itself but exposes no event parser; semantic errors found after
//! parsing (two step kinds, an undefined variable...) are located with this index.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One segment of a node path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A node path, such as `steps[0].request.path`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct YamlPath(pub Vec<Seg>);

impl YamlPath {
    pub fn key(&self, k: &str) -> YamlPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub fn index(&self, i: usize) -> YamlPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Path → position of the node's value, and of the key that introduces it.
#[derive(Debug, Clone, Default)]
pub(crate) struct PosIndex {
    values: HashMap<YamlPath, Pos>,
    keys: HashMap<YamlPath, Pos>,
}

impl PosIndex {
    /// Builds the index; a document yaml-rust2 cannot parse gives an empty index (the
    /// serde parse reports the syntax error).
    pub fn build(text: &str) -> PosIndex {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut builder, false);
        builder.index
    }

    /// Position of the node at `path`, or of its closest located ancestor.
    pub fn value(&self, path: &YamlPath) -> Option<Pos> {
        let mut p = path.clone();
        loop {
            if let Some(pos) = self.values.get(&p) {
                return Some(*pos);
            }
            p.0.pop()?;
        }
    }

    /// Position of the key introducing `path` (falls back to the value's position).
    pub fn key(&self, path: &YamlPath) -> Option<Pos> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }
}

enum Frame {
    Map {
        path: YamlPath,
        pending_key: Option<(String, Pos)>,
    },
    Seq {
        path: YamlPath,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    index: PosIndex,
    done: bool,
}

fn pos(mark: Marker) -> Pos {
    Pos {
        line: mark.line(),
        column: mark.col() + 1,
    }
}

impl Builder {
    /// The path of the node starting now; `None` if it is a mapping key.
    fn next_node_path(&mut self, text: Option<&str>, at: Pos) -> Option<YamlPath> {
        match self.stack.last_mut() {
            None => Some(YamlPath::default()),
            Some(Frame::Seq { path, next }) => {
                let p = path.index(*next);
                *next += 1;
                Some(p)
            }
            Some(Frame::Map { path, pending_key }) => match pending_key.take() {
                Some((k, key_pos)) => {
                    let p = path.key(&k);
                    self.index.keys.insert(p.clone(), key_pos);
                    Some(p)
                }
                None => {
                    // This node is a key; complex keys get a placeholder name.
                    *pending_key = Some((text.unwrap_or("?").to_string(), at));
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.done {
            return;
        }
        let at = pos(mark);
        match ev {
            Event::Scalar(text, ..) => {
                if let Some(p) = self.next_node_path(Some(&text), at) {
                    self.index.values.entry(p).or_insert(at);
                }
            }
            Event::Alias(_) => {
                if let Some(p) = self.next_node_path(None, at) {
                    self.index.values.entry(p).or_insert(at);
                }
            }
            Event::MappingStart(..) => {
                let path = self.next_node_path(None, at);
                let path = path.unwrap_or_else(|| YamlPath(vec![Seg::Key("?".into())]));
                self.index.values.entry(path.clone()).or_insert(at);
                self.stack.push(Frame::Map {
                    path,
                    pending_key: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.next_node_path(None, at);
                let path = path.unwrap_or_else(|| YamlPath(vec![Seg::Key("?".into())]));
                self.index.values.entry(path.clone()).or_insert(at);
                self.stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            Event::DocumentEnd => self.done = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_nested_nodes() {
        let text = "name: x\nsteps:\n  - name: a\n    request: { method: GET, path: /p }\n";
        let idx = PosIndex::build(text);
        let p = YamlPath::default()
            .key("steps")
            .index(0)
            .key("request")
            .key("path");
        assert_eq!(
            idx.value(&p),
            Some(Pos {
                line: 4,
                column: 35
            })
        );
        let k = YamlPath::default().key("steps").index(0).key("name");
        assert_eq!(idx.key(&k), Some(Pos { line: 3, column: 5 }));
        assert_eq!(
            idx.value(&k),
            Some(Pos {
                line: 3,
                column: 11
            })
        );
    }
}
