import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rendererSource } from '../../src/core/desktop/renderer-source.js';

describe('rendererSource', () => {
  const dev = { AKC_DEV_RENDERER: '1', ELECTRON_RENDERER_URL: 'http://localhost:5173' };

  it('npm start (unpackaged) with only ELECTRON_RENDERER_URL set: the built files (the finding)', () => {
    assert.deepEqual(rendererSource({ ELECTRON_RENDERER_URL: 'http://localhost:5173' }, false), { kind: 'file' });
    assert.deepEqual(rendererSource({ ELECTRON_RENDERER_URL: 'https://evil.example/' }, false), { kind: 'file' });
  });

  it('an explicit dev run on loopback http: the dev server', () => {
    assert.deepEqual(rendererSource(dev, false), { kind: 'dev', url: 'http://localhost:5173' });
    assert.deepEqual(rendererSource({ ...dev, ELECTRON_RENDERER_URL: 'http://127.0.0.1:4000/' }, false), {
      kind: 'dev',
      url: 'http://127.0.0.1:4000',
    });
    assert.deepEqual(rendererSource({ ...dev, ELECTRON_RENDERER_URL: 'http://[::1]:4000' }, false), {
      kind: 'dev',
      url: 'http://[::1]:4000',
    });
  });

  it('packaged: never a URL, whatever the environment says', () => {
    assert.deepEqual(rendererSource(dev, true), { kind: 'file' });
  });

  it('anything but loopback http is refused even in a dev run', () => {
    for (const u of [
      'https://localhost:5173',
      'http://evil.example:5173',
      'http://localhost.evil.example',
      'http://user:pw@localhost:1',
      'file:///tmp/x.html',
      'javascript:alert(1)',
      'not a url',
      '',
    ]) {
      assert.deepEqual(rendererSource({ ...dev, ELECTRON_RENDERER_URL: u }, false), { kind: 'file' }, u);
    }
    assert.deepEqual(rendererSource({ ...dev, AKC_DEV_RENDERER: 'true' }, false), { kind: 'file' });
  });
});
