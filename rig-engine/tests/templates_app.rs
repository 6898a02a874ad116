//! The application template (`templates/app.yaml`), the operations topic of the foundation and
//! the compute stacks' `LaunchType` output, read as CloudFormation reads them (no AWS).
//!
//! Each template is parsed with `saphyr` and turned into the JSON form of a CloudFormation
//! template: a short-form tag becomes its long form (`!Ref X` → `{"Ref": "X"}`, `!Sub s` →
//! `{"Fn::Sub": "s"}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`), so the assertions below do
//! not depend on which form a template uses.

use std::collections::BTreeSet;

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{json, Map, Value};

const APP: &str = include_str!("../../templates/app.yaml");
const FOUNDATION: &str = include_str!("../../templates/foundation.yaml");
const FARGATE: &str = include_str!("../../templates/fargate.yaml");
const ECS_EC2: &str = include_str!("../../templates/ecs-ec2.yaml");

/// Parameters of `app.yaml` rig's planner sets, with the default each must have (`None`: none).
const APP_PARAMETERS: &[(&str, &str, Option<&str>)] = &[
    ("Environment", "String", None),
    ("AppName", "String", None),
    ("FoundationStackName", "String", None),
    ("ComputeStackName", "String", None),
    ("LaunchType", "String", None),
    ("ContainerImage", "String", None),
    ("ContainerPort", "Number", None),
    ("ContainerCpu", "Number", None),
    ("ContainerMemory", "Number", None),
    ("TaskDesiredCount", "Number", None),
    ("HealthCheckPath", "String", Some("/")),
    ("HealthCheckGracePeriodSeconds", "Number", Some("60")),
    ("ListenerRulePriority", "Number", None),
    ("PreferredListenerRulePriority", "Number", None),
    ("HostName", "String", None),
    ("PreferredHostName", "String", Some("")),
    ("HostedZoneId", "String", None),
    ("SsmEnvironmentNamespace", "String", None),
    ("IamPath", "String", None),
    ("LogRetentionInDays", "Number", Some("60")),
    ("ErrorAlarm", "String", None),
    ("AutoScalingMaxCapacity", "Number", Some("0")),
    ("AutoScalingMinCapacity", "Number", Some("1")),
    ("AutoScalingCpuTarget", "Number", Some("60")),
    ("CircuitBreakerFailureThreshold", "Number", Some("3")),
];

/// Resources of `app.yaml` other parts of rig refer to by logical id, with their types.
const APP_RESOURCES: &[(&str, &str)] = &[
    ("TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup"),
    ("ListenerRule", "AWS::ElasticLoadBalancingV2::ListenerRule"),
    (
        "PreferredListenerRule",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
    ),
    ("DnsRecord", "AWS::Route53::RecordSet"),
    ("PreferredDnsRecord", "AWS::Route53::RecordSet"),
    ("LogGroup", "AWS::Logs::LogGroup"),
    ("ExecutionRole", "AWS::IAM::Role"),
    ("TaskRole", "AWS::IAM::Role"),
    ("TaskDefinition", "AWS::ECS::TaskDefinition"),
    ("Service", "AWS::ECS::Service"),
    (
        "ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalableTarget",
    ),
    (
        "ScalingPolicy",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
    ),
    ("ErrorMetricFilter", "AWS::Logs::MetricFilter"),
    ("ErrorLogAlarm", "AWS::CloudWatch::Alarm"),
];

/// Outputs of `app.yaml`.
const APP_OUTPUTS: &[&str] = &[
    "ApplicationUrl",
    "PreferredApplicationUrl",
    "ClusterName",
    "ServiceName",
    "ServiceArn",
    "TaskDefinitionArn",
    "TargetGroupArn",
    "LogGroupName",
    "ContainerImage",
];

// ------------------------------------------------------------------ reading templates

/// A template in CloudFormation's JSON form.
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
                        let (resource, attribute) = s
                            .split_once('.')
                            .unwrap_or_else(|| panic!("!GetAtt {s} names no attribute"));
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
                .map(|(k, v)| (key_text(k), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unexpected YAML node {node:?}"),
    }
}

fn key_text(key: &Yaml<'_>) -> String {
    match to_json(key) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// `{"Ref": name}`.
fn r(name: &str) -> Value {
    json!({ "Ref": name })
}

/// `Fn::ImportValue` of `Fn::Sub` `${<stack parameter>}--<name>`.
fn import(stack_parameter: &str, name: &str) -> Value {
    json!({ "Fn::ImportValue": { "Fn::Sub": format!("${{{stack_parameter}}}--{name}") } })
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["Resources"]
        .get(id)
        .unwrap_or_else(|| panic!("the template declares no resource {id}"))
}

fn props<'a>(t: &'a Value, id: &str) -> &'a Value {
    &resource(t, id)["Properties"]
}

/// A string or a list of strings, as IAM's `Action` and `Principal.Service` are written.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().expect("a list of strings").to_string())
            .collect(),
        other => panic!("expected a string or a list of strings, got {other}"),
    }
}

/// The statements of a policy document.
fn statements(document: &Value) -> &Vec<Value> {
    document["Statement"]
        .as_array()
        .expect("a policy document has a Statement list")
}

/// Whether some `Allow` statement gives `service` every action of `actions`.
fn allows_service(document: &Value, service: &str, actions: &[&str]) -> bool {
    statements(document).iter().any(|s| {
        s["Effect"] == "Allow"
            && s["Principal"]
                .get("Service")
                .is_some_and(|p| strings(p).iter().any(|x| x == service))
            && actions
                .iter()
                .all(|a| strings(&s["Action"]).iter().any(|x| x == a))
    })
}

/// Every `Fn::ImportValue` under `v`.
fn imports(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if let Some(i) = m.get("Fn::ImportValue") {
                out.push(i.clone());
            }
            m.values().for_each(|x| imports(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| imports(x, out)),
        _ => {}
    }
}

/// Whether a string under `v` is `text`.
fn mentions(v: &Value, text: &str) -> bool {
    match v {
        Value::String(s) => s == text,
        Value::Object(m) => m.values().any(|x| mentions(x, text)),
        Value::Array(items) => items.iter().any(|x| mentions(x, text)),
        _ => false,
    }
}

/// The export names (`${AWS::StackName}--X` → `X`) a template declares.
fn exports(t: &Value) -> BTreeSet<String> {
    t["Outputs"]
        .as_object()
        .expect("Outputs")
        .values()
        .filter_map(|o| o["Export"]["Name"]["Fn::Sub"].as_str())
        .map(|n| {
            n.strip_prefix("${AWS::StackName}--")
                .unwrap_or_else(|| panic!("export {n} is not named after its stack"))
                .to_string()
        })
        .collect()
}

// ------------------------------------------------------------------ app.yaml

#[test]
fn app_template_is_small_enough_to_send_inline() {
    assert!(APP.len() < 50_000, "app.yaml has {} bytes", APP.len());
    assert_eq!(template(APP)["AWSTemplateFormatVersion"], "2010-09-09");
}

#[test]
fn app_declares_every_parameter_of_the_interface_with_a_description() {
    let t = template(APP);
    let declared = t["Parameters"].as_object().expect("Parameters");
    for (name, kind, default) in APP_PARAMETERS {
        let p = declared
            .get(*name)
            .unwrap_or_else(|| panic!("app.yaml lacks parameter {name}"));
        assert_eq!(p["Type"], *kind, "type of {name}");
        let description = p["Description"].as_str().unwrap_or_default();
        assert!(!description.is_empty(), "{name} has no description");
        match default {
            Some(d) => {
                let given = match &p["Default"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => panic!("{name} has default {other}"),
                };
                assert_eq!(given, *d, "default of {name}");
            }
            None => assert!(p.get("Default").is_none(), "{name} has a default"),
        }
    }
    let known: BTreeSet<&str> = APP_PARAMETERS.iter().map(|(n, _, _)| *n).collect();
    let extra: Vec<&String> = declared
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .collect();
    assert!(extra.is_empty(), "parameters nobody sets: {extra:?}");
    assert_eq!(
        declared["LaunchType"]["AllowedValues"],
        json!(["FARGATE", "EC2"])
    );
    assert_eq!(
        declared["ErrorAlarm"]["AllowedValues"],
        json!(["true", "false"])
    );
    let retention = declared["LogRetentionInDays"]["AllowedValues"]
        .as_array()
        .expect("LogRetentionInDays has AllowedValues");
    for days in [1, 7, 14, 30, 60, 90, 365, 3653] {
        assert!(retention.contains(&json!(days)), "{days} days missing");
    }
    assert_eq!(declared["ContainerPort"]["MinValue"], 1);
    assert_eq!(declared["ContainerPort"]["MaxValue"], 65535);
    assert_eq!(declared["ListenerRulePriority"]["MaxValue"], 25000);
    assert_eq!(declared["PreferredListenerRulePriority"]["MinValue"], 25001);
    assert_eq!(declared["PreferredListenerRulePriority"]["MaxValue"], 50000);
}

#[test]
fn app_declares_the_resources_of_the_interface() {
    let declared = rig_engine::template::declared(APP).expect("app.yaml is readable");
    for (id, kind) in APP_RESOURCES {
        let d = declared
            .iter()
            .find(|d| d.logical_id == *id)
            .unwrap_or_else(|| panic!("app.yaml lacks resource {id}"));
        assert_eq!(d.resource_type, *kind, "type of {id}");
    }
    // Nothing of an app stack outlives it.
    assert!(rig_engine::template::retained(APP).is_empty());
}

#[test]
fn app_conditions_follow_their_parameters() {
    let t = template(APP);
    let c = &t["Conditions"];
    assert_eq!(
        c["HasPreferredHost"],
        json!({ "Fn::Not": [{ "Fn::Equals": [r("PreferredHostName"), ""] }] })
    );
    assert_eq!(
        c["HasAutoScaling"],
        json!({ "Fn::Not": [{ "Fn::Equals": [r("AutoScalingMaxCapacity"), "0"] }] })
    );
    assert_eq!(
        c["HasErrorAlarm"],
        json!({ "Fn::Equals": [r("ErrorAlarm"), "true"] })
    );
    for id in ["ScalableTarget", "ScalingPolicy"] {
        assert_eq!(resource(&t, id)["Condition"], "HasAutoScaling", "{id}");
    }
    let scaling = props(&t, "ScalingPolicy");
    assert_eq!(scaling["PolicyType"], "TargetTrackingScaling");
    let tracking = &scaling["TargetTrackingScalingPolicyConfiguration"];
    assert_eq!(
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"],
        "ECSServiceAverageCPUUtilization"
    );
    assert_eq!(tracking["TargetValue"], r("AutoScalingCpuTarget"));
    let target = props(&t, "ScalableTarget");
    assert_eq!(target["ScalableDimension"], "ecs:service:DesiredCount");
    assert_eq!(target["MaxCapacity"], r("AutoScalingMaxCapacity"));
    assert_eq!(target["MinCapacity"], r("AutoScalingMinCapacity"));
}

#[test]
fn service_rolls_back_a_failing_deployment() {
    let t = template(APP);
    let service = props(&t, "Service");
    let deployment = &service["DeploymentConfiguration"];
    assert_eq!(deployment["MaximumPercent"], 200);
    assert_eq!(deployment["MinimumHealthyPercent"], 100);
    let breaker = &deployment["DeploymentCircuitBreaker"];
    assert_eq!(breaker["Enable"], true);
    assert_eq!(breaker["Rollback"], true);
    assert_eq!(breaker["ThresholdConfiguration"]["Type"], "COUNT");
    assert_eq!(
        breaker["ThresholdConfiguration"]["Value"],
        r("CircuitBreakerFailureThreshold")
    );
}

#[test]
fn service_runs_in_the_private_subnets_behind_its_listener_rule() {
    let t = template(APP);
    assert_eq!(resource(&t, "Service")["DependsOn"], "ListenerRule");
    let service = props(&t, "Service");
    assert_eq!(service["Cluster"], import("ComputeStackName", "Cluster"));
    // No launch type: the cluster's default capacity provider strategy decides.
    assert!(service.get("LaunchType").is_none(), "{service}");
    assert!(
        service.get("CapacityProviderStrategy").is_none(),
        "{service}"
    );
    assert_eq!(service["DesiredCount"], r("TaskDesiredCount"));
    assert_eq!(
        service["HealthCheckGracePeriodSeconds"],
        r("HealthCheckGracePeriodSeconds")
    );
    assert_eq!(service["PropagateTags"], "SERVICE");
    assert_eq!(service["EnableECSManagedTags"], true);
    let vpc = &service["NetworkConfiguration"]["AwsvpcConfiguration"];
    assert_eq!(vpc["AssignPublicIp"], "DISABLED");
    assert_eq!(
        vpc["Subnets"],
        json!([
            import("FoundationStackName", "SubnetPrivateA"),
            import("FoundationStackName", "SubnetPrivateB")
        ])
    );
    assert_eq!(
        vpc["SecurityGroups"],
        json!([import("FoundationStackName", "AppSecurityGroup")])
    );
    assert_eq!(
        service["LoadBalancers"],
        json!([{
            "ContainerName": r("AppName"),
            "ContainerPort": r("ContainerPort"),
            "TargetGroupArn": r("TargetGroup"),
        }])
    );
}

#[test]
fn task_definition_runs_one_container_with_the_fixed_environment() {
    let t = template(APP);
    let task = props(&t, "TaskDefinition");
    assert_eq!(task["Family"], r("AWS::StackName"));
    assert_eq!(task["NetworkMode"], "awsvpc");
    assert_eq!(task["RequiresCompatibilities"], json!([r("LaunchType")]));
    assert_eq!(task["Cpu"], r("ContainerCpu"));
    assert_eq!(task["Memory"], r("ContainerMemory"));
    assert_eq!(
        task["ExecutionRoleArn"],
        json!({ "Fn::GetAtt": ["ExecutionRole", "Arn"] })
    );
    assert_eq!(
        task["TaskRoleArn"],
        json!({ "Fn::GetAtt": ["TaskRole", "Arn"] })
    );
    let containers = task["ContainerDefinitions"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["Name"], r("AppName"));
    assert_eq!(c["Image"], r("ContainerImage"));
    assert_eq!(c["Essential"], true);
    assert_eq!(c["PortMappings"][0]["ContainerPort"], r("ContainerPort"));
    assert_eq!(c["LogConfiguration"]["LogDriver"], "awslogs");
    let logs = &c["LogConfiguration"]["Options"];
    assert_eq!(logs["awslogs-group"], r("LogGroup"));
    assert_eq!(logs["awslogs-region"], r("AWS::Region"));
    assert_eq!(logs["awslogs-stream-prefix"], r("AppName"));
    assert_eq!(
        c["Environment"],
        json!([
            { "Name": "APP_ENVIRONMENT", "Value": r("Environment") },
            { "Name": "AWS_REGION", "Value": r("AWS::Region") },
            { "Name": "AWS_ENV_PATH", "Value": r("SsmEnvironmentNamespace") },
            { "Name": "IMAGE", "Value": r("ContainerImage") },
        ])
    );
    assert!(
        c.get("Secrets").is_none(),
        "secrets come from rig.toml only"
    );
}

#[test]
fn markers_sit_where_list_items_and_container_keys_go() {
    let lines: Vec<&str> = APP.lines().collect();
    let at = |marker: &str| {
        let found: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].trim() == marker)
            .collect();
        assert_eq!(found.len(), 1, "{marker} appears {} times", found.len());
        found[0]
    };
    let (env, secrets) = (at("# rig:environment"), at("# rig:secrets"));
    assert_eq!(
        secrets,
        env + 1,
        "the secrets marker follows the environment marker"
    );
    let indent = |l: &str| l.len() - l.trim_start().len();
    assert_eq!(indent(lines[env]), 12);
    assert_eq!(indent(lines[secrets]), 10);
    assert!(lines[env - 1].trim_start().starts_with("Value:"));
    assert_eq!(
        indent(lines[env - 2]),
        12,
        "the last fixed item is a list item"
    );
    let environment_key = (0..env)
        .rev()
        .find(|i| lines[*i].trim() == "Environment:")
        .expect("the environment marker is under a container's Environment");
    assert_eq!(indent(lines[environment_key]), 10);

    // Items put at the markers the way rig's planner does land in the container.
    let mut filled = String::new();
    for line in &lines {
        let pad = &line[..indent(line)];
        match line.trim() {
            "# rig:environment" => {
                filled.push_str(&format!("{pad}- Name: LOG_LEVEL\n{pad}  Value: \"info\"\n"))
            }
            "# rig:secrets" => filled.push_str(&format!(
                "{pad}Secrets:\n{pad}  - Name: STRIPE_KEY\n{pad}    ValueFrom: !Sub 'arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter${{SsmEnvironmentNamespace}}/STRIPE_KEY'\n"
            )),
            _ => {
                filled.push_str(line);
                filled.push('\n');
            }
        }
    }
    let t = template(&filled);
    let c = &props(&t, "TaskDefinition")["ContainerDefinitions"][0];
    let environment = c["Environment"].as_array().expect("Environment");
    assert_eq!(environment.len(), 5);
    assert_eq!(
        environment[4],
        json!({ "Name": "LOG_LEVEL", "Value": "info" })
    );
    assert_eq!(c["Secrets"][0]["Name"], "STRIPE_KEY");
    assert_eq!(
        c["Image"],
        r("ContainerImage"),
        "the container keeps its keys"
    );
}

#[test]
fn error_alarm_is_optional_and_notifies_the_operations_topic() {
    let t = template(APP);
    for id in ["ErrorMetricFilter", "ErrorLogAlarm"] {
        assert_eq!(resource(&t, id)["Condition"], "HasErrorAlarm", "{id}");
    }
    let filter = props(&t, "ErrorMetricFilter");
    assert_eq!(filter["LogGroupName"], r("LogGroup"));
    assert!(
        filter["FilterPattern"]
            .as_str()
            .is_some_and(|p| p.contains("ERROR")),
        "{}",
        filter["FilterPattern"]
    );
    let metric = &filter["MetricTransformations"][0];
    assert_eq!(metric["MetricNamespace"], "Rig/Application");
    assert_eq!(
        metric["MetricName"],
        json!({ "Fn::Sub": "${AWS::StackName}-errors" })
    );

    let alarm = props(&t, "ErrorLogAlarm");
    assert_eq!(alarm["Namespace"], metric["MetricNamespace"]);
    assert_eq!(alarm["MetricName"], metric["MetricName"]);
    assert_eq!(alarm["Statistic"], "Sum");
    assert_eq!(alarm["Period"], 60);
    assert_eq!(alarm["EvaluationPeriods"], 1);
    assert_eq!(alarm["Threshold"], 0);
    assert_eq!(alarm["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(alarm["TreatMissingData"], "notBreaching");
    assert_eq!(
        alarm["AlarmActions"],
        json!([import("FoundationStackName", "SNS--Topic")])
    );
}

#[test]
fn roles_live_under_the_app_path_and_serve_ecs_tasks_only() {
    let t = template(APP);
    for id in ["ExecutionRole", "TaskRole"] {
        let role = props(&t, id);
        assert_eq!(role["Path"], r("IamPath"), "{id}");
        assert!(role.get("RoleName").is_none(), "{id} must not be named");
        let trust = statements(&role["AssumeRolePolicyDocument"]);
        assert_eq!(trust.len(), 1, "{id}");
        assert_eq!(trust[0]["Effect"], "Allow");
        assert_eq!(trust[0]["Action"], "sts:AssumeRole");
        assert_eq!(
            strings(&trust[0]["Principal"]["Service"]),
            vec!["ecs-tasks.amazonaws.com"],
            "{id}"
        );
    }
    let execution = props(&t, "ExecutionRole");
    assert_eq!(
        execution["ManagedPolicyArns"],
        json!([{ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy" }])
    );
    let parameters = |id: &str| -> Vec<Value> {
        props(&t, id)["Policies"]
            .as_array()
            .expect("inline policies")
            .iter()
            .flat_map(|p| statements(&p["PolicyDocument"]).clone())
            .collect()
    };
    let namespace =
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SsmEnvironmentNamespace}";
    let execution = parameters("ExecutionRole");
    assert_eq!(execution.len(), 1);
    assert_eq!(strings(&execution[0]["Action"]), vec!["ssm:GetParameters"]);
    assert_eq!(
        execution[0]["Resource"],
        json!({ "Fn::Sub": format!("{namespace}/*") })
    );
    let task = parameters("TaskRole");
    assert_eq!(task.len(), 1);
    assert_eq!(
        strings(&task[0]["Action"]),
        vec!["ssm:GetParameters", "ssm:GetParametersByPath"]
    );
    assert_eq!(
        task[0]["Resource"],
        json!([{ "Fn::Sub": namespace }, { "Fn::Sub": format!("{namespace}/*") }])
    );
}

#[test]
fn target_group_takes_task_ips_and_drains_quickly() {
    let t = template(APP);
    let tg = props(&t, "TargetGroup");
    assert_eq!(tg["TargetType"], "ip");
    assert_eq!(tg["Protocol"], "HTTP");
    assert_eq!(tg["Port"], r("ContainerPort"));
    assert_eq!(tg["VpcId"], import("FoundationStackName", "VpcId"));
    assert_eq!(tg["HealthCheckPath"], r("HealthCheckPath"));
    assert_eq!(tg["HealthCheckIntervalSeconds"], 10);
    assert_eq!(tg["HealthCheckTimeoutSeconds"], 5);
    assert_eq!(tg["HealthyThresholdCount"], 2);
    assert_eq!(tg["UnhealthyThresholdCount"], 3);
    assert_eq!(tg["Matcher"]["HttpCode"], "200-399");
    assert!(
        tg.get("Name").is_none(),
        "a named target group cannot be replaced"
    );
    assert_eq!(
        tg["TargetGroupAttributes"],
        json!([{ "Key": "deregistration_delay.timeout_seconds", "Value": "30" }])
    );
}

#[test]
fn host_names_get_a_listener_rule_and_an_alias_record_each() {
    let t = template(APP);
    for (rule, record, host, priority, condition) in [
        (
            "ListenerRule",
            "DnsRecord",
            "HostName",
            "ListenerRulePriority",
            None,
        ),
        (
            "PreferredListenerRule",
            "PreferredDnsRecord",
            "PreferredHostName",
            "PreferredListenerRulePriority",
            Some("HasPreferredHost"),
        ),
    ] {
        for id in [rule, record] {
            assert_eq!(
                resource(&t, id).get("Condition").and_then(Value::as_str),
                condition,
                "condition of {id}"
            );
        }
        let p = props(&t, rule);
        assert_eq!(
            p["ListenerArn"],
            import("FoundationStackName", "ALB--HttpsListener")
        );
        assert_eq!(p["Priority"], r(priority), "{rule}");
        assert_eq!(
            p["Conditions"],
            json!([{ "Field": "host-header", "HostHeaderConfig": { "Values": [r(host)] } }]),
            "{rule}"
        );
        assert_eq!(
            p["Actions"],
            json!([{ "Type": "forward", "TargetGroupArn": r("TargetGroup") }]),
            "{rule}"
        );
        let d = props(&t, record);
        assert_eq!(d["HostedZoneId"], r("HostedZoneId"), "{record}");
        assert_eq!(d["Name"], r(host), "{record}");
        assert_eq!(d["Type"], "A", "{record}");
        assert_eq!(
            d["AliasTarget"]["DNSName"],
            import("FoundationStackName", "ALB--DNSName")
        );
        assert_eq!(
            d["AliasTarget"]["HostedZoneId"],
            import("FoundationStackName", "ALB--CanonicalHostedZoneID")
        );
    }
}

#[test]
fn log_group_is_named_after_the_stack() {
    let t = template(APP);
    let logs = props(&t, "LogGroup");
    assert_eq!(logs["LogGroupName"], r("AWS::StackName"));
    assert_eq!(logs["RetentionInDays"], r("LogRetentionInDays"));
}

#[test]
fn app_outputs_are_described_and_only_the_preferred_url_is_conditional() {
    let t = template(APP);
    let outputs = t["Outputs"].as_object().expect("Outputs");
    let names: BTreeSet<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(names, APP_OUTPUTS.iter().copied().collect::<BTreeSet<_>>());
    for (name, o) in outputs {
        assert!(
            o["Description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name} has no description"
        );
        let conditional = o.get("Condition").is_some();
        assert_eq!(conditional, name == "PreferredApplicationUrl", "{name}");
        assert!(o.get("Export").is_none(), "{name} is not exported");
    }
    assert_eq!(
        outputs["ApplicationUrl"]["Value"],
        json!({ "Fn::Sub": "https://${HostName}" })
    );
    assert_eq!(
        outputs["ServiceName"]["Value"],
        json!({ "Fn::GetAtt": ["Service", "Name"] })
    );
    assert_eq!(outputs["ServiceArn"]["Value"], r("Service"));
    assert_eq!(
        outputs["ClusterName"]["Value"],
        import("ComputeStackName", "Cluster")
    );
}

#[test]
fn every_import_of_the_app_is_exported_by_the_stacks_it_names() {
    let app = template(APP);
    let mut found = Vec::new();
    imports(&app, &mut found);
    let foundation = exports(&template(FOUNDATION));
    let computes = [exports(&template(FARGATE)), exports(&template(ECS_EC2))];
    let mut names = BTreeSet::new();
    for i in &found {
        let sub = i["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("import {i} is not a !Sub of a stack parameter"));
        names.insert(sub.to_string());
        if let Some(name) = sub.strip_prefix("${FoundationStackName}--") {
            assert!(
                foundation.contains(name),
                "foundation.yaml exports no {name}"
            );
        } else if let Some(name) = sub.strip_prefix("${ComputeStackName}--") {
            for c in &computes {
                assert!(c.contains(name), "a compute template exports no {name}");
            }
        } else {
            panic!("import {sub} names neither the foundation nor the compute stack");
        }
    }
    let expected: BTreeSet<String> = [
        "VpcId",
        "SubnetPrivateA",
        "SubnetPrivateB",
        "AppSecurityGroup",
        "ALB--HttpsListener",
        "ALB--DNSName",
        "ALB--CanonicalHostedZoneID",
        "SNS--Topic",
    ]
    .iter()
    .map(|n| format!("${{FoundationStackName}}--{n}"))
    .chain(["${ComputeStackName}--Cluster".to_string()])
    .collect();
    assert_eq!(names, expected);
}

// ------------------------------------------------------------------ compute templates

#[test]
fn compute_templates_export_their_launch_type_as_a_literal() {
    for (body, launch_type) in [(FARGATE, "FARGATE"), (ECS_EC2, "EC2")] {
        let t = template(body);
        let o = &t["Outputs"]["LaunchType"];
        assert_eq!(o["Value"], launch_type);
        assert_eq!(
            o["Export"]["Name"],
            json!({ "Fn::Sub": "${AWS::StackName}--LaunchType" })
        );
        assert!(o["Description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(
            rig_engine::template::literal_output(body, "LaunchType").as_deref(),
            Some(launch_type)
        );
    }
}

// ------------------------------------------------------------------ foundation.yaml

#[test]
fn operations_topic_is_encrypted_with_its_own_key() {
    let t = template(FOUNDATION);
    let topic = props(&t, "OperationsTopic");
    assert_eq!(topic["KmsMasterKeyId"], r("OperationsTopicKey"));
    assert!(
        !mentions(&t, "alias/aws/sns"),
        "nothing in foundation.yaml uses the AWS-managed SNS key"
    );
    assert_eq!(resource(&t, "OperationsTopicKey")["Type"], "AWS::KMS::Key");
    let key = props(&t, "OperationsTopicKey");
    assert_eq!(key["EnableKeyRotation"], true);
    assert_eq!(key["PendingWindowInDays"], 7);
    let alias = props(&t, "OperationsTopicKeyAlias");
    assert_eq!(
        resource(&t, "OperationsTopicKeyAlias")["Type"],
        "AWS::KMS::Alias"
    );
    assert_eq!(
        alias["AliasName"],
        json!({ "Fn::Sub": "alias/${AWS::StackName}-operations" })
    );
    assert_eq!(alias["TargetKeyId"], r("OperationsTopicKey"));
}

#[test]
fn alarms_and_events_can_deliver_to_the_operations_topic() {
    let t = template(FOUNDATION);
    let key_policy = &props(&t, "OperationsTopicKey")["KeyPolicy"];
    let root = statements(key_policy).iter().any(|s| {
        s["Effect"] == "Allow"
            && s["Principal"]["AWS"]
                == json!({ "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" })
            && strings(&s["Action"]) == ["kms:*"]
    });
    assert!(root, "the account administers the key");
    assert_eq!(
        resource(&t, "OperationsTopicPolicy")["Type"],
        "AWS::SNS::TopicPolicy"
    );
    let topic_policy = props(&t, "OperationsTopicPolicy");
    assert_eq!(topic_policy["Topics"], json!([r("OperationsTopic")]));
    let document = &topic_policy["PolicyDocument"];
    for service in ["cloudwatch.amazonaws.com", "events.amazonaws.com"] {
        assert!(
            allows_service(
                key_policy,
                service,
                &["kms:GenerateDataKey*", "kms:Decrypt"]
            ),
            "{service} cannot encrypt for the topic"
        );
        assert!(
            allows_service(document, service, &["sns:Publish"]),
            "{service} cannot publish to the topic"
        );
    }
    for s in statements(document) {
        assert_eq!(s["Resource"], r("OperationsTopic"));
        assert_eq!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"],
            r("AWS::AccountId")
        );
    }
}

#[test]
fn foundation_keeps_every_export() {
    let t = template(FOUNDATION);
    let outputs = t["Outputs"].as_object().expect("Outputs");
    assert!(
        outputs.values().all(|o| o.get("Export").is_some()),
        "every foundation output is exported"
    );
    let names = exports(&t);
    for name in [
        "VpcId",
        "CidrBlock",
        "SubnetPublicA",
        "SubnetPublicB",
        "SubnetPrivateA",
        "SubnetPrivateB",
        "SubnetDatabaseA",
        "SubnetDatabaseB",
        "RouteTablePrivateA",
        "RouteTablePrivateB",
        "InternalDns",
        "InternalHostedZoneName",
        "AppSecurityGroup",
        "AppBucket",
        "PublicDomainName",
        "ALB--SG",
        "ALB--DNSName",
        "ALB--CanonicalHostedZoneID",
        "ALB--HttpListener",
        "ALB--HttpsListener",
        "SNS--Topic",
    ] {
        assert!(
            names.contains(name),
            "foundation.yaml no longer exports {name}"
        );
    }
    assert_eq!(outputs["OperationsTopic"]["Value"], r("OperationsTopic"));
}
