//! The parts of a CloudFormation template the graph reads, as a small tree in which YAML's
//! short-form tags (`!Ref X`, `!Sub ...`) and JSON's long form (`{"Ref": "X"}`,
//! `{"Fn::Sub": ...}`) are the same [`Node::Fn`], and the strings rig can work out without AWS:
//! parameters, `AWS::StackName`, `Fn::Sub`, `Fn::Join` and the names of resources that take
//! their name from a property.

use std::collections::BTreeMap;

use saphyr::{LoadableYamlNode, Scalar, Yaml};

/// A template value with its intrinsic functions made explicit.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Str(String),
    List(Vec<Node>),
    Map(Vec<(String, Node)>),
    /// An intrinsic function: its short name (`Ref`, `Sub`, `ImportValue`, `GetAtt`, ...) and
    /// its argument.
    Fn(String, Box<Node>),
    /// Null, or anything the graph has no use for.
    Other,
}

impl Node {
    /// Reads a YAML or JSON template; `None` if it is not valid YAML or is empty.
    pub(super) fn parse(body: &str) -> Option<Node> {
        let docs = Yaml::load_from_str(body).ok()?;
        docs.first().map(from_yaml)
    }

    /// The value under `key` of a mapping.
    pub(super) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entries of a mapping (empty for anything else).
    pub(super) fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The text of a plain string.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Every argument of an `Fn::ImportValue` anywhere under this node, in document order.
    pub(super) fn imports(&self) -> Vec<&Node> {
        let mut found = Vec::new();
        self.collect_imports(&mut found);
        found
    }

    fn collect_imports<'a>(&'a self, found: &mut Vec<&'a Node>) {
        match self {
            Node::Fn(name, arg) if name == "ImportValue" => found.push(arg),
            Node::Fn(_, arg) => arg.collect_imports(found),
            Node::List(items) => items.iter().for_each(|i| i.collect_imports(found)),
            Node::Map(entries) => entries.iter().for_each(|(_, v)| v.collect_imports(found)),
            Node::Str(_) | Node::Other => {}
        }
    }
}

fn from_yaml(y: &Yaml<'_>) -> Node {
    match y {
        Yaml::Tagged(tag, inner) if tag.handle == "!" => {
            Node::Fn(tag.suffix.clone(), Box::new(from_yaml(inner)))
        }
        Yaml::Tagged(_, inner) => from_yaml(inner),
        Yaml::Representation(s, _, Some(tag)) if tag.handle == "!" => {
            Node::Fn(tag.suffix.clone(), Box::new(Node::Str(s.to_string())))
        }
        Yaml::Representation(s, _, _) => Node::Str(s.to_string()),
        Yaml::Value(Scalar::Null) => Node::Other,
        Yaml::Value(Scalar::String(s)) => Node::Str(s.to_string()),
        Yaml::Value(Scalar::Integer(i)) => Node::Str(i.to_string()),
        Yaml::Value(Scalar::Boolean(b)) => Node::Str(b.to_string()),
        Yaml::Value(Scalar::FloatingPoint(f)) => Node::Str(f.to_string()),
        Yaml::Sequence(items) => Node::List(items.iter().map(from_yaml).collect()),
        Yaml::Mapping(m) => {
            let entries: Vec<(String, Node)> = m
                .iter()
                .filter_map(|(k, v)| match from_yaml(k) {
                    Node::Str(k) => Some((k, from_yaml(v))),
                    _ => None,
                })
                .collect();
            match entries.as_slice() {
                [(k, v)] if k == "Ref" => Node::Fn("Ref".into(), Box::new(v.clone())),
                [(k, v)] if k.starts_with("Fn::") => Node::Fn(k[4..].into(), Box::new(v.clone())),
                _ => Node::Map(entries),
            }
        }
        _ => Node::Other,
    }
}

/// The property a resource type's `Ref` returns as its name, when the template may set it.
const NAME_PROPERTIES: &[(&str, &str)] = &[
    ("AWS::S3::Bucket", "BucketName"),
    ("AWS::ECR::Repository", "RepositoryName"),
    ("AWS::ECS::Cluster", "ClusterName"),
    ("AWS::SSM::Parameter", "Name"),
    ("AWS::Logs::LogGroup", "LogGroupName"),
    ("AWS::CodePipeline::Pipeline", "Name"),
    ("AWS::CodeBuild::Project", "Name"),
];

/// Nesting beyond which evaluation gives up (resource names referring to each other).
const MAX_DEPTH: usize = 8;

/// A string worked out from a template, and whether it names something of its own stack (it
/// came from `AWS::StackName` or a resource's name), as opposed to a parameter or a literal
/// that other stacks may share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Value {
    pub text: String,
    pub own: bool,
}

/// What a stack's template strings are evaluated against.
pub(super) struct Scope<'a> {
    stack: &'a str,
    parameters: BTreeMap<String, String>,
    resources: Option<&'a Node>,
}

impl<'a> Scope<'a> {
    /// The scope of stack `stack` deployed from `template` with `parameters` (the template's
    /// defaults fill in the rest).
    pub(super) fn new(
        stack: &'a str,
        template: &'a Node,
        parameters: &BTreeMap<String, String>,
    ) -> Self {
        let mut all: BTreeMap<String, String> = template
            .get("Parameters")
            .map(Node::entries)
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, p)| Some((k.clone(), p.get("Default")?.as_str()?.to_string())))
            .collect();
        all.extend(parameters.iter().map(|(k, v)| (k.clone(), v.clone())));
        Scope {
            stack,
            parameters: all,
            resources: template.get("Resources"),
        }
    }

    /// The string `node` stands for, if it can be known without AWS.
    pub(super) fn eval(&self, node: &Node) -> Option<Value> {
        self.eval_at(node, 0)
    }

    fn eval_at(&self, node: &Node, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        match node {
            Node::Str(s) => Some(Value {
                text: s.clone(),
                own: false,
            }),
            Node::Fn(f, arg) => match (f.as_str(), arg.as_ref()) {
                ("Ref", Node::Str(name)) => self.reference(name, depth),
                ("Sub", Node::Str(s)) => self.sub(s, &[], depth),
                ("Sub", Node::List(parts)) => match parts.as_slice() {
                    [Node::Str(s), vars] => self.sub(s, vars.entries(), depth),
                    [Node::Str(s)] => self.sub(s, &[], depth),
                    _ => None,
                },
                ("Join", Node::List(parts)) => match parts.as_slice() {
                    [Node::Str(sep), Node::List(items)] => {
                        let values: Option<Vec<Value>> =
                            items.iter().map(|i| self.eval_at(i, depth + 1)).collect();
                        let values = values?;
                        Some(Value {
                            own: values.iter().any(|v| v.own),
                            text: values
                                .into_iter()
                                .map(|v| v.text)
                                .collect::<Vec<_>>()
                                .join(sep),
                        })
                    }
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// `Ref name`: the stack's name, a parameter's value or a named resource's name.
    fn reference(&self, name: &str, depth: usize) -> Option<Value> {
        if name == "AWS::StackName" {
            return Some(Value {
                text: self.stack.to_string(),
                own: true,
            });
        }
        if let Some(v) = self.parameters.get(name) {
            return Some(Value {
                text: v.clone(),
                own: false,
            });
        }
        let resource = self.resources?.get(name)?;
        let kind = resource.get("Type")?.as_str()?;
        let property = NAME_PROPERTIES.iter().find(|(t, _)| *t == kind)?.1;
        let named = resource.get("Properties")?.get(property)?;
        self.eval_at(named, depth + 1).map(|v| Value {
            text: v.text,
            own: true,
        })
    }

    /// `Fn::Sub`: each `${Name}` replaced by a variable of `vars` or by `Ref Name`;
    /// `${!Literal}` stays as `${Literal}`; an attribute (`${Res.Arn}`) cannot be known.
    fn sub(&self, s: &str, vars: &[(String, Node)], depth: usize) -> Option<Value> {
        let mut out = String::new();
        let mut own = false;
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                let value = match vars.iter().find(|(k, _)| k == name) {
                    Some((_, v)) => self.eval_at(v, depth + 1)?,
                    None if name.contains('.') => return None,
                    None => self.reference(name, depth + 1)?,
                };
                own |= value.own;
                out.push_str(&value.text);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(Value { text: out, own })
    }
}
