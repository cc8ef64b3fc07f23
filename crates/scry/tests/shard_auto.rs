//! `--shard auto` from the command line, with the variables a Slurm job
//! array or a Kubernetes Indexed Job sets. `--offline` builds and counts
//! every probe and sends none, to loopback: no lab is needed.

mod common;

use common::{Scan, SCRY};
use std::process::{Command, Output, Stdio};

/// Every variable `--shard auto` reads, cleared so the test's own
/// environment (a test run inside a Slurm job) cannot leak in.
const SCHEDULER_VARS: [&str; 8] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_JOB_ID",
    "JOB_COMPLETION_INDEX",
    "SCRY_SHARD_COUNT",
    "SCRY_RUN_ID",
];

/// Runs scry with `args` and exactly the scheduler variables `env`.
fn scry(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(SCRY);
    for name in SCHEDULER_VARS {
        cmd.env_remove(name);
    }
    cmd.args(args).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).output().expect("running scry")
}

/// Task `id` of `sbatch --array=0-3`, job 77.
fn slurm_task(id: u32) -> Vec<(&'static str, String)> {
    vec![
        ("SLURM_ARRAY_TASK_ID", id.to_string()),
        ("SLURM_ARRAY_TASK_COUNT", "4".into()),
        ("SLURM_ARRAY_TASK_MIN", "0".into()),
        ("SLURM_ARRAY_TASK_MAX", "3".into()),
        ("SLURM_ARRAY_JOB_ID", "77".into()),
    ]
}

const OFFLINE: [&str; 9] = ["--offline", "--retries", "0", "--wait", "0", "-p", "1-100", "-oJ", "-"];

/// Four array tasks cover the 100 pairs exactly once between them, each
/// the same quarter `--shard I/4` gives, and the history shows them as
/// one run named after the array job.
#[test]
fn slurm_array_tasks_are_the_shards_of_one_run() {
    let dir = std::env::temp_dir().join(format!("scry-shard-auto-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("history.db");
    let db = db.to_str().unwrap();
    let mut sent = 0;
    for id in 0..4 {
        let args =
            [&OFFLINE[..], &["-v", "--seed", "5", "--shard", "auto", "--db", db, "127.0.0.1"]].concat();
        let out = scry(&args, &slurm_task(id));
        let scan = Scan::from_output(out.status, &out.stdout, &out.stderr);
        assert!(scan.status.success(), "task {id}: {}", scan.stderr);
        let line = format!("shard {id}/4 covers 25; seed 5;");
        assert!(scan.stderr.contains(&line), "task {id} did not say {line:?}: {}", scan.stderr);
        let shard = format!("{id}/4");
        let plain = [&OFFLINE[..], &["--seed", "5", "--shard", &shard, "--no-db", "127.0.0.1"]].concat();
        let plain = scry(&plain, &[]);
        let plain = Scan::from_output(plain.status, &plain.stdout, &plain.stderr);
        assert_eq!(scan.stat("sent"), plain.stat("sent"), "task {id}");
        sent += scan.stat("sent");
    }
    assert_eq!(sent, 100);
    let out = scry(&["history", "--db", db], &[]);
    let history = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{history}");
    assert!(rows[0].starts_with("slurm-77 (4 shards) "), "{history}");
    assert!(rows[0].contains(" complete "), "{history}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A Kubernetes pod: the index from JOB_COMPLETION_INDEX, the count from
/// SCRY_SHARD_COUNT or `--shard auto/N`.
#[test]
fn kubernetes_index_with_the_count_from_env_or_argument() {
    let pod = |index: &str, count: Option<&str>| {
        let mut env = vec![("JOB_COMPLETION_INDEX", index.to_owned()), ("SCRY_RUN_ID", "scan-a".to_owned())];
        env.extend(count.map(|c| ("SCRY_SHARD_COUNT", c.to_owned())));
        env
    };
    for (spec, env) in [("auto", pod("1", Some("2"))), ("auto/2", pod("1", None))] {
        let args = [&OFFLINE[..], &["-v", "--no-db", "--seed", "9", "--shard", spec, "127.0.0.1"]].concat();
        let out = scry(&args, &env);
        let scan = Scan::from_output(out.status, &out.stdout, &out.stderr);
        assert!(scan.status.success(), "{spec}: {}", scan.stderr);
        assert!(scan.stderr.contains("shard 1/2 covers 50; seed 9;"), "{spec}: {}", scan.stderr);
        assert_eq!(scan.stat("sent"), 50);
    }
}

/// Asserts scry refuses with status 2 and exactly `message`, sending nothing.
fn refuses(args: &[&str], env: &[(&str, String)], message: &str) {
    let out = scry(args, env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr, format!("scry: {message}\n"), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?} wrote output: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn refusals_name_the_missing_variable() {
    let scan = ["-p", "80", "--seed", "1", "--shard", "auto", "127.0.0.1"];
    let mut env = slurm_task(2);
    env.retain(|(name, _)| *name != "SLURM_ARRAY_TASK_COUNT");
    refuses(&scan, &env, "--shard auto: SLURM_ARRAY_TASK_COUNT is not set");
    refuses(
        &scan,
        &[("JOB_COMPLETION_INDEX", "0".into()), ("SCRY_RUN_ID", "r".into())],
        "--shard auto: JOB_COMPLETION_INDEX is set but SCRY_SHARD_COUNT is not: set it to the Job's \
         completions, or give --shard auto/N",
    );
    refuses(
        &scan,
        &[],
        "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a \
         Kubernetes Indexed Job) is set; outside a scheduler give --shard I/N",
    );
    let mut env = slurm_task(1);
    env.retain(|(name, _)| *name != "SLURM_ARRAY_TASK_MIN");
    env.push(("SLURM_ARRAY_TASK_MIN", "1".into()));
    refuses(
        &scan,
        &env,
        "--shard auto: the Slurm array must be 0-based and contiguous (sbatch --array=0-3), but it runs \
         from SLURM_ARRAY_TASK_MIN=1 to SLURM_ARRAY_TASK_MAX=3 with SLURM_ARRAY_TASK_COUNT=4",
    );
}

#[test]
fn without_a_seed_it_refuses() {
    let out = scry(&["-p", "80", "--shard", "auto", "127.0.0.1"], &slurm_task(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let why =
        "scry: --shard auto needs --seed: every task must walk the same order; give all tasks one seed, \
               e.g. --seed ";
    let seed =
        stderr.strip_prefix(why).and_then(|s| s.strip_suffix('\n')).unwrap_or_else(|| panic!("{stderr}"));
    assert!(seed.parse::<u32>().is_ok(), "{stderr}");
}
