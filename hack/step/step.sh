#!/usr/bin/env bash
# step: runs one step of make test or make demo and reports its progress, so that no long step is silent.
#
#   hack/step/step.sh [-p] TITLE ESTIMATE -- COMMAND [ARG...]
#
# It prints "==> TITLE", runs COMMAND with its output shown, and ends with the step's wall time. With -p
# the command is `go build -v` or `go vet -v`, which print each package as it is compiled: those lines are
# counted instead of shown (errors and vet findings are shown), and once PACKAGES_MANY (default 50)
# packages compile, ESTIMATE (what a first build costs) is printed: a cached build prints nothing of it.
# While the command is quiet it prints, every HEARTBEAT seconds (default 30), the elapsed time and the
# packages counted so far. The exit status is COMMAND's.
set -uo pipefail

count=false
if [ "${1:-}" = -p ]; then
	count=true
	shift
fi
if [ $# -lt 4 ] || [ "$3" != -- ]; then
	echo "usage: $0 [-p] TITLE ESTIMATE -- COMMAND [ARG...]" >&2
	exit 2
fi
title=$1 estimate=$2
shift 3
heartbeat=${HEARTBEAT:-30}
many=${PACKAGES_MANY:-50}

elapsed() {
	local s=$((SECONDS - start))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

# report reads the command's output: package lines (with -p) are counted, every other line is shown.
report() {
	local line="" part pkgs=0 said=false last=$SECONDS
	while :; do
		if IFS= read -r -t "$heartbeat" part; then
			line+=$part
			if $count && [[ $line =~ ^[A-Za-z0-9_][A-Za-z0-9_.~+/-]*$ ]]; then
				pkgs=$((pkgs + 1))
				if ! $said && [ "$pkgs" -ge "$many" ]; then
					said=true
					echo "    compiling many packages: $estimate"
				fi
			else
				printf '%s\n' "$line"
				last=$SECONDS
			fi
			line=""
		elif [ $? -gt 128 ]; then
			line+=$part # a timeout keeps the partial line
		else
			[ -n "$line$part" ] && printf '%s\n' "$line$part"
			break
		fi
		if [ $((SECONDS - last)) -ge "$heartbeat" ]; then
			if $count; then
				echo "    ... $(elapsed): $pkgs packages compiled"
			else
				echo "    ... $(elapsed): still running"
			fi
			last=$SECONDS
		fi
	done
	$count && [ "$pkgs" -gt 0 ] && echo "    $pkgs packages compiled"
	return 0
}

echo "==> $title"
start=$SECONDS
"$@" 2>&1 | report
rc=${PIPESTATUS[0]}
if [ "$rc" -eq 0 ]; then
	echo "<== $title: done in $(elapsed)"
else
	echo "<== $title: FAILED (exit $rc) after $(elapsed)"
fi
exit "$rc"
