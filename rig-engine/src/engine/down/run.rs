//! Carrying out a teardown: the stack graph in reverse, then template buckets, then parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{DoomedStack, DownReport, FailedStack, Holding, LeftStack, Teardown};
use crate::cloud::cfn::{ResourceEvent, StackError, Stacks};
use crate::engine::{Engine, Outcome};
use crate::events::{Event, Phase};
use crate::ownership;

/// Whether CloudFormation's reason says a bucket or repository is not empty.
fn not_empty(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("not empty") || r.contains("notempty") || r.contains("still contains images")
}

impl Engine {
    /// Carries out a teardown: stacks in reverse dependency order (concurrently where the graph
    /// allows), then the template buckets no remaining stack uses, then, if every stack went,
    /// the parameters. `retain` names resources (`stack` → logical ids) to keep when retrying a
    /// stack in DELETE_FAILED.
    pub async fn teardown(
        &self,
        t: &Teardown,
        retain: &BTreeMap<String, Vec<String>>,
    ) -> DownReport {
        let mut report = DownReport::default();
        let sem = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut pending: Vec<&DoomedStack> = t.stacks.iter().collect();
        let mut deleted: BTreeSet<String> = BTreeSet::new();
        let mut not_deleted: BTreeSet<String> = BTreeSet::new();
        let mut running = JoinSet::new();
        loop {
            let mut i = 0;
            while i < pending.len() {
                let s = pending[i];
                let dependents: Vec<&str> = t
                    .stacks
                    .iter()
                    .filter(|d| d.depends_on.contains(&s.name))
                    .map(|d| d.name.as_str())
                    .collect();
                if let Some(bad) = dependents.iter().find(|d| not_deleted.contains(**d)) {
                    self.events.note(format!(
                        "{}: left in place, because {bad} (which depends on it) was not deleted",
                        s.name
                    ));
                    report.stacks_left.push(LeftStack {
                        name: s.name.clone(),
                        because: format!("{bad}, which depends on it, was not deleted"),
                    });
                    not_deleted.insert(s.name.clone());
                    pending.remove(i);
                    continue;
                }
                if dependents.iter().all(|d| deleted.contains(*d)) {
                    let s = pending.remove(i).clone();
                    let ctx = self.ctx();
                    let sem = sem.clone();
                    let keep = retain.get(&s.name).cloned().unwrap_or_default();
                    running.spawn(async move {
                        let _permit = sem.acquire_owned().await.expect("semaphore open");
                        let mut emptied = Vec::new();
                        let r = delete_one(&ctx.stacks(), &s, &keep, &mut emptied).await;
                        (s, r, emptied)
                    });
                    continue;
                }
                i += 1;
            }
            match running.join_next().await {
                Some(Ok((s, r, emptied))) => {
                    report.emptied.extend(emptied);
                    match r {
                        Ok(retained) => {
                            report.retained.extend(retained);
                            self.events.emit(Event::StackDone {
                                stack: s.name.clone(),
                                outcome: Outcome::Deleted,
                                error: None,
                            });
                            deleted.insert(s.name.clone());
                            report.stacks_deleted.push(s.name);
                        }
                        Err(e) => {
                            self.events.emit(Event::StackDone {
                                stack: s.name.clone(),
                                outcome: Outcome::Failed,
                                error: Some(format!(
                                    "not deleted: {}",
                                    e.to_string().lines().next().unwrap_or_default()
                                )),
                            });
                            let resources = match &e {
                                StackError::Failed { resources, .. } => resources.clone(),
                                _ => vec![],
                            };
                            not_deleted.insert(s.name.clone());
                            report.stacks_failed.push(FailedStack {
                                name: s.name,
                                env: s.env,
                                error: e.to_string(),
                                resources,
                            });
                        }
                    }
                }
                Some(Err(e)) => report
                    .errors
                    .push(format!("a delete task ended abnormally: {e}")),
                None => break,
            }
        }
        report.stacks_deleted.sort();
        for b in &t.buckets {
            let users_left = t.stacks.iter().any(|s| {
                s.template_bucket.as_deref() == Some(&b.name) && not_deleted.contains(&s.name)
            });
            if users_left {
                report.buckets_left.push(b.name.clone());
                continue;
            }
            match self.clients.delete_bucket(&b.name).await {
                Ok(_) => report.buckets_deleted.push(b.name.clone()),
                Err(e) => report.errors.push(format!("bucket {}: {e}", b.name)),
            }
        }
        let params: Vec<String> = t.parameters.iter().map(|p| p.name.clone()).collect();
        if report.finished() {
            for p in params {
                match self.clients.delete_parameter(&p).await {
                    Ok(()) => report.parameters_deleted.push(p),
                    Err(e) => report.errors.push(format!("parameter {p}: {e}")),
                }
            }
        } else {
            report.parameters_left = params;
        }
        report
    }
}

/// Deletes one stack: waits for a change in progress, switches a backend's deletion protection
/// off, deletes (keeping `retain` if it is DELETE_FAILED), and empties one of its own buckets or
/// repositories only when CloudFormation reports that it blocks the deletion, then retries.
async fn delete_one(
    st: &Stacks<'_>,
    s: &DoomedStack,
    retain: &[String],
    emptied: &mut Vec<Holding>,
) -> Result<Vec<ResourceEvent>, StackError> {
    let name = s.name.as_str();
    let Some(mut state) = st.describe(name).await? else {
        return Ok(vec![]);
    };
    if state.in_progress() {
        st.events.note(format!(
            "{name}: {} (left by an earlier run); waiting for it",
            state.status
        ));
        let seen = st.latest_event_ids(name).await?;
        let _ = st.wait(name, seen).await;
        match st.describe(name).await? {
            Some(x) => state = x,
            None => return Ok(vec![]),
        }
    }
    // What the backend said must change first (kept on the stack as a tag).
    let before: Vec<(String, String)> = state
        .tags
        .get(ownership::BEFORE_DELETE)
        .map(|t| ownership::parse_pairs(t))
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| state.parameter(k).is_some_and(|now| now != v))
        .collect();
    if !before.is_empty() && !state.delete_failed() {
        st.events.emit(Event::StackPhase {
            stack: name.to_string(),
            phase: Phase::PreparingDelete,
        });
        st.set_parameters(&state, &before).await?;
    }
    let keep: Vec<String> = if state.delete_failed() {
        retain.to_vec()
    } else {
        vec![]
    };
    st.events.note(format!(
        "{name}: deleting{}",
        if state.delete_failed() {
            " (retrying: its last deletion failed)"
        } else {
            ""
        }
    ));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let e = match st.delete_retaining(name, &keep).await {
            Ok(retained) => return Ok(retained),
            Err(e) => e,
        };
        let StackError::Failed { resources, .. } = &e else {
            return Err(e);
        };
        let mut progress = false;
        if attempts < 3 {
            for r in resources.iter().filter(|r| not_empty(&r.reason)) {
                let holding = s
                    .buckets
                    .iter()
                    .chain(&s.repositories)
                    .find(|h| h.logical_id == r.logical_id);
                let Some(h) = holding else { continue };
                let count = if r.resource_type == "AWS::ECR::Repository" {
                    st.clients.empty_repository(&h.name).await?
                } else {
                    st.clients.purge_bucket(&h.name).await?
                };
                st.events.note(format!(
                    "{name}: emptied {} ({count} removed) so that CloudFormation can delete it",
                    h.name
                ));
                emptied.push(Holding {
                    retained: false,
                    logical_id: h.logical_id.clone(),
                    name: h.name.clone(),
                    count,
                });
                progress = true;
            }
        }
        if !progress {
            return Err(e);
        }
    }
}
