//! `status`, `outputs` and `protect`, from the riglet's record.

use std::collections::BTreeMap;

use rig_core::HealthProbe;

use crate::cloud::cfn::StackState;
use crate::cloud::Clients;
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

    /// Every planned stack's status and health, then the live bastions and the riglet's
    /// orphans, from the record.
    pub async fn status(&self, plan: &RigletPlan) -> Result<Vec<StackStatusReport>, EngineError> {
        let record = self.record(plan).await?;
        let mut out = Vec::new();
        for s in &plan.stacks {
            let state = record.state(&s.plan.name);
            let mut probes = Vec::new();
            if let Some(state) = state.filter(|x| !x.in_progress()) {
                for p in &s.plan.probes {
                    probes.push(probe(&self.clients, p, state).await);
                }
            }
            out.push(StackStatusReport {
                name: s.plan.name.clone(),
                env: s.env.clone(),
                role: s.plan.role.as_str().to_string(),
                status: state.map(|x| x.status.to_string()),
                termination_protection: state.is_some_and(|x| x.termination_protection),
                orphan: false,
                not_owned: record
                    .foreign
                    .iter()
                    .find(|f| f.name == s.plan.name)
                    .map(|f| crate::ownership::show_tags(&f.found)),
                probes,
            });
        }
        // Bastions exist on demand only: listed when live (or when another's stack has the name).
        for env in &plan.environments {
            let name = crate::planner::bastion::stack_name(&plan.names, env);
            let live = record.get(&name);
            let foreign = record.foreign.iter().find(|f| f.name == name);
            if live.is_none() && foreign.is_none() {
                continue;
            }
            let mut probes = Vec::new();
            if let Some(l) = live.filter(|l| l.state.status.settled()) {
                let instance = HealthProbe::Ec2Instance {
                    instance_output: "InstanceId".into(),
                };
                probes.push(probe(&self.clients, &instance, &l.state).await);
            }
            out.push(StackStatusReport {
                name,
                env: Some(env.clone()),
                role: rig_core::Role::Bastion.as_str().to_string(),
                status: live.map(|l| l.state.status.to_string()),
                termination_protection: live.is_some_and(|l| l.state.termination_protection),
                orphan: false,
                not_owned: foreign.map(|f| crate::ownership::show_tags(&f.found)),
                probes,
            });
        }
        for o in record.orphans() {
            out.push(StackStatusReport {
                name: o.name().to_string(),
                env: o.env.clone(),
                role: o.role.clone(),
                status: Some(o.state.status.to_string()),
                termination_protection: o.state.termination_protection,
                orphan: true,
                not_owned: None,
                probes: vec![],
            });
        }
        Ok(out)
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

/// One health probe of a stack, through the service's own describe call.
pub(crate) async fn probe(clients: &Clients, p: &HealthProbe, state: &StackState) -> ProbeResult {
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
            clients
                .probe_ecs_cluster(state, cluster_output, capacity)
                .await
        }
        HealthProbe::EcsService {
            cluster_output,
            service_output,
        } => {
            clients
                .probe_ecs_service(state, cluster_output, service_output)
                .await
        }
        HealthProbe::RdsCluster {
            cluster_output,
            members,
        } => {
            clients
                .probe_rds_cluster(state, cluster_output, *members)
                .await
        }
        HealthProbe::Ec2Instance { instance_output } => {
            clients.probe_ec2_instance(state, instance_output).await
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
