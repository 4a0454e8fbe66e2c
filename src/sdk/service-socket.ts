/**
 * The hardened host's socket, for the SDK's default path: read from the installed
 * service config (`/etc/agent-keychain/host.json`, or AKC_SERVICE_CONFIG). Zero
 * dependencies, so a minimal check here; the CLI validates the whole file
 * (core/service/config.ts). Only a root-owned file is believed, as there.
 */
import fs from 'node:fs';
import { resolveServiceConfigPath } from '../shared/paths.js';

export function serviceSocketFromConfig(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    const file = resolveServiceConfigPath(env);
    const st = fs.statSync(file);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) return undefined;
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { mode?: unknown; socket?: unknown };
    return json.mode === 'service' && typeof json.socket === 'string' && json.socket.startsWith('/') ? json.socket : undefined;
  } catch {
    return undefined;
  }
}
