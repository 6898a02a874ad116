//! `status`, `outputs` and `protect`, from the riglet's record.

use std::collections::BTreeMap;

use rig_core::{EcsCapacity, HealthProbe};

use crate::cloud::cfn::StackState;
use crate::engine::{Engine, EngineError, ProbeResult, StackStatusReport};
use crate::planner::RigletPlan;

impl Engine {
    /// Turns termination protection on or off for every live stack of the riglet within the
    /// plan's scope (planned ones by exact name, orphans by exact tags), after checking that
    /// each is this riglet's.
    pub async fn protect(&self, plan: &RigletPlan, on: bool) -> Result<Vec<String>, EngineError> {
        let record = self.record(plan).await?;
        if !record.foreign.is_empty() {
            return Err(EngineError::NotOwned(record.foreign));
        }
        let st = self.stacks();
        let mut names = Vec::new();
        for s in &record.stacks {
            st.set_protection(s.name(), on).await?;
            names.push(s.name().to_string());
        }
        Ok(names)
    }

    /// Every planned stack's status and health, then the riglet's orphans, from the record.
    pub async fn status(&self, plan: &RigletPlan) -> Result<Vec<StackStatusReport>, EngineError> {
        let record = self.record(plan).await?;
        let mut out = Vec::new();
        for s in &plan.stacks {
            let state = record.state(&s.plan.name);
            let mut probes = Vec::new();
            if let Some(state) = state.filter(|x| !x.in_progress()) {
                for p in &s.plan.probes {
                    probes.push(self.probe(p, state).await);
                }
            }
            out.push(StackStatusReport {
                name: s.plan.name.clone(),
                env: s.env.clone(),
                status: state.map(|x| x.status.clone()),
                termination_protection: state.is_some_and(|x| x.termination_protection),
                orphan: false,
                probes,
            });
        }
        for o in record.orphans() {
            out.push(StackStatusReport {
                name: o.name().to_string(),
                env: o.env.clone(),
                status: Some(o.state.status.clone()),
                termination_protection: o.state.termination_protection,
                orphan: true,
                probes: vec![],
            });
        }
        Ok(out)
    }

    async fn probe(&self, p: &HealthProbe, state: &StackState) -> ProbeResult {
        let (kind, named_by) = match p {
            HealthProbe::EcsCluster { cluster_output, .. } => ("ECS cluster", cluster_output),
            HealthProbe::EcsService { service_output, .. } => ("ECS service", service_output),
            HealthProbe::RdsCluster { cluster_output, .. } => ("RDS cluster", cluster_output),
            HealthProbe::Ec2Instance { instance_output } => ("EC2 instance", instance_output),
        };
        let verdict = match p {
            HealthProbe::EcsCluster {
                cluster_output,
                capacity,
            } => {
                self.probe_ecs_cluster(state, cluster_output, capacity)
                    .await
            }
            HealthProbe::EcsService {
                cluster_output,
                service_output,
            } => {
                self.probe_ecs_service(state, cluster_output, service_output)
                    .await
            }
            HealthProbe::RdsCluster {
                cluster_output,
                members,
            } => {
                self.probe_rds_cluster(state, cluster_output, *members)
                    .await
            }
            HealthProbe::Ec2Instance { instance_output } => {
                self.probe_ec2_instance(state, instance_output).await
            }
        };
        let (healthy, detail) = verdict.unwrap_or_else(|detail| (false, detail));
        let what = match state.output(named_by) {
            Some(name) => format!("{kind} {name}"),
            None => kind.to_string(),
        };
        ProbeResult {
            what,
            healthy,
            detail,
        }
    }

    /// Probes answer `Ok((healthy, detail))`, or `Err(detail)` when they cannot tell.
    fn output<'s>(state: &'s StackState, key: &str) -> Result<&'s str, String> {
        state
            .output(key)
            .ok_or_else(|| format!("stack output {key} is missing"))
    }

    fn call_err<E, R>(&self, op: &str, e: aws_sdk_cloudformation::error::SdkError<E, R>) -> String
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + crate::cloud::HttpStatus,
    {
        crate::cloud::aws_err(op, self.clients.endpoint_url.as_deref(), e).to_string()
    }

    async fn probe_ecs_cluster(
        &self,
        state: &StackState,
        output: &str,
        capacity: &EcsCapacity,
    ) -> Result<(bool, String), String> {
        let name = Self::output(state, output)?;
        let out = self
            .clients
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

    async fn probe_ecs_service(
        &self,
        state: &StackState,
        cluster: &str,
        service: &str,
    ) -> Result<(bool, String), String> {
        let (cluster, service) = (Self::output(state, cluster)?, Self::output(state, service)?);
        let out = self
            .clients
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

    async fn probe_rds_cluster(
        &self,
        state: &StackState,
        output: &str,
        members: u32,
    ) -> Result<(bool, String), String> {
        let id = Self::output(state, output)?;
        let out = self
            .clients
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

    async fn probe_ec2_instance(
        &self,
        state: &StackState,
        output: &str,
    ) -> Result<(bool, String), String> {
        let id = Self::output(state, output)?;
        let out = self
            .clients
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

    /// Outputs of every live stack of the riglet in the plan's scope (planned, adopted and
    /// orphan): stack → (key, value).
    pub async fn outputs(
        &self,
        plan: &RigletPlan,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, EngineError> {
        let record = self.record(plan).await?;
        Ok(record
            .stacks
            .into_iter()
            .map(|s| (s.state.name, s.state.outputs.into_iter().collect()))
            .collect())
    }
}
