#!/bin/sh
# Regenerates the committed man pages in man/ (or in OUT_DIR, the first argument):
#   histd.1, histctl.1   from the ArgumentParser definitions, with swift-argument-parser's generate-manual
#                        tool (the same one its GenerateManual plugin runs), against the built binaries;
#   histd.toml.5         from docs/CONFIG.md (scripts/md2man.awk).
# A test (ManPageTests) regenerates them and fails when the committed ones are stale:
#   swift build --product generate-manual && scripts/gen-man.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/man}
BUILD_DIR=${BUILD_DIR:-$ROOT/.build/debug}
# A fixed date keeps the pages reproducible: regenerate, and git shows only real changes.
DATE=2026-12-01
# `swift build --product generate-manual` names it generate-manual; the package plugin's own build,
# generate-manual-tool.
TOOL=$BUILD_DIR/generate-manual
[ -x "$TOOL" ] || TOOL=$BUILD_DIR/generate-manual-tool
[ -x "$TOOL" ] || { echo "gen-man.sh: $TOOL missing; run: swift build --product generate-manual" >&2; exit 1; }
mkdir -p "$OUT"
for tool in histd histctl; do
    [ -x "$BUILD_DIR/$tool" ] || { echo "gen-man.sh: $BUILD_DIR/$tool missing; run: swift build" >&2; exit 1; }
    "$TOOL" "$BUILD_DIR/$tool" --date "$DATE" --authors "histd developers" --output-directory "$OUT" >/dev/null
done
awk -v date="$DATE" -f "$ROOT/scripts/md2man.awk" "$ROOT/docs/CONFIG.md" > "$OUT/histd.toml.5"
