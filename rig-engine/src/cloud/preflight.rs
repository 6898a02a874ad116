//! What `rig check` reads before anything changes: who the caller is, the certificate, the
//! EC2 key pair, the Availability Zones and the quotas the foundation stacks consume. Every
//! call here only reads.

use std::collections::BTreeMap;

use crate::cloud::{aws_err, AwsError, Clients};

/// The caller, from `sts:GetCallerIdentity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// An ACM certificate as `acm:DescribeCertificate` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// `ISSUED`, `PENDING_VALIDATION`, `EXPIRED`, ... (the ACM `CertificateStatus` values).
    pub status: String,
    /// The certificate's domain name followed by its subject alternative names.
    pub names: Vec<String>,
}

/// A quota and how much of it the account uses in the riglet's region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub limit: u64,
    pub used: u64,
}

/// Service Quotas codes of the quotas read through Service Quotas
/// (<https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html>).
pub mod quota_codes {
    /// "VPCs per Region" (service `vpc`), 5 by default.
    pub const VPCS_PER_REGION: &str = "L-F678F1CE";
    /// "NAT gateways per Availability Zone" (service `vpc`), 5 by default.
    pub const NAT_GATEWAYS_PER_AZ: &str = "L-FE5A380F";
}

impl Clients {
    /// The account and ARN the credentials act as.
    pub async fn caller(&self) -> Result<Caller, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_err("GetCallerIdentity", self.ep(), e))?;
        Ok(Caller {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
        })
    }

    /// The certificate `arn` in the clients' region; `None` if ACM has no such certificate.
    pub async fn certificate(&self, arn: &str) -> Result<Option<Certificate>, AwsError> {
        let out = match self
            .acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(|e| aws_err("DescribeCertificate", self.ep(), e))
        {
            Ok(out) => out,
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(c) = out.certificate() else {
            return Ok(None);
        };
        let mut names: Vec<String> = c.domain_name().into_iter().map(str::to_string).collect();
        for n in c.subject_alternative_names() {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
        Ok(Some(Certificate {
            status: c
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            names,
        }))
    }

    /// Whether the EC2 key pair `name` exists in the region.
    pub async fn key_pair_exists(&self, name: &str) -> Result<bool, AwsError> {
        match self
            .ec2
            .describe_key_pairs()
            .key_names(name)
            .send()
            .await
            .map_err(|e| aws_err("DescribeKeyPairs", self.ep(), e))
        {
            Ok(out) => Ok(out.key_pairs().iter().any(|k| k.key_name() == Some(name))),
            Err(e) if e.code() == Some("InvalidKeyPair.NotFound") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The names of the region's Availability Zones that are available.
    pub async fn availability_zones(&self) -> Result<Vec<String>, AwsError> {
        let out = self
            .ec2
            .describe_availability_zones()
            .send()
            .await
            .map_err(|e| aws_err("DescribeAvailabilityZones", self.ep(), e))?;
        Ok(out
            .availability_zones()
            .iter()
            .filter(|z| z.state().is_none_or(|s| s.as_str() == "available"))
            .filter_map(|z| z.zone_name().map(str::to_string))
            .collect())
    }

    /// Elastic IP addresses: the `vpc-max-elastic-ips` account attribute and the addresses
    /// allocated.
    pub async fn elastic_ip_usage(&self) -> Result<Usage, AwsError> {
        let attrs = self
            .ec2
            .describe_account_attributes()
            .attribute_names(aws_sdk_ec2::types::AccountAttributeName::from(
                "vpc-max-elastic-ips",
            ))
            .send()
            .await
            .map_err(|e| aws_err("DescribeAccountAttributes", self.ep(), e))?;
        let limit = attrs
            .account_attributes()
            .iter()
            .filter(|a| a.attribute_name() == Some("vpc-max-elastic-ips"))
            .flat_map(|a| a.attribute_values())
            .find_map(|v| v.attribute_value()?.parse().ok())
            .unwrap_or(5);
        let used = self
            .ec2
            .describe_addresses()
            .send()
            .await
            .map_err(|e| aws_err("DescribeAddresses", self.ep(), e))?
            .addresses()
            .len() as u64;
        Ok(Usage { limit, used })
    }

    /// Application Load Balancers: the `application-load-balancers` account limit and the
    /// application load balancers in the region.
    pub async fn load_balancer_usage(&self) -> Result<Usage, AwsError> {
        let limits = self
            .elb
            .describe_account_limits()
            .send()
            .await
            .map_err(|e| aws_err("DescribeAccountLimits", self.ep(), e))?;
        let limit = limits
            .limits()
            .iter()
            .find(|l| l.name() == Some("application-load-balancers"))
            .and_then(|l| l.max()?.parse().ok())
            .unwrap_or(50);
        let mut used = 0;
        let mut marker = None;
        loop {
            let page = self
                .elb
                .describe_load_balancers()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| aws_err("DescribeLoadBalancers", self.ep(), e))?;
            used += page
                .load_balancers()
                .iter()
                .filter(|lb| lb.r#type().is_none_or(|t| t.as_str() == "application"))
                .count() as u64;
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        Ok(Usage { limit, used })
    }

    /// VPCs: the "VPCs per Region" quota and the VPCs in the region.
    pub async fn vpc_usage(&self) -> Result<Usage, AwsError> {
        let limit = self.vpc_quota(quota_codes::VPCS_PER_REGION).await?;
        let used = self
            .ec2
            .describe_vpcs()
            .send()
            .await
            .map_err(|e| aws_err("DescribeVpcs", self.ep(), e))?
            .vpcs()
            .len() as u64;
        Ok(Usage { limit, used })
    }

    /// NAT gateways: the "NAT gateways per Availability Zone" quota and the most NAT gateways
    /// (pending or available) any one zone holds.
    pub async fn nat_gateway_usage(&self) -> Result<Usage, AwsError> {
        let limit = self.vpc_quota(quota_codes::NAT_GATEWAYS_PER_AZ).await?;
        let gateways = self
            .ec2
            .describe_nat_gateways()
            .send()
            .await
            .map_err(|e| aws_err("DescribeNatGateways", self.ep(), e))?;
        let live: Vec<String> = gateways
            .nat_gateways()
            .iter()
            .filter(|g| {
                g.state()
                    .is_none_or(|s| matches!(s.as_str(), "pending" | "available"))
            })
            .filter_map(|g| g.subnet_id().map(str::to_string))
            .collect();
        let mut per_zone: BTreeMap<String, u64> = BTreeMap::new();
        if !live.is_empty() {
            let subnets = self
                .ec2
                .describe_subnets()
                .set_subnet_ids(Some(live.clone()))
                .send()
                .await
                .map_err(|e| aws_err("DescribeSubnets", self.ep(), e))?;
            let zone_of: BTreeMap<&str, &str> = subnets
                .subnets()
                .iter()
                .filter_map(|s| Some((s.subnet_id()?, s.availability_zone()?)))
                .collect();
            for subnet in &live {
                let zone = zone_of.get(subnet.as_str()).copied().unwrap_or("?");
                *per_zone.entry(zone.to_string()).or_default() += 1;
            }
        }
        Ok(Usage {
            limit,
            used: per_zone.values().copied().max().unwrap_or(0),
        })
    }

    /// A `vpc` quota's applied value, or its AWS default when the account never changed it.
    async fn vpc_quota(&self, code: &str) -> Result<u64, AwsError> {
        let applied = self
            .quotas
            .get_service_quota()
            .service_code("vpc")
            .quota_code(code)
            .send()
            .await
            .map_err(|e| aws_err("GetServiceQuota", self.ep(), e));
        let value = match applied {
            Ok(out) => out.quota().and_then(|q| q.value()),
            Err(e) if e.code() == Some("NoSuchResourceException") => self
                .quotas
                .get_aws_default_service_quota()
                .service_code("vpc")
                .quota_code(code)
                .send()
                .await
                .map_err(|e| aws_err("GetAWSDefaultServiceQuota", self.ep(), e))?
                .quota()
                .and_then(|q| q.value()),
            Err(e) => return Err(e),
        };
        Ok(value.unwrap_or(5.0) as u64)
    }
}
