//! The planner's checks, the same for every kind of unit: settings and stack suffixes before
//! any backend is asked, then what the backends returned (stack names, dependencies,
//! templates, secrets' SSM names, cycles). Only selected backends have units, so nothing is
//! checked for a backend the riglet does not use.

use std::collections::{BTreeMap, BTreeSet};

use rig_core::names;
use rig_core::{Issue, Role};

use super::units::Unit;
use super::{BadParameter, PlanError, PlannedSecret, PlannedStack};
use crate::config::Riglet;

/// Every unit's settings, through its backend's `validate`. Issues are gathered per role,
/// backend and table (a backend's table is shared by the environments), each issue once with
/// the first place it was met; the first such group with issues is the error.
pub(super) fn settings(riglet: &Riglet, units: &[Unit]) -> Result<(), PlanError> {
    let mut groups: Vec<(&Unit, Vec<(String, Issue)>)> = Vec::new();
    for unit in units {
        let same = |g: &Unit| {
            g.role == unit.role
                && g.settings.id == unit.settings.id
                && g.settings.table == unit.settings.table
        };
        let at = match groups.iter().position(|(g, _)| same(g)) {
            Some(at) => at,
            None => {
                groups.push((unit, Vec::new()));
                groups.len() - 1
            }
        };
        let issues = &mut groups[at].1;
        for i in unit.validate() {
            if !issues.iter().any(|(_, j)| *j == i) {
                issues.push((unit.settings.place.clone(), i));
            }
        }
    }
    match groups.into_iter().find(|(_, issues)| !issues.is_empty()) {
        Some((unit, issues)) => Err(PlanError::Settings {
            config: riglet.config_path.display().to_string(),
            role: unit.role,
            id: unit.settings.id.clone(),
            issues,
        }),
        None => Ok(()),
    }
}

/// Every unit's stack suffix, which its stack and template bucket names are made of.
pub(super) fn manifests(units: &[Unit]) -> Result<(), PlanError> {
    for unit in units {
        let m = &unit.manifest;
        names::validate_segment("stack suffix", &m.stack_suffix).map_err(|e| {
            PlanError::BadPlan {
                role: m.role,
                id: m.id.clone(),
                problem: e.to_string(),
            }
        })?;
    }
    Ok(())
}

/// What the backends returned: unique and valid stack names, known dependencies without a
/// cycle, non-empty templates, valid SSM names for the secrets. Riglet-wide problems (a name
/// taken twice, a cycle) are put on the `riglet_backend`. Returns the secrets the stacks
/// reference, in first-needed order.
pub(super) fn stacks(
    stacks: &[PlannedStack],
    riglet_backend: (Role, &str),
) -> Result<Vec<PlannedSecret>, PlanError> {
    let riglet_problem = |problem: &str| PlanError::BadPlan {
        role: riglet_backend.0,
        id: riglet_backend.1.to_string(),
        problem: problem.to_string(),
    };
    let known: BTreeSet<&str> = stacks.iter().map(|s| s.plan.name.as_str()).collect();
    if known.len() != stacks.len() {
        return Err(riglet_problem("two stacks share a name"));
    }
    let mut secrets: Vec<PlannedSecret> = Vec::new();
    for s in stacks {
        let bad = |problem: String| PlanError::BadPlan {
            role: s.plan.role,
            id: s.backend.clone(),
            problem,
        };
        names::validate_stack_name(&s.plan.name).map_err(|e| bad(e.to_string()))?;
        for d in &s.plan.depends_on {
            if !known.contains(d.as_str()) {
                return Err(bad(format!(
                    "stack `{}` depends on unknown stack `{d}`",
                    s.plan.name
                )));
            }
        }
        if s.plan.template_body.trim().is_empty() {
            return Err(bad(format!(
                "stack `{}` has an empty template",
                s.plan.name
            )));
        }
        parameters_meet_the_template(s)?;
        for sec in &s.plan.secrets {
            names::validate_ssm_path(&sec.ssm_path).map_err(|e| bad(e.to_string()))?;
            if !secrets
                .iter()
                .any(|x| x.requirement.ssm_path == sec.ssm_path)
            {
                secrets.push(PlannedSecret {
                    requirement: sec.clone(),
                    env: s.env.clone(),
                    role: s.plan.role,
                });
            }
        }
    }
    if has_cycle(stacks) {
        return Err(riglet_problem("the stacks' dependencies form a cycle"));
    }
    Ok(secrets)
}

/// Every parameter value the plan gives meets its template's constraints (`AllowedPattern`,
/// `AllowedValues`, lengths, bounds), so a value CloudFormation would refuse at CreateChangeSet
/// is refused before any AWS call, whichever setting it was composed from. An empty value is
/// one rig fills in later (an app's image and listener-rule priority, when it is settled).
fn parameters_meet_the_template(s: &PlannedStack) -> Result<(), PlanError> {
    let Ok(rules) = crate::template::parameter_rules(&s.plan.template_body) else {
        return Ok(()); // cfn-lint and CloudFormation report an unreadable template
    };
    for (name, value) in s.plan.parameters.iter().filter(|(_, v)| !v.is_empty()) {
        let Some(rule) = rules.get(name) else {
            continue;
        };
        // The account id is filled in once rig knows the caller's account: any 12 digits do here.
        let checked = value.replace(crate::config::ACCOUNT_PLACEHOLDER, "000000000000");
        if let Err(problem) = rule.check(&checked) {
            return Err(PlanError::Parameter(Box::new(BadParameter {
                stack: s.plan.name.clone(),
                role: s.plan.role,
                parameter: name.clone(),
                value: value.clone(),
                problem,
                description: rule.constraint_description.clone(),
            })));
        }
    }
    Ok(())
}

fn has_cycle(stacks: &[PlannedStack]) -> bool {
    // Kahn's algorithm over the depends_on edges.
    let mut indeg: BTreeMap<&str, usize> =
        stacks.iter().map(|s| (s.plan.name.as_str(), 0)).collect();
    for s in stacks {
        *indeg.get_mut(s.plan.name.as_str()).expect("known") = s.plan.depends_on.len();
    }
    let mut ready: Vec<&str> = indeg
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(n, _)| *n)
        .collect();
    let mut done = 0;
    while let Some(n) = ready.pop() {
        done += 1;
        for s in stacks
            .iter()
            .filter(|s| s.plan.depends_on.iter().any(|d| d == n))
        {
            let d = indeg.get_mut(s.plan.name.as_str()).expect("known");
            *d -= 1;
            if *d == 0 {
                ready.push(s.plan.name.as_str());
            }
        }
    }
    done != stacks.len()
}
