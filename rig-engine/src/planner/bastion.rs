//! An environment's on-demand bastion, from rig's own `templates/bastion.yaml` (the seed's
//! `cloudformation/bastion`): the stack `<owner>-<project>-<env>-bastion`, never part of the
//! riglet's plan. `rig bastion create` plans it here, for one environment, and the engine
//! creates it; `rig up` leaves a live one alone and `rig down` deletes it first.
//!
//! By default its security group has no inbound rule at all: the bastion is reached through SSM
//! Session Manager. With an ingress block (`--cidr`, `--my-ip`) the group admits SSH from that
//! block only, and the instance moves to a public subnet with an Elastic IP so the rule can be
//! used. Everything here is checked before any AWS call.

use std::net::Ipv4Addr;

use rig_core::names::RigletNames;
use rig_core::{Capability, Role, StackPlan};

use super::{PlannedStack, RigletPlan};
use crate::config::Cidr;
use crate::ownership::{self, Expected};

/// rig's bastion template.
pub const BASTION_TEMPLATE: &str = include_str!("../../../templates/bastion.yaml");

/// The bastion stack's suffix (`<owner>-<project>-<env>-bastion`, the seed's name).
pub const BASTION_SUFFIX: &str = "bastion";

/// The `rig:backend` of bastion stacks (rig plans them itself; no plugin does).
pub const BASTION_BACKEND: &str = "bastion";

/// The instance type when none is given.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";

/// The public SSM parameters of the Amazon Linux 2023 AMI, by architecture.
pub const AMI_X86_64: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
pub const AMI_ARM64: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64";

/// Outputs every bastion stack has; `PublicIp`, `IngressCidr` and `SshCommand` come with an
/// ingress block only.
pub const OUTPUTS: &[&str] = &[
    "InstanceId",
    "SecurityGroupId",
    "PrivateIp",
    "SessionCommand",
];

/// Why a bastion cannot be planned, created, reached or deleted.
#[derive(Debug, thiserror::Error)]
pub enum BastionError {
    #[error("--cidr {given}: {problem}\n  hint: give the one IPv4 address or block SSH may come from, such as 203.0.113.7/32, or use --my-ip")]
    BadCidr { given: String, problem: String },
    #[error("--cidr {given} would let the whole internet try SSH on the bastion; rig refuses it\n  hint: give your own address (such as 203.0.113.7/32) or use --my-ip; without either the bastion has no inbound rule and is reached through Session Manager")]
    WholeInternet { given: String },
    #[error("--instance-type {given} is not an EC2 instance type\n  hint: give one such as t3.micro or t4g.small")]
    BadInstanceType { given: String },
    #[error("cannot find this machine's public IPv4 address at {url}: {problem}\n  hint: give the address with --cidr ADDRESS/32 instead")]
    MyIp { url: String, problem: String },
    #[error("no environment `{env}` in this riglet: it has {}\n  hint: give one of those with --env", available.join(", "))]
    UnknownEnvironment { env: String, available: Vec<String> },
    #[error("{stack} needs {foundation}, which is not deployed{}\n  hint: run `rig up --env {env}` first", status.as_ref().map(|s| format!(" (it is {s})")).unwrap_or_default())]
    EnvironmentNotUp {
        stack: String,
        env: String,
        foundation: String,
        status: Option<String>,
    },
    #[error("there is no bastion in environment `{env}` ({stack} does not exist)\n  hint: create one with `rig bastion create --env {env}`")]
    NotCreated { stack: String, env: String },
    #[error("{stack} is {status}, so it cannot be used\n  hint: {hint}")]
    NotReady {
        stack: String,
        status: String,
        hint: String,
    },
}

/// What `rig bastion create` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BastionSpec {
    pub env: String,
    /// The one IPv4 block SSH is allowed from (checked with [`ingress_cidr`]); `None`: no inbound
    /// rule.
    pub ingress_cidr: Option<String>,
    pub instance_type: String,
    /// The riglet's EC2 key pair (`key_name`), if any.
    pub key_name: Option<String>,
}

/// The bastion stack's name in `env`.
pub fn stack_name(names: &RigletNames, env: &str) -> String {
    names.env_stack(env, BASTION_SUFFIX)
}

/// Who a bastion stack must belong to.
pub fn expected(names: &RigletNames, env: &str) -> Expected {
    Expected::new(names, Some(env), Role::Bastion.as_str())
}

/// Checks `--cidr`: an IPv4 address (taken as `/32`) or an IPv4 CIDR block without host bits,
/// never `0.0.0.0/0`. Returns the block as the template takes it.
pub fn ingress_cidr(given: &str) -> Result<String, BastionError> {
    let text = given.trim();
    let bad = |problem: String| BastionError::BadCidr {
        given: given.to_string(),
        problem,
    };
    if !text.contains('/') {
        let ip: Ipv4Addr = text
            .parse()
            .map_err(|_| bad("it is not an IPv4 address or CIDR block".into()))?;
        return Ok(format!("{ip}/32"));
    }
    let c = Cidr::parse(text).map_err(bad)?;
    if c.prefix == 0 {
        return Err(BastionError::WholeInternet {
            given: given.to_string(),
        });
    }
    Ok(format!("{}/{}", c.addr, c.prefix))
}

/// The block of the address a "what is my IP" service answered (its body): `<ip>/32`.
pub fn my_ip_cidr(answer: &str) -> Result<String, String> {
    let text = answer.trim();
    let ip: Ipv4Addr = text.parse().map_err(|_| {
        let shown: String = text.chars().take(40).collect();
        format!("its answer `{shown}` is not an IPv4 address")
    })?;
    if ip.is_unspecified() || ip.is_broadcast() {
        return Err(format!("its answer {ip} is not a usable address"));
    }
    Ok(format!("{ip}/32"))
}

/// Checks `--instance-type` as the template's `AllowedPattern` does (`family.size`).
pub fn check_instance_type(given: &str) -> Result<(), BastionError> {
    let ok = given.split_once('.').is_some_and(|(family, size)| {
        family.starts_with(|c: char| c.is_ascii_lowercase())
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !size.is_empty()
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(BastionError::BadInstanceType {
            given: given.to_string(),
        })
    }
}

/// The AMI parameter matching the instance type's architecture: Graviton families (a `g` among
/// the letters after the generation, as in `t4g`, `m7gd`, `c7gn`, and `a1`) are arm64.
pub fn image_parameter(instance_type: &str) -> &'static str {
    let family = instance_type.split('.').next().unwrap_or_default();
    let after_generation = family
        .trim_start_matches(|c: char| c.is_ascii_lowercase())
        .trim_start_matches(|c: char| c.is_ascii_digit());
    if family == "a1"
        || after_generation
            .split('-')
            .next()
            .unwrap_or("")
            .contains('g')
    {
        AMI_ARM64
    } else {
        AMI_X86_64
    }
}

/// Plans the bastion stack of `spec.env`: its foundation is the plan's, its template goes to the
/// environment's app bucket (`app_bucket`, the foundation's `AppBucket`) like an app stack's.
pub fn bastion_stack(
    plan: &RigletPlan,
    spec: &BastionSpec,
    app_bucket: &str,
) -> Result<PlannedStack, BastionError> {
    let env = spec.env.as_str();
    let foundation = plan
        .stacks
        .iter()
        .find(|s| s.plan.role == Role::Foundation && s.env.as_deref() == Some(env))
        .ok_or_else(|| BastionError::UnknownEnvironment {
            env: env.to_string(),
            available: plan.environments.clone(),
        })?;
    check_instance_type(&spec.instance_type)?;
    let ingress = match &spec.ingress_cidr {
        Some(c) => ingress_cidr(c)?,
        None => String::new(),
    };
    let names = &plan.names;
    let name = stack_name(names, env);
    let parameters = [
        ("Environment", env.to_string()),
        ("FoundationStackName", foundation.plan.name.clone()),
        ("InstanceType", spec.instance_type.clone()),
        ("ImageId", image_parameter(&spec.instance_type).to_string()),
        ("KeyName", spec.key_name.clone().unwrap_or_default()),
        ("IngressCidr", ingress),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut tags = expected(names, env).tags();
    tags.insert(ownership::BACKEND.to_string(), BASTION_BACKEND.into());
    Ok(PlannedStack {
        env: Some(env.to_string()),
        backend: BASTION_BACKEND.into(),
        suffix: BASTION_SUFFIX.into(),
        template_bucket: app_bucket.to_string(),
        app: None,
        uploads: vec![],
        plan: StackPlan {
            name: name.clone(),
            role: Role::Bastion,
            template_file: format!("{name}.yaml"),
            template_body: BASTION_TEMPLATE.to_string(),
            parameters,
            tags,
            capabilities: vec![Capability::CapabilityIam],
            depends_on: vec![foundation.plan.name.clone()],
            outputs: OUTPUTS.iter().map(|s| s.to_string()).collect(),
            probes: vec![],
            secrets: vec![],
            before_delete: Default::default(),
        },
    })
}
