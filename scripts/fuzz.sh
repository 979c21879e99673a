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
		corpus="$pkg/testdata/fuzz/$name"
		before=$(ls "$corpus" 2>/dev/null | wc -l)
		out=$(mktemp)
		if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg" >"$out" 2>&1; then
			cat "$out"
			rm -f "$out"
			continue
		fi
		cat "$out"
		# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as
		# a failure (golang/go#75804, fixed in Go 1.27): no input failed then,
		# and none was written to the corpus.
		if grep -q 'context deadline exceeded' "$out" && [ "$(ls "$corpus" 2>/dev/null | wc -l)" = "$before" ]; then
			echo "fuzz $pkg $name: stopped by Go's fuzztime race (golang/go#75804), no failing input; counted as passed"
			rm -f "$out"
			continue
		fi
		rm -f "$out"
		exit 1
	done
done
