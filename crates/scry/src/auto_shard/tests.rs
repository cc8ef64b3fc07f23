//! Every way `--shard auto` resolves or refuses, against a fake environment.

use super::*;

/// A slurm array `--array=0-3`, task `id`, job 1234.
fn slurm_task(id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SLURM_ARRAY_TASK_ID", id.into()),
        ("SLURM_ARRAY_TASK_COUNT", "4".into()),
        ("SLURM_ARRAY_TASK_MIN", "0".into()),
        ("SLURM_ARRAY_TASK_MAX", "3".into()),
        ("SLURM_ARRAY_JOB_ID", "1234".into()),
    ]
}

fn run(spec: &str, run_id: Option<&str>, vars: &[(&str, String)]) -> Result<AutoShard, String> {
    let env = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    resolve(spec, true, run_id, &env).map_err(|e| e.0)
}

fn without(mut vars: Vec<(&'static str, String)>, name: &str) -> Vec<(&'static str, String)> {
    vars.retain(|(n, _)| *n != name);
    vars
}

fn with(
    mut vars: Vec<(&'static str, String)>,
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    vars.retain(|(n, _)| *n != name);
    vars.push((name, value.into()));
    vars
}

#[test]
fn auto_and_auto_n_are_recognised_and_plain_shards_are_not() {
    assert!(is_auto("auto"));
    assert!(is_auto("auto/4"));
    assert!(!is_auto("1/4"));
    assert!(!is_auto("automatic"));
}

#[test]
fn slurm_task_gives_index_count_and_run_id() {
    assert_eq!(
        run("auto", None, &slurm_task("2")),
        Ok(AutoShard { number: 2, count: 4, run_id: "slurm-1234".into() })
    );
    assert_eq!(
        run("auto/4", None, &slurm_task("0")),
        Ok(AutoShard { number: 0, count: 4, run_id: "slurm-1234".into() })
    );
}

#[test]
fn run_id_given_wins_then_scry_run_id_then_the_array_job() {
    assert_eq!(run("auto", Some("weekly"), &slurm_task("1")).unwrap().run_id, "weekly");
    let vars = with(slurm_task("1"), "SCRY_RUN_ID", "from-env");
    assert_eq!(run("auto", None, &vars).unwrap().run_id, "from-env");
    // An empty SCRY_RUN_ID (a template left blank) is not a run id.
    let vars = with(slurm_task("1"), "SCRY_RUN_ID", "");
    assert_eq!(run("auto", None, &vars).unwrap().run_id, "slurm-1234");
}

#[test]
fn slurm_variables_missing_are_named() {
    for name in
        ["SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_JOB_ID"]
    {
        assert_eq!(
            run("auto", None, &without(slurm_task("1"), name)),
            Err(format!("--shard auto: {name} is not set"))
        );
    }
}

#[test]
fn slurm_array_not_starting_at_zero_is_refused() {
    // sbatch --array=1-4
    let vars = with(with(slurm_task("1"), "SLURM_ARRAY_TASK_MIN", "1"), "SLURM_ARRAY_TASK_MAX", "4");
    assert_eq!(
        run("auto", None, &vars),
        Err(
            "--shard auto: the Slurm array must be 0-based and contiguous (sbatch --array=0-3), but it runs \
             from SLURM_ARRAY_TASK_MIN=1 to SLURM_ARRAY_TASK_MAX=4 with SLURM_ARRAY_TASK_COUNT=4"
                .into()
        )
    );
}

#[test]
fn slurm_array_with_gaps_is_refused() {
    // sbatch --array=0-6:2 has four tasks, 0, 2, 4 and 6.
    let vars = with(slurm_task("2"), "SLURM_ARRAY_TASK_MAX", "6");
    assert_eq!(
        run("auto", None, &vars),
        Err(
            "--shard auto: the Slurm array must be 0-based and contiguous (sbatch --array=0-3), but it runs \
             from SLURM_ARRAY_TASK_MIN=0 to SLURM_ARRAY_TASK_MAX=6 with SLURM_ARRAY_TASK_COUNT=4"
                .into()
        )
    );
}

#[test]
fn slurm_count_contradicting_auto_n_is_refused() {
    assert_eq!(
        run("auto/8", None, &slurm_task("1")),
        Err("--shard auto/8: the Slurm array has SLURM_ARRAY_TASK_COUNT=4 tasks, not 8".into())
    );
}

#[test]
fn slurm_bad_number_is_named_with_its_value() {
    assert_eq!(
        run("auto", None, &with(slurm_task("1"), "SLURM_ARRAY_TASK_ID", "1a")),
        Err(r#"--shard auto: SLURM_ARRAY_TASK_ID="1a" is not a whole number"#.into())
    );
    assert_eq!(
        run("auto", None, &with(slurm_task("1"), "SLURM_ARRAY_TASK_COUNT", "-4")),
        Err(r#"--shard auto: SLURM_ARRAY_TASK_COUNT="-4" is not a whole number"#.into())
    );
}

#[test]
fn slurm_index_outside_the_array_is_refused() {
    assert_eq!(
        run("auto", None, &slurm_task("4")),
        Err("--shard auto: task index 4 is not below the shard count 4".into())
    );
}

fn k8s(index: &str) -> Vec<(&'static str, String)> {
    vec![("JOB_COMPLETION_INDEX", index.into()), ("SCRY_RUN_ID", "scry-scan-7".into())]
}

#[test]
fn kubernetes_count_from_scry_shard_count_or_auto_n() {
    let vars = with(k8s("3"), "SCRY_SHARD_COUNT", "5");
    assert_eq!(run("auto", None, &vars), Ok(AutoShard { number: 3, count: 5, run_id: "scry-scan-7".into() }));
    assert_eq!(
        run("auto/5", None, &k8s("3")),
        Ok(AutoShard { number: 3, count: 5, run_id: "scry-scan-7".into() })
    );
    assert_eq!(
        run("auto/5", None, &vars),
        Ok(AutoShard { number: 3, count: 5, run_id: "scry-scan-7".into() })
    );
}

#[test]
fn kubernetes_without_a_count_names_scry_shard_count() {
    assert_eq!(
        run("auto", None, &k8s("0")),
        Err("--shard auto: JOB_COMPLETION_INDEX is set but SCRY_SHARD_COUNT is not: set it to the Job's \
             completions, or give --shard auto/N"
            .into())
    );
}

#[test]
fn kubernetes_count_contradicting_auto_n_is_refused() {
    let vars = with(k8s("0"), "SCRY_SHARD_COUNT", "5");
    assert_eq!(run("auto/4", None, &vars), Err("--shard auto/4 contradicts SCRY_SHARD_COUNT=5".into()));
}

#[test]
fn kubernetes_zero_or_bad_count_is_refused() {
    assert_eq!(
        run("auto", None, &with(k8s("0"), "SCRY_SHARD_COUNT", "0")),
        Err("--shard auto: SCRY_SHARD_COUNT must be at least 1".into())
    );
    assert_eq!(
        run("auto", None, &with(k8s("0"), "SCRY_SHARD_COUNT", "four")),
        Err(r#"--shard auto: SCRY_SHARD_COUNT="four" is not a whole number"#.into())
    );
    assert_eq!(
        run("auto/0", None, &k8s("0")),
        Err(r#"bad shard "auto/0": "0" is not a shard count of 1 or more"#.into())
    );
}

#[test]
fn kubernetes_without_a_run_id_names_scry_run_id() {
    let vars = with(without(k8s("0"), "SCRY_RUN_ID"), "SCRY_SHARD_COUNT", "2");
    assert_eq!(
        run("auto", None, &vars),
        Err("--shard auto: SCRY_RUN_ID is not set and --run-id was not given: every task of a Kubernetes Job \
             needs the same run id (set SCRY_RUN_ID from the label job-name, docs/scale-out.md)"
            .into())
    );
    assert_eq!(run("auto", Some("nightly"), &vars).unwrap().run_id, "nightly");
}

#[test]
fn kubernetes_index_beyond_the_count_is_refused() {
    assert_eq!(
        run("auto/2", None, &k8s("2")),
        Err("--shard auto/2: task index 2 is not below the shard count 2".into())
    );
}

#[test]
fn outside_a_scheduler_both_index_variables_are_named() {
    assert_eq!(
        run("auto", None, &[]),
        Err("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a \
             Kubernetes Indexed Job) is set; outside a scheduler give --shard I/N"
            .into())
    );
}

#[test]
fn slurm_wins_when_both_schedulers_seem_present() {
    let vars = [slurm_task("1"), with(k8s("3"), "SCRY_SHARD_COUNT", "9")].concat();
    let vars = without(vars, "SCRY_RUN_ID");
    assert_eq!(run("auto", None, &vars), Ok(AutoShard { number: 1, count: 4, run_id: "slurm-1234".into() }));
}

#[test]
fn without_a_seed_it_refuses_before_reading_the_environment() {
    let vars = slurm_task("1");
    let env = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
    let err = resolve("auto", false, None, &env).unwrap_err().0;
    let why = "--shard auto needs --seed: every task must walk the same order; give all tasks one seed, e.g. --seed ";
    let seed = err.strip_prefix(why).unwrap_or_else(|| panic!("{err}"));
    assert!(seed.parse::<u32>().is_ok(), "{err}");
}
