//! Checks of EC2 settings shared by the backends that run EC2 instances.
//!
//! This file is a module of `rig-plugin-ecs-ec2` and is also compiled into `rig-plugin-couchdb`
//! with `#[path = "../../ecs-ec2/src/ec2_checks.rs"] mod ec2_checks;`, so both backends accept
//! exactly the same instance types and AMI parameter names. It depends on nothing but `std`.

/// Checks an EC2 instance type such as `t3.small`: a family (a lowercase letter, then lowercase
/// letters, digits and `-`), a `.`, and a size (lowercase letters and digits).
pub(crate) fn instance_type(s: &str) -> Result<(), String> {
    let fail = || {
        Err(format!(
            "`{s}` is not an EC2 instance type; write it as family.size, like `t3.small` or `m7g.large`"
        ))
    };
    let Some((family, size)) = s.split_once('.') else {
        return fail();
    };
    let family_ok = family.starts_with(|c: char| c.is_ascii_lowercase())
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let size_ok = !size.is_empty()
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if family_ok && size_ok {
        Ok(())
    } else {
        fail()
    }
}

/// Checks the name of the SSM parameter an AMI id is read from, such as
/// `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64`: a full path (leading
/// `/`, no empty segment, no trailing `/`) of letters, digits and `_ . - /`, at most 1011
/// characters. AWS's public parameters live under `/aws/service/`, so unlike the riglet's own
/// parameters this name may begin with `/aws`.
pub(crate) fn ami_parameter(s: &str) -> Result<(), String> {
    if !s.starts_with('/') {
        return Err(format!(
            "`{s}` is not a full SSM parameter name; start it with `/`, like `/aws/service/...`"
        ));
    }
    if s.len() > 1011 {
        return Err(format!(
            "the SSM parameter name is {} characters long; at most 1011 are allowed",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c)))
    {
        return Err(format!(
            "`{s}` may contain only letters, digits and `_ . - /`, not `{c}`"
        ));
    }
    if s.contains("//") || s.ends_with('/') {
        return Err(format!(
            "`{s}` has an empty path segment; remove the doubled or trailing `/`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_types() {
        for ok in ["t3.small", "m7g.large", "c6in.24xlarge", "u-6tb1.metal"] {
            assert_eq!(instance_type(ok), Ok(()), "{ok}");
        }
        for bad in [
            "t3small",
            "T3.small",
            "3t.small",
            "t3.",
            ".small",
            "t3.Small",
            "t3.sm.all",
        ] {
            let msg = instance_type(bad).unwrap_err();
            assert!(msg.contains("like `t3.small`"), "{bad}: {msg}");
        }
    }

    #[test]
    fn ami_parameters() {
        assert_eq!(
            ami_parameter("/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"),
            Ok(())
        );
        assert_eq!(ami_parameter("/acme/shop/golden-ami"), Ok(()));
        assert!(ami_parameter("aws/service/x")
            .unwrap_err()
            .contains("start it with `/`"));
        assert!(ami_parameter("/aws/ser vice")
            .unwrap_err()
            .contains("not ` `"));
        assert!(ami_parameter("/aws//x")
            .unwrap_err()
            .contains("empty path segment"));
        assert!(ami_parameter("/aws/x/")
            .unwrap_err()
            .contains("empty path segment"));
        let long = format!("/{}", "a".repeat(1011));
        assert!(ami_parameter(&long).unwrap_err().contains("at most 1011"));
    }
}
