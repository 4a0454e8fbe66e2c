/**
 * The load worker: SDK clients on their own thread and event loop, as an agent process
 * would be, so the host's thread does only the host's work. Same process, so the host
 * identifies these connections as the same program as the benchmark itself.
 */
import { parentPort } from 'node:worker_threads';
import { concurrentGets, echoConcurrent, echoSequential, openClients, sequentialGets, type LoadResult } from './load.js';
import type { WorkerCommand, WorkerReply, WorkerRequest, WorkerResult } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('load-worker.js runs as a worker thread');

function pack(r: LoadResult, extraOps = 0): WorkerResult {
  return { ...r, latenciesNs: Float64Array.from(r.latenciesNs), extraOps };
}

async function run(cmd: WorkerCommand): Promise<WorkerResult> {
  switch (cmd.kind) {
    case 'first-get': {
      const [client] = await openClients(cmd.socketPath, 1);
      let pendingSeen = false;
      try {
        const r = await client!.getSecret(cmd.name, { purpose: 'benchmark setup', onPending: () => (pendingSeen = true) });
        const wrong = r.value === cmd.expected ? 0 : 1;
        return { ops: 1, errors: 0, elapsedNs: 0, latenciesNs: new Float64Array(), wrongValues: wrong, extraOps: 0, pendingSeen };
      } finally {
        await client!.close();
      }
    }
    case 'sequential': {
      const [client] = await openClients(cmd.socketPath, 1);
      try {
        await sequentialGets(client!, cmd.name, cmd.expected, cmd.warmup);
        return pack(await sequentialGets(client!, cmd.name, cmd.expected, cmd.n), cmd.warmup);
      } finally {
        await client!.close();
      }
    }
    case 'concurrent': {
      const clients = await openClients(cmd.socketPath, cmd.clients);
      try {
        const warm = await concurrentGets(clients, cmd.name, cmd.expected, cmd.warmupMs);
        const r = await concurrentGets(clients, cmd.name, cmd.expected, cmd.ms);
        r.wrongValues += warm.wrongValues;
        r.errors += warm.errors;
        return pack(r, warm.ops);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    }
    case 'echo-sequential':
      return pack(await echoSequential(cmd.path, cmd.n, cmd.warmup));
    case 'echo-concurrent':
      return pack(await echoConcurrent(cmd.path, cmd.clients, cmd.ms));
  }
}

port.on('message', (msg: WorkerRequest) => {
  run(msg.cmd).then(
    (result) => {
      const reply: WorkerReply = { id: msg.id, ok: true, result };
      port.postMessage(reply, [result.latenciesNs.buffer as ArrayBuffer]);
    },
    (err: unknown) => {
      const reply: WorkerReply = { id: msg.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      port.postMessage(reply);
    },
  );
});
