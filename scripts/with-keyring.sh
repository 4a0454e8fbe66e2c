#!/usr/bin/env bash
# Runs a command with a private, unlocked gnome-keyring (Secret Service) on a private
# D-Bus session, so tests use a real OS keychain without touching the user's own.
#
#   scripts/with-keyring.sh npm test
#
# A fresh XDG_DATA_HOME matters: a keyring left by an earlier run with another password
# would block on an unlock prompt.
set -euo pipefail
if [ -z "${AKC_IN_TEST_KEYRING:-}" ]; then
  if ! command -v dbus-run-session >/dev/null || ! command -v gnome-keyring-daemon >/dev/null; then
    echo "with-keyring.sh: error: dbus-run-session and gnome-keyring-daemon are needed (apt-get install dbus gnome-keyring)" >&2
    exit 1
  fi
  export AKC_IN_TEST_KEYRING=1
  exec dbus-run-session -- "$0" "$@"
fi
keyring_home="$(mktemp -d -t akc-keyring.XXXXXX)"
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home/data"
mkdir -p "$XDG_DATA_HOME"
# The password only protects this throwaway keyring.
eval "$(printf 'test-keyring' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)" || true
export AKC_TEST_KEYRING=ready
"$@"
