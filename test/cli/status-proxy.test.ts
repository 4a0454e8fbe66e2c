/**
 * `akc status` names a brokering-proxy URL only while a host runs (issue 15, Low): the port
 * stays remembered in the vault after the host stops, but nothing listens on it then, so
 * printing it would send agents to a dead (or someone else's) port.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import net from 'node:net';
import { akc } from '../helpers/env.js';
import { Daemon, initVault, ok, type Json } from '../helpers/daemon.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('akc status and the proxy URL', () => {
  test('shown while the host runs; "not running" and url null once it stopped', async () => {
    const port = await freePort();
    const env = await initVault({}, { AKC_PROXY_PORT: String(port) });
    const socket = path.join(path.dirname(env.socket), 'proxy.sock');
    const daemon = await Daemon.start(env);
    try {
      await daemon.log.waitFor(/proxy on http:\/\/127\.0\.0\.1:\d+/);
      const running = JSON.parse(ok(await akc(env, ['status', '--json']), 'status').stdout) as Json;
      assert.deepEqual(running.proxy, { url: `http://127.0.0.1:${port}`, socket });
      assert.match(ok(await akc(env, ['status']), 'status').stdout, new RegExp(`^proxy +http://127\\.0\\.0\\.1:${port}`, 'm'));
    } finally {
      await daemon.stop();
    }
    const stopped = JSON.parse(ok(await akc(env, ['status', '--json']), 'status').stdout) as Json;
    assert.deepEqual(stopped.proxy, { url: null, socket });
    const text = ok(await akc(env, ['status']), 'status').stdout;
    assert.match(text, /^proxy +not running \(it starts with the host\)$/m);
    assert.ok(!text.includes(String(port)), 'the remembered port is not offered');
  });
});
