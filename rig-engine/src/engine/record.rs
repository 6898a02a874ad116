//! The riglet's record: which of its stacks are live, read from the stacks' own tags.
//!
//! `plan`, `up`, `status`, `outputs`, `protect` and `down` all start from one [`Record`], so they
//! agree whatever flags an earlier `up` was given: a stack is the riglet's when its exact name is
//! one the plan gives (and its tags agree, see [`crate::ownership`]), or when its tags name this
//! riglet exactly. A live stack of the riglet that the plan no longer has (a backend switched, an
//! environment removed) is an *orphan*: shown, and deleted only when asked. An environment's
//! bastion is never planned: it is the riglet's by its exact name and tags, and not an orphan
//! while its environment is planned.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cloud::cfn::StackState;
use crate::ownership::{self, Expected, NotOwned, Verdict};
use crate::planner::{bastion, RigletPlan};

/// A live stack of the riglet.
#[derive(Debug, Clone)]
pub struct LiveStack {
    pub state: StackState,
    pub env: Option<String>,
    /// `foundation`, `compute`, `database`, `pipeline`, `application` or `bastion`.
    pub role: String,
    /// The backend that planned it, when known.
    pub backend: Option<String>,
    /// The bucket its template was uploaded to, when known.
    pub template_bucket: Option<String>,
    /// Live but not in the plan any more.
    pub orphan: bool,
    /// Made by an earlier rig without tags, adopted on its exact name.
    pub adopted: bool,
}

impl LiveStack {
    pub fn name(&self) -> &str {
        &self.state.name
    }
}

/// An orphan as `plan` and `up` show it.
#[derive(Debug, Clone, Serialize)]
pub struct OrphanReport {
    pub name: String,
    pub env: Option<String>,
    pub role: String,
    pub backend: Option<String>,
    pub status: String,
    /// `Type LogicalId` of each resource it holds.
    pub holds: Vec<String>,
}

/// What is live for a plan's scope.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Planned stacks that exist (owned or adopted), then orphans within the plan's scope.
    pub stacks: Vec<LiveStack>,
    /// Stacks with a planned name whose tags say they are not this riglet's.
    pub foreign: Vec<NotOwned>,
}

impl Record {
    /// Checks a live stack found under a name the riglet uses against the owner it must have:
    /// `Some(adopted)` if it is the riglet's (`adopted` when untagged, the seed's), `None` after
    /// noting it as another's.
    fn admit(&mut self, expected: Expected, state: &StackState) -> Option<bool> {
        match expected.check(&state.tags) {
            Verdict::Owned => Some(false),
            Verdict::Legacy => Some(true),
            Verdict::Foreign => {
                self.foreign.push(NotOwned {
                    kind: "stack".into(),
                    name: state.name.clone(),
                    expected,
                    found: state.tags.clone(),
                });
                None
            }
        }
    }

    /// Sorts `live` (every stack of the account and region) against the plan.
    pub fn survey(plan: &RigletPlan, live: Vec<StackState>) -> Record {
        let mut by_name: BTreeMap<String, StackState> =
            live.into_iter().map(|s| (s.name.clone(), s)).collect();
        let mut record = Record::default();
        for p in &plan.stacks {
            let Some(state) = by_name.remove(&p.plan.name) else {
                continue;
            };
            let Some(adopted) = record.admit(p.expected(&plan.names), &state) else {
                continue;
            };
            record.stacks.push(LiveStack {
                env: p.env.clone(),
                role: p.plan.role.as_str().to_string(),
                backend: Some(p.backend.clone()),
                // An app stack's template lives in its foundation's bucket, not one of rig's.
                template_bucket: p.app.is_none().then(|| p.template_bucket.clone()),
                orphan: false,
                adopted,
                state,
            });
        }
        // Each planned environment's bastion, by its exact name: never in the plan (created on
        // demand), never an orphan while its environment is planned.
        for env in &plan.environments {
            let name = bastion::stack_name(&plan.names, env);
            let Some(state) = by_name.remove(&name) else {
                continue;
            };
            let expected = bastion::expected(&plan.names, env);
            let role = expected.role.clone();
            let Some(adopted) = record.admit(expected, &state) else {
                continue;
            };
            record.stacks.push(LiveStack {
                env: Some(env.clone()),
                role,
                backend: Some(bastion::BASTION_BACKEND.into()),
                // Its template lives in the environment's app bucket, as an app stack's does.
                template_bucket: None,
                orphan: false,
                adopted,
                state,
            });
        }
        for state in by_name.into_values() {
            // A nested stack carries its parent's tags but goes with its parent.
            if state.nested || !ownership::of_riglet(&plan.names, &state.tags) {
                continue;
            }
            let env = state.tags.get(ownership::ENVIRONMENT).cloned();
            if !plan.covers(env.as_deref()) {
                continue;
            }
            record.stacks.push(LiveStack {
                env,
                role: state.tags.get(ownership::ROLE).cloned().unwrap_or_default(),
                backend: state.tags.get(ownership::BACKEND).cloned(),
                template_bucket: state.tags.get(ownership::TEMPLATE_BUCKET).cloned(),
                orphan: true,
                adopted: false,
                state,
            });
        }
        record
    }

    pub fn get(&self, name: &str) -> Option<&LiveStack> {
        self.stacks.iter().find(|s| s.name() == name)
    }

    /// The live state of a planned (or orphan) stack.
    pub fn state(&self, name: &str) -> Option<&StackState> {
        self.get(name).map(|s| &s.state)
    }

    pub fn orphans(&self) -> impl Iterator<Item = &LiveStack> {
        self.stacks.iter().filter(|s| s.orphan)
    }

    /// The stderr note for each adopted stack.
    pub fn adoption_notes(&self) -> Vec<String> {
        self.stacks
            .iter()
            .filter(|s| s.adopted)
            .map(|s| adoption_note("stack", s.name(), &s.role))
            .collect()
    }
}

/// What rig says when it adopts an untagged resource made by an earlier version.
pub fn adoption_note(kind: &str, name: &str, role: &str) -> String {
    format!(
        "adopting {kind} {name}: it has no rig tags (made by an earlier rig); its name is exactly the one this riglet gives its {role}, so it is treated as this riglet's"
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rig_core::names::RigletNames;
    use rig_core::Role;

    use super::*;
    use crate::cloud::cfn::StackStatus;
    use crate::ownership::Expected;
    use crate::planner::PlannedStack;

    fn names() -> RigletNames {
        RigletNames::new("acme", "shop", "us-east-1")
    }

    fn planned(name: &str, env: &str, role: Role) -> PlannedStack {
        PlannedStack::for_test(name, Some(env), role, &[])
    }

    fn live(name: &str, tags: BTreeMap<String, String>, nested: bool) -> StackState {
        StackState {
            nested,
            ..StackState::for_test(name, StackStatus::CreateComplete, tags)
        }
    }

    fn tags_of(owner: &str, project: &str, env: &str, role: &str) -> BTreeMap<String, String> {
        Expected::new(
            &RigletNames::new(owner, project, "us-east-1"),
            Some(env),
            role,
        )
        .tags()
    }

    #[test]
    fn live_stacks_are_sorted_by_exact_names_and_exact_tags() {
        let plan = RigletPlan {
            names: names(),
            domain: "example.com".into(),
            stacks: vec![
                planned("acme-shop-qa-foundation", "qa", Role::Foundation),
                planned("acme-shop-qa-compute-ecs", "qa", Role::Compute),
                planned("acme-shop-qa-db-aurora", "qa", Role::Database),
            ],
            buckets: vec![],
            parameters: Default::default(),
            secrets: vec![],
            environments: vec!["qa".into()],
            express: Default::default(),
            whole: false,
            pipelines: vec![],
        };
        let record = Record::survey(
            &plan,
            vec![
                // Planned and owned.
                live(
                    "acme-shop-qa-foundation",
                    tags_of("acme", "shop", "qa", "foundation"),
                    false,
                ),
                // Planned name, no tags: adopted.
                live("acme-shop-qa-compute-ecs", BTreeMap::new(), false),
                // Planned name, another riglet's tags: foreign.
                live(
                    "acme-shop-qa-db-aurora",
                    tags_of("acme", "shop-qa", "qa", "database"),
                    false,
                ),
                // This riglet's, same environment, not planned: an orphan.
                live(
                    "acme-shop-qa-db-couch",
                    tags_of("acme", "shop", "qa", "database"),
                    false,
                ),
                // This riglet's but another environment, outside `--env qa`: left out.
                live(
                    "acme-shop-qa-eu-foundation",
                    tags_of("acme", "shop", "qa-eu", "foundation"),
                    false,
                ),
                // A nested stack carrying the riglet's tags: goes with its parent.
                live(
                    "acme-shop-qa-db-couch-Nested-1X2Y",
                    tags_of("acme", "shop", "qa", "database"),
                    true,
                ),
                // Lookalike names, other riglets.
                live(
                    "acme-shop-qa-app-web",
                    tags_of("acme", "shop-qa", "app", "application"),
                    false,
                ),
            ],
        );
        let names: Vec<(&str, bool, bool)> = record
            .stacks
            .iter()
            .map(|s| (s.name(), s.orphan, s.adopted))
            .collect();
        assert_eq!(
            names,
            vec![
                ("acme-shop-qa-foundation", false, false),
                ("acme-shop-qa-compute-ecs", false, true),
                ("acme-shop-qa-db-couch", true, false),
            ]
        );
        assert_eq!(record.foreign.len(), 1);
        assert_eq!(record.foreign[0].name, "acme-shop-qa-db-aurora");
        assert_eq!(
            record.foreign[0]
                .found
                .get("rig:project")
                .map(String::as_str),
            Some("shop-qa")
        );
    }

    fn qa_plan(whole: bool) -> RigletPlan {
        RigletPlan {
            names: names(),
            domain: "example.com".into(),
            stacks: vec![planned("acme-shop-qa-foundation", "qa", Role::Foundation)],
            buckets: vec![],
            parameters: Default::default(),
            secrets: vec![],
            environments: vec!["qa".into()],
            express: Default::default(),
            whole,
            pipelines: vec![],
        }
    }

    #[test]
    fn a_bastion_is_the_riglets_by_its_exact_name_and_tags_and_never_an_orphan() {
        let bastion = |tags| live("acme-shop-qa-bastion", tags, false);
        let ours = tags_of("acme", "shop", "qa", "bastion");
        let record = Record::survey(&qa_plan(false), vec![bastion(ours.clone())]);
        let b = record.get("acme-shop-qa-bastion").expect("recorded");
        assert_eq!(
            (b.role.as_str(), b.orphan, b.adopted),
            ("bastion", false, false)
        );
        assert_eq!(b.template_bucket, None, "its template is in the app bucket");
        assert_eq!(record.orphans().count(), 0);

        // Made before rig tagged it (the seed's bastion): adopted on its exact name.
        let record = Record::survey(&qa_plan(false), vec![bastion(BTreeMap::new())]);
        assert!(record
            .get("acme-shop-qa-bastion")
            .is_some_and(|b| b.adopted));

        // Another riglet's stack with that name is refused, not taken.
        let theirs = tags_of("acme", "shop-qa", "qa", "bastion");
        let record = Record::survey(&qa_plan(false), vec![bastion(theirs)]);
        assert!(record.get("acme-shop-qa-bastion").is_none());
        assert_eq!(record.foreign.len(), 1);
        assert_eq!(record.foreign[0].expected.role, "bastion");

        // The bastion of an environment the configuration no longer has is an orphan (so
        // `rig up --prune` deletes it before that environment's foundation).
        let gone = live(
            "acme-shop-old-bastion",
            tags_of("acme", "shop", "old", "bastion"),
            false,
        );
        let record = Record::survey(&qa_plan(true), vec![gone.clone()]);
        let o = record.get("acme-shop-old-bastion").expect("recorded");
        assert!(o.orphan && o.role == "bastion");
        // Outside `--env qa` it is not looked at.
        assert!(Record::survey(&qa_plan(false), vec![gone])
            .stacks
            .is_empty());
    }
}
