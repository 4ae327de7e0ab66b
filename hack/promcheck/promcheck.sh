#!/usr/bin/env bash
# promcheck: checks the chart's alert rules with promtool, then evaluates every dashboard
# and alert expression on a real Prometheus scraping a real bridge (hack/promcheck/main.go).
# Needs prometheus and promtool on PATH; when they are missing and it runs as root, it installs
# Debian's prometheus package (Prometheus 2.42 and promtool) with apt-get, apt's output shown.
# PROMCHECK_POLICY_RC_D moves the temporary policy-rc.d (default /usr/sbin/policy-rc.d; for tests).
set -euo pipefail
cd "$(dirname "$0")/../.."

GO=${GO:-go}
RULES=charts/imagestream-bridge/alerts/imagestream-bridge.rules.yaml
RULE_TESTS=hack/promcheck/rules_test.yaml

install_prometheus() {
	if [ "$(id -u)" != 0 ]; then
		echo "promcheck: prometheus or promtool is missing. Put both on PATH (Debian's prometheus package, or the" >&2
		echo "promcheck: prometheus-VERSION.linux-ARCH.tar.gz release from prometheus.io, unpacked), or run as root" >&2
		echo "promcheck: so that this script installs Debian's prometheus package with apt-get (see the README)." >&2
		return 1
	fi
	if ! command -v apt-get >/dev/null; then
		echo "promcheck: prometheus or promtool is missing and apt-get is not available to install them; put both on PATH" >&2
		return 1
	fi
	echo "promcheck: installing Debian's prometheus package (prometheus and promtool) with apt-get; its output follows"
	local policy=${PROMCHECK_POLICY_RC_D:-/usr/sbin/policy-rc.d} added=""
	# The package would start its service, listening on every interface: forbid service starts.
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added=1
	fi
	# apt-get's output goes straight to the terminal (stderr), never hidden: when it fails,
	# the reason is right above this script's last line.
	local rc=0
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; } >&2 || rc=$?
	if [ -n "$added" ]; then rm -f "$policy"; fi
	if [ "$rc" != 0 ]; then
		echo "promcheck: apt-get could not install prometheus (exit $rc; its output is above)" >&2
		return 1
	fi
}

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
	install_prometheus
fi
prometheus --version 2>&1 | head -n 1

echo "promcheck: promtool check rules"
promtool check rules "$RULES"
echo "promcheck: promtool test rules"
promtool test rules "$RULE_TESTS"

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
"$GO" build -o "$bin/promcheck" ./hack/promcheck
"$bin/promcheck" -prometheus "$(command -v prometheus)" -timeout 150s "$@"
