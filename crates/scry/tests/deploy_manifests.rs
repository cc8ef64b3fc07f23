//! deploy/: the Kubernetes manifests, the image definition and the Slurm
//! scripts, checked for the structure a sharded run depends on, without a
//! cluster. A manifest that drifts (a count changed in one place only, a
//! capability added, `--shard auto` lost) fails here.

use serde_json::Value;
use std::path::PathBuf;

fn deploy(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy").join(path)
}

fn read(path: &str) -> String {
    let path = deploy(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A YAML manifest as JSON values (kubectl reads both alike).
fn manifest(path: &str) -> Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn container(job: &Value) -> &Value {
    let containers = job["spec"]["template"]["spec"]["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

fn env<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn scan_job_is_an_indexed_job_with_one_shard_count() {
    let job = manifest("kubernetes/scan-job.yaml");
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().expect("completions");
    assert_eq!(completions, 4);
    let parallelism = spec["parallelism"].as_u64().expect("parallelism");
    assert!((1..=completions).contains(&parallelism), "parallelism {parallelism} of {completions}");
    assert_eq!(spec["backoffLimitPerIndex"], 2);
    assert_eq!(spec["maxFailedIndexes"], 0);
    assert_eq!(spec["backoffLimit"], 8);
    // A usage error (exit status 2) fails its index at once: a retry would fail the same way.
    let rules = spec["podFailurePolicy"]["rules"].as_array().expect("podFailurePolicy");
    let usage = &rules[0];
    assert_eq!(usage["action"], "FailIndex");
    assert_eq!(usage["onExitCodes"]["containerName"], container(&job)["name"]);
    assert_eq!(usage["onExitCodes"]["operator"], "In");
    assert_eq!(usage["onExitCodes"]["values"], serde_json::json!([2]));
    // backoffLimitPerIndex needs pods that are not restarted in place.
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
    let scry = container(&job);
    assert_eq!(env(scry, "SCRY_SHARD_COUNT")["value"], completions.to_string());
    assert_eq!(env(scry, "SCRY_RUN_ID")["valueFrom"]["fieldRef"]["fieldPath"], "metadata.labels['job-name']");
    assert_eq!(env(scry, "SCRY_DB")["valueFrom"]["secretKeyRef"]["key"], "url");
    let args = strings(&scry["args"]);
    assert!(args.windows(2).any(|w| w == ["--shard", "auto"]), "{args:?}");
    let seed = args.iter().position(|a| *a == "--seed").map(|i| args[i + 1]);
    assert!(seed.is_some_and(|s| s.parse::<u64>().is_ok()), "no --seed N in {args:?}");
    assert!(args.windows(2).any(|w| w == ["--db", "$(SCRY_DB)"]), "{args:?}");
    for key in ["cpu", "memory"] {
        assert!(scry["resources"]["requests"][key].is_string(), "no requests.{key}");
        assert!(scry["resources"]["limits"][key].is_string(), "no limits.{key}");
    }
}

#[test]
fn scan_job_adds_only_net_raw_and_net_admin() {
    let job = manifest("kubernetes/scan-job.yaml");
    let security = &container(&job)["securityContext"];
    let mut added = strings(&security["capabilities"]["add"]);
    added.sort_unstable();
    assert_eq!(added, ["NET_ADMIN", "NET_RAW"]);
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(security.get("privileged"), None);
    // File capabilities take effect on exec only without no_new_privs.
    assert_eq!(security["allowPrivilegeEscalation"], true);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod.get("hostNetwork"), None);
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
}

#[test]
fn diff_job_diffs_the_scan_jobs_run_without_capabilities() {
    let scan = manifest("kubernetes/scan-job.yaml");
    let job = manifest("kubernetes/diff-job.yaml");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    let diff = container(&job);
    assert_eq!(strings(&diff["args"]), ["diff", "--db", "$(SCRY_DB)", "$(SCRY_RUN)"]);
    // The run id of the scan Job is its name.
    assert_eq!(env(diff, "SCRY_RUN")["value"], scan["metadata"]["name"]);
    let security = &diff["securityContext"];
    assert_eq!(strings(&security["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(security["capabilities"].get("add"), None);
    assert_eq!(security["allowPrivilegeEscalation"], false);
}

#[test]
fn image_is_debian_with_libpcap_nmap_data_and_a_capable_non_root_scry() {
    let file = read("kubernetes/Containerfile");
    let froms: Vec<&str> = file.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.last(), Some(&"FROM debian:bookworm-slim"), "{froms:?}");
    let runtime = file.rsplit_once("FROM debian:bookworm-slim").unwrap().1;
    for package in ["libpcap0.8", "nmap-common", "libcap2-bin"] {
        assert!(runtime.split_whitespace().any(|w| w == package), "the image does not install {package}");
    }
    assert!(runtime.contains("COPY --from=build /src/target/release/scry /usr/bin/scry"));
    assert!(runtime.contains("setcap cap_net_raw,cap_net_admin+ep /usr/bin/scry"));
    // The manifests' runAsUser is the image's user.
    assert!(runtime.lines().any(|l| l == "USER 10001:10001"), "{runtime}");
}

#[test]
fn slurm_scripts_shard_automatically_and_chain_the_diff() {
    let array = read("slurm/scry-array.sbatch");
    assert!(array.contains("--shard auto --seed \"$SCRY_SEED\" --db \"$SCRY_DB\""), "{array}");
    let submit = read("slurm/submit.sh");
    assert!(submit.contains("--array=\"0-$((shards - 1))\""), "{submit}");
    assert!(submit.contains("--dependency=\"afterok:$array\""), "{submit}");
    let diff = read("slurm/scry-diff.sbatch");
    assert!(diff.contains("diff --db \"$SCRY_DB\""), "{diff}");
    for script in ["slurm/scry-array.sbatch", "slurm/scry-diff.sbatch", "slurm/submit.sh"] {
        let out = std::process::Command::new("bash").arg("-n").arg(deploy(script)).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
