//! Checks before any change (`rig check`, and `rig up` / `rig plan` before their first
//! mutating call): the credentials, the region, the certificate, the hosted zone, the key pair,
//! the plugins, the secrets and the quotas the new foundation stacks consume. Each check reads
//! only; a failed one says how to fix it.

use serde::Serialize;

use crate::cloud::preflight::Usage;
use crate::cloud::AwsError;
use crate::config::Riglet;
use crate::planner::{Backends, RigletPlan};
use crate::secrets;

use super::Engine;

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckLine {
    /// What was checked: `credentials`, `region`, `certificate`, `hosted zone`, `key pair`,
    /// `plugins`, `secret NAME`, `quota: ...`.
    pub check: String,
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it, when it failed.
    pub fix: Option<String>,
}

/// Every check's result, in the order they ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub checks: Vec<CheckLine>,
}

impl CheckReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    fn pass(&mut self, check: &str, detail: String) {
        self.checks.push(CheckLine {
            check: check.into(),
            ok: true,
            detail,
            fix: None,
        });
    }

    fn fail(&mut self, check: &str, detail: String, fix: String) {
        self.checks.push(CheckLine {
            check: check.into(),
            ok: false,
            detail,
            fix: Some(fix),
        });
    }

    fn aws_failed(&mut self, check: &str, e: &AwsError) {
        self.fail(
            check,
            format!("could not be read: {e}"),
            "check the permissions of the credentials (--profile) for this read-only call".into(),
        );
    }
}

/// Foundation stacks need 2 Availability Zones (subnets A and B).
const ZONES_NEEDED: usize = 2;
/// Each new foundation stack creates one VPC, one Application Load Balancer and, per zone, a
/// NAT gateway with its Elastic IP (templates/foundation.yaml).
const EIPS_PER_FOUNDATION: u64 = 2;

/// Whether certificate name `pattern` (`example.com` or `*.example.com`) covers `host`: a
/// wildcard covers exactly one label (RFC 6125 §6.4.3, as ACM and browsers apply it).
pub fn name_covers(pattern: &str, host: &str) -> bool {
    let (p, h) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    let h = h.trim_end_matches('.');
    match p.strip_prefix("*.") {
        Some(rest) => h
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => p.trim_end_matches('.') == h,
    }
}

/// The region of an ACM certificate ARN (`arn:PARTITION:acm:REGION:ACCOUNT:certificate/ID`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

impl Engine {
    /// Runs every check for `plan`; only reads. `can_prompt`: a terminal can ask for a secret
    /// that is neither stored nor in the environment.
    pub async fn check(
        &self,
        riglet: &Riglet,
        plan: &RigletPlan,
        backends: &Backends,
        can_prompt: bool,
    ) -> CheckReport {
        let mut r = CheckReport::default();
        let c = &self.clients;
        match c.caller().await {
            Ok(who) => r.pass(
                "credentials",
                format!("account {} as {}", who.account, who.arn),
            ),
            Err(e) => {
                r.fail(
                    "credentials",
                    e.to_string(),
                    "set AWS_PROFILE or --profile to credentials for the riglet's account".into(),
                );
                return r;
            }
        }
        let region = &riglet.info.region;
        match c.availability_zones().await {
            Ok(z) if z.len() >= ZONES_NEEDED => {
                r.pass("region", format!("{region} ({} zones)", z.len()))
            }
            Ok(z) => r.fail(
                "region",
                format!("{region} has {} available zone(s)", z.len()),
                format!("choose a region with at least {ZONES_NEEDED} Availability Zones"),
            ),
            Err(e) => r.aws_failed("region", &e),
        }
        self.check_certificate(&mut r, riglet, plan).await;
        self.check_zone(&mut r, riglet, plan).await;
        if let Some(key) = &riglet.info.key_name {
            match c.key_pair_exists(key).await {
                Ok(true) => r.pass("key pair", format!("{key} exists")),
                Ok(false) => r.fail(
                    "key pair",
                    format!("no EC2 key pair named {key} in {region}"),
                    format!("create or import it (aws ec2 import-key-pair --key-name {key} ...), or remove key_name from rig.toml"),
                ),
                Err(e) => r.aws_failed("key pair", &e),
            }
        }
        let mut loaded = vec![backends.foundation.manifest(), backends.compute.manifest()];
        loaded.extend(backends.database.as_ref().map(|d| d.manifest()));
        loaded.push(backends.pipeline.manifest());
        r.pass(
            "plugins",
            loaded
                .iter()
                .map(|m| format!("{} {} (protocol {})", m.id, m.version, m.protocol))
                .collect::<Vec<_>>()
                .join(", "),
        );
        self.check_secrets(&mut r, plan, can_prompt).await;
        self.check_quotas(&mut r, plan).await;
        r
    }

    async fn check_certificate(&self, r: &mut CheckReport, riglet: &Riglet, plan: &RigletPlan) {
        let (arn, region) = (&riglet.info.domain_cert_arn, &riglet.info.region);
        if let Some(other) = arn_region(arn).filter(|a| a != region) {
            return r.fail(
                "certificate",
                format!("{arn} is in {other}; the riglet's load balancers are in {region}"),
                format!("request or import a certificate in {region} and set domain_cert to it"),
            );
        }
        let cert = match self.clients.certificate(arn).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return r.fail(
                    "certificate",
                    format!("no certificate {arn} in this account and region"),
                    format!(
                        "request one for *.{} in {region} (aws acm request-certificate) and set domain_cert to its ARN",
                        riglet.info.domain
                    ),
                )
            }
            Err(e) => return r.aws_failed("certificate", &e),
        };
        if cert.status != "ISSUED" {
            return r.fail(
                "certificate",
                format!("{arn} is {}", cert.status),
                "complete its validation (the DNS records ACM asks for), then run again".into(),
            );
        }
        let mut hosts: Vec<&str> = plan
            .stacks
            .iter()
            .filter_map(|s| s.app.as_ref())
            .flat_map(|a| std::iter::once(a.host.as_str()).chain(a.preferred_host.as_deref()))
            .collect();
        hosts.sort();
        hosts.dedup();
        let uncovered: Vec<&str> = hosts
            .iter()
            .copied()
            .filter(|h| !cert.names.iter().any(|n| name_covers(n, h)))
            .collect();
        let domain = &riglet.info.domain;
        let under_domain = cert.names.iter().any(|n| {
            let n = n.trim_start_matches("*.");
            n == domain || n.ends_with(&format!(".{domain}"))
        });
        if !uncovered.is_empty() {
            r.fail(
                "certificate",
                format!(
                    "{arn} ({}) does not cover {}",
                    cert.names.join(", "),
                    uncovered.join(", ")
                ),
                format!("use a certificate for *.{domain} (and {domain})"),
            )
        } else if !under_domain {
            r.fail(
                "certificate",
                format!(
                    "{arn} ({}) names nothing under {domain}",
                    cert.names.join(", ")
                ),
                format!("use a certificate for *.{domain} (and {domain})"),
            )
        } else {
            r.pass(
                "certificate",
                format!(
                    "ISSUED, {} ({} host names covered)",
                    cert.names.join(", "),
                    hosts.len()
                ),
            )
        }
    }

    async fn check_zone(&self, r: &mut CheckReport, riglet: &Riglet, plan: &RigletPlan) {
        if !plan.stacks.iter().any(|s| s.app.is_some()) {
            return;
        }
        let domain = &riglet.info.domain;
        let found = match &riglet.hosted_zone_id {
            Some(id) => self
                .clients
                .zone_exists(id)
                .await
                .map(|z| z.map(|_| id.clone())),
            None => self.clients.public_zone_id(domain).await,
        };
        match found {
            Ok(Some(id)) => r.pass("hosted zone", format!("{domain} ({id})")),
            Ok(None) => r.fail(
                "hosted zone",
                match &riglet.hosted_zone_id {
                    Some(id) => format!("hosted zone {id} (hosted_zone_id) does not exist"),
                    None => format!("no public hosted zone named {domain}; the apps' DNS records go there"),
                },
                format!("create the public hosted zone for {domain} in Route 53 (or fix hosted_zone_id in rig.toml)"),
            ),
            Err(e) => r.aws_failed("hosted zone", &e),
        }
    }

    async fn check_secrets(&self, r: &mut CheckReport, plan: &RigletPlan, can_prompt: bool) {
        if plan.secrets.is_empty() {
            return;
        }
        let paths: Vec<String> = plan
            .secrets
            .iter()
            .map(|s| s.requirement.ssm_path.clone())
            .collect();
        let stored = match self.clients.parameter_values(&paths).await {
            Ok(s) => s,
            Err(e) => return r.aws_failed("secrets", &e),
        };
        for s in &plan.secrets {
            let req = &s.requirement;
            let label = format!("secret {}", req.ssm_path);
            if stored.contains_key(&req.ssm_path) {
                r.pass(&label, "stored".into());
                continue;
            }
            let env = secrets::env_of(req);
            let (specific, generic) = secrets::env_vars(req, env.as_deref());
            let given = [&specific, &generic].into_iter().find_map(|v| {
                std::env::var(v)
                    .ok()
                    .filter(|x| !x.is_empty())
                    .map(|x| (v, x))
            });
            match given {
                Some((var, value)) => match secrets::check(req, &value) {
                    Ok(()) => r.pass(&label, format!("from {var}")),
                    Err(e) => r.fail(
                        &label,
                        format!("{var}: {e}"),
                        format!("set {var} to an acceptable value"),
                    ),
                },
                None if can_prompt => r.pass(&label, "not stored yet; rig up asks for it".into()),
                None => r.fail(
                    &label,
                    "not stored yet, and there is no terminal to ask for it".into(),
                    format!("set {specific} (or {generic}) in the environment"),
                ),
            }
        }
    }

    async fn check_quotas(&self, r: &mut CheckReport, plan: &RigletPlan) {
        let mut new = 0u64;
        for s in plan.stacks.iter().filter(|s| s.suffix == "foundation") {
            match self.stacks().describe(&s.plan.name).await {
                Ok(None) => new += 1,
                Ok(Some(_)) => {}
                Err(e) => return r.aws_failed("quotas", &e),
            }
        }
        if new == 0 {
            return r.pass(
                "quotas",
                "no new foundation stack: nothing more is needed".into(),
            );
        }
        let c = &self.clients;
        let wants: [(&str, u64, Result<Usage, AwsError>, &str); 4] = [
            (
                "quota: VPCs per Region",
                new,
                c.vpc_usage().await,
                "vpc L-F678F1CE",
            ),
            (
                "quota: Elastic IP addresses",
                new * EIPS_PER_FOUNDATION,
                c.elastic_ip_usage().await,
                "ec2 L-0263D0A3",
            ),
            (
                "quota: NAT gateways per Availability Zone",
                new,
                c.nat_gateway_usage().await,
                "vpc L-FE5A380F",
            ),
            (
                "quota: Application Load Balancers",
                new,
                c.load_balancer_usage().await,
                "elasticloadbalancing L-53DA6B97",
            ),
        ];
        for (label, need, usage, code) in wants {
            match usage {
                Ok(u) if u.used + need <= u.limit => r.pass(
                    label,
                    format!("{} used of {}, {need} more needed", u.used, u.limit),
                ),
                Ok(u) => r.fail(
                    label,
                    format!("{} used of {}, {need} more needed", u.used, u.limit),
                    format!("free some, or request an increase (Service Quotas {code})"),
                ),
                Err(e) => r.aws_failed(label, &e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_covers_one_label() {
        assert!(name_covers("*.example.com", "api.example.com"));
        assert!(name_covers("*.Example.com", "api.example.com."));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(name_covers("example.com", "example.com"));
        assert!(!name_covers("example.com", "api.example.com"));
    }

    #[test]
    fn the_region_of_an_arn() {
        assert_eq!(
            arn_region("arn:aws:acm:eu-west-1:123456789012:certificate/x"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("nonsense"), None);
    }
}
