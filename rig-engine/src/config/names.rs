//! The up-front name checks: `owner` and `project` as name segments, and every name the riglet
//! itself will use (built-in foundation stacks, template buckets, SSM paths), before any AWS call.

use rig_core::names::{self, RigletNames};
use rig_core::EnvironmentSpec;

use super::RigToml;

/// `owner` and `project` are valid name segments.
pub(super) fn check_segments(t: &RigToml, problems: &mut Vec<String>) {
    problems.extend(check_owner(&t.owner).err());
    problems.extend(check_project(&t.project).err());
}

/// `owner`: a name segment. The error is the loader's message.
pub fn check_owner(owner: &str) -> Result<(), String> {
    names::validate_segment("owner", owner).map_err(|e| format!("`owner`: {e}"))
}

/// `project`: a name segment. The error is the loader's message.
pub fn check_project(project: &str) -> Result<(), String> {
    names::validate_segment("project", project).map_err(|e| format!("`project`: {e}"))
}

/// Every name the riglet will use must be valid before any AWS call.
pub(super) fn check_riglet_names(
    names: &RigletNames,
    envs: &[EnvironmentSpec],
    problems: &mut Vec<String>,
) {
    for env in envs {
        // Names of the built-in foundation; backends' own names are checked by the planner
        // (and by the backend itself) for the backends actually selected.
        for n in [names.foundation_stack(&env.name)] {
            if let Err(e) = names::validate_stack_name(&n) {
                problems.push(format!(
                    "`owner`/`project`/`environments.{}`: {e}",
                    env.name
                ));
            }
        }
        for kind in ["foundation", "app"] {
            if let Err(e) = names::validate_bucket_name(&names.bucket(kind, Some(&env.name))) {
                problems.push(format!(
                    "`owner`/`project`/`region`/`environments.{}`: {e}",
                    env.name
                ));
            }
        }
    }
}
