//! From a [`RigletPlan`] to a [`Graph`]: one node per stack, its key resources from its
//! template, and one edge per pair of stacks that depend on or refer to each other.

use std::collections::{BTreeMap, BTreeSet};

use super::cfn::{Node as Cfn, Scope};
use super::{Cluster, Edge, Graph, Node, NodeKind, Wire};
use crate::planner::{PlannedStack, RigletPlan};

/// The resource types drawn, in the order they are drawn, with what they are called. Subnets
/// are drawn as one node with their count; every other type is counted in `+N more`.
pub const KEY_RESOURCES: &[(&str, &str)] = &[
    ("AWS::EC2::VPC", "VPC"),
    (SUBNET, "subnets"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "load balancer"),
    ("AWS::ElasticLoadBalancingV2::Listener", "listener"),
    ("AWS::ECS::Cluster", "ECS cluster"),
    ("AWS::ECS::Service", "ECS service"),
    ("AWS::AutoScaling::AutoScalingGroup", "Auto Scaling group"),
    ("AWS::RDS::DBCluster", "DB cluster"),
    ("AWS::RDS::DBInstance", "DB instance"),
    ("AWS::EC2::Instance", "EC2 instance"),
    ("AWS::Route53::HostedZone", "hosted zone"),
    ("AWS::S3::Bucket", "S3 bucket"),
    ("AWS::SNS::Topic", "SNS topic"),
    ("AWS::ECR::Repository", "ECR repository"),
    ("AWS::CodePipeline::Pipeline", "CodePipeline"),
];

const SUBNET: &str = "AWS::EC2::Subnet";

/// The id of the riglet-wide cluster.
pub const RIGLET_CLUSTER: &str = "riglet";

/// The graph of `plan`: every stack of the plan is a node, whatever backend made it.
pub fn build(plan: &RigletPlan) -> Graph {
    let clusters = clusters(plan);
    let rank = |s: &PlannedStack| {
        let id = cluster_id(s.env.as_deref());
        clusters
            .iter()
            .position(|c| c.id == id)
            .unwrap_or(clusters.len())
    };
    let mut stacks: Vec<&PlannedStack> = plan.stacks.iter().collect();
    stacks.sort_by(|a, b| (rank(a), &a.plan.name).cmp(&(rank(b), &b.plan.name)));
    let templates: Vec<Option<Cfn>> = stacks
        .iter()
        .map(|s| Cfn::parse(&s.plan.template_body))
        .collect();
    let mut nodes = Vec::new();
    for (stack, template) in stacks.iter().zip(&templates) {
        nodes.push(stack_node(stack));
        nodes.extend(resource_nodes(stack, template.as_ref()));
    }
    Graph {
        clusters,
        nodes,
        edges: edges(&stacks, &templates),
    }
}

/// `s`, with every character that is not an ASCII letter or digit as `_`.
pub fn ident(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The node id of stack `name`.
pub fn stack_id(name: &str) -> String {
    format!("s_{}", ident(name))
}

fn cluster_id(env: Option<&str>) -> String {
    match env {
        Some(e) => format!("env_{}", ident(e)),
        None => RIGLET_CLUSTER.to_string(),
    }
}

/// The plan's environments in its order (and any other a stack names, sorted), then the
/// riglet-wide group when a stack has no environment.
fn clusters(plan: &RigletPlan) -> Vec<Cluster> {
    let mut envs: Vec<&str> = plan.environments.iter().map(String::as_str).collect();
    let extra: BTreeSet<&str> = plan
        .stacks
        .iter()
        .filter_map(|s| s.env.as_deref())
        .filter(|e| !envs.contains(e))
        .collect();
    envs.extend(extra);
    let mut clusters: Vec<Cluster> = envs
        .into_iter()
        .map(|e| Cluster {
            id: cluster_id(Some(e)),
            label: e.to_string(),
            env: Some(e.to_string()),
        })
        .collect();
    if plan.stacks.iter().any(|s| s.env.is_none()) {
        clusters.push(Cluster {
            id: RIGLET_CLUSTER.into(),
            label: "riglet".into(),
            env: None,
        });
    }
    clusters
}

fn stack_node(s: &PlannedStack) -> Node {
    Node {
        id: stack_id(&s.plan.name),
        kind: NodeKind::Stack,
        label: s.plan.name.clone(),
        detail: format!("{} · {}", s.plan.role.as_str(), s.backend),
        cluster: cluster_id(s.env.as_deref()),
        stack: s.plan.name.clone(),
        resource_type: None,
        count: 1,
    }
}

/// The stack's key resources (sorted by [`KEY_RESOURCES`] order, then logical id), its subnets
/// as one node, and `+N more` for the rest.
fn resource_nodes(s: &PlannedStack, template: Option<&Cfn>) -> Vec<Node> {
    let sid = stack_id(&s.plan.name);
    let base = Node {
        id: String::new(),
        kind: NodeKind::Resource,
        label: String::new(),
        detail: String::new(),
        cluster: cluster_id(s.env.as_deref()),
        stack: s.plan.name.clone(),
        resource_type: None,
        count: 1,
    };
    let declared = template
        .and_then(|t| t.get("Resources"))
        .map(Cfn::entries)
        .unwrap_or_default();
    let mut key: Vec<(usize, &str, &str)> = Vec::new();
    let mut more = 0;
    for (logical_id, resource) in declared {
        let Some(ty) = resource.get("Type").and_then(Cfn::as_str) else {
            continue;
        };
        match KEY_RESOURCES.iter().position(|(t, _)| *t == ty) {
            Some(rank) => key.push((rank, logical_id, ty)),
            None => more += 1,
        }
    }
    key.sort();
    let mut nodes: Vec<Node> = Vec::new();
    for (rank, logical_id, ty) in key {
        if ty == SUBNET {
            match nodes.last_mut() {
                Some(n) if n.resource_type.as_deref() == Some(SUBNET) => n.count += 1,
                _ => nodes.push(Node {
                    id: format!("{sid}__subnets"),
                    label: "Subnets".into(),
                    resource_type: Some(SUBNET.into()),
                    ..base.clone()
                }),
            }
            continue;
        }
        nodes.push(Node {
            id: format!("{sid}__r_{}", ident(logical_id)),
            label: logical_id.to_string(),
            detail: KEY_RESOURCES[rank].1.to_string(),
            resource_type: Some(ty.to_string()),
            ..base.clone()
        });
    }
    for n in &mut nodes {
        if n.resource_type.as_deref() == Some(SUBNET) {
            n.detail = format!("{} subnets", n.count);
        }
    }
    if more > 0 {
        nodes.push(Node {
            id: format!("{sid}__more"),
            kind: NodeKind::More,
            label: format!("+{more} more"),
            count: more,
            ..base
        });
    }
    nodes
}

/// Every edge between two stacks: `depends_on`, imports of the other's exports, parameters set
/// to the other's output or, when nothing else links them, to its name.
fn edges(stacks: &[&PlannedStack], templates: &[Option<Cfn>]) -> Vec<Edge> {
    let empty = Cfn::Other;
    let scopes: Vec<Scope> = stacks
        .iter()
        .zip(templates)
        .map(|(s, t)| {
            Scope::new(
                &s.plan.name,
                t.as_ref().unwrap_or(&empty),
                &s.plan.parameters,
            )
        })
        .collect();
    let names: BTreeMap<&str, usize> = stacks
        .iter()
        .enumerate()
        .map(|(i, s)| (s.plan.name.as_str(), i))
        .collect();
    // What each stack exports, and the outputs that name something of its own.
    let mut exports: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    let mut values: BTreeMap<String, Vec<(usize, &str)>> = BTreeMap::new();
    for (i, template) in templates.iter().enumerate() {
        let outputs = template.as_ref().and_then(|t| t.get("Outputs"));
        for (key, output) in outputs.map(Cfn::entries).unwrap_or_default() {
            let export = output.get("Export").and_then(|e| e.get("Name"));
            if let Some(name) = export.and_then(|n| scopes[i].eval(n)) {
                exports.insert(name.text, (i, key));
            }
            match output.get("Value").and_then(|v| scopes[i].eval(v)) {
                Some(v) if v.own && !v.text.is_empty() => {
                    values.entry(v.text).or_default().push((i, key))
                }
                _ => {}
            }
        }
    }
    // (provider, user) → (depends_on, wires)
    let mut found: BTreeMap<(usize, usize), (bool, BTreeSet<Wire>)> = BTreeMap::new();
    for (j, stack) in stacks.iter().enumerate() {
        for dep in &stack.plan.depends_on {
            if let Some(&i) = names.get(dep.as_str()).filter(|&&i| i != j) {
                found.entry((i, j)).or_default().0 = true;
            }
        }
        let imports = templates[j].as_ref().map(Cfn::imports).unwrap_or_default();
        for import in imports {
            let Some(name) = scopes[j].eval(import) else {
                continue;
            };
            if let Some(&(i, key)) = exports.get(&name.text).filter(|(i, _)| *i != j) {
                let wire = Wire::Import {
                    export: name.text,
                    output: key.to_string(),
                };
                found.entry((i, j)).or_default().1.insert(wire);
            }
        }
        // A parameter set to another stack's name says which stack it means (even when an
        // output of that stack has the same value); it is shown only when nothing else links
        // the two.
        let mut named: Vec<(usize, &String)> = Vec::new();
        for (parameter, value) in &stack.plan.parameters {
            if let Some(&i) = names.get(value.as_str()) {
                if i != j {
                    named.push((i, parameter));
                }
                continue;
            }
            for &(i, key) in values.get(value).into_iter().flatten() {
                if i != j {
                    let wire = Wire::Parameter {
                        parameter: parameter.clone(),
                        output: key.to_string(),
                    };
                    found.entry((i, j)).or_default().1.insert(wire);
                }
            }
        }
        for (i, parameter) in named {
            let entry = found.entry((i, j)).or_default();
            if entry.1.iter().all(|w| matches!(w, Wire::StackName { .. })) {
                entry.1.insert(Wire::StackName {
                    parameter: parameter.clone(),
                });
            }
        }
    }
    // Sorted by providing stack, then using stack, in node order (the map's key order).
    found
        .into_iter()
        .map(|((i, j), (depends_on, wires))| Edge {
            from: stack_id(&stacks[i].plan.name),
            to: stack_id(&stacks[j].plan.name),
            depends_on,
            wires: wires.into_iter().collect(),
        })
        .collect()
}
