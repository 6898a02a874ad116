//! The scheduler of `up`: the stack graph, ready stacks with the longest chain behind them
//! first, bounded concurrency, a failure skipping what depends on it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::engine::converge::Work;
use crate::engine::record::Record;
use crate::engine::{Engine, Outcome, StackReport};
use crate::events::Event;
use crate::planner::{PlannedStack, RigletPlan};

impl Engine {
    /// Deploys the stacks as a DAG: a stack starts once its dependencies are done, the ready
    /// stack with the longest chain of stacks behind it first; a failure skips what depends on
    /// it. Stacks assessed unchanged finish at once.
    pub(crate) async fn deploy_graph(
        &self,
        plan: &RigletPlan,
        record: &Record,
        work: &BTreeMap<String, Work>,
    ) -> Vec<StackReport> {
        let t0 = Instant::now();
        let sem = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let depth = critical_paths(&plan.stacks);
        let mut pending: Vec<&PlannedStack> = plan.stacks.iter().collect();
        pending.sort_by_key(|s| std::cmp::Reverse(depth[s.plan.name.as_str()]));
        for s in &pending {
            if work.get(&s.plan.name) != Some(&Work::Unchanged) {
                self.events.emit(Event::StackQueued {
                    stack: s.plan.name.clone(),
                });
            }
        }
        let mut done: BTreeMap<String, StackReport> = BTreeMap::new();
        let mut running: JoinSet<StackReport> = JoinSet::new();
        loop {
            // Skip what depends on a failure; start what is ready, longest path first.
            let mut i = 0;
            while i < pending.len() {
                let s = pending[i];
                let failed_dep = s.plan.depends_on.iter().find(|d| {
                    done.get(*d)
                        .is_some_and(|r| matches!(r.outcome, Outcome::Failed | Outcome::Skipped))
                });
                if let Some(d) = failed_dep {
                    let now = t0.elapsed().as_millis();
                    let because = format!("{d} did not deploy");
                    self.events.emit(Event::StackSkipped {
                        stack: s.plan.name.clone(),
                        because: because.clone(),
                    });
                    done.insert(
                        s.plan.name.clone(),
                        StackReport {
                            name: s.plan.name.clone(),
                            env: s.env.clone(),
                            outcome: Outcome::Skipped,
                            changes: vec![],
                            error: Some(format!("not attempted: {because}")),
                            started_ms: now,
                            finished_ms: now,
                            template_uploaded: false,
                        },
                    );
                    pending.remove(i);
                    continue;
                }
                if s.plan.depends_on.iter().all(|d| done.contains_key(d)) {
                    let s = pending.remove(i).clone();
                    let mut ctx = self.ctx();
                    ctx.express = plan.express(&s);
                    let sem = sem.clone();
                    let w = work.get(&s.plan.name).copied().unwrap_or(Work::Converge);
                    let live = record.state(&s.plan.name).cloned();
                    running.spawn(async move {
                        let _permit = sem.acquire_owned().await.expect("semaphore open");
                        ctx.deploy_one(s, w, live, t0).await
                    });
                    continue;
                }
                i += 1;
            }
            match running.join_next().await {
                Some(Ok(r)) => {
                    done.insert(r.name.clone(), r);
                }
                Some(Err(e)) => {
                    tracing::error!("a deploy task ended abnormally: {e}");
                }
                None => break,
            }
        }
        // Report in plan order.
        plan.stacks
            .iter()
            .filter_map(|s| done.remove(&s.plan.name))
            .collect()
    }
}

/// For each stack, the number of stacks on the longest chain of dependents starting at it
/// (itself included): the critical path a scheduler should start first.
pub(crate) fn critical_paths(stacks: &[PlannedStack]) -> BTreeMap<&str, usize> {
    fn depth<'a>(
        name: &'a str,
        stacks: &'a [PlannedStack],
        memo: &mut BTreeMap<&'a str, usize>,
    ) -> usize {
        if let Some(d) = memo.get(name) {
            return *d;
        }
        let d = 1 + stacks
            .iter()
            .filter(|s| s.plan.depends_on.iter().any(|d| d == name))
            .map(|s| depth(&s.plan.name, stacks, memo))
            .max()
            .unwrap_or(0);
        memo.insert(name, d);
        d
    }
    let mut memo = BTreeMap::new();
    for s in stacks {
        depth(&s.plan.name, stacks, &mut memo);
    }
    memo
}

#[cfg(test)]
mod tests {
    use super::*;
    use rig_core::Role;

    fn stack(name: &str, deps: &[&str]) -> PlannedStack {
        PlannedStack::for_test(name, None, Role::Compute, deps)
    }

    #[test]
    fn the_longest_chain_behind_a_stack_starts_it_first() {
        // f1 → db1 → app1 (3 deep); f2 → c2 (2 deep); lone (1).
        let stacks = vec![
            stack("lone", &[]),
            stack("f2", &[]),
            stack("c2", &["f2"]),
            stack("f1", &[]),
            stack("db1", &["f1"]),
            stack("app1", &["db1", "f1"]),
        ];
        let depth = critical_paths(&stacks);
        assert_eq!(depth["f1"], 3);
        assert_eq!(depth["db1"], 2);
        assert_eq!(depth["f2"], 2);
        assert_eq!(depth["lone"], 1);
        assert_eq!(depth["app1"], 1);
    }
}
