import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveDataDir, resolveKeychainService, resolveSocketPath } from '../../src/shared/paths.js';
import type { PathContext } from '../../src/shared/paths.js';

const linux = (env: Record<string, string>): PathContext => ({
  platform: 'linux',
  env,
  homedir: '/home/ada',
  username: 'ada',
});
const mac = (env: Record<string, string>): PathContext => ({
  platform: 'darwin',
  env,
  homedir: '/Users/ada',
  username: 'ada',
});
const win = (env: Record<string, string>, username = 'ada'): PathContext => ({
  platform: 'win32',
  env,
  homedir: 'C:\\Users\\ada',
  username,
});

describe('resolveDataDir', () => {
  it('Linux: XDG_DATA_HOME, else ~/.local/share', () => {
    assert.equal(resolveDataDir(linux({})), '/home/ada/.local/share/agent-keychain');
    assert.equal(resolveDataDir(linux({ XDG_DATA_HOME: '/data/' })), '/data/agent-keychain');
    // Empty and relative XDG values are ignored, as the XDG spec says.
    assert.equal(resolveDataDir(linux({ XDG_DATA_HOME: '' })), '/home/ada/.local/share/agent-keychain');
    assert.equal(resolveDataDir(linux({ XDG_DATA_HOME: 'rel' })), '/home/ada/.local/share/agent-keychain');
  });

  it('macOS and Windows defaults', () => {
    assert.equal(resolveDataDir(mac({})), '/Users/ada/Library/Application Support/Agent Keychain');
    assert.equal(resolveDataDir(win({ APPDATA: 'C:\\Users\\ada\\AppData\\Roaming' })), 'C:\\Users\\ada\\AppData\\Roaming\\Agent Keychain');
    assert.equal(resolveDataDir(win({})), 'C:\\Users\\ada\\AppData\\Roaming\\Agent Keychain');
  });

  it('AKC_HOME overrides everywhere (an empty one does not)', () => {
    for (const ctx of [linux, mac, win]) {
      assert.equal(resolveDataDir(ctx({ AKC_HOME: '/tmp/akc', XDG_DATA_HOME: '/x' })), '/tmp/akc');
      assert.notEqual(resolveDataDir(ctx({ AKC_HOME: '' })), '');
    }
  });
});

describe('resolveSocketPath', () => {
  it('Linux: XDG_RUNTIME_DIR, else <data dir>/run', () => {
    assert.equal(resolveSocketPath(linux({ XDG_RUNTIME_DIR: '/run/user/1000' })), '/run/user/1000/agent-keychain/agent.sock');
    assert.equal(resolveSocketPath(linux({})), '/home/ada/.local/share/agent-keychain/run/agent.sock');
    assert.equal(resolveSocketPath(linux({ AKC_HOME: '/tmp/akc' })), '/tmp/akc/run/agent.sock');
    assert.equal(
      resolveSocketPath(linux({ AKC_HOME: '/tmp/akc', XDG_RUNTIME_DIR: '/run/user/1000' })),
      '/run/user/1000/agent-keychain/agent.sock',
    );
    assert.equal(resolveSocketPath({ ...linux({}), platform: 'freebsd' }), '/home/ada/.local/share/agent-keychain/run/agent.sock');
  });

  it('macOS: <data dir>/agent.sock', () => {
    assert.equal(
      resolveSocketPath(mac({ XDG_RUNTIME_DIR: '/ignored' })),
      '/Users/ada/Library/Application Support/Agent Keychain/agent.sock',
    );
    assert.equal(resolveSocketPath(mac({ AKC_HOME: '/tmp/akc' })), '/tmp/akc/agent.sock');
  });

  it('Windows: a per-user named pipe', () => {
    assert.equal(resolveSocketPath(win({})), '\\\\.\\pipe\\agent-keychain-ada');
    assert.equal(resolveSocketPath(win({}, 'CORP\\ada')), '\\\\.\\pipe\\agent-keychain-CORP_ada');
  });

  it('AKC_SOCKET overrides everywhere', () => {
    for (const ctx of [linux, mac, win]) {
      assert.equal(resolveSocketPath(ctx({ AKC_SOCKET: '/tmp/s.sock', AKC_HOME: '/x' })), '/tmp/s.sock');
    }
  });
});

describe('resolveKeychainService', () => {
  it('defaults to agent-keychain, AKC_KEYCHAIN_SERVICE overrides', () => {
    assert.equal(resolveKeychainService({}), 'agent-keychain');
    assert.equal(resolveKeychainService({ AKC_KEYCHAIN_SERVICE: 'akc-test' }), 'akc-test');
  });
});
