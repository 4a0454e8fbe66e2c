#!/usr/bin/env node
// Entry point for `akc`. Plain JS so it can refuse an old Node with a clear message
// before any modern syntax is parsed.
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  process.stderr.write(`akc: error: Node.js ${process.versions.node} is too old; Agent Keychain needs Node 22 or newer\n`);
  process.stderr.write('akc: hint: run it through scripts/node22.sh, or install Node 22+\n');
  process.exit(1);
}
import('../dist/src/cli/main.js').then(
  (m) => m.main(process.argv.slice(2)),
  (err) => {
    process.stderr.write(`akc: error: failed to load the CLI: ${err && err.message}\n`);
    process.stderr.write('akc: hint: run `npm install` (it compiles the TypeScript sources)\n');
    process.exit(1);
  },
);
