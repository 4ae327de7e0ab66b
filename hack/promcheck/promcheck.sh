#!/usr/bin/env bash
# promcheck: checks the chart's alert rules with promtool, then evaluates every dashboard
# and alert expression on a real Prometheus scraping a real bridge (hack/promcheck/main.go).
# Installs Debian's prometheus package (Prometheus 2.42 and promtool) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

GO=${GO:-go}
RULES=charts/imagestream-bridge/alerts/imagestream-bridge.rules.yaml
RULE_TESTS=hack/promcheck/rules_test.yaml

install_prometheus() {
	if [ "$(id -u)" != 0 ]; then
		echo "promcheck: prometheus or promtool is missing; run as root to install Debian's prometheus package, or install it" >&2
		return 1
	fi
	if ! command -v apt-get >/dev/null; then
		echo "promcheck: prometheus or promtool is missing and apt-get is not available to install them" >&2
		return 1
	fi
	echo "promcheck: installing Debian's prometheus package"
	local log policy=/usr/sbin/policy-rc.d added=""
	log=$(mktemp)
	# The package would start its service, listening on every interface: forbid service starts.
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		added=1
	fi
	local rc=0
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } >"$log" 2>&1 || rc=$?
	if [ -n "$added" ]; then rm -f "$policy"; fi
	if [ "$rc" != 0 ]; then
		echo "promcheck: apt-get could not install prometheus (exit $rc):" >&2
		tail -n 20 "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
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
