#!/bin/bash
# Submits a sharded scry scan as a Slurm job array and, after it, the
# diff job that compares it with the run before:
#   submit.sh SHARDS [PREVIOUS_RUN]
# with SCRY_DB, SCRY_SEED, SCRY_TARGETS, SCRY_PORTS (and optionally
# SCRY_RATE, SCRY_ARGS, SCRY, SCRY_NETNS) set as scry-array.sbatch reads
# them, and SBATCH_ARGS for further sbatch options of both jobs.
# Prints two lines: `run slurm-ID` and `diff JOBID`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=${1:?usage: submit.sh SHARDS [PREVIOUS_RUN]}
previous=${2:-}
[[ $shards =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: SHARDS must be a whole number of 1 or more, not $shards" >&2; exit 2; }
read -ra sbatch_args <<<"${SBATCH_ARGS:-}"

array=$(sbatch --parsable "${sbatch_args[@]}" --array="0-$((shards - 1))" "$here/scry-array.sbatch")
array=${array%%;*}
run="slurm-$array"
diff=$(SCRY_RUN=$run SCRY_PREVIOUS=$previous \
    sbatch --parsable "${sbatch_args[@]}" --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    "$here/scry-diff.sbatch")
diff=${diff%%;*}
echo "run $run"
echo "diff $diff"
