/**
 * Load generators: SDK clients doing `secret.get`, and the bare NDJSON echo client (the
 * floor). They run in the load worker (its own thread and event loop, like an agent
 * process) and, for comparison, in the host's own thread.
 */
import net from 'node:net';
import { connect } from '../src/sdk/index.js';
import type { KeychainClient } from '../src/sdk/index.js';
import { now, since } from './stats.js';

export interface LoadResult {
  /** Completed requests. */
  ops: number;
  errors: number;
  /** Wall time of the measured window, ns. */
  elapsedNs: number;
  /** Per-request latency, ns (every request, or a bounded reservoir under load). */
  latenciesNs: number[];
  /** Values that came back different from the expected one (must be 0). */
  wrongValues: number;
}

export async function openClients(socketPath: string, n: number): Promise<KeychainClient[]> {
  return Promise.all(Array.from({ length: n }, () => connect({ socketPath, client: { name: 'akc-bench', version: '1' } })));
}

/** `n` sequential gets on one connection; the latency of each. */
export async function sequentialGets(client: KeychainClient, name: string, expected: string, n: number): Promise<LoadResult> {
  const latenciesNs: number[] = new Array<number>(n);
  let wrongValues = 0;
  const start = now();
  for (let i = 0; i < n; i++) {
    const t = now();
    const r = await client.getSecret(name);
    latenciesNs[i] = since(t);
    if (r.value !== expected) wrongValues++;
  }
  return { ops: n, errors: 0, elapsedNs: since(start), latenciesNs, wrongValues };
}

const MAX_SAMPLES_PER_CLIENT = 20_000;

/** Each client loops sequential gets for `ms`; total completed gets. */
export async function concurrentGets(clients: KeychainClient[], name: string, expected: string, ms: number): Promise<LoadResult> {
  let stop = false;
  let ops = 0;
  let errors = 0;
  let wrongValues = 0;
  const latenciesNs: number[] = [];
  const start = now();
  const timer = setTimeout(() => (stop = true), ms);
  await Promise.all(
    clients.map(async (client) => {
      let mine = 0;
      while (!stop) {
        const t = now();
        try {
          const r = await client.getSecret(name);
          if (r.value !== expected) wrongValues++;
          ops++;
        } catch {
          errors++;
          continue;
        }
        if (mine++ < MAX_SAMPLES_PER_CLIENT) latenciesNs.push(since(t));
      }
    }),
  );
  const elapsedNs = since(start);
  clearTimeout(timer);
  return { ops, errors, elapsedNs, latenciesNs, wrongValues };
}

// ---------------------------------------------------------------- bare NDJSON echo (the floor)

/** A minimal NDJSON echo server: every line comes back as it was sent. No parsing, no policy. */
export function startEchoServer(path: string): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let rest: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      const data = rest ? Buffer.concat([rest, chunk]) : chunk;
      const last = data.lastIndexOf(0x0a);
      if (last === -1) {
        rest = data;
        return;
      }
      socket.write(data.subarray(0, last + 1));
      rest = last + 1 < data.length ? data.subarray(last + 1) : null;
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** One echo connection: request/response over NDJSON, JSON on both ends like a real client. */
class EchoClient {
  private waiting: ((line: string) => void) | null = null;
  private buf = '';
  private nextId = 1;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting;
        this.waiting = null;
        w?.(line);
      }
    });
  }

  static open(path: string): Promise<EchoClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ path }, () => resolve(new EchoClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends a secret.get-shaped request and parses the echoed line. */
  call(name: string): Promise<unknown> {
    return new Promise((resolve) => {
      this.waiting = (line) => resolve(JSON.parse(line));
      this.socket.write(JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method: 'secret.get', params: { name } }) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function echoSequential(path: string, n: number, warmup: number): Promise<LoadResult> {
  const c = await EchoClient.open(path);
  try {
    for (let i = 0; i < warmup; i++) await c.call('BENCH_TOKEN');
    const latenciesNs: number[] = new Array<number>(n);
    const start = now();
    for (let i = 0; i < n; i++) {
      const t = now();
      await c.call('BENCH_TOKEN');
      latenciesNs[i] = since(t);
    }
    return { ops: n, errors: 0, elapsedNs: since(start), latenciesNs, wrongValues: 0 };
  } finally {
    c.close();
  }
}

export async function echoConcurrent(path: string, clients: number, ms: number): Promise<LoadResult> {
  const cs = await Promise.all(Array.from({ length: clients }, () => EchoClient.open(path)));
  let stop = false;
  let ops = 0;
  const latenciesNs: number[] = [];
  const start = now();
  const timer = setTimeout(() => (stop = true), ms);
  try {
    await Promise.all(
      cs.map(async (c) => {
        let mine = 0;
        while (!stop) {
          const t = now();
          await c.call('BENCH_TOKEN');
          ops++;
          if (mine++ < MAX_SAMPLES_PER_CLIENT) latenciesNs.push(since(t));
        }
      }),
    );
    return { ops, errors: 0, elapsedNs: since(start), latenciesNs, wrongValues: 0 };
  } finally {
    clearTimeout(timer);
    for (const c of cs) c.close();
  }
}
