//! The standard foundation: VPC, subnets, NAT, ALB, security groups, operations topic, private
//! DNS zone and the app bucket of one environment.

use rig_core::names::RigletNames;
use rig_core::{
    Backend, EnvRequest, Foundation, Issue, Manifest, PluginError, Role, Settings, StackPlan,
    PROTOCOL_VERSION,
};

const TEMPLATE: &str = include_str!("../../../templates/foundation.yaml");

/// Output keys `foundation.yaml` promises (each also exported as `<stack>--<Name>`).
pub const OUTPUTS: &[&str] = &[
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
    "AlbSecurityGroup",
    "AlbDnsName",
    "AlbCanonicalHostedZoneId",
    "HttpListener",
    "HttpsListener",
    "OperationsTopic",
];

/// The built-in foundation backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct StandardFoundation;

impl Backend for StandardFoundation {
    fn manifest(&self) -> Manifest {
        Manifest {
            id: "standard".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            role: Role::Foundation,
            protocol: PROTOCOL_VERSION.into(),
            description: "VPC in 2 AZs with NAT per AZ, ALB (80→443), SNS operations topic, private DNS, app bucket".into(),
            stack_suffix: "foundation".into(),
            features: vec![],
        }
    }

    fn validate(&self, settings: &Settings) -> Vec<Issue> {
        rig_core::settings::check(settings, &[])
    }
}

impl Foundation for StandardFoundation {
    fn plan_foundation(&self, req: &EnvRequest) -> Result<Vec<StackPlan>, PluginError> {
        let r = &req.riglet;
        let env = &req.environment;
        let names = RigletNames::new(&r.owner, &r.project, &r.region);
        let c = &env.cidrs;
        let parameters = [
            ("Environment", env.name.clone()),
            ("ProjectName", r.project.clone()),
            ("PublicDomainName", r.domain.clone()),
            ("DomainCertArn", r.domain_cert_arn.clone()),
            ("EmailAddress", r.email.clone().unwrap_or_default()),
            ("VpcCidr", c.vpc.clone()),
            ("PublicSubnetACidr", c.public[0].clone()),
            ("PublicSubnetBCidr", c.public[1].clone()),
            ("PrivateSubnetACidr", c.private[0].clone()),
            ("PrivateSubnetBCidr", c.private[1].clone()),
            ("DatabaseSubnetACidr", c.database[0].clone()),
            ("DatabaseSubnetBCidr", c.database[1].clone()),
            ("AppBucketName", names.bucket("app", Some(&env.name))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Ok(vec![StackPlan {
            name: req.stack_name.clone(),
            role: Role::Foundation,
            template_file: "foundation.yaml".into(),
            template_body: TEMPLATE.to_string(),
            parameters,
            tags: req.tags.clone(),
            capabilities: vec![],
            depends_on: vec![],
            outputs: OUTPUTS.iter().map(|s| s.to_string()).collect(),
            probes: vec![],
            secrets: vec![],
            before_delete: Default::default(),
        }])
    }
}
