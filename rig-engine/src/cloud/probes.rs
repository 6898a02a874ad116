//! Health probes through the services' own describe calls: ECS clusters and services, RDS
//! clusters, EC2 instances. Each answers `Ok((healthy, detail))`, or `Err(detail)` when it
//! cannot tell (a missing output, a failed call).

use rig_core::EcsCapacity;

use crate::cloud::cfn::StackState;
use crate::cloud::{aws_err, Clients, HttpStatus};

/// The value of a stack output a probe names.
fn output_of<'s>(state: &'s StackState, key: &str) -> Result<&'s str, String> {
    state
        .output(key)
        .ok_or_else(|| format!("stack output {key} is missing"))
}

impl Clients {
    fn call_err<E, R>(&self, op: &str, e: aws_sdk_cloudformation::error::SdkError<E, R>) -> String
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + HttpStatus + 'static,
    {
        aws_err(op, self.endpoint_url.as_deref(), e).to_string()
    }

    pub async fn probe_ecs_cluster(
        &self,
        state: &StackState,
        output: &str,
        capacity: &EcsCapacity,
    ) -> Result<(bool, String), String> {
        let name = output_of(state, output)?;
        let out = self
            .ecs
            .describe_clusters()
            .clusters(name)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeClusters", e))?;
        let c = out.clusters().first().ok_or("not found")?;
        let status = c.status().unwrap_or_default().to_string();
        Ok(match capacity {
            EcsCapacity::Ec2 { min_instances } => {
                let n = c.registered_container_instances_count();
                (
                    status == "ACTIVE" && n >= *min_instances as i32,
                    format!("{status}, {n} of {min_instances} container instances registered"),
                )
            }
            EcsCapacity::Fargate => {
                let cps = c.capacity_providers().join(", ");
                let cps = if cps.is_empty() {
                    "(default)".to_string()
                } else {
                    cps
                };
                (
                    status == "ACTIVE",
                    format!("{status}, Fargate capacity providers: {cps}"),
                )
            }
        })
    }

    pub async fn probe_ecs_service(
        &self,
        state: &StackState,
        cluster: &str,
        service: &str,
    ) -> Result<(bool, String), String> {
        let (cluster, service) = (output_of(state, cluster)?, output_of(state, service)?);
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeServices", e))?;
        let s = out.services().first().ok_or("not found")?;
        Ok((
            s.running_count() == s.desired_count(),
            format!(
                "{} of {} tasks running",
                s.running_count(),
                s.desired_count()
            ),
        ))
    }

    pub async fn probe_rds_cluster(
        &self,
        state: &StackState,
        output: &str,
        members: u32,
    ) -> Result<(bool, String), String> {
        let id = output_of(state, output)?;
        let out = self
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeDBClusters", e))?;
        let c = out.db_clusters().first().ok_or("not found")?;
        let status = c.status().unwrap_or_default();
        let n = c.db_cluster_members().len();
        Ok((
            status == "available" && n >= members as usize,
            format!("{status}, {n} of {members} instances"),
        ))
    }

    pub async fn probe_ec2_instance(
        &self,
        state: &StackState,
        output: &str,
    ) -> Result<(bool, String), String> {
        let id = output_of(state, output)?;
        let out = self
            .ec2
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| self.call_err("DescribeInstances", e))?;
        let state = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
            })
            .ok_or("not found")?;
        Ok((state == "running", state))
    }
}
