#!/bin/sh
# Runs every Go fuzz target of the module for FUZZTIME each (default 10s).
# Targets are found, not listed: a new Fuzz function is picked up on its own.
set -eu
FUZZTIME="${FUZZTIME:-10s}"
GO="${GO:-go}"
grep -rl --include='*_test.go' '^func Fuzz' internal cmd 2>/dev/null | while read -r file; do
	pkg="./$(dirname "$file")"
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //' | while read -r name; do
		echo "fuzz $pkg $name for $FUZZTIME"
		"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg"
	done
done
