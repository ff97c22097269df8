#!/usr/bin/env bash
# Test `learndyn scan` against a real SLURM (Debian's slurm-wlm 22.05 + munge).
#
# What it does, in order:
#   1. installs slurmctld, slurmd, slurm-client and munge with apt-get if they are missing;
#   2. starts a private one-node cluster on this machine: its own munged (fresh key, own
#      socket), slurmctld and slurmd, all as root, all state/logs in one temp dir, on two free
#      TCP ports, from a generated slurm.conf naming `hostname -s` with the CPUs and memory
#      that `slurmd -C` reports (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none,
#      ReturnToService=2, no accounting, no cgroup.conf);
#   3. smoke test: a 3-task array job (`sbatch --array=0-2 --wrap ...`), checks its outputs;
#   4. learndyn: single-process `learndyn scan SPEC` into DIR_A; `learndyn scan slurm SPEC
#      --shards 3` into DIR_B; sbatch of the generated script; wait; `learndyn scan merge
#      DIR_B`; `cmp` of the two results.csv; and `scan merge` must refuse a missing shard;
#      then the same for `learndyn recovery run configs/recovery_run_example.toml`;
#   5. on any exit (success, failure, Ctrl-C, SIGTERM) cancels its jobs and stops exactly the
#      daemons it started (recorded PIDs), then removes the temp dir (kept on failure).
#
# System files are not touched: nothing in /etc/slurm, /etc/munge or /var is written, no system
# service is started or stopped; the only exception is a temporary /usr/sbin/policy-rc.d (exit
# 101) during the package install when the machine has none, so that the packages' postinst
# scripts do not try to start the unconfigured services (their `invoke-rc.d ... || exit 1`
# would fail the install on a machine without systemd).
#
# Usage: .ci/slurm_test.sh [--cluster-only]     (as root; CI runs it from .ci/run)
#   --cluster-only          stop after the smoke array job (no cargo, no learndyn)
# Environment (all optional):
#   SLURM_TEST_JOB_TIMEOUT  seconds to wait for one job            (default 300)
#   SLURM_TEST_SPEC         scan spec                             (default configs/scan_smoke.toml)
#   SLURM_TEST_SHARDS       array tasks for the scan              (default 3)
#   SLURM_TEST_KEEP=1       keep the temp dir even on success
#   SLURM_TEST_TMPDIR       where the work dir goes                (default /tmp; must allow exec,
#                           since slurmd runs batch scripts from its spool dir in there)
#   LEARNDYN_BIN            use this binary instead of `cargo build --release`
set -Eeuo pipefail

T0=$SECONDS
ME=slurm_test
log() { printf '[%s +%3ds] %s\n' "$ME" "$((SECONDS - T0))" "$*"; }
warn() { printf '[%s +%3ds] WARNING: %s\n' "$ME" "$((SECONDS - T0))" "$*" >&2; }
FAILED_MSG=""
die() {
    FAILED_MSG="$*"
    printf '[%s +%3ds] FAIL: %s\n' "$ME" "$((SECONDS - T0))" "$*" >&2
    exit 1
}
trap 'printf "[%s] command failed (exit %s) at line %s: %s\n" "$ME" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

CLUSTER_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --cluster-only) CLUSTER_ONLY=1 ;;
        -h | --help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOB_TIMEOUT=${SLURM_TEST_JOB_TIMEOUT:-300}
SPEC=${SLURM_TEST_SPEC:-$REPO/configs/scan_smoke.toml}
SHARDS=${SLURM_TEST_SHARDS:-3}
KEEP=${SLURM_TEST_KEEP:-0}
TMP_BASE=${SLURM_TEST_TMPDIR:-/tmp}
PARTITION=ci
MARKER_VAR=LEARNDYN_SLURM_CI # set in the environment of every process this run starts
CMD_TIMEOUT=60               # bound on any single slurm client command

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and runs slurmd as root)"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# Hermetic client environment: no inherited SLURM_*/SBATCH_* settings (e.g. when this script
# itself runs inside a SLURM job), only our SLURM_CONF (set below).
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(SLURM_|SBATCH_|SQUEUE_|SINFO_|SALLOC_|SRUN_|SCONTROL_)' || true)

# ---------------------------------------------------------------------------------------------
# Cleanup: registered before anything is started.
# ---------------------------------------------------------------------------------------------
WORK=""
MUNGED_PID="" SLURMCTLD_PID="" SLURMD_PID=""
JOB_IDS=()
POLICY_RC_CREATED=0
CLUSTER_STARTED=0
DIAG_DONE=0

alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

# PIDs of processes whose environment holds MARKER_VAR=$1 (our daemons, slurmstepds, job steps).
marked_pids() {
    local p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" || $p == "${BASHPID:-}" ]] && continue
        grep -qzxF "$MARKER_VAR=$1" "/proc/$p/environ" 2>/dev/null && echo "$p"
    done
    return 0
}

# stop_pid NAME PID: SIGTERM, wait up to 15 s, then SIGKILL.
stop_pid() {
    local name=$1 pid=$2 i
    alive "$pid" || return 0
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        alive "$pid" || break
        # reap it if it is our child (zombies still answer kill -0)
        if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then wait "$pid" 2>/dev/null || true; break; fi
        sleep 0.1
    done
    if alive "$pid" && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        warn "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

sq() { timeout "$CMD_TIMEOUT" squeue "$@"; }

diagnostics() {
    ((DIAG_DONE == 0 && CLUSTER_STARTED == 1)) || return 0
    DIAG_DONE=1
    local f
    {
        echo "================ $ME diagnostics (work dir $WORK) ================"
        echo "---- squeue -a -r -t all"
        timeout 10 squeue -a -r -t all -o '%.12i %.10P %.20j %.10T %.10M %.6C %R' 2>&1 || true
        echo "---- sinfo -N -l"
        timeout 10 sinfo -N -l 2>&1 || true
        echo "---- scontrol show node"
        timeout 10 scontrol show node 2>&1 || true
        for id in "${JOB_IDS[@]}"; do
            echo "---- scontrol show job $id"
            timeout 10 scontrol show job "$id" 2>&1 || true
        done
        for f in "$WORK/log/slurmctld.log" "$WORK/log/slurmd.log" "$WORK/log/munged.log"; do
            [[ -f $f ]] || continue
            echo "---- tail -n 80 $f"
            tail -n 80 "$f"
        done
        # the daemons' own stdout/stderr: errors from before they opened their log files
        f=$WORK/log/daemons.out
        if [[ -s $f ]]; then echo "---- tail -n 30 $f"; tail -n 30 "$f"; fi
        while IFS= read -r f; do
            echo "---- job output $f"
            tail -n 40 "$f"
        done < <(find "$WORK" -name 'slurm-*.out' 2>/dev/null | sort)
        echo "================ end of diagnostics ================"
    } >&2
}

cleanup() {
    local rc=$?
    # No interruptions and no death by a closed stdout (e.g. `| head`) until the daemons are down.
    trap - ERR
    trap '' INT TERM HUP PIPE
    set +e
    if ((rc != 0)); then
        [[ -n $FAILED_MSG ]] || printf '[%s +%3ds] FAIL: exited with status %s\n' "$ME" "$((SECONDS - T0))" "$rc" >&2
        diagnostics
    fi
    if ((POLICY_RC_CREATED == 1)); then rm -f /usr/sbin/policy-rc.d; fi
    if alive "$SLURMCTLD_PID" && ((${#JOB_IDS[@]} > 0)); then
        local active
        local ids t
        ids=$(IFS=,; echo "${JOB_IDS[*]}")
        active=$(timeout 10 squeue -h -j "$ids" -o %i 2>/dev/null)
        if [[ -n $active ]]; then
            log "cancelling jobs ${JOB_IDS[*]}"
            timeout 10 scancel "${JOB_IDS[@]}" 2>/dev/null
            t=$SECONDS
            while ((SECONDS - t < 15)) && [[ -n $(timeout 10 squeue -h -j "$ids" -o %i 2>/dev/null) ]]; do
                sleep 0.5
            done
        fi
    fi
    stop_pid slurmd "$SLURMD_PID"
    stop_pid slurmctld "$SLURMCTLD_PID"
    stop_pid munged "$MUNGED_PID"
    if [[ -n $WORK ]]; then
        # Anything else that inherited our marker (slurmstepd, job processes) must not outlive us.
        local left
        left=$(marked_pids "$WORK" | tr '\n' ' ')
        if [[ -n ${left// /} ]]; then
            warn "stopping leftover processes of this run: $left"
            kill -TERM $left 2>/dev/null; sleep 1
            left=$(marked_pids "$WORK" | tr '\n' ' ')
            [[ -n ${left// /} ]] && kill -KILL $left 2>/dev/null
        fi
        if ((rc == 0 && KEEP != 1)); then
            rm -rf "$WORK"
        else
            log "kept work dir $WORK (logs in $WORK/log)"
        fi
    fi
    if ((rc == 0)); then log "done in $((SECONDS - T0)) s"; else log "FAILED after $((SECONDS - T0)) s"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# ---------------------------------------------------------------------------------------------
# 1. Packages
# ---------------------------------------------------------------------------------------------
PKGS=(slurmctld slurmd slurm-client munge)
pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }
missing=()
for p in "${PKGS[@]}"; do pkg_installed "$p" || missing+=("$p"); done
if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]} (apt-get)"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# temporary, from learndyn .ci/slurm_test.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    apt_log=$(mktemp "$TMP_BASE/learndyn-slurm-apt.XXXXXX")
    apt_ok=0
    for attempt in 1 2 3; do # a registry hiccup should not fail CI
        if { apt-get -q -o DPkg::Lock::Timeout=300 update &&
            apt-get -q -y -o DPkg::Lock::Timeout=300 install --no-install-recommends "${PKGS[@]}"; } >"$apt_log" 2>&1; then
            apt_ok=1
            break
        fi
        warn "apt-get failed (attempt $attempt of 3)"
        sleep $((attempt * 5))
    done
    if ((apt_ok == 0)); then
        tail -n 40 "$apt_log" >&2
        rm -f "$apt_log"
        die "apt-get could not install ${PKGS[*]}"
    fi
    rm -f "$apt_log"
    if ((POLICY_RC_CREATED == 1)); then rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
else
    log "packages present: ${PKGS[*]}"
fi
for c in slurmctld slurmd sbatch squeue sinfo scontrol scancel munged munge unmunge; do
    command -v "$c" >/dev/null || die "'$c' not found after installing ${PKGS[*]}"
done
SLURM_VERSION=$(dpkg-query -W -f='${Version}' slurmctld)
MUNGE_VERSION=munge-$(dpkg-query -W -f='${Version}' munge)
log "versions: slurm $SLURM_VERSION, $MUNGE_VERSION"

# ---------------------------------------------------------------------------------------------
# 2. Processes left by an earlier run of this script that was killed (its owner is gone)
# ---------------------------------------------------------------------------------------------
stale=()
for p in /proc/[0-9]*; do
    p=${p#/proc/}
    owner=$({ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | sed -n "s/^$MARKER_VAR=//p" | head -n 1) || true
    [[ -n $owner ]] || continue
    if [[ -f $owner/owner.pid ]] && alive "$(cat "$owner/owner.pid" 2>/dev/null)"; then continue; fi
    stale+=("$p")
done
if ((${#stale[@]} > 0)); then
    warn "stopping processes left by an earlier, killed run of this script: ${stale[*]}"
    kill -TERM "${stale[@]}" 2>/dev/null || true
    sleep 2
    kill -KILL "${stale[@]}" 2>/dev/null || true
fi

# Work dirs of earlier runs that failed (kept for their logs) are removed after a day.
for d in "$TMP_BASE"/learndyn-slurm.*; do
    [[ -d $d && -n $(find "$d" -maxdepth 0 -mmin +1440 2>/dev/null) ]] || continue
    alive "$(cat "$d/owner.pid" 2>/dev/null)" && continue
    log "removing old work dir $d"
    rm -rf "$d"
done

# ---------------------------------------------------------------------------------------------
# 3. Work dir, munge key, slurm.conf
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d "$TMP_BASE/learndyn-slurm.XXXXXX")
chmod 755 "$WORK" # munged requires every directory above its socket to be world-executable
echo $$ >"$WORK/owner.pid"
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/log" "$WORK/munge"
log "work dir $WORK"

HOST=$(hostname -s)
[[ -n $HOST ]] || die "hostname -s printed nothing"

# Node line from `slurmd -C` (CPUs, sockets, cores, threads, RealMemory), named after HOST.
NODE_HW=$(slurmd -C 2>/dev/null | grep -m1 '^NodeName=' | sed 's/^NodeName=[^ ]* *//') || true
if [[ -z $NODE_HW || $NODE_HW != *CPUs=* || $NODE_HW != *RealMemory=* ]]; then
    warn "slurmd -C gave no usable node line; using nproc and /proc/meminfo"
    NODE_HW="CPUs=$(nproc) RealMemory=$(($(awk '/^MemTotal:/{print $2}' /proc/meminfo) / 1024 - 64))"
fi
NCPUS=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$NODE_HW")

# Two free TCP ports, from a random base, so that a system slurm (6817/6818) or a concurrent run
# of this script does not collide with ours.
port_busy() {
    if command -v ss >/dev/null; then
        [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]] && return 0
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
pick_port() {
    local p tries
    for ((tries = 0; tries < 200; tries++)); do
        p=$((20000 + RANDOM % 30000))
        [[ " $* " == *" $p "* ]] && continue
        port_busy "$p" || { echo "$p"; return 0; }
    done
    return 1
}
CTLD_PORT=$(pick_port) || die "found no free TCP port"
SLURMD_PORT=$(pick_port "$CTLD_PORT") || die "found no free TCP port"

# A private munge key and munged on a private socket: the system's munge (if any) is not used.
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
chmod 700 "$WORK/munge"
MUNGE_SOCKET=$WORK/munge.socket

CONF=$WORK/slurm.conf
: >"$WORK/plugstack.conf" # do not pick up /etc/slurm/plugstack.conf.d
cat >"$CONF" <<EOF
# Generated by learndyn .ci/slurm_test.sh: a private one-node cluster.
ClusterName=learndynci
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$WORK/plugstack.conf
# No cgroups at all (and no cgroup.conf: 22.05 rejects CgroupPlugin=disabled).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
# Finished jobs stay visible to squeue (with their final state) for 5 minutes.
MinJobAge=300
KillWait=5
InactiveLimit=0
NodeName=$HOST NodeAddr=127.0.0.1 $NODE_HW State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$CONF
log "slurm.conf: node '$HOST' $NODE_HW; partition '$PARTITION'; ports $CTLD_PORT/$SLURMD_PORT"

# ---------------------------------------------------------------------------------------------
# 4. Daemons (foreground mode in the background, so $! is the daemon's PID)
# ---------------------------------------------------------------------------------------------
start_daemon() { # VAR CMD...: starts CMD as a child of this shell, stores its PID in VAR
    local var=$1
    shift
    env "$MARKER_VAR=$WORK" "$@" </dev/null >>"$WORK/log/daemons.out" 2>&1 &
    printf -v "$var" '%s' "$!"
}
# Waits until "$@" succeeds; fails if the daemon PID dies or after TIMEOUT seconds.
wait_until() { # WHAT PID TIMEOUT CMD...
    local what=$1 pid=$2 timeout=$3 start=$SECONDS
    shift 3
    until "$@" >/dev/null 2>&1; do
        alive "$pid" || die "$what: the daemon (pid $pid) exited; see the logs below"
        ((SECONDS - start < timeout)) || die "$what: not ready after ${timeout}s"
        sleep 0.5
    done
}
munge_ok() { munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET"; }
ctld_up() { timeout 10 scontrol ping | grep -q 'is UP'; }
node_idle() { [[ $(timeout 10 sinfo -h -n "$HOST" -o %T) == idle ]]; }

CLUSTER_STARTED=1
log "starting munged (socket $MUNGE_SOCKET)"
start_daemon MUNGED_PID munged -F --key-file="$WORK/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$WORK/munged.pid" --log-file="$WORK/log/munged.log" --seed-file="$WORK/munge/munged.seed"
wait_until "munged" "$MUNGED_PID" 30 munge_ok
log "munged up (pid $MUNGED_PID); munge/unmunge round trip ok"

log "starting slurmctld"
start_daemon SLURMCTLD_PID slurmctld -D -i -f "$CONF"
wait_until "slurmctld" "$SLURMCTLD_PID" 60 ctld_up
log "slurmctld up (pid $SLURMCTLD_PID)"

log "starting slurmd"
start_daemon SLURMD_PID slurmd -D -f "$CONF" -N "$HOST"
wait_until "slurmd/node '$HOST' idle" "$SLURMD_PID" 60 node_idle
log "slurmd up (pid $SLURMD_PID); node '$HOST' is idle"
CHECKS_PASSED=1 # the cluster came up

# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------
# submit LABEL DIR SBATCH-ARGS...: runs sbatch from DIR, prints the job id.
submit() {
    local label=$1 dir=$2 out id
    shift 2
    out=$(cd "$dir" && env "$MARKER_VAR=$WORK" timeout "$CMD_TIMEOUT" sbatch --parsable "$@" 2>&1) ||
        die "sbatch ($label) failed: $out"
    id=${out%%;*}
    id=$(tail -n 1 <<<"$id")
    [[ $id =~ ^[0-9]+$ ]] || die "sbatch ($label) printed no job id: $out"
    echo "$id"
}

# wait_job LABEL ID NTASKS: polls squeue until no task of ID is pending/running, for at most
# JOB_TIMEOUT seconds, then requires all NTASKS array tasks to be COMPLETED.
wait_job() {
    local label=$1 id=$2 ntasks=$3 start=$SECONDS active last="" now states ncomplete
    log "waiting for $label job $id ($ntasks array tasks, at most ${JOB_TIMEOUT}s)"
    while :; do
        if active=$(sq -h -r -j "$id" -o '%i:%T' 2>&1); then
            [[ -z $active ]] && break
            now=$(tr '\n' ' ' <<<"$active")
            [[ $now != "$last" ]] && log "  $now"
            last=$now
        else
            warn "squeue failed: $active"
        fi
        if ((SECONDS - start >= JOB_TIMEOUT)); then
            die "$label job $id did not finish within ${JOB_TIMEOUT}s (still: $(tr '\n' ' ' <<<"$active"))"
        fi
        sleep 1
    done
    states=$(sq -h -r -t all -j "$id" -o '%i %T' | sort) || die "squeue -t all -j $id failed"
    ncomplete=$(grep -c ' COMPLETED$' <<<"$states" || true)
    if ((ncomplete != ntasks)); then
        die "$label job $id: $ncomplete of $ntasks array tasks COMPLETED; states: $(tr '\n' ' ' <<<"$states")"
    fi
    log "$label job $id: all $ntasks array tasks COMPLETED in $((SECONDS - start)) s"
}

# ---------------------------------------------------------------------------------------------
# 5. Smoke test: a trivial array job
# ---------------------------------------------------------------------------------------------
SMOKE=$WORK/smoke
mkdir -p "$SMOKE"
log "smoke test: sbatch --array=0-2 --wrap 'echo \$SLURM_ARRAY_TASK_ID \$SLURM_ARRAY_TASK_COUNT > out_\$SLURM_ARRAY_TASK_ID'"
SMOKE_ID=$(submit smoke "$SMOKE" --array=0-2 --partition="$PARTITION" --job-name=ld-smoke \
    --output="$SMOKE/slurm-%A_%a.out" --wrap 'echo $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT > out_$SLURM_ARRAY_TASK_ID')
JOB_IDS+=("$SMOKE_ID")
wait_job smoke "$SMOKE_ID" 3
for k in 0 1 2; do
    got=$(cat "$SMOKE/out_$k" 2>/dev/null) || die "smoke job: $SMOKE/out_$k was not written"
    [[ $got == "$k 3" ]] || die "smoke job: out_$k holds '$got', expected '$k 3'"
done
log "smoke test ok: out_0..out_2 hold '<task id> 3'"
CHECKS_PASSED=$((CHECKS_PASSED + 1))
SUMMARY=("cluster: node $HOST ($NODE_HW), partition $PARTITION, slurm $SLURM_VERSION, $MUNGE_VERSION"
    "smoke array job $SMOKE_ID: 3/3 tasks COMPLETED, outputs ok")

# ---------------------------------------------------------------------------------------------
# 6. learndyn: single-process scan vs the SLURM job array, merged
# ---------------------------------------------------------------------------------------------
if ((CLUSTER_ONLY == 0)); then
    [[ -f $SPEC ]] || die "scan spec $SPEC not found"
    SPEC=$(cd "$(dirname "$SPEC")" && pwd)/$(basename "$SPEC")
    if [[ -n ${LEARNDYN_BIN:-} ]]; then
        BIN=$LEARNDYN_BIN
        log "using LEARNDYN_BIN=$BIN"
    else
        # cargo rebuilds only what is stale, so this also covers a binary older than the sources.
        log "cargo build --release (the learndyn binary)"
        build_log=$WORK/log/cargo-build.log
        if ! (cd "$REPO" && cargo build --release --bin learndyn) >"$build_log" 2>&1; then
            tail -n 40 "$build_log" >&2
            die "cargo build --release failed"
        fi
        tail -n 1 "$build_log"
        BIN=$REPO/target/release/learndyn
    fi
    [[ -x $BIN ]] || die "learndyn binary $BIN not found"
    BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
    "$BIN" scan --help >/dev/null 2>&1 || die "$BIN has no 'scan' subcommand"

    DIR_A=$WORK/single DIR_B=$WORK/slurm DIR_C=$WORK/missing-shard SUBMIT=$WORK/submit
    mkdir -p "$SUBMIT"
    log "single-process scan: learndyn scan $SPEC --out $DIR_A"
    "$BIN" scan "$SPEC" --out "$DIR_A" || die "single-process 'learndyn scan' failed"
    [[ -s $DIR_A/results.csv ]] || die "single-process scan wrote no $DIR_A/results.csv"

    log "learndyn scan slurm $SPEC --shards $SHARDS --out $DIR_B --partition $PARTITION --cpus-per-task 1 --time 00:10:00"
    gen_out=$("$BIN" scan slurm "$SPEC" --shards "$SHARDS" --out "$DIR_B" --partition "$PARTITION" \
        --cpus-per-task 1 --time 00:10:00) || die "'learndyn scan slurm' failed"
    SBATCH_SCRIPT=$DIR_B/scan.sbatch
    [[ -s $SBATCH_SCRIPT ]] || die "'learndyn scan slurm' wrote no $SBATCH_SCRIPT"
    grep -qF "$SBATCH_SCRIPT" <<<"$gen_out" || die "'learndyn scan slurm' did not print $SBATCH_SCRIPT (printed: $gen_out)"
    log "generated $SBATCH_SCRIPT:"
    sed 's/^/    | /' "$SBATCH_SCRIPT"

    # Submitted from an unrelated directory: the script must only use absolute paths.
    SCAN_ID=$(submit scan "$SUBMIT" "$SBATCH_SCRIPT")
    JOB_IDS+=("$SCAN_ID")
    wait_job scan "$SCAN_ID" "$SHARDS"
    for ((k = 1; k <= SHARDS; k++)); do
        [[ -s $DIR_B/results.shard-$k-of-$SHARDS.csv ]] || die "array task $k did not write $DIR_B/results.shard-$k-of-$SHARDS.csv"
    done

    log "learndyn scan merge $DIR_B"
    "$BIN" scan merge "$DIR_B" || die "'learndyn scan merge' failed"
    [[ -s $DIR_B/results.csv ]] || die "'learndyn scan merge' wrote no $DIR_B/results.csv"

    log "cmp $DIR_A/results.csv $DIR_B/results.csv"
    if ! cmp "$DIR_A/results.csv" "$DIR_B/results.csv"; then
        echo "---- diff (single-process vs merged SLURM shards), first 40 lines" >&2
        diff "$DIR_A/results.csv" "$DIR_B/results.csv" | head -n 40 >&2 || true
        die "merged SLURM results differ from the single-process results"
    fi
    ROWS=$(($(wc -l <"$DIR_A/results.csv") - 1))
    SHA=$(sha256sum "$DIR_A/results.csv" | cut -c1-16)
    log "identical: $ROWS data rows, sha256 $SHA..."
    CHECKS_PASSED=$((CHECKS_PASSED + 1))

    # merge must refuse an incomplete set of shards
    if ((SHARDS >= 2)); then
        mkdir -p "$DIR_C"
        cp "$DIR_B"/results.shard-*-of-"$SHARDS".csv "$DIR_C"/
        find "$DIR_B" -maxdepth 1 -type f ! -name 'results*.csv' ! -name 'slurm-*.out' ! -name '*.sbatch' \
            -exec cp {} "$DIR_C"/ \; # whatever else the scan keeps beside its shards
        rm -f "$DIR_C/results.shard-2-of-$SHARDS.csv"
        log "learndyn scan merge on shards without shard 2 (must fail)"
        if merge_out=$("$BIN" scan merge "$DIR_C" 2>&1); then
            die "'learndyn scan merge' accepted a set of shards with shard 2 missing"
        fi
        log "  refused: $(head -n 1 <<<"$merge_out")"
        CHECKS_PASSED=$((CHECKS_PASSED + 1))
        SUMMARY+=("scan array job $SCAN_ID: $SHARDS/$SHARDS tasks COMPLETED; merged results.csv == single-process results.csv ($ROWS rows, sha256 $SHA...); merge refuses a missing shard")
    else
        SUMMARY+=("scan array job $SCAN_ID: $SHARDS/$SHARDS tasks COMPLETED; merged results.csv == single-process results.csv ($ROWS rows, sha256 $SHA...)")
    fi

    # The same for `learndyn recovery run` (data -> fit -> score jobs on the same engine).
    RSPEC=$REPO/configs/recovery_run_example.toml
    DIR_RA=$WORK/recovery-single DIR_RB=$WORK/recovery-slurm
    log "single-process recovery run: learndyn recovery run $RSPEC --out $DIR_RA"
    "$BIN" recovery run "$RSPEC" --out "$DIR_RA" || die "single-process 'learndyn recovery run' failed"
    log "learndyn recovery run slurm $RSPEC --shards $SHARDS --out $DIR_RB"
    "$BIN" recovery run slurm "$RSPEC" --shards "$SHARDS" --out "$DIR_RB" --partition "$PARTITION" \
        --cpus-per-task 1 --time 00:10:00 >/dev/null || die "'learndyn recovery run slurm' failed"
    [[ -s $DIR_RB/scan.sbatch ]] || die "'learndyn recovery run slurm' wrote no $DIR_RB/scan.sbatch"
    RUN_ID=$(submit recovery "$SUBMIT" "$DIR_RB/scan.sbatch")
    JOB_IDS+=("$RUN_ID")
    wait_job recovery "$RUN_ID" "$SHARDS"
    "$BIN" recovery run merge "$DIR_RB" || die "'learndyn recovery run merge' failed"
    if ! cmp "$DIR_RA/results.csv" "$DIR_RB/results.csv"; then
        diff "$DIR_RA/results.csv" "$DIR_RB/results.csv" | head -n 40 >&2 || true
        die "merged SLURM recovery results differ from the single-process results"
    fi
    ROWS=$(($(wc -l <"$DIR_RA/results.csv") - 1))
    log "recovery run identical: $ROWS data rows"
    CHECKS_PASSED=$((CHECKS_PASSED + 1))
    SUMMARY+=("recovery run array job $RUN_ID: $SHARDS/$SHARDS tasks COMPLETED; merged results.csv == single-process results.csv ($ROWS rows)")
else
    log "--cluster-only: skipping the learndyn scan"
fi

for line in "${SUMMARY[@]}"; do log "$line"; done
log "total $((SECONDS - T0)) s"
echo "$ME: $CHECKS_PASSED passed, 0 failed"
