/**
 * The host runtime (src/core/host/runtime.ts), the one composition `akc daemon` and the
 * desktop app start: a real vault, the real agent socket and the proxy's Unix socket. It
 * serves, applies the vault's settings before the first request, survives a proxy that
 * cannot start, leaves nothing open when the socket is taken, and closes in order.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DANGEROUS_TEST_WEAK_KDF } from '../../src/core/crypto/kdf.js';
import type { Host } from '../../src/core/host/host.js';
import { startHostRuntime } from '../../src/core/host/runtime.js';
import type { Logger } from '../../src/core/logger.js';
import { socketIsLive } from '../../src/core/server/socket-file.js';
import { Vault } from '../../src/core/vault/vault.js';
import { isAkcError } from '../../src/shared/errors.js';
import { PASSWORD, ROOT, tempDir } from '../helpers/env.js';
import { noKeychain } from '../helpers/lifecycle.js';

async function vaultDir(): Promise<{ dataDir: string; socketPath: string }> {
  const root = tempDir('akc-runtime-');
  const dataDir = path.join(root, 'data');
  const vault = Vault.open({ dataDir, keychain: noKeychain });
  await vault.init(Buffer.from(PASSWORD), { keychain: false, kdf: DANGEROUS_TEST_WEAK_KDF });
  vault.close();
  return { dataDir, socketPath: path.join(root, 'run', 'agent.sock') };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) };
}

describe('host runtime', () => {
  test('serves the agent socket and the proxy beside it, configured before serving, and closes in order', async () => {
    const { dataDir, socketPath } = await vaultDir();
    const logger = recordingLogger();
    let servingWhenConfigured: boolean | null = null;
    const rt = await startHostRuntime({
      dataDir,
      socketPath,
      keychain: noKeychain,
      logger,
      proxy: { port: null },
      configure: (h) => {
        h.approvalTimeoutMs = 7000;
        servingWhenConfigured = fs.existsSync(socketPath);
      },
    });
    assert.equal(servingWhenConfigured, false, 'settings apply before the socket serves anyone');
    assert.equal(rt.host.approvalTimeoutMs, 7000);
    assert.equal(rt.host.state, 'locked');
    assert.equal(await socketIsLive(socketPath), true);
    assert.equal(rt.proxy?.socketPath, path.join(path.dirname(socketPath), 'proxy.sock'));
    assert.equal(await socketIsLive(rt.proxy.socketPath), true);
    assert.ok(
      logger.lines.some((l) => l.startsWith('info proxy on ') && l.includes('proxy.sock')),
      logger.lines.join('\n'),
    );
    await Promise.all([rt.close(), rt.close()]);
    assert.equal(await socketIsLive(socketPath), false);
    assert.equal(await socketIsLive(path.join(path.dirname(socketPath), 'proxy.sock')), false);
    assert.equal(rt.host.state, 'uninitialized', 'the vault is closed');
  });

  test('another host on the socket: HOST_RUNNING, and the refused host is closed again', async () => {
    const { dataDir, socketPath } = await vaultDir();
    const first = await startHostRuntime({ dataDir, socketPath, keychain: noKeychain, proxy: false });
    let second: Host | null = null;
    try {
      await assert.rejects(
        startHostRuntime({ dataDir, socketPath, keychain: noKeychain, proxy: false, configure: (h) => (second = h) }),
        (e: unknown) => isAkcError(e, 'HOST_RUNNING'),
      );
      assert.equal((second as Host | null)?.state, 'uninitialized', 'nothing of the second host is left open');
      assert.equal(await socketIsLive(socketPath), true, 'the first host still serves');
    } finally {
      await first.close();
    }
  });

  test('a proxy that cannot start is logged; the host serves agents all the same', async () => {
    const { dataDir, socketPath } = await vaultDir();
    const logger = recordingLogger();
    const blocked = path.join(tempDir('akc-runtime-'), 'not-a-dir');
    fs.writeFileSync(blocked, 'a file where the proxy socket directory would be');
    const rt = await startHostRuntime({
      dataDir,
      socketPath,
      keychain: noKeychain,
      logger,
      proxy: { port: null, socketPath: path.join(blocked, 'proxy.sock') },
    });
    try {
      assert.equal(rt.proxy, null);
      assert.ok(
        logger.lines.some((l) => l.startsWith('warn the brokering proxy did not start')),
        logger.lines.join('\n'),
      );
      assert.equal(await socketIsLive(socketPath), true);
    } finally {
      await rt.close();
    }
  });

  test('`akc daemon` and the desktop service compose their host through it', () => {
    // The behaviour is the tests above and the daemon/desktop suites; this keeps a second
    // composition from growing back in either.
    for (const file of ['src/cli/commands/daemon.ts', 'src/core/desktop/service.ts']) {
      const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
      assert.match(src, /startHostRuntime\(/, file);
      for (const own of ['new AgentServer(', 'startProxy(', 'Host.open(']) assert.ok(!src.includes(own), `${file} has no ${own}`);
    }
  });
});
