# shellcheck shell=bash
# Starting and stopping the cluster's processes by the PIDs the harness recorded, never by name.
#
# Each daemon NAME has $PIDS/NAME.pid and $PIDS/NAME.exe (the binary it runs): a recorded PID
# counts as ours only while /proc/PID/exe still is that binary, so a reused PID is never signalled.

# pid_alive PID EXE: PID runs EXE and is not a zombie.
pid_alive() {
	local pid=$1 exe=$2
	[[ -r /proc/$pid/stat ]] || return 1
	[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$exe" ]] || return 1
	local stat
	stat=$(<"/proc/$pid/stat")
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

daemon_alive() {
	local name=$1
	[[ -s $PIDS/$name.pid && -s $PIDS/$name.exe ]] || return 1
	pid_alive "$(<"$PIDS/$name.pid")" "$(<"$PIDS/$name.exe")"
}

# close_inherited_fds closes every descriptor of the calling (sub)shell beyond 0-2, for a
# subshell about to exec a daemon: the daemon keeps nothing of ours or of our caller's, where
# one inherited lock (the harness's fd 9, or a caller's `flock file cluster up`) would stay
# held for as long as the daemon runs. The list is read from /proc before the first close;
# closing a descriptor that is gone already (the listing's own) is harmless.
close_inherited_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if ((fd > 2)); then
			eval "exec $fd>&-"
		fi
	done
}

# daemon NAME BINARY ARGS...: starts BINARY in its own session unless NAME already runs.
# Its own session keeps it alive after the harness exits and out of reach of a Ctrl-C.
daemon() {
	local name=$1 bin=$2
	shift 2
	daemon_alive "$name" && return 0
	mkdir -p "$PIDS" "$LOGS"
	echo "--- start $(date -Is)" >>"$LOGS/$name.log"
	# A background child of a non-interactive shell is not a group leader, so setsid execs in
	# place (as the subshell does) and $! is the daemon's own PID.
	(
		close_inherited_fds
		exec setsid "$bin" "$@" >>"$LOGS/$name.log" 2>&1 </dev/null
	) &
	echo $! >"$PIDS/$name.pid"
	readlink -f "$bin" >"$PIDS/$name.exe"
}

# stop_daemon NAME [GRACE]: SIGTERM, then SIGKILL after GRACE seconds; forgets the PID.
stop_daemon() {
	local name=$1 grace=${2:-10}
	if daemon_alive "$name"; then
		local pid exe end
		pid=$(<"$PIDS/$name.pid")
		exe=$(<"$PIDS/$name.exe")
		kill -TERM "$pid" 2>/dev/null || true
		end=$((SECONDS + grace))
		while pid_alive "$pid" "$exe" && ((SECONDS < end)); do sleep 0.1; done
		if pid_alive "$pid" "$exe"; then
			log "$name did not stop in ${grace}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			while pid_alive "$pid" "$exe"; do sleep 0.1; done
		fi
	fi
	rm -f "$PIDS/$name.pid" "$PIDS/$name.exe"
}

# print_logs shows the end of every daemon's log: what a failed CI run needs to be diagnosed.
print_logs() {
	local f
	for f in "$LOGS"/*.log; do
		[[ -e $f ]] || continue
		echo "===== $f (last 25 lines)" >&2
		tail -n 25 "$f" >&2
	done
}
