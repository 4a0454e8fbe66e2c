/**
 * The agent socket server: NDJSON JSON-RPC 2.0 on a Unix socket. Every peer
 * is identified from the kernel; peers of another uid are refused. Malformed input gets
 * an error, never a crash, and the host keeps serving everyone else.
 */
import { setMaxListeners } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { AkcError, isAkcError } from '../../shared/errors.js';
import { LineSplitter } from '../../shared/ndjson.js';
import {
  APPROVAL_PENDING,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  reasonForErrorCode,
  rpcCodeForReason,
  rpcError,
  type RequestId,
  type RpcErrorObject,
} from '../../shared/protocol.js';
import { frameTooLargeError, parseRequestEnvelope, parseRequestParams, describeIssues } from '../../shared/protocol-schemas.js';
import { adminParamsSchemas, isAdminMethod } from '../../shared/admin-protocol.js';
import { getPeerCredentials } from '../identity/peercred.js';
import { identifyPeer, type PeerIdentity } from '../identity/index.js';
import { HOST_VERSION, type Host, type Session } from '../host/host.js';
import { prepareSocketPath } from './socket-file.js';
import { handleAdmin } from './admin-handlers.js';
import type { Logger } from '../logger.js';

export interface ServerOptions {
  socketPath: string;
  /** Null until there is a vault (the hardened host starts before `akc init`; see setHost). */
  host: Host | null;
  logger: Logger;
  maxConnections?: number;
  /** A connection with nothing in flight for this long is closed. */
  idleTimeoutMs?: number;
  /** Reading pauses while a connection has this many requests in flight (backpressure). */
  maxInFlightPerConnection?: number;
  /** Output bounds per connection (defaults below: MAX_QUEUED_OUTPUT_BYTES and friends). */
  maxQueuedOutputBytes?: number;
  hardQueuedOutputBytes?: number;
  slowReaderTimeoutMs?: number;
  /**
   * The one uid served (default: our own). The hardened host runs as a service user and
   * serves the desktop user's uid instead; every other uid is still refused.
   */
  allowUid?: number;
  /** Socket file mode (default 0600). The hardened host uses 0666: the uid check is the gate. */
  socketMode?: number;
  /** Socket directory mode (default 0700; the hardened host's is 0755). */
  socketDirMode?: number;
  /** More methods (the hardened host's admin verbs); tried before the agent protocol. */
  extraMethods?: ExtraMethods;
}

export interface ExtraMethods {
  has(method: string): boolean;
  call(session: Session, method: string, params: Record<string, unknown>): Promise<unknown>;
}

export class AgentServer {
  private server: net.Server | null = null;
  private readonly connections = new Set<net.Socket>();

  constructor(private readonly opts: ServerOptions) {}

  /** The hardened host's vault was just created: serve it from now on. */
  setHost(host: Host): void {
    this.opts.host = host;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(): Promise<void> {
    await prepareSocketPath(this.opts.socketPath, this.opts.socketDirMode);
    const server = net.createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
    server.maxConnections = this.opts.maxConnections ?? 1024;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The process umask (0077, set by hosts) makes the socket 0600 from birth; chmod too.
      server.listen(this.opts.socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if (process.platform !== 'win32') fs.chmodSync(this.opts.socketPath, this.opts.socketMode ?? 0o600);
    server.on('error', (err) => this.opts.logger.error(`socket server error: ${err.message}`));
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.connections) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (process.platform !== 'win32') fs.unlinkSync(this.opts.socketPath);
    } catch {
      // already gone
    }
  }

  private accept(socket: net.Socket): void {
    const log = this.opts.logger;
    let creds;
    try {
      creds = getPeerCredentials(socket);
    } catch (err) {
      log.warn(`refused a connection: ${(err as Error).message}`);
      socket.destroy();
      return;
    }
    if (creds.uid !== (this.opts.allowUid ?? process.getuid?.())) {
      // Another user: refuse before reading a byte.
      log.warn(`refused a connection from pid ${creds.pid}: uid ${creds.uid} is not ours`);
      socket.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: rpcError('DENIED', 'denied: peer runs as another user') }) + '\n');
      socket.destroySoon?.();
      return;
    }
    this.connections.add(socket);
    new Connection(socket, this.opts, identifyPeer(socket)).start(() => this.connections.delete(socket));
  }
}

/**
 * Output bounds per connection (without them, a client that never read its replies grew the
 * host without bound — 4 MiB of pipelined requests took it to 730 MiB). The host used to
 * pause reading only once 256 requests were in flight, but it parsed every line of a chunk
 * anyway and cheap requests (`status`, `secret.list`) finish at once, so the in-flight
 * count never held; the answers then piled up in the socket's write queue in JS memory.
 * Now a connection is read line by line, and reading stops while either bound is reached:
 */
/** Requests one connection may have in flight; more wait unread in the kernel's buffer. */
export const MAX_IN_FLIGHT_PER_CONNECTION = 32;
/** Bytes of answers queued for a connection (not yet taken by the kernel) before reading stops. */
export const MAX_QUEUED_OUTPUT_BYTES = 1024 * 1024;
/**
 * Queued bytes that drop the connection at once. Once reading stopped, at most
 * MAX_IN_FLIGHT_PER_CONNECTION answers of one frame each (plus their small notifications)
 * can still be queued, i.e. about 1 MiB + 32 × 64 KiB = 3 MiB: a client only gets here if
 * something else unbounded is sent, so this is the backstop.
 */
export const HARD_QUEUED_OUTPUT_BYTES = 8 * 1024 * 1024;
/** A connection whose queued output stays above MAX_QUEUED_OUTPUT_BYTES this long is dropped. */
export const SLOW_READER_TIMEOUT_MS = 10_000;

class Connection {
  private inFlight = 0;
  /** Reading stopped (socket paused, and the rest of a chunk held back unparsed). */
  private paused = false;
  /** The unparsed rest of a chunk while paused: at most one chunk (the socket is paused). */
  private held: Buffer | null = null;
  private closed = false;
  private dropped = false;
  private slowTimer: NodeJS.Timeout | null = null;
  private identity: PeerIdentity | null = null;
  /** Aborted when the connection closes: its pending approvals are withdrawn (broker). */
  private readonly gone = new AbortController();
  private readonly session: Promise<Session>;
  private readonly splitter: LineSplitter;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly hardQueued: number;
  private readonly slowReaderMs: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: ServerOptions,
    identity: Promise<PeerIdentity>,
  ) {
    this.session = identity.then((id) => {
      this.identity = id;
      return { identity: id };
    });
    // A failed identification fails every request on this connection, not the host.
    this.session.catch(() => undefined);
    this.maxInFlight = opts.maxInFlightPerConnection ?? MAX_IN_FLIGHT_PER_CONNECTION;
    this.maxQueued = opts.maxQueuedOutputBytes ?? MAX_QUEUED_OUTPUT_BYTES;
    this.hardQueued = Math.max(this.maxQueued, opts.hardQueuedOutputBytes ?? HARD_QUEUED_OUTPUT_BYTES);
    this.slowReaderMs = opts.slowReaderTimeoutMs ?? SLOW_READER_TIMEOUT_MS;
    // One listener per request waiting for a human, at most maxInFlight: no leak to warn of.
    setMaxListeners(this.maxInFlight + 1, this.gone.signal);
    this.splitter = new LineSplitter({
      maxLineBytes: MAX_FRAME_BYTES,
      onLine: (line) => this.onLine(line),
      onOverflow: () => {
        this.send({ jsonrpc: '2.0', id: null, error: frameTooLargeError(MAX_FRAME_BYTES) });
        this.splitter.close();
        this.socket.end();
      },
    });
  }

  start(onClose: () => void): void {
    const s = this.socket;
    s.setTimeout(this.opts.idleTimeoutMs ?? 5 * 60_000, () => {
      if (this.inFlight === 0) s.destroy();
    });
    s.on('data', (chunk: Buffer) => this.feed(chunk));
    // The write queue emptied: the reader caught up.
    s.on('drain', () => {
      this.clearSlowTimer();
      this.maybeResume();
    });
    s.on('error', () => undefined); // peer vanished; 'close' follows
    s.on('close', () => {
      this.closed = true;
      this.held = null;
      this.clearSlowTimer();
      onClose();
      this.gone.abort();
    });
  }

  /** May this connection's next request be read now? */
  private canRead(): boolean {
    return this.inFlight < this.maxInFlight && this.socket.writableLength <= this.maxQueued;
  }

  /**
   * Parses a chunk one line at a time and stops as soon as a bound is reached, holding the
   * rest back: pausing the socket alone does not stop the lines already received.
   */
  private feed(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      if (this.closed || this.splitter.isClosed) return;
      if (!this.canRead()) {
        this.held = chunk.subarray(start);
        this.pause();
        return;
      }
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl + 1;
      this.splitter.push(chunk.subarray(start, end));
      start = end;
    }
    if (!this.canRead()) this.pause();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.closed || !this.canRead()) return;
    this.paused = false;
    const held = this.held;
    this.held = null;
    if (held) this.feed(held);
    if (!this.paused) this.socket.resume();
  }

  private send(message: unknown): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(JSON.stringify(message) + '\n');
    this.checkOutput();
  }

  /** After a write: stop reading above the soft bound; drop above the hard one or when slow too long. */
  private checkOutput(): void {
    const queued = this.socket.writableLength;
    if (queued <= this.maxQueued) return;
    if (queued > this.hardQueued) return this.drop(queued);
    this.pause();
    if (this.slowTimer) return;
    this.slowTimer = setTimeout(() => {
      this.slowTimer = null;
      const now = this.socket.writableLength;
      if (now > this.maxQueued) this.drop(now);
      else this.maybeResume();
    }, this.slowReaderMs);
    this.slowTimer.unref?.();
  }

  private clearSlowTimer(): void {
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.slowTimer = null;
  }

  /** Drops a slow reader and audits it once (who, and how much was queued; never a payload). */
  private drop(queuedBytes: number): void {
    if (this.dropped) return;
    this.dropped = true;
    this.clearSlowTimer();
    this.held = null;
    this.splitter.close();
    this.socket.destroy();
    let pid = this.identity?.pid ?? null;
    if (pid === null) {
      try {
        pid = getPeerCredentials(this.socket).pid;
      } catch {
        // the peer is gone; the entry says so with a null pid
      }
    }
    const exe = this.identity?.exe ?? null;
    this.opts.logger.warn(`dropped a connection from pid ${pid ?? '?'}: slow reader (${queuedBytes} bytes queued)`);
    try {
      this.opts.host?.record({
        event: 'connection.drop',
        pid,
        exe,
        decision: 'deny',
        reason: 'slow reader',
        detail: { queuedBytes, inFlight: this.inFlight },
      });
    } catch (err) {
      this.opts.logger.error(`failed to audit a dropped connection: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onLine(line: string): void {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      this.send({ jsonrpc: '2.0', id: null, error: rpcError('PARSE_ERROR', 'parse error: invalid JSON') });
      return;
    }
    const envelope = parseRequestEnvelope(value);
    if (!envelope.ok) {
      this.send({ jsonrpc: '2.0', id: envelope.id, error: envelope.error });
      return;
    }
    const { id, method, params } = envelope.request;
    this.inFlight += 1;
    this.dispatch(id, method, params)
      .then(
        (result) => this.send({ jsonrpc: '2.0', id, result }),
        (err: unknown) => this.send({ jsonrpc: '2.0', id, error: toRpcError(err, this.opts.logger, method) }),
      )
      .finally(() => {
        this.inFlight -= 1;
        this.maybeResume();
      });
  }

  private async dispatch(id: RequestId, method: string, rawParams: Record<string, unknown> | undefined): Promise<unknown> {
    const host = this.opts.host;
    const extra = this.opts.extraMethods;
    if (extra?.has(method)) return extra.call(await this.session, method, rawParams ?? {});
    if (!host) throw new AkcError('NOT_INITIALIZED', 'no vault has been created yet', { hint: 'run `akc init` to create one' });
    if (isAdminMethod(method)) {
      const parsed = adminParamsSchemas[method].safeParse(rawParams ?? {});
      if (!parsed.success)
        throw new RpcFailure(rpcError('INVALID_PARAMS', `malformed ${method} params: ${describeIssues(parsed.error.issues)}`));
      const session = await this.session;
      return handleAdmin(host, session, method, parsed.data as never);
    }
    const parsed = parseRequestParams(method, rawParams);
    if (!parsed.ok) {
      throw new RpcFailure(rpcError(parsed.code === -32601 ? 'METHOD_NOT_FOUND' : 'INVALID_PARAMS', parsed.reason));
    }
    const session = await this.session;
    switch (parsed.method) {
      case 'hello': {
        if (parsed.params.agent !== undefined) session.agentHint = parsed.params.agent;
        const requester = await host.requesterFor(session);
        return {
          protocol: PROTOCOL_VERSION,
          server: { name: 'agent-keychain', version: HOST_VERSION },
          peer: { pid: session.identity.pid, uid: session.identity.uid, exe: session.identity.exe },
          agent: requester.agent,
          vault: host.state === 'unlocked' ? 'unlocked' : 'locked',
        };
      }
      case 'status':
        return { vault: host.state === 'unlocked' ? 'unlocked' : 'locked', pendingApprovals: host.pendingCount(), version: HOST_VERSION };
      case 'secret.list':
        return { secrets: host.listSecrets().map((s) => ({ name: s.name, type: s.type, description: s.description || null })) };
      case 'secret.get': {
        const requester = await host.requesterFor(session);
        const delivered = await host.getSecret(
          requester,
          parsed.params,
          (p) =>
            this.send({
              jsonrpc: '2.0',
              method: APPROVAL_PENDING,
              params: { id, approvalId: p.id, expiresAt: new Date(p.expiresAt).toISOString() },
            }),
          this.gone.signal,
        );
        try {
          return {
            name: delivered.name,
            version: delivered.version,
            type: delivered.type,
            value: delivered.value.toString('utf8'),
            lease: { id: delivered.lease.id, expiresAt: new Date(delivered.lease.expiresAt).toISOString() },
          };
        } finally {
          delivered.value.fill(0);
        }
      }
      case 'secret.getMany': {
        const requester = await host.requesterFor(session);
        const delivered = await host.getSecrets(
          requester,
          parsed.params,
          (p) =>
            this.send({
              jsonrpc: '2.0',
              method: APPROVAL_PENDING,
              params: { id, approvalId: p.id, expiresAt: new Date(p.expiresAt).toISOString() },
            }),
          this.gone.signal,
        );
        try {
          const result = {
            secrets: delivered.map((d) => ({
              name: d.name,
              version: d.version,
              type: d.type,
              value: d.value.toString('utf8'),
              lease: { id: d.lease.id, expiresAt: new Date(d.lease.expiresAt).toISOString() },
            })),
          };
          // The answer must fit one frame (MAX_FRAME_BYTES); otherwise end the leases and say so.
          if (Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', id, result })) > MAX_FRAME_BYTES) {
            for (const d of delivered) host.revokeOwnLease(requester, d.lease.id);
            throw new RpcFailure(
              rpcError(
                'INVALID_PARAMS',
                `the values together exceed the ${MAX_FRAME_BYTES}-byte frame limit; ask for fewer secrets at a time`,
              ),
            );
          }
          return result;
        } finally {
          for (const d of delivered) d.value.fill(0);
        }
      }
      case 'lease.list': {
        const requester = await host.requesterFor(session);
        const leases = host.listLeases(requester).map((l) => ({
          id: l.id,
          secret: l.secretName,
          version: l.version,
          issuedAt: new Date(l.issuedAt).toISOString(),
          expiresAt: new Date(l.expiresAt).toISOString(),
        }));
        // The answer must fit one frame (MAX_FRAME_BYTES), or clients drop the connection: the newest
        // leases (listed first) that fit.
        let bytes = Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', id, result: { leases: [] } }));
        let fit = 0;
        for (; fit < leases.length; fit++) {
          bytes += Buffer.byteLength(JSON.stringify(leases[fit])) + (fit > 0 ? 1 : 0);
          if (bytes > MAX_FRAME_BYTES) break;
        }
        return { leases: leases.slice(0, fit) };
      }
      case 'lease.revoke': {
        const requester = await host.requesterFor(session);
        return { id: parsed.params.id, revoked: host.revokeOwnLease(requester, parsed.params.id) };
      }
    }
  }
}

class RpcFailure extends Error {
  constructor(readonly rpc: RpcErrorObject) {
    super(rpc.message);
  }
}

/** Maps an error to the wire. Unknown errors become INTERNAL with no detail (no value can leak). */
function toRpcError(err: unknown, logger: Logger, method: string): RpcErrorObject {
  if (err instanceof RpcFailure) return err.rpc;
  if (isAkcError(err)) {
    const reason = reasonForErrorCode(err.code);
    return { code: rpcCodeForReason(reason), message: err.message, data: { reason, code: err.code } };
  }
  logger.error(`internal error in ${method}: ${err instanceof Error ? err.name : typeof err}`);
  return rpcError('INTERNAL', 'internal error');
}
