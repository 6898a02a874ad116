//! Naming conventions and the checks that run before any AWS call.
//!
//! Stack names follow the seed: `<owner>-<project>-<env>-foundation`, `...-compute-ecs`,
//! `...-db-aurora`, `<owner>-<project>-build-<repo>-<branch>`,
//! `<owner>-<project>-<env>-app-<app>[-<branch>]`. Buckets follow the seed's
//! `rig.<owner>.<project>.<region>.<kind>.<env>` scheme with `-` in place of `.`, because dotted
//! bucket names break virtual-hosted HTTPS. SSM parameters live under `/<owner>/<project>`.

use std::fmt;

/// A name that breaks a rule, with the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} `{name}` is not valid: {reason}")]
pub struct NameError {
    /// What kind of name (`stack name`, `S3 bucket name`, ...).
    pub what: &'static str,
    pub name: String,
    pub reason: String,
}

fn err(what: &'static str, name: &str, reason: impl Into<String>) -> NameError {
    NameError {
        what,
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// CloudFormation stack names: 1–128 characters, a letter first, then letters, digits and `-`.
pub fn validate_stack_name(name: &str) -> Result<(), NameError> {
    const W: &str = "stack name";
    if name.is_empty() || name.len() > 128 {
        return Err(err(
            W,
            name,
            format!("must be 1–128 characters long, it has {}", name.len()),
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(err(W, name, "must start with a letter (A–Z, a–z)"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(err(
            W,
            name,
            format!("may contain only letters, digits and `-`, not `{c}`"),
        ));
    }
    Ok(())
}

/// S3 bucket names (general purpose buckets): 3–63 characters; lowercase letters, digits, `.`
/// and `-`; a letter or digit at both ends; no `..`; not an IP address; no reserved prefix or suffix.
pub fn validate_bucket_name(name: &str) -> Result<(), NameError> {
    const W: &str = "S3 bucket name";
    if name.len() < 3 || name.len() > 63 {
        return Err(err(
            W,
            name,
            format!(
                "must be 3–63 characters long, it has {}; shorten the owner or project name",
                name.len()
            ),
        ));
    }
    if name.contains('_') {
        return Err(err(W, name, "must not contain `_`"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(err(
            W,
            name,
            format!("may contain only lowercase letters, digits, `.` and `-`, not `{c}`"),
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(name.chars().next()) || !edge_ok(name.chars().last()) {
        return Err(err(
            W,
            name,
            "must begin and end with a lowercase letter or digit",
        ));
    }
    if name.contains("..") {
        return Err(err(W, name, "must not contain two adjacent periods"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(err(W, name, "must not be formatted as an IP address"));
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(p) {
            return Err(err(
                W,
                name,
                format!("must not start with the reserved prefix `{p}`"),
            ));
        }
    }
    for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(s) {
            return Err(err(
                W,
                name,
                format!("must not end with the reserved suffix `{s}`"),
            ));
        }
    }
    Ok(())
}

/// SSM parameter names: fully qualified (`/a/b`), at most 1011 characters, at most 15 levels,
/// letters, digits and `_ . - /`, not under `/aws` or `/ssm`.
pub fn validate_ssm_path(path: &str) -> Result<(), NameError> {
    const W: &str = "SSM parameter name";
    if !path.starts_with('/') {
        return Err(err(W, path, "must start with `/`"));
    }
    if path.len() > 1011 {
        return Err(err(W, path, "must be at most 1011 characters long"));
    }
    if let Some(c) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c)))
    {
        return Err(err(
            W,
            path,
            format!("may contain only letters, digits and `_ . - /`, not `{c}`"),
        ));
    }
    if path.contains("//") || path.ends_with('/') {
        return Err(err(W, path, "must not contain empty path segments"));
    }
    let levels = path.matches('/').count();
    if levels > 15 {
        return Err(err(
            W,
            path,
            format!("has {levels} levels; at most 15 are allowed"),
        ));
    }
    let first = path[1..]
        .split('/')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(err(
            W,
            path,
            "must not begin with `aws` or `ssm` (reserved by AWS)",
        ));
    }
    Ok(())
}

/// Owner, project, environment and repository names: they become parts of stack names, bucket
/// names and SSM paths, so they must fit all three: lowercase letters, digits and `-`, a letter
/// first, no `-` at the end, no `--`.
pub fn validate_segment(what: &'static str, s: &str) -> Result<(), NameError> {
    if s.is_empty() {
        return Err(err(what, s, "must not be empty"));
    }
    if s.len() > 32 {
        return Err(err(
            what,
            s,
            format!("must be at most 32 characters long, it has {}", s.len()),
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(err(what, s, "must start with a lowercase letter"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(err(
            what,
            s,
            format!("may contain only lowercase letters, digits and `-`, not `{c}`"),
        ));
    }
    if s.ends_with('-') || s.contains("--") {
        return Err(err(what, s, "must not end with `-` or contain `--`"));
    }
    Ok(())
}

/// A branch name made safe for stack, bucket, ECR and SSM names: lowercase, every run of
/// characters other than letters and digits becomes one `-`, no `-` at either end.
/// `feature/Login_v2` becomes `feature-login-v2`.
pub fn safe_branch(branch: &str) -> String {
    let mut out = String::with_capacity(branch.len());
    let mut dash = false;
    for c in branch.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            dash = false;
        } else if !dash && !out.is_empty() {
            out.push('-');
            dash = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Appends `<sep><branchsafe>` when there is a branch (and it has a letter or digit).
fn push_branch(s: &mut String, sep: char, branch: Option<&str>) {
    if let Some(b) = branch.map(safe_branch).filter(|b| !b.is_empty()) {
        s.push(sep);
        s.push_str(&b);
    }
}

/// The names of one riglet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RigletNames {
    pub owner: String,
    pub project: String,
    pub region: String,
}

impl RigletNames {
    pub fn new(owner: &str, project: &str, region: &str) -> Self {
        RigletNames {
            owner: owner.to_string(),
            project: project.to_string(),
            region: region.to_string(),
        }
    }

    /// `<owner>-<project>`: the prefix of every stack of the riglet.
    pub fn prefix(&self) -> String {
        format!("{}-{}", self.owner, self.project)
    }

    /// `<owner>-<project>-<env>-<suffix>`, e.g. `acme-shop-staging-compute-ecs`.
    pub fn env_stack(&self, env: &str, suffix: &str) -> String {
        format!("{}-{}-{}-{}", self.owner, self.project, env, suffix)
    }

    pub fn foundation_stack(&self, env: &str) -> String {
        self.env_stack(env, "foundation")
    }

    /// `<owner>-<project>-build-<repo>-<branch>` (branch made safe).
    pub fn pipeline_stack(&self, repo: &str, branch: &str) -> String {
        format!(
            "{}-{}-build-{}-{}",
            self.owner,
            self.project,
            repo,
            safe_branch(branch)
        )
    }

    /// `<owner>-<project>-<env>-app-<app>[-<branchsafe>]`, e.g. `acme-shop-staging-app-api`:
    /// the app's stack, also its log group and task definition family.
    pub fn app_stack(&self, env: &str, app: &str, branch: Option<&str>) -> String {
        let mut s = format!("{}-{}-{}-app-{}", self.owner, self.project, env, app);
        push_branch(&mut s, '-', branch);
        s
    }

    /// `<owner>-<env>-<app>[-<branchsafe>]`, e.g. `acme-staging-api`: the first label of the
    /// app's host name `<label>.<domain>`.
    pub fn app_host_label(&self, env: &str, app: &str, branch: Option<&str>) -> String {
        let mut s = format!("{}-{}-{}", self.owner, env, app);
        push_branch(&mut s, '-', branch);
        s
    }

    /// `/<owner>/<project>/env/<env>/app/<app>` (no trailing `/`): the app's SSM parameters
    /// (its secrets) in one environment; shared by every branch of the app.
    pub fn app_ssm_namespace(&self, env: &str, app: &str) -> String {
        format!("{}/app/{}", self.ssm_env_prefix(env), app)
    }

    /// `/<owner>/<project>/app/<app>/[<branchsafe>/]`: the IAM path of the app's roles.
    pub fn app_iam_path(&self, app: &str, branch: Option<&str>) -> String {
        let mut s = format!("/{}/{}/app/{}", self.owner, self.project, app);
        push_branch(&mut s, '/', branch);
        s.push('/');
        s
    }

    /// `rig-<owner>-<project>-<region>-<kind>[-<env>]`.
    pub fn bucket(&self, kind: &str, env: Option<&str>) -> String {
        let mut b = format!(
            "rig-{}-{}-{}-{}",
            self.owner, self.project, self.region, kind
        );
        if let Some(e) = env {
            b.push('-');
            b.push_str(e);
        }
        b
    }

    /// `/<owner>/<project>`.
    pub fn ssm_prefix(&self) -> String {
        format!("/{}/{}", self.owner, self.project)
    }

    /// `/<owner>/<project>/env/<env>`.
    pub fn ssm_env_prefix(&self, env: &str) -> String {
        format!("/{}/{}/env/{}", self.owner, self.project, env)
    }
}

impl fmt::Display for RigletNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} ({})", self.owner, self.project, self.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason<T>(r: Result<T, NameError>) -> String {
        match r {
            Ok(_) => panic!("expected a NameError"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn stack_names() {
        assert!(validate_stack_name("acme-shop-integration-foundation").is_ok());
        assert!(reason(validate_stack_name("1abc")).contains("must start with a letter"));
        assert!(reason(validate_stack_name("a_b")).contains("not `_`"));
        assert!(reason(validate_stack_name(&"a".repeat(129))).contains("1–128 characters"));
        assert!(reason(validate_stack_name("")).contains("1–128"));
        assert!(validate_stack_name(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn bucket_names() {
        assert!(validate_bucket_name("rig-acme-shop-us-east-1-foundation-staging").is_ok());
        assert!(reason(validate_bucket_name("ab")).contains("3–63"));
        assert!(reason(validate_bucket_name(&"a".repeat(64))).contains("it has 64"));
        assert!(reason(validate_bucket_name("Rig-x")).contains("lowercase"));
        assert!(reason(validate_bucket_name("rig_x")).contains("must not contain `_`"));
        assert!(reason(validate_bucket_name("192.168.1.1")).contains("IP address"));
        assert!(reason(validate_bucket_name("-rig")).contains("begin and end"));
        assert!(reason(validate_bucket_name("rig-")).contains("begin and end"));
        assert!(reason(validate_bucket_name("a..b")).contains("adjacent periods"));
        assert!(reason(validate_bucket_name("xn--abc")).contains("reserved prefix"));
        assert!(reason(validate_bucket_name("abc-s3alias")).contains("reserved suffix"));
    }

    #[test]
    fn ssm_paths() {
        assert!(validate_ssm_path("/acme/shop/env/production/db/DB_MASTER_PASSWORD").is_ok());
        assert!(reason(validate_ssm_path("acme/shop")).contains("start with `/`"));
        assert!(reason(validate_ssm_path("/acme/sh op")).contains("not ` `"));
        assert!(reason(validate_ssm_path("/aws/x")).contains("reserved"));
        assert!(reason(validate_ssm_path("/a//b")).contains("empty path"));
        let deep = "/a".repeat(16);
        assert!(reason(validate_ssm_path(&deep)).contains("16 levels"));
    }

    #[test]
    fn segments() {
        assert!(validate_segment("owner", "acme").is_ok());
        assert!(reason(validate_segment("owner", "Acme")).contains("lowercase letter"));
        assert!(reason(validate_segment("project", "my_shop")).contains("not `_`"));
        assert!(reason(validate_segment("project", "shop-")).contains("end with `-`"));
        assert!(reason(validate_segment("project", "")).contains("empty"));
        assert!(reason(validate_segment("project", &"a".repeat(33))).contains("at most 32"));
    }

    #[test]
    fn branches_are_made_safe_not_refused() {
        assert_eq!(safe_branch("feature/Login_v2"), "feature-login-v2");
        assert_eq!(safe_branch("master"), "master");
        assert_eq!(safe_branch("/a//b/"), "a-b");
        let names = RigletNames::new("acme", "shop", "us-east-1");
        let stack = names.pipeline_stack("api", "feature/x");
        assert_eq!(stack, "acme-shop-build-api-feature-x");
        assert!(validate_stack_name(&stack).is_ok());
        assert_eq!(
            names.app_stack("staging", "api", Some("release/1.2")),
            "acme-shop-staging-app-api-release-1-2"
        );
    }

    #[test]
    fn riglet_names_follow_the_seed() {
        let n = RigletNames::new("acme", "shop", "us-east-1");
        assert_eq!(
            n.foundation_stack("integration"),
            "acme-shop-integration-foundation"
        );
        assert_eq!(
            n.env_stack("production", "compute-ecs"),
            "acme-shop-production-compute-ecs"
        );
        assert_eq!(n.bucket("build", None), "rig-acme-shop-us-east-1-build");
        assert_eq!(
            n.bucket("foundation", Some("staging")),
            "rig-acme-shop-us-east-1-foundation-staging"
        );
        assert_eq!(n.ssm_prefix(), "/acme/shop");
        assert_eq!(n.ssm_env_prefix("staging"), "/acme/shop/env/staging");
    }

    #[test]
    fn app_names() {
        let n = RigletNames::new("acme", "shop", "us-east-1");
        assert_eq!(
            n.app_stack("staging", "api", None),
            "acme-shop-staging-app-api"
        );
        assert_eq!(
            n.app_stack("staging", "api", Some("feature/Login_v2")),
            "acme-shop-staging-app-api-feature-login-v2"
        );
        assert!(validate_stack_name(&n.app_stack("staging", "api", Some("a/b"))).is_ok());
        assert_eq!(
            n.app_host_label("production", "api", None),
            "acme-production-api"
        );
        assert_eq!(
            n.app_host_label("production", "api", Some("feature/x")),
            "acme-production-api-feature-x"
        );
        assert_eq!(
            n.app_ssm_namespace("staging", "api"),
            "/acme/shop/env/staging/app/api"
        );
        assert!(validate_ssm_path(&n.app_ssm_namespace("staging", "api")).is_ok());
        assert_eq!(n.app_iam_path("api", None), "/acme/shop/app/api/");
        assert_eq!(
            n.app_iam_path("api", Some("feature/X")),
            "/acme/shop/app/api/feature-x/"
        );
        // A branch with nothing safe in it adds nothing (the config refuses such branches).
        assert_eq!(
            n.app_stack("staging", "api", Some("//")),
            "acme-shop-staging-app-api"
        );
    }
}
