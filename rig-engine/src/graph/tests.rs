use rig_core::Role;

use super::*;
use crate::planner::{PlannedStack, RigletPlan};

const FOUNDATION: &str = r#"
Parameters:
  AppBucketName: { Type: String }
Resources:
  Vpc: { Type: AWS::EC2::VPC }
  SubnetA: { Type: AWS::EC2::Subnet }
  SubnetB: { Type: AWS::EC2::Subnet }
  SubnetC: { Type: AWS::EC2::Subnet }
  Alb: { Type: AWS::ElasticLoadBalancingV2::LoadBalancer }
  AppBucket:
    Type: AWS::S3::Bucket
    Properties: { BucketName: !Ref AppBucketName }
  Route: { Type: AWS::EC2::Route }
  Gateway: { Type: AWS::EC2::InternetGateway }
Outputs:
  VpcId:
    Value: !Ref Vpc
    Export: { Name: !Sub '${AWS::StackName}--VpcId' }
  SubnetA:
    Value: !Ref SubnetA
    Export: { Name: !Join ['--', [!Ref 'AWS::StackName', SubnetA]] }
  AppBucket:
    Value: !Ref AppBucket
  Environment:
    Value: qa
"#;

const COMPUTE: &str = r#"
Parameters:
  FoundationStackName: { Type: String }
Resources:
  Cluster: { Type: AWS::ECS::Cluster }
  Group:
    Type: AWS::EC2::SecurityGroup
    Properties:
      VpcId:
        Fn::ImportValue: !Sub '${FoundationStackName}--VpcId'
"#;

/// A JSON template, as a third-party plugin may ship, importing in the long form.
const DATABASE: &str = r#"{
  "Parameters": {"FoundationStackName": {"Type": "String"}},
  "Resources": {
    "Db": {"Type": "AWS::RDS::DBCluster", "Properties": {
      "Subnets": [{"Fn::ImportValue": {"Fn::Sub": ["${F}--SubnetA", {"F": {"Ref": "FoundationStackName"}}]}}],
      "Vpc": {"Fn::ImportValue": {"Fn::Sub": "${FoundationStackName}--VpcId"}}}},
    "Writer": {"Type": "AWS::RDS::DBInstance"},
    "Secret": {"Type": "AWS::SecretsManager::Secret"}
  }
}"#;

const PIPELINE: &str = r#"
Resources:
  Pipeline: { Type: AWS::CodePipeline::Pipeline }
  Repository: { Type: AWS::ECR::Repository }
"#;

fn stack(name: &str, env: Option<&str>, role: Role, deps: &[&str], body: &str) -> PlannedStack {
    let mut s = PlannedStack::for_test(name, env, role, deps);
    s.backend = format!("{}-backend", role.as_str());
    s.plan.template_body = body.into();
    s
}

/// One environment (`qa`): foundation, compute and database; a riglet-wide pipeline that
/// takes the app bucket and names the compute stack through its parameters.
fn plan() -> RigletPlan {
    let mut foundation = stack(
        "a-b-qa-foundation",
        Some("qa"),
        Role::Foundation,
        &[],
        FOUNDATION,
    );
    foundation
        .plan
        .parameters
        .insert("AppBucketName".into(), "rig-a-b-app-qa".into());
    let mut compute = stack(
        "a-b-qa-compute",
        Some("qa"),
        Role::Compute,
        &["a-b-qa-foundation"],
        COMPUTE,
    );
    let mut database = stack(
        "a-b-qa-db",
        Some("qa"),
        Role::Database,
        &["a-b-qa-foundation"],
        DATABASE,
    );
    for s in [&mut compute, &mut database] {
        s.plan
            .parameters
            .insert("FoundationStackName".into(), "a-b-qa-foundation".into());
    }
    let mut pipeline = stack(
        "a-b-build",
        None,
        Role::Pipeline,
        &["a-b-qa-foundation"],
        PIPELINE,
    );
    for (k, v) in [
        ("QaAppBucketName", "rig-a-b-app-qa"),
        ("QaComputeStack", "a-b-qa-compute"),
        ("Environment", "qa"),
    ] {
        pipeline.plan.parameters.insert(k.into(), v.into());
    }
    let mut plan = RigletPlan::empty_for_test();
    plan.environments = vec!["qa".into()];
    plan.stacks = vec![pipeline, database, compute, foundation];
    plan
}

fn edge<'g>(g: &'g Graph, from: &str, to: &str) -> &'g Edge {
    let (from, to) = (build::stack_id(from), build::stack_id(to));
    g.edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .unwrap_or_else(|| panic!("no edge {from} -> {to} in {:#?}", g.edges))
}

#[test]
fn every_stack_is_a_node_in_its_environment_or_the_riglet() {
    let g = build(&plan());
    assert_eq!(
        g.clusters.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["env_qa", "riglet"]
    );
    let stacks: Vec<(&str, &str, &str)> = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Stack)
        .map(|n| (n.stack.as_str(), n.cluster.as_str(), n.detail.as_str()))
        .collect();
    assert_eq!(
        stacks,
        [
            ("a-b-qa-compute", "env_qa", "compute · compute-backend"),
            ("a-b-qa-db", "env_qa", "database · database-backend"),
            (
                "a-b-qa-foundation",
                "env_qa",
                "foundation · foundation-backend"
            ),
            ("a-b-build", "riglet", "pipeline · pipeline-backend"),
        ]
    );
}

#[test]
fn key_resources_are_drawn_subnets_counted_and_the_rest_summed_up() {
    let g = build(&plan());
    let of = |stack: &str| -> Vec<(NodeKind, String, String)> {
        g.nodes
            .iter()
            .filter(|n| n.stack == stack && n.kind != NodeKind::Stack)
            .map(|n| (n.kind, n.label.clone(), n.detail.clone()))
            .collect()
    };
    let r = |l: &str, d: &str| (NodeKind::Resource, l.to_string(), d.to_string());
    assert_eq!(
        of("a-b-qa-foundation"),
        [
            r("Vpc", "VPC"),
            r("Subnets", "3 subnets"),
            r("Alb", "load balancer"),
            r("AppBucket", "S3 bucket"),
            (NodeKind::More, "+2 more".into(), String::new()),
        ]
    );
    assert_eq!(
        of("a-b-qa-db"),
        [
            r("Db", "DB cluster"),
            r("Writer", "DB instance"),
            (NodeKind::More, "+1 more".into(), String::new()),
        ]
    );
    let subnets = g.node("s_a_b_qa_foundation__subnets").unwrap();
    assert_eq!(subnets.count, 3);
}

#[test]
fn imports_of_another_stacks_exports_label_the_edge_with_the_output() {
    let g = build(&plan());
    let compute = edge(&g, "a-b-qa-foundation", "a-b-qa-compute");
    assert!(compute.depends_on);
    assert_eq!(
        compute.wires,
        [Wire::Import {
            export: "a-b-qa-foundation--VpcId".into(),
            output: "VpcId".into()
        }]
    );
    // The JSON template's long forms (`Fn::Sub` with variables, `Fn::Join` on the export side).
    let db = edge(&g, "a-b-qa-foundation", "a-b-qa-db");
    assert_eq!(db.label(), "SubnetA, VpcId");
}

#[test]
fn parameters_set_to_an_output_or_a_stack_name_are_wiring() {
    let g = build(&plan());
    let bucket = edge(&g, "a-b-qa-foundation", "a-b-build");
    assert!(bucket.depends_on);
    // The bucket's name is the foundation's own; `Environment: qa` is shared and not wiring.
    assert_eq!(
        bucket.wires,
        [Wire::Parameter {
            parameter: "QaAppBucketName".into(),
            output: "AppBucket".into()
        }]
    );
    let named = edge(&g, "a-b-qa-compute", "a-b-build");
    assert!(!named.depends_on);
    assert_eq!(named.label(), "QaComputeStack");
    // Compute names the foundation too, but its imports already say how.
    let compute = edge(&g, "a-b-qa-foundation", "a-b-qa-compute");
    assert!(compute
        .wires
        .iter()
        .all(|w| matches!(w, Wire::Import { .. })));
    assert_eq!(g.edges.len(), 4, "{:#?}", g.edges);
}

#[test]
fn a_dependency_alone_is_an_unlabelled_edge() {
    let mut plan = plan();
    // Compute neither imports from the foundation nor names it in a parameter.
    plan.stacks[2].plan.template_body = "Resources: {}".into();
    plan.stacks[2].plan.parameters.clear();
    let g = build(&plan);
    let e = edge(&g, "a-b-qa-foundation", "a-b-qa-compute");
    assert!(e.depends_on && e.wires.is_empty());
    assert_eq!(e.label(), "");
    let mermaid = render(&g, Format::Mermaid).unwrap();
    assert!(
        mermaid.contains("  s_a_b_qa_foundation -.-> s_a_b_qa_compute\n"),
        "{mermaid}"
    );
    let dot = render(&g, Format::Dot).unwrap();
    assert!(
        dot.contains("  s_a_b_qa_foundation -> s_a_b_qa_compute [style=dashed];\n"),
        "{dot}"
    );
}

#[test]
fn the_same_plan_in_another_order_draws_the_same_picture() {
    let a = plan();
    let mut b = plan();
    b.stacks.reverse();
    assert_eq!(build(&a), build(&b));
    assert_eq!(
        render(&build(&a), Format::Mermaid).unwrap(),
        render(&build(&b), Format::Mermaid).unwrap()
    );
}

#[test]
fn an_unreadable_template_still_gives_its_stack_a_node() {
    let mut plan = plan();
    plan.stacks[1].plan.template_body = "Resources: [not: closed".into();
    let g = build(&plan);
    assert!(g.stack_node("a-b-qa-db").is_some());
    assert!(g
        .nodes
        .iter()
        .all(|n| n.stack != "a-b-qa-db" || n.kind == NodeKind::Stack));
}

#[test]
fn mermaid_has_a_subgraph_per_cluster_and_labelled_wiring() {
    let text = render(&build(&plan()), Format::Mermaid).unwrap();
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    assert!(text.contains("  subgraph env_qa[\"qa\"]\n"), "{text}");
    assert!(text.contains("  subgraph riglet[\"riglet\"]\n"), "{text}");
    assert!(
        text.contains("    s_a_b_qa_foundation[\"a-b-qa-foundation<br/>foundation · foundation-backend\"]:::stack\n"),
        "{text}"
    );
    assert!(
        text.contains("  s_a_b_qa_foundation -->|\"VpcId\"| s_a_b_qa_compute\n"),
        "{text}"
    );
    assert!(
        text.contains("  s_a_b_qa_foundation --- s_a_b_qa_foundation__r_Vpc\n"),
        "{text}"
    );
}

#[test]
fn dot_reads_back_and_lays_out_as_svg() {
    let g = build(&plan());
    let dot = render(&g, Format::Dot).unwrap();
    assert!(dot.contains("  subgraph cluster_env_qa {\n"), "{dot}");
    assert!(
        dot.contains("  s_a_b_qa_foundation -> s_a_b_qa_db [label=\"SubnetA, VpcId\"];\n"),
        "{dot}"
    );
    layout::gv::DotParser::new(&dot)
        .process()
        .unwrap_or_else(|e| panic!("{e}\n{dot}"));
    let svg = render(&g, Format::Svg).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert!(svg.contains("a-b-qa-foundation"), "{svg}");
}

#[test]
fn edge_labels_show_three_outputs_and_count_the_rest() {
    let wire = |o: &str| Wire::Import {
        export: format!("x--{o}"),
        output: o.into(),
    };
    let e = Edge {
        from: "a".into(),
        to: "b".into(),
        depends_on: true,
        wires: ["E", "D", "C", "B", "A", "A"]
            .into_iter()
            .map(wire)
            .collect(),
    };
    assert_eq!(e.label(), "A, B, C +2");
}
