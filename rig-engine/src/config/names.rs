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

/// A branch as git and CodePipeline take it (`git check-ref-format --branch`; CodePipeline's
/// `BranchName` is at most 255 characters): no space or control character, none of `~ ^ : ? * [ \`,
/// no `..`, `@{` or `//`, not starting with `-` or `/`, not ending with `/`, `.` or `.lock`.
/// The error is the loader's message for `key`.
pub fn check_branch(key: &str, branch: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "`{key}`: `{branch}` is not a git branch name: {why}"
        ))
    };
    if branch.is_empty() {
        return bad("it is empty");
    }
    if branch.chars().count() > 255 {
        return bad("it has more than 255 characters");
    }
    if let Some(c) = branch
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(*c))
    {
        return bad(&format!("it contains {c:?}"));
    }
    for (part, why) in [("..", "`..`"), ("@{", "`@{`"), ("//", "`//`")] {
        if branch.contains(part) {
            return bad(&format!("it contains {why}"));
        }
    }
    if branch.starts_with(['-', '/']) || branch.ends_with(['/', '.']) || branch.ends_with(".lock") {
        return bad("it starts with `-` or `/`, or ends with `/`, `.` or `.lock`");
    }
    Ok(())
}
