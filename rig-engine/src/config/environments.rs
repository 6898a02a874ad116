//! `[environments]`: the default environments and networks, each environment's VPC and subnets,
//! and the `--env` selection.

use indexmap::IndexMap;
use rig_core::names;
use rig_core::{EnvironmentSpec, NetworkCidrs};

use super::{Cidr, EnvToml, Overrides};

/// The seed's three environments and their networks.
pub const DEFAULT_ENVIRONMENTS: [(&str, &str); 3] = [
    ("integration", "10.1.0.0/16"),
    ("staging", "10.2.0.0/16"),
    ("production", "10.3.0.0/16"),
];

/// The environment tables as written, or the default three when the file has none.
pub(super) fn tables(
    written: &Option<IndexMap<String, EnvToml>>,
    problems: &mut Vec<String>,
) -> IndexMap<String, EnvToml> {
    match written {
        Some(m) if m.is_empty() => {
            problems.push("`environments`: at least one environment is needed; remove the table for the default three".into());
            IndexMap::new()
        }
        Some(m) => m.clone(),
        None => DEFAULT_ENVIRONMENTS
            .iter()
            .map(|(n, _)| (n.to_string(), EnvToml::default()))
            .collect(),
    }
}

/// Every valid environment with its networks, then only those `--env` selects.
pub(super) fn resolve(
    env_tables: &IndexMap<String, EnvToml>,
    ov: &Overrides,
    problems: &mut Vec<String>,
) -> Vec<EnvironmentSpec> {
    let mut envs = Vec::new();
    let mut vpcs: Vec<(String, Cidr)> = Vec::new();
    for (name, et) in env_tables {
        if let Some(env) = resolve_one(name, et, &mut vpcs, problems) {
            envs.push(env);
        }
    }
    select(&mut envs, env_tables, ov, problems);
    envs
}

/// An environment's name: a name segment. The error is the loader's message.
pub fn check_environment_name(name: &str) -> Result<(), String> {
    names::validate_segment("environment", name).map_err(|e| format!("`environments.{name}`: {e}"))
}

/// An environment with this VPC CIDR (or its default, for the three default environments)
/// and the default subnets, as `[environments.<name>]` with only `cidr`. The error is the
/// loader's first message about it.
pub fn check_environment(name: &str, cidr: Option<&str>) -> Result<(), String> {
    let table = EnvToml {
        cidr: cidr.map(str::to_string),
        ..EnvToml::default()
    };
    let mut problems = Vec::new();
    resolve_one(name, &table, &mut Vec::new(), &mut problems);
    problems.into_iter().next().map_or(Ok(()), Err)
}

/// One environment: its VPC CIDR (given or default) and subnets (given or derived), checked.
/// `None` when it has a problem that makes the rest meaningless.
fn resolve_one(
    name: &str,
    et: &EnvToml,
    vpcs: &mut Vec<(String, Cidr)>,
    problems: &mut Vec<String>,
) -> Option<EnvironmentSpec> {
    let key = format!("environments.{name}");
    if let Err(e) = check_environment_name(name) {
        problems.push(e);
        return None;
    }
    let default_cidr = DEFAULT_ENVIRONMENTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c.to_string());
    let Some(cidr_s) = et.cidr.clone().or(default_cidr) else {
        problems.push(format!(
            "`{key}.cidr`: missing; environment `{name}` needs a VPC CIDR such as \"10.4.0.0/16\" (only integration, staging and production have defaults)"
        ));
        return None;
    };
    let vpc = match Cidr::parse(&cidr_s) {
        Ok(c) => c,
        Err(e) => {
            problems.push(format!("`{key}.cidr`: {e}"));
            return None;
        }
    };
    if !(16..=24).contains(&vpc.prefix) {
        problems.push(format!(
            "`{key}.cidr`: `{cidr_s}` must be between /16 and /24 (AWS VPC limits)"
        ));
        return None;
    }
    if let Some((other, _)) = vpcs.iter().find(|(_, c)| c.overlaps(&vpc)) {
        tracing::debug!(env = %name, other = %other, "VPC CIDRs overlap (allowed: the VPCs are not peered)");
    }
    vpcs.push((name.to_string(), vpc));
    let derive = |given: &Option<[String; 2]>, a: u8, b: u8| -> [String; 2] {
        given
            .clone()
            .unwrap_or_else(|| [subnet_of(&vpc, a), subnet_of(&vpc, b)])
    };
    if vpc.prefix != 16
        && (et.public_subnets.is_none()
            || et.private_subnets.is_none()
            || et.database_subnets.is_none())
    {
        problems.push(format!(
            "`{key}`: with a VPC smaller than /16 give `public_subnets`, `private_subnets` and `database_subnets` explicitly"
        ));
        return None;
    }
    let cidrs = NetworkCidrs {
        vpc: cidr_s.clone(),
        public: derive(&et.public_subnets, 1, 2),
        private: derive(&et.private_subnets, 11, 12),
        database: derive(&et.database_subnets, 100, 110),
    };
    check_subnets(&key, &vpc, &cidrs, problems);
    Some(EnvironmentSpec {
        name: name.to_string(),
        cidrs,
        production: et.production.unwrap_or(name == "production"),
    })
}

/// Every subnet is a CIDR inside the VPC and overlaps no other subnet of the environment.
fn check_subnets(key: &str, vpc: &Cidr, cidrs: &NetworkCidrs, problems: &mut Vec<String>) {
    let cidr_s = &cidrs.vpc;
    let mut seen: Vec<(String, Cidr)> = Vec::new();
    for (field, list) in [
        ("public_subnets", &cidrs.public),
        ("private_subnets", &cidrs.private),
        ("database_subnets", &cidrs.database),
    ] {
        for s in list.iter() {
            match Cidr::parse(s) {
                Err(e) => problems.push(format!("`{key}.{field}`: {e}")),
                Ok(c) if !vpc.contains(&c) => problems.push(format!(
                    "`{key}.{field}`: `{s}` is not inside the VPC CIDR `{cidr_s}`"
                )),
                Ok(c) => {
                    if let Some((f2, _)) = seen.iter().find(|(_, o)| o.overlaps(&c)) {
                        problems.push(format!(
                            "`{key}.{field}`: `{s}` overlaps a subnet in `{f2}`"
                        ));
                    }
                    seen.push((field.to_string(), c));
                }
            }
        }
    }
}

fn subnet_of(vpc: &Cidr, third_octet: u8) -> String {
    let o = vpc.addr.octets();
    format!("{}.{}.{}.0/24", o[0], o[1], third_octet)
}

/// `--env`: every name must be an environment of the file; only those are kept.
fn select(
    envs: &mut Vec<EnvironmentSpec>,
    env_tables: &IndexMap<String, EnvToml>,
    ov: &Overrides,
    problems: &mut Vec<String>,
) {
    for e in &ov.environments {
        if !env_tables.contains_key(e) {
            problems.push(format!(
                "`--env {e}`: no such environment; the config has: {}",
                env_tables.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if !ov.environments.is_empty() {
        envs.retain(|e| ov.environments.contains(&e.name));
    }
}
