//! What `rig init` asks for, the main settings of each backend, and the commented `rig.toml`
//! written from the answers.

use rig_engine::config::{Cidr, DEFAULT_ENVIRONMENTS};

/// The answers, checked one by one with the configuration loader's own checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Answers {
    pub owner: String,
    pub project: String,
    pub region: String,
    /// The AWS profile used with this riglet; `rig.toml` has no key for it, so it is written
    /// as a comment.
    pub profile: Option<String>,
    pub domain: String,
    /// A certificate ARN or id, as given.
    pub domain_cert: String,
    pub key_name: Option<String>,
    pub email: Option<String>,
    pub compute: Backend,
    /// `id` is `none` for no database.
    pub database: Backend,
    /// (name, VPC CIDR), in deployment order.
    pub environments: Vec<(String, String)>,
}

/// A backend and the settings written in its table.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub id: String,
    pub settings: Vec<(String, toml::Value)>,
}

/// One setting `rig init` asks for: its key, default and what it is (the file's comment).
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub key: &'static str,
    pub default: &'static str,
    pub about: &'static str,
}

/// The compute backends rig ships, with one line about each.
pub const COMPUTE_BACKENDS: &[(&str, &str)] = &[
    ("fargate", "ECS on Fargate: no instances to manage"),
    ("ecs-ec2", "ECS on EC2 container instances"),
];

/// The database backends rig ships (and `none`), with one line about each.
pub const DATABASE_BACKENDS: &[(&str, &str)] = &[
    ("none", "no database"),
    ("aurora-serverless", "Aurora MySQL 3 Serverless v2"),
    (
        "aurora-provisioned",
        "Aurora MySQL 3 on provisioned instances",
    ),
    ("couchdb", "CouchDB 3 on one EC2 instance"),
];

const MASTER_PASSWORD: Setting = Setting {
    key: "master_password",
    default: "ssm",
    about: "who keeps the master password: ssm (rig, as an SSM SecureString) or managed (RDS, in Secrets Manager)",
};

/// The main settings of a backend rig ships (none for another backend).
pub fn main_settings(id: &str) -> &'static [Setting] {
    match id {
        "ecs-ec2" => &[
            Setting {
                key: "instance_type",
                default: "t3.small",
                about: "EC2 instance type of the container instances",
            },
            Setting {
                key: "cluster_max_size",
                default: "4",
                about: "most container instances per environment (1-100)",
            },
        ],
        "fargate" => &[Setting {
            key: "spot_weight",
            default: "0",
            about: "weight of FARGATE_SPOT in the capacity strategy (0: FARGATE only)",
        }],
        "aurora-serverless" => &[
            Setting {
                key: "min_capacity",
                default: "0.5",
                about:
                    "fewest Aurora capacity units (0-256, steps of 0.5; 0 pauses an idle cluster)",
            },
            Setting {
                key: "max_capacity",
                default: "4",
                about: "most Aurora capacity units (1-256, steps of 0.5)",
            },
            MASTER_PASSWORD,
        ],
        "aurora-provisioned" => &[
            Setting {
                key: "instance_class",
                default: "db.t4g.medium",
                about: "RDS instance class of the writer (and of the reader in production)",
            },
            MASTER_PASSWORD,
        ],
        "couchdb" => &[
            Setting {
                key: "instance_type",
                default: "t3.small",
                about: "EC2 instance type of the CouchDB host",
            },
            Setting {
                key: "data_volume_gib",
                default: "20",
                about: "size of the encrypted data volume in GiB (10-16384)",
            },
        ],
        _ => &[],
    }
}

/// A setting's answer as a TOML value: an integer, a number, a boolean or a string.
pub fn setting_value(answer: &str) -> toml::Value {
    let a = answer.trim();
    if let Ok(i) = a.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let Ok(f) = a.parse::<f64>() {
        toml::Value::Float(f)
    } else if let Ok(b) = a.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(a.to_string())
    }
}

/// The default settings of a backend: each main setting at its default.
pub fn default_settings(id: &str) -> Vec<(String, toml::Value)> {
    main_settings(id)
        .iter()
        .map(|s| (s.key.to_string(), setting_value(s.default)))
        .collect()
}

/// The settings as the backend's `validate` takes them.
pub fn as_json(settings: &[(String, toml::Value)]) -> serde_json::Map<String, serde_json::Value> {
    settings
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
        .collect()
}

/// The default VPC CIDR of an environment: the seed's for its three, else the first
/// `10.N.0.0/16` that overlaps none of `taken`.
pub fn default_cidr(name: &str, taken: &[String]) -> String {
    if let Some((_, c)) = DEFAULT_ENVIRONMENTS.iter().find(|(n, _)| *n == name) {
        return c.to_string();
    }
    let taken: Vec<Cidr> = taken.iter().filter_map(|c| Cidr::parse(c).ok()).collect();
    (1..=255u16)
        .map(|n| format!("10.{n}.0.0/16"))
        .find(|c| {
            let c = Cidr::parse(c).expect("a valid CIDR");
            !taken.iter().any(|t| t.contains(&c) || c.contains(t))
        })
        .unwrap_or_else(|| "10.0.0.0/16".to_string())
}

/// `NAME` or `NAME=CIDR` (the `--env` flag).
pub fn split_env(given: &str) -> (String, Option<String>) {
    match given.split_once('=') {
        Some((n, c)) => (n.trim().to_string(), Some(c.trim().to_string())),
        None => (given.trim().to_string(), None),
    }
}

/// Each environment with its CIDR: the one given, else its default, else the next free /16.
pub fn with_cidrs(envs: &[(String, Option<String>)]) -> Vec<(String, String)> {
    let mut taken: Vec<String> = envs.iter().filter_map(|(_, c)| c.clone()).collect();
    taken.extend(
        envs.iter()
            .filter(|(_, c)| c.is_none())
            .filter_map(|(n, _)| DEFAULT_ENVIRONMENTS.iter().find(|(d, _)| d == n))
            .map(|(_, c)| c.to_string()),
    );
    let mut out = Vec::new();
    for (name, cidr) in envs {
        let cidr = cidr.clone().unwrap_or_else(|| {
            let c = default_cidr(name, &taken);
            taken.push(c.clone());
            c
        });
        out.push((name.clone(), cidr));
    }
    out
}

/// A string as a TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl Answers {
    /// The `rig.toml` text: every key with a comment saying what it is.
    pub fn render(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let line = |out: &mut Vec<String>, s: &str| out.push(s.to_string());
        let key = |out: &mut Vec<String>, about: &str, k: &str, v: &str| {
            out.push(format!("# {about}"));
            out.push(format!("{k} = {}", quoted(v)));
        };
        out.push(format!(
            "# rig.toml: the configuration of the riglet {}-{}, written by `rig init`.",
            self.owner, self.project
        ));
        line(
            &mut out,
            "# Secrets (database passwords) never go here: rig keeps them in SSM as SecureStrings.",
        );
        if let Some(p) = &self.profile {
            out.push(format!(
                "# AWS profile of this riglet: {p} (not a key of this file: pass --profile {p} or set AWS_PROFILE={p})."
            ));
        }
        line(&mut out, "");
        key(
            &mut out,
            "Owner: the first part of every name (lowercase letters, digits, '-').",
            "owner",
            &self.owner,
        );
        key(
            &mut out,
            "Project: the second part of every name.",
            "project",
            &self.project,
        );
        key(
            &mut out,
            "AWS region of every stack (--region overrides it).",
            "region",
            &self.region,
        );
        key(
            &mut out,
            "Public domain; apps answer on <owner>-<env>-<app>.<domain>.",
            "domain",
            &self.domain,
        );
        key(
            &mut out,
            "ACM certificate for the domain: an ARN, or the certificate id in this region and account.",
            "domain_cert",
            &self.domain_cert,
        );
        let about_key = "EC2 key pair for SSH to the hosts; without one, hosts are reached with SSM Session Manager.";
        match &self.key_name {
            Some(k) => key(&mut out, about_key, "key_name", k),
            None => {
                line(&mut out, &format!("# {about_key}"));
                line(&mut out, "# key_name = \"ops\"");
            }
        }
        let about_email = "E-mail subscribed to each environment's operations topic; without one, no subscription.";
        match &self.email {
            Some(e) => key(&mut out, about_email, "email", e),
            None => {
                line(&mut out, &format!("# {about_email}"));
                line(&mut out, "# email = \"ops@example.com\"");
            }
        }
        for (role, flag, b, choices) in [
            ("compute", "compute", &self.compute, "ecs-ec2 or fargate"),
            (
                "database",
                "db",
                &self.database,
                "none, aurora-provisioned, aurora-serverless or couchdb",
            ),
        ] {
            line(&mut out, "");
            out.push(format!(
                "# The {role} backend (--{flag} overrides it): {choices}."
            ));
            out.push(format!("[{role}]"));
            out.push(format!("backend = {}", quoted(&b.id)));
            if b.settings.is_empty() {
                continue;
            }
            line(&mut out, "");
            out.push(format!(
                "# Settings of the {} backend (an environment can override them in [environments.<env>.{role}.{}]).",
                b.id, b.id
            ));
            out.push(format!("[{role}.{}]", b.id));
            for (k, v) in &b.settings {
                if let Some(s) = main_settings(&b.id).iter().find(|s| s.key == k) {
                    out.push(format!("# {}", capitalised(s.about)));
                }
                out.push(format!("{k} = {v}"));
            }
        }
        line(&mut out, "");
        line(
            &mut out,
            "# Environments in deployment order, each with its VPC CIDR (a /16; the subnets are",
        );
        line(
            &mut out,
            "# .1/.2 public, .11/.12 private and .100/.110 database inside it).",
        );
        for (i, (name, cidr)) in self.environments.iter().enumerate() {
            if i > 0 {
                line(&mut out, "");
            }
            out.push(format!("[environments.{name}]"));
            key(&mut out, &format!("VPC CIDR of {name}."), "cidr", cidr);
        }
        out.push(String::new());
        out.join("\n")
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect::<String>() + ".",
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_environments_get_the_next_free_network() {
        let envs = with_cidrs(&[
            ("integration".into(), None),
            ("qa".into(), None),
            ("staging".into(), Some("10.2.0.0/16".into())),
            ("demo".into(), None),
        ]);
        assert_eq!(
            envs,
            vec![
                ("integration".to_string(), "10.1.0.0/16".to_string()),
                ("qa".to_string(), "10.3.0.0/16".to_string()),
                ("staging".to_string(), "10.2.0.0/16".to_string()),
                ("demo".to_string(), "10.4.0.0/16".to_string()),
            ]
        );
        assert_eq!(
            split_env("qa=10.9.0.0/16").1.as_deref(),
            Some("10.9.0.0/16")
        );
    }

    #[test]
    fn answers_are_typed() {
        assert_eq!(setting_value("4"), toml::Value::Integer(4));
        assert_eq!(setting_value("0.5"), toml::Value::Float(0.5));
        assert_eq!(setting_value("ssm"), toml::Value::String("ssm".into()));
    }
}
