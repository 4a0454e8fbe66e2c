/**
 * Windows is not supported yet: peer identification exists for Linux and macOS only, so a
 * host refuses to start elsewhere, with one clear message (the check itself, and the real
 * `akc daemon` command run in-process while process.platform says win32).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { assertHostPlatform } from '../../src/core/host/platform.js';
import { isAkcError } from '../../src/shared/errors.js';
import type { Io } from '../../src/cli/io.js';
import { akcEnv } from '../helpers/env.js';

describe('host platforms', () => {
  test('linux and darwin host; win32 and the rest are refused with a clear message and hint', () => {
    assert.doesNotThrow(() => assertHostPlatform('linux'));
    assert.doesNotThrow(() => assertHostPlatform('darwin'));
    assert.doesNotThrow(() => assertHostPlatform(), 'the platform these tests run on');
    for (const platform of ['win32', 'freebsd', 'aix']) {
      assert.throws(
        () => assertHostPlatform(platform),
        (err: unknown) =>
          isAkcError(err, 'UNSUPPORTED_PLATFORM') &&
          err.message.startsWith(`${platform === 'win32' ? 'windows' : platform} is not supported yet: `) &&
          err.hint === 'run Agent Keychain on Linux or macOS',
        platform,
      );
    }
  });

  test('`akc daemon` on win32 stops at once: one error line and a hint, exit 1, nothing created', async () => {
    const env = akcEnv();
    // Loaded first, for real (native modules pick their binary by platform when they load).
    await import('../../src/cli/commands/daemon.js');
    const { run } = await import('../../src/cli/main.js');
    const saved = { home: process.env.AKC_HOME, socket: process.env.AKC_SOCKET };
    process.env.AKC_HOME = env.home;
    process.env.AKC_SOCKET = env.socket;
    const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    let code: number;
    try {
      Object.defineProperty(process, 'platform', { ...real, value: 'win32' });
      code = await run(['daemon'], { stdout, stderr, stdin: new PassThrough() as unknown as Io['stdin'] });
    } finally {
      Object.defineProperty(process, 'platform', real);
      for (const [k, v] of [
        ['AKC_HOME', saved.home],
        ['AKC_SOCKET', saved.socket],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    assert.equal(code, 1, err);
    assert.equal(
      err,
      'akc: error: windows is not supported yet: the host cannot identify the programs that connect to it there (peer identification exists for linux and macos only)\n' +
        'akc: hint: run Agent Keychain on Linux or macOS\n',
    );
    assert.equal(fs.existsSync(env.home), false, 'no data dir');
    assert.equal(fs.existsSync(env.socket), false, 'no socket');
  });
});
