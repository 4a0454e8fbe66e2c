/**
 * A small agent process for end-to-end tests: gets secrets through the SDK and prints one
 * JSON line per event on stdout, so a test can react to `approval.pending` (approve or deny
 * with the real CLI) and check what the agent received.
 *
 *   node agent-client.js [--socket PATH] [--purpose P] [--agent HINT]
 *                        [--connections N] [--repeat N] [--loop] NAME...
 *
 * Each of the N connections (default 1, opened concurrently) says hello, then gets every
 * NAME in turn, `--repeat` times (default 1), or until an error with `--loop`. Events:
 *   {"ev":"hello","conn":0,"pid":…,"exe":…,"vault":…}
 *   {"ev":"pending","conn":0,"name":…,"approvalId":…,"expiresAt":…}
 *   {"ev":"value","conn":0,"name":…,"value":…,"version":…,"lease":{"id":…,"expiresAt":…}}
 *   {"ev":"error","conn":0,"name":…,"code":…,"reason":…,"rpcCode":…,"message":…}
 *   {"ev":"done"}
 * An error while connecting has no name.
 */
import { parseArgs } from 'node:util';
import { connect, isKeychainError, type KeychainClient } from '../../src/sdk/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    socket: { type: 'string' },
    purpose: { type: 'string' },
    agent: { type: 'string' },
    connections: { type: 'string', default: '1' },
    repeat: { type: 'string', default: '1' },
    loop: { type: 'boolean', default: false },
  },
});

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function errorEvent(conn: number, name: string | undefined, err: unknown): Record<string, unknown> {
  if (isKeychainError(err)) {
    return { ev: 'error', conn, name, code: err.code, reason: err.reason ?? null, rpcCode: err.rpcCode ?? null, message: err.message };
  }
  return { ev: 'error', conn, name, code: 'UNEXPECTED', reason: null, rpcCode: null, message: String(err) };
}

async function runConnection(conn: number): Promise<void> {
  let client: KeychainClient;
  try {
    client = await connect({
      ...(values.socket ? { socketPath: values.socket } : {}),
      ...(values.agent ? { agent: values.agent } : {}),
      client: { name: 'e2e-agent', version: '1' },
      timeoutMs: 15_000,
    });
  } catch (err) {
    emit(errorEvent(conn, undefined, err));
    return;
  }
  emit({ ev: 'hello', conn, pid: client.session.peer.pid, exe: client.session.peer.exe, vault: client.session.vault });
  try {
    const repeat = Number(values.repeat);
    for (let round = 0; values.loop || round < repeat; round++) {
      for (const name of positionals) {
        try {
          const r = await client.getSecret(name, {
            ...(values.purpose !== undefined ? { purpose: values.purpose } : {}),
            onPending: (p) => emit({ ev: 'pending', conn, name, approvalId: p.approvalId, expiresAt: p.expiresAt }),
          });
          emit({ ev: 'value', conn, name, value: r.value, version: r.version, lease: r.lease });
        } catch (err) {
          emit(errorEvent(conn, name, err));
          if (values.loop) return;
        }
      }
    }
  } finally {
    await client.close();
  }
}

const count = Number(values.connections);
await Promise.all(Array.from({ length: count }, (_, i) => runConnection(i)));
emit({ ev: 'done' });
