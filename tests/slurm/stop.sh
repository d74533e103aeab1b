#!/usr/bin/env bash
# Stop the test cluster that tests/slurm/start.sh STATE_DIR started: cancel its jobs,
# then stop slurmd, slurmctld and munged by the pids recorded in STATE_DIR/started
# (SIGTERM, SIGKILL after 15 s). Processes are checked to still be the program recorded
# before they are signalled. Safe to run twice, and after a start that failed half-way.
set -uo pipefail

state=${1:?usage: stop.sh STATE_DIR}
log() { printf '[slurm stop] %s\n' "$*" >&2; }
[ -d "$state" ] || { log "no state folder $state: nothing to stop"; exit 0; }
state=$(cd "$state" && pwd -P)
export SLURM_CONF="$state/slurm.conf"

alive() {  # alive PID: the process exists and is not a zombie (an unreaped zombie is stopped)
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

pid_of() {  # pid_of NAME: the recorded pid of NAME, if it still runs that program
    local pid
    pid=$(awk -v n="$1" '$1 == n {print $2}' "$state/started" 2>/dev/null | tail -1)
    [ -n "$pid" ] || return 1
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$1" || return 1
    echo "$pid"
}

# 1. cancel the cluster's jobs while slurmctld still answers, and let them end, so that
#    no slurmstepd (and no job process under it) outlives slurmd
if pid_of slurmctld >/dev/null; then
    jobs=$(timeout 15 squeue -h -t PD,R,CG,S -o %i 2>/dev/null | tr '\n' ' ')
    if [ -n "${jobs// /}" ]; then
        log "cancelling jobs $jobs"
        timeout 15 scancel $jobs 2>/dev/null || true
        deadline=$((SECONDS + 30))
        while [ $SECONDS -lt $deadline ]; do
            left=$(timeout 15 squeue -h -t PD,R,CG,S -o %i 2>/dev/null | tr '\n' ' ')
            [ -z "${left// /}" ] && break
            sleep 1
        done
    fi
fi

# 2. the daemons, last started first
status=0
for name in slurmd slurmctld munged; do
    pid=$(pid_of "$name") || continue
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 150); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        log "$name (pid $pid) ignored SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
        sleep 0.5
        alive "$pid" && { log "$name (pid $pid) still runs"; status=1; }
    fi
done

# 3. the munge socket folder outside STATE_DIR
if [ -s "$state/munge_dir" ]; then
    munge_dir=$(cat "$state/munge_dir")
    case $munge_dir in
        /tmp/infofrag-munge.*) rm -rf -- "$munge_dir" ;;
    esac
    rm -f "$state/munge_dir"
fi
[ $status -eq 0 ] && : >"$state/started"
exit $status
