/**
 * The agent socket server (DESIGN §8): NDJSON JSON-RPC 2.0 on a Unix socket. Every peer
 * is identified from the kernel; peers of another uid are refused. Malformed input gets
 * an error, never a crash, and the host keeps serving everyone else.
 */
import fs from 'node:fs';
import net from 'node:net';
import { isAkcError } from '../../shared/errors.js';
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
  host: Host;
  logger: Logger;
  maxConnections?: number;
  /** A connection with nothing in flight for this long is closed. */
  idleTimeoutMs?: number;
  /** Reading pauses while a connection has this many requests in flight (backpressure). */
  maxInFlightPerConnection?: number;
}

export class AgentServer {
  private server: net.Server | null = null;
  private readonly connections = new Set<net.Socket>();

  constructor(private readonly opts: ServerOptions) {}

  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(): Promise<void> {
    await prepareSocketPath(this.opts.socketPath);
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
    if (process.platform !== 'win32') fs.chmodSync(this.opts.socketPath, 0o600);
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
    if (creds.uid !== process.getuid?.()) {
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

class Connection {
  private inFlight = 0;
  private paused = false;
  private closed = false;
  private readonly session: Promise<Session>;
  private readonly splitter: LineSplitter;
  private readonly maxInFlight: number;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: ServerOptions,
    identity: Promise<PeerIdentity>,
  ) {
    this.session = identity.then((id) => ({ identity: id }));
    // A failed identification fails every request on this connection, not the host.
    this.session.catch(() => undefined);
    this.maxInFlight = opts.maxInFlightPerConnection ?? 256;
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
    s.on('data', (chunk: Buffer) => this.splitter.push(chunk));
    s.on('error', () => undefined); // peer vanished; 'close' follows
    s.on('close', () => {
      this.closed = true;
      onClose();
    });
  }

  private send(message: unknown): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(JSON.stringify(message) + '\n');
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
    if (this.inFlight >= this.maxInFlight && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.dispatch(id, method, params)
      .then(
        (result) => this.send({ jsonrpc: '2.0', id, result }),
        (err: unknown) => this.send({ jsonrpc: '2.0', id, error: toRpcError(err, this.opts.logger, method) }),
      )
      .finally(() => {
        this.inFlight -= 1;
        if (this.paused && this.inFlight < this.maxInFlight / 2) {
          this.paused = false;
          this.socket.resume();
        }
      });
  }

  private async dispatch(id: RequestId, method: string, rawParams: Record<string, unknown> | undefined): Promise<unknown> {
    const host = this.opts.host;
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
        const delivered = await host.getSecret(requester, parsed.params, (p) =>
          this.send({
            jsonrpc: '2.0',
            method: APPROVAL_PENDING,
            params: { id, approvalId: p.id, expiresAt: new Date(p.expiresAt).toISOString() },
          }),
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
        const delivered = await host.getSecrets(requester, parsed.params, (p) =>
          this.send({
            jsonrpc: '2.0',
            method: APPROVAL_PENDING,
            params: { id, approvalId: p.id, expiresAt: new Date(p.expiresAt).toISOString() },
          }),
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
          // The answer must fit one frame (§8); otherwise end the leases and say so.
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
        // The answer must fit one frame (§8), or clients drop the connection: the newest
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
