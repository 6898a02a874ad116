//! The riglet's lock through the real `rig` binary on the local emulator: a run that finds it
//! held waits or refuses naming the holder; a holder killed with SIGKILL mid-`up` is taken over
//! once its lease runs out and the rerun converges with nothing duplicated; an `up` and a `down`
//! started together run one after the other; the last `down` removes the lock bucket too.

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};

use rig_tests::matrix::{local_riglet, rig_binary, vpcs_with_cidr, Api, Rig};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig}");
}

/// Starts `rig args` with stderr piped and reads it until a line says a stack is being
/// created: the run holds the lock and is changing the riglet.
fn start_until_creating(rig: &Rig, args: &[&str]) -> (Child, Vec<String>) {
    let mut child = rig
        .command(args)
        .env("RIG_LOCK_LEASE_SECONDS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.map_while(Result::ok) {
        let creating = line.ends_with(": creating");
        seen.push(line);
        if creating {
            return (child, seen);
        }
    }
    let _ = child.wait();
    panic!(
        "`rig up` ended before creating a stack:\n{}",
        seen.join("\n")
    );
}

#[test]
fn one_run_at_a_time_and_a_killed_holder_is_taken_over() {
    let (aws, dir, _) = local_riglet("fargate", "none");
    let bin = rig_binary();
    let rig = Rig {
        bin: &bin,
        config: dir.path().join("rig.toml"),
        aws: &aws,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let api = rt.block_on(Api::new(&aws));

    // A holds the lock and is stopped mid-`up` (it neither renews nor finishes).
    let (a, _) = start_until_creating(&rig, &["up", "--yes"]);
    signal(&a, "-STOP");
    // B gives up at once, naming A.
    let b = rig
        .output(&["up", "--yes", "--skip-checks", "--lock-wait", "0"])
        .unwrap();
    let said = stderr(&b);
    assert_eq!(b.status.code(), Some(1), "{said}");
    assert!(
        said.contains("the riglet is busy: `rig up` by")
            && said.contains(&format!("(pid {})", a.id()))
            && said.contains("s3://rig-acme-shop-us-east-1-lock/rig.lock"),
        "{said}"
    );

    // A is killed: its lease runs out, and C takes the lock over and converges.
    let mut a = a;
    signal(&a, "-KILL");
    let _ = a.wait();
    let c = rig
        .command(&["up", "--yes", "--lock-wait", "60"])
        .env("RIG_LOCK_LEASE_SECONDS", "2")
        .output()
        .unwrap();
    let said = stderr(&c);
    assert!(c.status.success(), "{said}");
    assert!(
        said.contains("waiting for the riglet's lock, held by `rig up`")
            && said.contains("took over the riglet's lock from `rig up`"),
        "{said}"
    );
    let mut live = rt.block_on(api.live_stacks("shop")).unwrap();
    live.sort();
    let mut unique = live.clone();
    unique.dedup();
    assert_eq!(live.len(), unique.len(), "a stack twice: {live:?}");
    assert_eq!(live.len(), 6, "{live:?}");
    for cidr in ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"] {
        assert_eq!(vpcs_with_cidr(&aws, cidr).unwrap(), 1, "{cidr}");
    }

    // An `up` and a `down` started together: one waits for the other, both succeed.
    let up = rig
        .command(&["up", "--yes", "--skip-checks"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let down = rig
        .command(&["down", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (up, down) = (
        up.wait_with_output().unwrap(),
        down.wait_with_output().unwrap(),
    );
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(down.status.success(), "{}", stderr(&down));
    let waited = |o: &Output| stderr(o).contains("waiting for the riglet's lock");
    assert!(
        waited(&up) != waited(&down),
        "exactly one waits:\nup:\n{}\ndown:\n{}",
        stderr(&up),
        stderr(&down)
    );
    let live = rt.block_on(api.live_stacks("shop")).unwrap();
    if waited(&up) {
        // down went first, then up created the riglet again.
        assert_eq!(live.len(), 6, "{live:?}");
        let last = rig.output(&["down", "--yes"]).unwrap();
        assert!(last.status.success(), "{}", stderr(&last));
    }
    // The riglet is gone, its lock bucket with it.
    rt.block_on(api.verify_gone("shop")).unwrap();
}
