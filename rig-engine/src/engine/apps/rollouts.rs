//! `rig up` and app stacks: an app stack `up` updates (its settings in `rig.toml` changed) is
//! done only when ECS has rolled the change out, as for `rig app deploy`.

use std::collections::BTreeMap;
use std::time::Duration;

use rig_core::Role;

use crate::engine::apps::watch::Watcher;
use crate::engine::converge::Work;
use crate::engine::record::Record;
use crate::engine::{Engine, EngineError, Outcome, StackReport};
use crate::planner::RigletPlan;

/// How long `rig up` waits for an app's rollout once CloudFormation is done.
pub const UP_ROLLOUT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

impl Engine {
    /// Watchers for the live app stacks `up` is about to change, each with what its service
    /// looked like before (so only the deployments the change makes are judged).
    pub(crate) async fn app_watchers(
        &self,
        plan: &RigletPlan,
        record: &Record,
        work: &BTreeMap<String, Work>,
    ) -> Result<Vec<Watcher<'_>>, EngineError> {
        let mut out = Vec::new();
        for s in plan.stacks.iter().filter(|s| s.app.is_some()) {
            let (Some(live), Some(Work::Converge)) =
                (record.state(&s.plan.name), work.get(&s.plan.name))
            else {
                continue;
            };
            let cluster = plan
                .stacks
                .iter()
                .find(|c| c.plan.role == Role::Compute && c.env == s.env)
                .and_then(|c| record.state(&c.plan.name))
                .and_then(|c| c.output("ClusterName"))
                .map(str::to_string);
            let mut w = Watcher::new(self, &s.plan.name, cluster, Some(live));
            w.before().await?;
            out.push(w);
        }
        Ok(out)
    }

    /// Waits for the rollout of each app stack `up` updated; a failed one turns its report into
    /// a failure with ECS's reason.
    pub(crate) async fn finish_rollouts(
        &self,
        watchers: Vec<Watcher<'_>>,
        reports: &mut [StackReport],
    ) -> Result<(), EngineError> {
        for mut w in watchers {
            let Some(r) = reports
                .iter_mut()
                .find(|r| r.name == w.stack() && r.outcome == Outcome::Updated)
            else {
                continue;
            };
            let Some(after) = self.stacks().describe(w.stack()).await? else {
                continue;
            };
            if let Some(td) = after.output("TaskDefinitionArn") {
                w.watch.expect(td.to_string());
            }
            w.adopt_outputs(&after);
            if let Err(e) = w.until_done(UP_ROLLOUT_TIMEOUT).await {
                r.outcome = Outcome::Failed;
                r.error = Some(e.to_string());
            }
        }
        Ok(())
    }
}
