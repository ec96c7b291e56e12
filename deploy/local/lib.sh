# shellcheck shell=bash
# Shared by kafka.sh and s3.sh: messages, timing, and the pid-file life
# cycle of a server started in the background. The sourcing script sets
# NAME (message prefix), PIDFILE and PROC_PATTERN (matched against the
# process's command line) before calling these.

T0=$(date +%s.%N)
say() { echo "$NAME: $*"; }
die() {
    echo "$NAME: ERROR: $*" >&2
    exit 1
}
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid of our running server, from PIDFILE; a stale file is removed.
running_pid() {
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$PROC_PATTERN"; then
        echo "$pid"
        return 0
    fi
    rm -f "$PIDFILE"
    return 1
}

# SIGTERM, wait up to $1 seconds for the exit, then SIGKILL. Idempotent.
stop_server() {
    local limit=$1 pid
    if ! pid=$(running_pid); then
        say "not running"
        return 0
    fi
    say "stopping pid $pid (SIGTERM, deadline $limit s)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(($(date +%s) + limit))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            say "still running after $limit s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1 # poll until the process is gone
    done
    rm -f "$PIDFILE"
    say "stopped in $(elapsed) s"
}

# The commands every server script takes, each run by its do_<command>.
dispatch() {
    case "${1:-}" in
    install | start | stop | status | reset | check) "do_$1" ;;
    *)
        echo "usage: $0 {install|start|stop|status|reset|check}" >&2
        exit 2
        ;;
    esac
}
