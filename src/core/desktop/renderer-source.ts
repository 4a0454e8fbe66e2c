/**
 * Where the Electron main loads the renderer from. The built files, always — except in a
 * development run that was asked for explicitly: not packaged, AND `AKC_DEV_RENDERER=1`
 * (set by the `dev` npm script), AND ELECTRON_RENDERER_URL a loopback http URL (what
 * `electron-vite dev` sets). `npm start` no longer honours ELECTRON_RENDERER_URL alone: a
 * same-user process that left it in the environment cannot make the app load a renderer
 * (which holds the IPC bridge to the vault) of its choosing, and never one off this machine.
 */
export type RendererSource = { kind: 'file' } | { kind: 'dev'; url: string };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function rendererSource(env: Record<string, string | undefined>, isPackaged: boolean): RendererSource {
  if (isPackaged || env.AKC_DEV_RENDERER !== '1') return { kind: 'file' };
  const raw = env.ELECTRON_RENDERER_URL;
  if (!raw) return { kind: 'file' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { kind: 'file' };
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname) || url.username || url.password) return { kind: 'file' };
  return { kind: 'dev', url: `${url.protocol}//${url.host}` };
}
