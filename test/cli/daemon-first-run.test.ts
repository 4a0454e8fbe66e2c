/**
 * The one-command start: `akc daemon` on a terminal with no vault creates one through the
 * prompts and serves, unlocked, without asking a third time; without a terminal it
 * refuses with a hint and creates nothing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { akc, AKC_BIN, akcEnv, PASSWORD } from '../helpers/env.js';
import { vaultPath } from '../../src/core/store/database.js';

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('akc daemon with no vault', () => {
  test('without a terminal: NOT_INITIALIZED with a hint, exit 1, nothing created', async () => {
    const env = akcEnv();
    const r = await akc(env, ['daemon'], '');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^akc: error: no vault in ${env.home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(r.stderr, /^akc: hint: run `akc init` first, or start `akc daemon` on a terminal: it offers to create the vault$/m);
    assert.equal(fs.existsSync(vaultPath(env.home)), false);
  });

  test(
    'on a terminal: asks twice, creates the vault, serves it unlocked; the password is never echoed',
    { skip: !hasScript && 'needs util-linux script' },
    async () => {
      const env = akcEnv();
      const command = [process.execPath, AKC_BIN, 'daemon'].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const child = spawn('script', ['-qefc', command, '/dev/null'], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let screen = '';
      const answers: [string, string][] = [
        ['Choose a master password: ', `${PASSWORD}\r`],
        ['Repeat it: ', `${PASSWORD}\r`],
      ];
      let searchFrom = 0;
      const serving = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "serving" line; screen:\n${screen}`)), 30_000);
        const onData = (d: Buffer): void => {
          screen += d.toString();
          while (answers.length > 0) {
            const at = screen.indexOf(answers[0]![0], searchFrom);
            if (at === -1) break;
            searchFrom = at + answers[0]![0].length;
            child.stdin.write(answers.shift()![1]);
          }
          if (/serving .* \(vault unlocked/.test(screen)) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('close', () => reject(new Error(`the daemon exited; screen:\n${screen}`)));
      });
      try {
        await serving;
        assert.match(screen, /No vault in .* yet: creating one/);
        assert.match(screen, /Keychain unlock is off/);
        assert.doesNotMatch(screen, /Master password to unlock/, 'no third prompt');
        assert.ok(!screen.includes(PASSWORD), 'the password is never echoed');
        const status = JSON.parse((await akc(env, ['status', '--json'])).stdout) as { vault: string; host: { running: boolean } };
        assert.equal(status.host.running, true);
        // The vault exists, with the chosen password.
        const set = await akc(env, ['secret', 'set', 'FIRST', '--password-stdin', '--value-stdin'], `${PASSWORD}\nfirst-value\n`);
        assert.equal(set.code, 0, set.stderr);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('close', r));
      }
    },
  );
});
