//! The bastion template (`templates/bastion.yaml`) and the stack rig plans from it, read as
//! CloudFormation reads them (no AWS): no inbound rule unless `IngressCidr` is given, then one
//! SSH rule from it; Session Manager through the instance role; IMDSv2 and an encrypted root
//! volume; the outputs `rig bastion` reads; every import exported by the foundation.
//!
//! The template is parsed with `saphyr` and turned into the JSON form of a CloudFormation
//! template (`!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, ...).

use std::collections::{BTreeMap, BTreeSet};

use rig_core::names::RigletNames;
use rig_core::{Role, StackPlan};
use rig_engine::planner::bastion::{
    bastion_stack, BastionSpec, AMI_X86_64, BASTION_TEMPLATE, DEFAULT_INSTANCE_TYPE, OUTPUTS,
};
use rig_engine::planner::{PlannedStack, RigletPlan};
use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{json, Map, Value};

const FOUNDATION: &str = include_str!("../../templates/foundation.yaml");

// ------------------------------------------------------------------ reading templates

fn template(body: &str) -> Value {
    let docs = Yaml::load_from_str(body).expect("the template is valid YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    to_json(&docs[0])
}

fn to_json(node: &Yaml<'_>) -> Value {
    match node {
        Yaml::Tagged(tag, inner) => {
            let inner = to_json(inner);
            let name = tag.suffix.as_str();
            match name {
                "Ref" | "Condition" => json!({ name: inner }),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (resource, attribute) = s.split_once('.').expect("Res.Attr");
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): inner }),
            }
        }
        Yaml::Value(scalar) => match scalar {
            Scalar::Null => Value::Null,
            Scalar::Boolean(b) => Value::Bool(*b),
            Scalar::Integer(i) => json!(i),
            Scalar::FloatingPoint(f) => json!(f.into_inner()),
            Scalar::String(s) => Value::String(s.to_string()),
        },
        Yaml::Representation(s, _, _) => Value::String(s.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect::<Map<_, _>>(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unexpected YAML node {node:?}"),
    }
}

fn r(name: &str) -> Value {
    json!({ "Ref": name })
}

fn import(name: &str) -> Value {
    json!({ "Fn::ImportValue": { "Fn::Sub": format!("${{FoundationStackName}}--{name}") } })
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["Resources"]
        .get(id)
        .unwrap_or_else(|| panic!("the template declares no resource {id}"))
}

fn props<'a>(t: &'a Value, id: &str) -> &'a Value {
    &resource(t, id)["Properties"]
}

fn imports(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(i) = m.get("Fn::ImportValue") {
                out.insert(i["Fn::Sub"].as_str().expect("!Sub of a name").to_string());
            }
            m.values().for_each(|x| imports(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| imports(x, out)),
        _ => {}
    }
}

fn bastion() -> Value {
    template(BASTION_TEMPLATE)
}

/// A plan with one environment, `qa`, and its foundation.
fn plan() -> RigletPlan {
    let foundation = StackPlan {
        name: "acme-shop-qa-foundation".into(),
        role: Role::Foundation,
        template_file: "foundation.yaml".into(),
        template_body: FOUNDATION.into(),
        parameters: Default::default(),
        tags: Default::default(),
        capabilities: vec![],
        depends_on: vec![],
        outputs: vec![],
        probes: vec![],
        secrets: vec![],
        before_delete: Default::default(),
    };
    RigletPlan {
        names: RigletNames::new("acme", "shop", "us-east-1"),
        domain: "example.com".into(),
        stacks: vec![PlannedStack {
            env: Some("qa".into()),
            backend: "standard".into(),
            suffix: "foundation".into(),
            template_bucket: "rig-acme-shop-us-east-1-foundation-qa".into(),
            app: None,
            uploads: vec![],
            plan: foundation,
        }],
        buckets: vec![],
        parameters: Default::default(),
        secrets: vec![],
        environments: vec!["qa".into()],
        express: Default::default(),
        whole: false,
        pipelines: vec![],
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn every_parameter_rig_sets_is_declared_and_the_defaults_are_the_safe_ones() {
    let t = bastion();
    let spec = BastionSpec {
        env: "qa".into(),
        ingress_cidr: None,
        instance_type: DEFAULT_INSTANCE_TYPE.into(),
        key_name: None,
    };
    let planned = bastion_stack(&plan(), &spec, "bucket").unwrap();
    let declared: BTreeSet<&String> = t["Parameters"].as_object().unwrap().keys().collect();
    let set: BTreeSet<&String> = planned.plan.parameters.keys().collect();
    assert_eq!(declared, set, "rig sets every parameter, and only those");
    for (k, p) in t["Parameters"].as_object().unwrap() {
        assert!(
            p["Description"].as_str().is_some_and(|d| !d.is_empty()),
            "{k} has a description"
        );
    }
    let p = &t["Parameters"];
    assert_eq!(p["InstanceType"]["Default"], "t3.micro");
    assert_eq!(DEFAULT_INSTANCE_TYPE, "t3.micro");
    assert_eq!(
        p["ImageId"]["Type"],
        "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    );
    assert_eq!(p["ImageId"]["Default"], AMI_X86_64);
    assert_eq!(
        p["IngressCidr"]["Default"], "",
        "no inbound rule by default"
    );
    assert_eq!(p["KeyName"]["Default"], "");
    // The prefix length may be 1 to 32, never 0: the template refuses 0.0.0.0/0 too.
    let pattern = p["IngressCidr"]["AllowedPattern"].as_str().unwrap();
    assert!(pattern.starts_with("^$|"), "{pattern}");
    assert!(pattern.ends_with("/([1-9]|[12][0-9]|3[0-2])$"), "{pattern}");
    assert_eq!(
        t["Conditions"]["HasIngress"],
        json!({ "Fn::Not": [{ "Fn::Equals": [r("IngressCidr"), ""] }] })
    );
}

#[test]
fn the_security_group_admits_nothing_unless_one_ssh_block_is_given() {
    let t = bastion();
    let sg = props(&t, "SecurityGroup");
    assert_eq!(sg["VpcId"], import("VpcId"));
    assert_eq!(
        sg["SecurityGroupIngress"],
        json!({ "Fn::If": [
            "HasIngress",
            [{
                "Description": "SSH from the one block asked for",
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "CidrIp": r("IngressCidr"),
            }],
            r("AWS::NoValue"),
        ] })
    );
    let resources = t["Resources"].as_object().unwrap();
    assert!(
        !resources
            .values()
            .any(|r| r["Type"] == "AWS::EC2::SecurityGroupIngress"),
        "no inbound rule elsewhere"
    );
    let egress = sg["SecurityGroupEgress"].as_array().unwrap();
    let ports: Vec<(i64, i64)> = egress
        .iter()
        .map(|e| {
            (
                e["FromPort"].as_i64().unwrap(),
                e["ToPort"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports, vec![(443, 443), (0, 65535)]);
    assert_eq!(
        egress[1]["CidrIp"],
        import("CidrBlock"),
        "any port inside the VPC only"
    );
}

#[test]
fn the_instance_is_private_reached_by_session_manager_with_imdsv2_and_an_encrypted_disk() {
    let t = bastion();
    let i = props(&t, "Instance");
    assert_eq!(i["ImageId"], r("ImageId"));
    assert_eq!(i["IamInstanceProfile"], r("InstanceProfile"));
    assert_eq!(
        i["SubnetId"],
        json!({ "Fn::If": ["HasIngress", import("SubnetPublicA"), import("SubnetPrivateA")] })
    );
    assert_eq!(
        i["SecurityGroupIds"],
        json!([r("SecurityGroup"), import("AppSecurityGroup")]),
        "its own group, and the application group the databases admit"
    );
    assert_eq!(i["MetadataOptions"]["HttpTokens"], "required");
    assert!(i.get("NetworkInterfaces").is_none());
    let root = &i["BlockDeviceMappings"][0]["Ebs"];
    assert_eq!(root["Encrypted"], true);
    assert_eq!(root["DeleteOnTermination"], true);
    let role = props(&t, "InstanceRole");
    assert_eq!(
        role["ManagedPolicyArns"],
        json!([{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore" }])
    );
    assert!(
        role.get("Policies").is_none(),
        "nothing beyond Session Manager"
    );
    assert!(role.get("RoleName").is_none(), "CAPABILITY_IAM is enough");
    let trust = &role["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_array().unwrap().len(), 1);
    assert_eq!(
        trust[0]["Principal"]["Service"],
        json!({ "Fn::Sub": "ec2.${AWS::URLSuffix}" })
    );
    let eip = resource(&t, "PublicAddress");
    assert_eq!(
        eip["Condition"], "HasIngress",
        "a public address only with SSH"
    );
    assert_eq!(eip["Properties"]["InstanceId"], r("Instance"));
}

#[test]
fn outputs_are_what_rig_bastion_reads_and_none_is_exported() {
    let t = bastion();
    let outputs = t["Outputs"].as_object().unwrap();
    let conditional: BTreeMap<&str, &str> = outputs
        .iter()
        .filter_map(|(k, o)| Some((k.as_str(), o.get("Condition")?.as_str()?)))
        .collect();
    for key in OUTPUTS {
        assert!(outputs.contains_key(*key), "output {key}");
        assert!(!conditional.contains_key(key), "{key} is always there");
    }
    assert_eq!(
        conditional,
        BTreeMap::from([
            ("IngressCidr", "HasIngress"),
            ("PublicIp", "HasIngress"),
            ("SshCommand", "HasIngress"),
        ])
    );
    assert_eq!(outputs.len(), OUTPUTS.len() + conditional.len());
    for (k, o) in outputs {
        assert!(o.get("Export").is_none(), "{k}: nothing imports a bastion");
        assert!(
            o["Description"].as_str().is_some_and(|d| !d.is_empty()),
            "{k}"
        );
    }
    assert_eq!(
        outputs["SessionCommand"]["Value"],
        json!({ "Fn::Sub": "aws ssm start-session --target ${Instance} --region ${AWS::Region}" })
    );
    assert_eq!(
        outputs["PrivateIp"]["Value"],
        json!({ "Fn::GetAtt": ["Instance", "PrivateIp"] })
    );
}

#[test]
fn every_import_is_exported_by_the_foundation() {
    let mut found = BTreeSet::new();
    imports(&bastion(), &mut found);
    let foundation = template(FOUNDATION);
    let exported: BTreeSet<String> = foundation["Outputs"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|o| o["Export"]["Name"]["Fn::Sub"].as_str())
        .map(|n| n.replace("${AWS::StackName}", "${FoundationStackName}"))
        .collect();
    for i in &found {
        assert!(exported.contains(i), "foundation.yaml exports no {i}");
    }
    let want: BTreeSet<String> = [
        "VpcId",
        "CidrBlock",
        "SubnetPublicA",
        "SubnetPrivateA",
        "AppSecurityGroup",
    ]
    .iter()
    .map(|n| format!("${{FoundationStackName}}--{n}"))
    .collect();
    assert_eq!(found, want, "the bastion depends on the foundation only");
}
