#!/bin/sh
# Installs histd and histctl, their man pages, shell completions, the systemd unit and an example
# config under PREFIX (default /usr/local). Run it after a build:
#
#   swift build -c release --static-swift-stdlib    # self-contained binaries: only libc, libstdc++,
#                                                   # libm, libgcc_s and libsqlite3 stay dynamic
#   sudo scripts/install.sh                         # or: PREFIX=/opt/histd scripts/install.sh
#
# Variables: PREFIX (/usr/local), DESTDIR (empty; prepended to every path, for packaging),
# BUILD_DIR (.build/release, else .build/debug), SYSCONFDIR ($PREFIX/etc, /etc when PREFIX is /usr),
# SYSTEMD_UNIT_DIR ($PREFIX/lib/systemd/system).
# It never starts or enables anything; afterwards: systemctl daemon-reload && systemctl enable --now histd
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
if [ -z "${SYSCONFDIR:-}" ]; then
    if [ "$PREFIX" = /usr ]; then SYSCONFDIR=/etc; else SYSCONFDIR=$PREFIX/etc; fi
fi
SYSTEMD_UNIT_DIR=${SYSTEMD_UNIT_DIR:-$PREFIX/lib/systemd/system}
if [ -z "${BUILD_DIR:-}" ]; then
    if [ -x "$ROOT/.build/release/histd" ]; then BUILD_DIR=$ROOT/.build/release; else BUILD_DIR=$ROOT/.build/debug; fi
fi

BINDIR=$PREFIX/bin
MANDIR=$PREFIX/share/man
for tool in histd histctl; do
    [ -x "$BUILD_DIR/$tool" ] || { echo "install.sh: $BUILD_DIR/$tool not found; build first (swift build -c release --static-swift-stdlib)" >&2; exit 1; }
done

install -d "$DESTDIR$BINDIR" "$DESTDIR$MANDIR/man1" "$DESTDIR$MANDIR/man5" "$DESTDIR$SYSTEMD_UNIT_DIR" \
    "$DESTDIR$PREFIX/share/bash-completion/completions" "$DESTDIR$PREFIX/share/zsh/site-functions" \
    "$DESTDIR$PREFIX/share/fish/vendor_completions.d" "$DESTDIR$SYSCONFDIR/histd" \
    "$DESTDIR$PREFIX/share/doc/histd"

for tool in histd histctl; do
    install -m 0755 "$BUILD_DIR/$tool" "$DESTDIR$BINDIR/$tool"
    install -m 0644 "$ROOT/man/$tool.1" "$DESTDIR$MANDIR/man1/$tool.1"
    # Completions come from the binaries themselves (swift-argument-parser).
    "$BUILD_DIR/$tool" --generate-completion-script bash > "$DESTDIR$PREFIX/share/bash-completion/completions/$tool"
    "$BUILD_DIR/$tool" --generate-completion-script zsh > "$DESTDIR$PREFIX/share/zsh/site-functions/_$tool"
    "$BUILD_DIR/$tool" --generate-completion-script fish > "$DESTDIR$PREFIX/share/fish/vendor_completions.d/$tool.fish"
done
# The fleet shipper and the fleet reports' client, which histctl execs for --db postgres://... (docs/FLEET.md),
# when they were built.
for tool in histd-ship histctl-fleet; do
    if [ -x "$BUILD_DIR/$tool" ]; then install -m 0755 "$BUILD_DIR/$tool" "$DESTDIR$BINDIR/$tool"; fi
done
install -m 0644 "$ROOT/man/histd.toml.5" "$DESTDIR$MANDIR/man5/histd.toml.5"

sed -e "s|@BINDIR@|$BINDIR|g" -e "s|@SYSCONFDIR@|$SYSCONFDIR|g" "$ROOT/contrib/systemd/histd.service" \
    > "$DESTDIR$SYSTEMD_UNIT_DIR/histd.service"
chmod 0644 "$DESTDIR$SYSTEMD_UNIT_DIR/histd.service"
install -m 0644 "$ROOT/contrib/logrotate/histd" "$DESTDIR$PREFIX/share/doc/histd/logrotate.histd"
# Never overwrite a config that is already there.
if [ ! -e "$DESTDIR$SYSCONFDIR/histd/histd.toml" ]; then
    install -m 0640 "$ROOT/contrib/histd.toml" "$DESTDIR$SYSCONFDIR/histd/histd.toml"
fi
echo "installed histd under $DESTDIR$PREFIX (unit: $DESTDIR$SYSTEMD_UNIT_DIR/histd.service, config: $DESTDIR$SYSCONFDIR/histd/histd.toml)"
