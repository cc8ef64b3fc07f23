//! `--shard auto`: the shard and the run id from the scheduler that started
//! this process, so one batch script or manifest serves every task.
//!
//! A Slurm job array gives each task its index and the array's size
//! (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`) and the array's job id
//! (`SLURM_ARRAY_JOB_ID`, the run id `slurm-ID`). A Kubernetes Indexed Job
//! gives only the index (`JOB_COMPLETION_INDEX`): the count comes from
//! `SCRY_SHARD_COUNT` or `--shard auto/N`, the run id from `SCRY_RUN_ID`
//! (set from the job-name label through the downward API, docs/scale-out.md).
//! Everything is checked before the scan starts; each refusal names the
//! variable that is missing or wrong.

use crate::UsageError;

/// What `--shard auto` resolves to: a plain `I/N` and the run's id.
#[derive(Debug, PartialEq, Eq)]
pub struct AutoShard {
    /// 0-based index.
    pub number: u64,
    pub count: u64,
    pub run_id: String,
}

/// Whether `spec` (the `--shard` value) asks for the scheduler's shard.
pub fn is_auto(spec: &str) -> bool {
    spec == "auto" || spec.starts_with("auto/")
}

/// Resolves `--shard auto` or `--shard auto/N` from the environment `env`,
/// with `--seed` (`seed_given`) and `--run-id` (`run_id`) as given.
///
/// # Errors
/// A [`UsageError`] naming the missing or inconsistent variable or option.
pub fn resolve(
    spec: &str,
    seed_given: bool,
    run_id: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<AutoShard, UsageError> {
    let given_count = match spec.strip_prefix("auto/") {
        Some(text) => Some(match text.parse::<u64>() {
            Ok(n) if n > 0 && text.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(UsageError(format!(
                    "bad shard {spec:?}: {text:?} is not a shard count of 1 or more"
                )))
            }
        }),
        None => None,
    };
    if !seed_given {
        return Err(UsageError(format!(
            "--shard {spec} needs --seed: every task must walk the same order; give all tasks one seed, \
             e.g. --seed {}",
            rand::random::<u32>()
        )));
    }
    let (number, count, scheduler_run) = if env("SLURM_ARRAY_TASK_ID").is_some() {
        slurm(spec, given_count, env)?
    } else if env("JOB_COMPLETION_INDEX").is_some() {
        kubernetes(spec, given_count, env)?
    } else {
        return Err(UsageError(format!(
            "--shard {spec}: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX \
             (a Kubernetes Indexed Job) is set; outside a scheduler give --shard I/N"
        )));
    };
    let run_id = match (run_id, env("SCRY_RUN_ID").filter(|v| !v.is_empty()), scheduler_run) {
        (Some(given), _, _) => given.to_owned(),
        (None, Some(env_id), _) => env_id,
        (None, None, Some(slurm)) => slurm,
        (None, None, None) => {
            return Err(UsageError(format!(
                "--shard {spec}: SCRY_RUN_ID is not set and --run-id was not given: every task of a \
                 Kubernetes Job needs the same run id (set SCRY_RUN_ID from the label job-name, \
                 docs/scale-out.md)"
            )))
        }
    };
    if number >= count {
        return Err(UsageError(format!(
            "--shard {spec}: task index {number} is not below the shard count {count}"
        )));
    }
    Ok(AutoShard { number, count, run_id })
}

/// A whole number from variable `name`, or an error naming it.
fn number(env: &dyn Fn(&str) -> Option<String>, name: &str, spec: &str) -> Result<u64, UsageError> {
    let value = env(name).ok_or_else(|| UsageError(format!("--shard {spec}: {name} is not set")))?;
    match value.parse::<u64>() {
        Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(UsageError(format!("--shard {spec}: {name}={value:?} is not a whole number"))),
    }
}

/// Index, count and run id of a Slurm array task. The array must be
/// `--array=0-(N-1)`: a shard number is a task index, so an array that does
/// not start at 0 or skips indices would leave shards unscanned.
fn slurm(
    spec: &str,
    given_count: Option<u64>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(u64, u64, Option<String>), UsageError> {
    let index = number(env, "SLURM_ARRAY_TASK_ID", spec)?;
    let count = number(env, "SLURM_ARRAY_TASK_COUNT", spec)?;
    let min = number(env, "SLURM_ARRAY_TASK_MIN", spec)?;
    let max = number(env, "SLURM_ARRAY_TASK_MAX", spec)?;
    if min != 0 || count == 0 || max != count - 1 {
        return Err(UsageError(format!(
            "--shard {spec}: the Slurm array must be 0-based and contiguous (sbatch --array=0-{}), but it \
             runs from SLURM_ARRAY_TASK_MIN={min} to SLURM_ARRAY_TASK_MAX={max} with \
             SLURM_ARRAY_TASK_COUNT={count}",
            count.max(1) - 1
        )));
    }
    if let Some(n) = given_count.filter(|&n| n != count) {
        return Err(UsageError(format!(
            "--shard {spec}: the Slurm array has SLURM_ARRAY_TASK_COUNT={count} tasks, not {n}"
        )));
    }
    let job = number(env, "SLURM_ARRAY_JOB_ID", spec)?;
    Ok((index, count, Some(format!("slurm-{job}"))))
}

/// Index and count of a Kubernetes Indexed Job's pod; the count from
/// `--shard auto/N` or `SCRY_SHARD_COUNT` (Kubernetes does not pass it).
fn kubernetes(
    spec: &str,
    given_count: Option<u64>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(u64, u64, Option<String>), UsageError> {
    let index = number(env, "JOB_COMPLETION_INDEX", spec)?;
    let from_env = match env("SCRY_SHARD_COUNT") {
        Some(_) => Some(number(env, "SCRY_SHARD_COUNT", spec)?),
        None => None,
    };
    let count = match (given_count, from_env) {
        (Some(n), Some(m)) if n != m => {
            return Err(UsageError(format!("--shard {spec} contradicts SCRY_SHARD_COUNT={m}")))
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => {
            return Err(UsageError(format!(
                "--shard {spec}: JOB_COMPLETION_INDEX is set but SCRY_SHARD_COUNT is not: set it to the \
                 Job's completions, or give --shard auto/N"
            )))
        }
    };
    if count == 0 {
        return Err(UsageError(format!("--shard {spec}: SCRY_SHARD_COUNT must be at least 1")));
    }
    Ok((index, count, None))
}

#[cfg(test)]
mod tests;
