#!/usr/bin/env node
// Entry point for `akc`. Plain JS that any Node parses: under a Node older than 22 (an
// MCP host or a new terminal starting the machine's Node 20) it re-runs itself with the
// Node 22 that scripts/node22.sh installs, passing argv, stdio, the exit code and a
// fatal signal through. No shell is involved.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 22;
const major = Number(process.versions.node.split('.')[0]);

if (major < MIN_MAJOR) {
  reexecWithNode22();
} else {
  import('../dist/src/cli/main.js').then(
    (m) => m.main(process.argv.slice(2)),
    (err) => {
      process.stderr.write(`akc: error: failed to load the CLI: ${err && err.message}\n`);
      process.stderr.write('akc: hint: run `npm install` (it compiles the TypeScript sources)\n');
      process.exit(1);
    },
  );
}

/** Where scripts/node22.sh installs Node 22 (same default as the script). */
function node22Dir() {
  return process.env.AKC_NODE22_DIR || path.join(os.homedir(), '.cache/agent-keychain/node22');
}

function node22Path() {
  return path.join(node22Dir(), 'node_modules/node/bin/node');
}

function realpathOrNull(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

function isExecutableFile(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function tooOld() {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'node22.sh');
  process.stderr.write(`akc: error: Agent Keychain needs Node.js ${MIN_MAJOR} or newer (found v${process.versions.node})\n`);
  process.stderr.write(
    fs.existsSync(script)
      ? `akc: hint: run ${script} once (it installs Node ${MIN_MAJOR} into ${node22Dir()}; akc then uses it on its own), or install Node ${MIN_MAJOR}+\n`
      : `akc: hint: install Node ${MIN_MAJOR}+ (or set AKC_NODE22_DIR to a directory where \`npm install --prefix DIR node@${MIN_MAJOR}\` ran)\n`,
  );
  process.exit(1);
}

function reexecWithNode22() {
  const candidate = node22Path();
  const real = realpathOrNull(candidate);
  // The candidate is this very (old) Node: re-running it would loop.
  if (!real || !isExecutableFile(real) || real === realpathOrNull(process.execPath)) tooOld();
  const child = spawn(candidate, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], {
    stdio: 'inherit',
    windowsHide: true,
  });
  // Signals sent to this process go on to the child. On a terminal, Ctrl-C and Ctrl-\
  // already reach the child (same foreground process group): forwarding them too would
  // deliver them twice, so they are only swallowed here while the child decides.
  const onTerminal = tty.isatty(0) || tty.isatty(2);
  const handlers = new Map();
  for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
    const fromTerminal = signal === 'SIGINT' || signal === 'SIGQUIT';
    const handler = () => {
      if (fromTerminal && onTerminal) return;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    try {
      process.on(signal, handler);
      handlers.set(signal, handler);
    } catch {
      // A signal this OS does not have.
    }
  }
  child.on('error', (err) => {
    process.stderr.write(`akc: error: failed to start Node.js ${MIN_MAJOR} (${candidate}): ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const [s, h] of handlers) process.off(s, h);
      // Die of the same signal, so our parent sees what the child did.
      try {
        process.kill(process.pid, signal);
      } catch {
        // fall through to the exit code below
      }
      setTimeout(() => process.exit(128 + (os.constants.signals[signal] || 0)), 200);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}
