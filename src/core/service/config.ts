/**
 * Reading the hardened host's config (`/etc/agent-keychain/host.json`, or
 * AKC_SERVICE_CONFIG). It holds no secret, but it tells the CLI which uid the real host
 * runs as and where its socket is, so it must not be writable by the desktop user: a
 * config the user (or an agent running as the user) could rewrite would point the CLI
 * at a fake host. It is trusted only when root owns it and nobody else can write it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AkcError } from '../../shared/errors.js';
import { resolveServiceConfigPath, serviceConfigSchema, type ServiceConfig } from '../../shared/service-protocol.js';
import { describeIssues } from '../../shared/protocol-schemas.js';

const GROUP_OR_OTHER_WRITE = 0o022;

/** The config file path for this process's environment. */
export function serviceConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return resolveServiceConfigPath(env);
}

/** The service config, or null when none is installed. Throws when one exists but cannot be trusted. */
export function readServiceConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig | null {
  if (process.platform === 'win32') return null;
  const file = serviceConfigPath(env);
  let text: string;
  try {
    checkTrusted(file);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof AkcError) throw err;
    throw new AkcError('IO', `failed to read the service config ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseServiceConfig(text, file);
}

export function parseServiceConfig(text: string, file: string): ServiceConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AkcError('IO', `failed to read the service config ${file}: not JSON`);
  }
  const parsed = serviceConfigSchema.safeParse(json);
  if (!parsed.success) throw new AkcError('IO', `failed to read the service config ${file}: ${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** Root owns the file and its directory, and neither is writable by group or others. */
function checkTrusted(file: string): void {
  for (const p of [file, path.dirname(file)]) {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) throw untrusted(file, `${p} is a symbolic link`);
    if (st.uid !== 0) throw untrusted(file, `${p} is not owned by root`);
    if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0) throw untrusted(file, `${p} is writable by group or others`);
  }
}

function untrusted(file: string, why: string): AkcError {
  return new AkcError('IO', `refusing the service config ${file}: ${why}`, {
    hint: 'reinstall it with `sudo akc service install`, or unset AKC_SERVICE_CONFIG',
  });
}
