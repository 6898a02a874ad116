//! The bastion's planning: its name, tags and parameters, and the checks of `--cidr`, the
//! `--my-ip` answer and `--instance-type`.

use rig_core::names::RigletNames;
use rig_core::Role;

use super::bastion::*;
use super::{PlannedStack, RigletPlan};
use crate::ownership;

#[test]
fn an_address_or_a_block_is_taken_and_the_whole_internet_is_refused() {
    assert_eq!(ingress_cidr("203.0.113.7").unwrap(), "203.0.113.7/32");
    assert_eq!(ingress_cidr(" 203.0.113.7/32 ").unwrap(), "203.0.113.7/32");
    assert_eq!(ingress_cidr("198.51.100.0/24").unwrap(), "198.51.100.0/24");
    assert_eq!(ingress_cidr("10.0.0.0/8").unwrap(), "10.0.0.0/8");
    for whole in ["0.0.0.0/0", " 0.0.0.0/0"] {
        let e = ingress_cidr(whole).unwrap_err();
        assert!(matches!(e, BastionError::WholeInternet { .. }), "{e}");
        assert!(e.to_string().contains("whole internet"), "{e}");
        assert!(e.to_string().contains("--my-ip"), "{e}");
    }
    for (bad, says) in [
        ("", "not an IPv4 address"),
        ("example.com", "not an IPv4 address"),
        ("2001:db8::1", "not an IPv4 address"),
        ("2001:db8::/32", "not an IPv4 address"),
        ("203.0.113.7/33", "prefix length"),
        ("203.0.113.7/24", "host bits"),
        ("256.0.0.1/32", "not an IPv4 address"),
        ("1.2.3/32", "not an IPv4 address"),
    ] {
        let e = ingress_cidr(bad).unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
        assert!(e.starts_with(&format!("--cidr {bad}")), "{bad}: {e}");
    }
}

#[test]
fn a_my_ip_answer_must_be_one_ipv4_address() {
    assert_eq!(my_ip_cidr("203.0.113.7\n").unwrap(), "203.0.113.7/32");
    assert_eq!(my_ip_cidr("  198.51.100.1 ").unwrap(), "198.51.100.1/32");
    for bad in [
        "",
        "<html>rate limited</html>",
        "2001:db8::1",
        "0.0.0.0",
        "1.2.3.4/32",
    ] {
        assert!(my_ip_cidr(bad).is_err(), "{bad}");
    }
    let long = "x".repeat(500);
    assert!(
        my_ip_cidr(&long).unwrap_err().len() < 100,
        "long answers are cut"
    );
}

#[test]
fn instance_types_follow_the_templates_pattern() {
    for ok in ["t3.micro", "t4g.small", "m7i-flex.large", "c7gn.xlarge"] {
        assert!(check_instance_type(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "t3",
        "T3.micro",
        "t3.",
        ".micro",
        "t3.micro;rm",
        "3t.micro",
    ] {
        assert!(check_instance_type(bad).is_err(), "{bad}");
    }
}

#[test]
fn graviton_types_get_the_arm64_image() {
    for arm in [
        "t4g.micro",
        "m6gd.large",
        "c7gn.xlarge",
        "a1.medium",
        "im4gn.large",
    ] {
        assert_eq!(image_parameter(arm), AMI_ARM64, "{arm}");
    }
    for x86 in [
        "t3.micro",
        "t2.micro",
        "g4dn.xlarge",
        "m7i-flex.large",
        "m5dn.large",
    ] {
        assert_eq!(image_parameter(x86), AMI_X86_64, "{x86}");
    }
}

fn plan() -> RigletPlan {
    RigletPlan {
        names: RigletNames::new("acme", "shop", "us-east-1"),
        domain: "example.com".into(),
        stacks: vec![PlannedStack::for_test(
            "acme-shop-qa-foundation",
            Some("qa"),
            Role::Foundation,
            &[],
        )],
        buckets: vec![],
        parameters: Default::default(),
        secrets: vec![],
        environments: vec!["qa".into()],
        express: Default::default(),
        whole: false,
        pipelines: vec![],
    }
}

fn spec(cidr: Option<&str>) -> BastionSpec {
    BastionSpec {
        env: "qa".into(),
        ingress_cidr: cidr.map(str::to_string),
        instance_type: DEFAULT_INSTANCE_TYPE.into(),
        key_name: None,
    }
}

#[test]
fn the_stack_keeps_the_seeds_name_and_carries_the_environments_tags() {
    let s = bastion_stack(&plan(), &spec(None), "rig-acme-shop-us-east-1-app-qa").unwrap();
    assert_eq!(s.plan.name, "acme-shop-qa-bastion");
    assert_eq!(s.plan.role, Role::Bastion);
    assert_eq!(s.template_bucket, "rig-acme-shop-us-east-1-app-qa");
    assert_eq!(s.plan.depends_on, vec!["acme-shop-qa-foundation"]);
    let p = |k: &str| s.plan.parameters.get(k).map(String::as_str);
    assert_eq!(p("FoundationStackName"), Some("acme-shop-qa-foundation"));
    assert_eq!(p("IngressCidr"), Some(""), "no inbound rule by default");
    assert_eq!(p("ImageId"), Some(AMI_X86_64));
    assert_eq!(p("KeyName"), Some(""));
    let t = |k: &str| s.plan.tags.get(k).map(String::as_str);
    assert_eq!(t("rig:owner"), Some("acme"));
    assert_eq!(t("rig:project"), Some("shop"));
    assert_eq!(t("rig:environment"), Some("qa"));
    assert_eq!(t("rig:role"), Some("bastion"));
    assert_eq!(t("rig:backend"), Some("bastion"));
    assert_eq!(
        t("rig:template-bucket"),
        None,
        "the app bucket is the foundation's"
    );
    assert_eq!(
        s.expected(&plan().names).check(&s.plan.tags),
        ownership::Verdict::Owned
    );
    let with = bastion_stack(&plan(), &spec(Some("203.0.113.7")), "b").unwrap();
    assert_eq!(
        with.plan.parameters.get("IngressCidr").map(String::as_str),
        Some("203.0.113.7/32")
    );
}

#[test]
fn an_unknown_environment_or_a_bad_block_is_refused() {
    let mut other = spec(None);
    other.env = "prod".into();
    let e = bastion_stack(&plan(), &other, "b").unwrap_err().to_string();
    assert!(
        e.contains("no environment `prod`") && e.contains("qa"),
        "{e}"
    );
    let e = bastion_stack(&plan(), &spec(Some("0.0.0.0/0")), "b").unwrap_err();
    assert!(matches!(e, BastionError::WholeInternet { .. }));
}
