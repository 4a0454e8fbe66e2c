/**
 * One socket to the host: NDJSON framing, request ids, and matching responses (which may
 * arrive in any order) and approval.pending notifications back to their requests.
 * It knows JSON-RPC, not the methods; client.ts types and checks those.
 */
import net from 'node:net';
import { describeCause } from '../shared/errors.js';
import { LineSplitter } from '../shared/ndjson.js';
import { APPROVAL_PENDING, JSONRPC_VERSION, MAX_FRAME_BYTES } from '../shared/protocol.js';
import type { RpcErrorObject } from '../shared/protocol.js';
import { KeychainError, fromRpcError } from './errors.js';

/** What an approval.pending notification tells the waiting caller. */
export interface PendingInfo {
  approvalId: string;
  /** ISO 8601: the request is denied with APPROVAL_TIMEOUT if nobody answers by then. */
  expiresAt: string;
}

export interface CallOptions {
  /** Completes "failed to ..." in error messages, e.g. "get secret GITHUB_TOKEN". */
  action: string;
  signal?: AbortSignal | undefined;
  onPending?: ((info: PendingInfo) => void) | undefined;
}

interface Pending {
  action: string;
  resolve: (result: unknown) => void;
  reject: (err: unknown) => void;
  onPending: ((info: PendingInfo) => void) | undefined;
  /** Detaches the abort listener. */
  cleanup: () => void;
}

const HOST_HINT = 'start the Agent Keychain app, or run `akc daemon`';

/** Connects to the host's socket (or named pipe); rejects with a KeychainError. */
export function openConnection(path: string, signal?: AbortSignal): Promise<Connection> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const socket = net.createConnection({ path });
    const done = () => {
      socket.off('connect', onConnect);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
    };
    const onConnect = () => {
      done();
      resolve(new Connection(socket, path));
    };
    const onError = (err: Error) => {
      done();
      socket.destroy();
      reject(connectError(path, err));
    };
    const onAbort = () => {
      done();
      socket.destroy();
      reject(signal?.reason);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function connectError(path: string, err: Error): KeychainError {
  const code = (err as NodeJS.ErrnoException).code;
  const prefix = `failed to connect to agent keychain at ${path}`;
  // ENOENT: no socket file (or pipe); ECONNREFUSED: a stale socket file nobody listens on.
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    return new KeychainError('HOST_NOT_RUNNING', `${prefix}: no host is running`, {
      cause: err,
      hint: HOST_HINT,
    });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new KeychainError('IO', `${prefix}: permission denied`, { cause: err });
  }
  return new KeychainError('IO', `${prefix}: ${describeCause(err)}`, { cause: err });
}

export class Connection {
  readonly path: string;
  private readonly socket: net.Socket;
  private readonly splitter: LineSplitter;
  private readonly pending = new Map<number, Pending>();
  private readonly closedPromise: Promise<void>;
  private nextId = 1;
  private closed = false;

  constructor(socket: net.Socket, path: string) {
    this.socket = socket;
    this.path = path;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    this.splitter = new LineSplitter({
      maxLineBytes: MAX_FRAME_BYTES,
      onLine: (line) => this.handleLine(line),
      onOverflow: () => this.failAll('PROTOCOL', `the host sent a message larger than ${MAX_FRAME_BYTES} bytes`),
      onInvalidUtf8: () => this.failAll('PROTOCOL', 'the host sent invalid UTF-8'),
    });
    socket.on('data', (chunk: Buffer) => this.splitter.push(chunk));
    socket.on('error', (err) => this.failAll('IO', `connection error: ${describeCause(err)}`));
    socket.on('close', () => this.failAll('IO', 'the agent keychain closed the connection'));
    // An idle connection must not keep the caller's process alive; see track().
    socket.unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a request and resolves with its raw `result`, or rejects with a KeychainError. */
  call(method: string, params: object, opts: CallOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const { action, signal } = opts;
      if (this.closed) {
        return reject(new KeychainError('IO', `failed to ${action}: the connection is closed`));
      }
      if (signal?.aborted) return reject(signal.reason);
      const id = this.nextId++;
      const line = JSON.stringify({ jsonrpc: JSONRPC_VERSION, id, method, params });
      // Checked here so an oversized request fails alone instead of the host dropping us.
      if (Buffer.byteLength(line) > MAX_FRAME_BYTES) {
        return reject(new KeychainError('INVALID_ARGUMENT', `failed to ${action}: the request is larger than ${MAX_FRAME_BYTES} bytes`));
      }
      // Aborting only stops waiting: the protocol has no cancel, so a late answer is dropped.
      const onAbort = () => {
        this.take(id);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.track(id, {
        action,
        resolve,
        reject,
        onPending: opts.onPending,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      });
      this.socket.write(`${line}\n`);
    });
  }

  /** Closes the socket; requests still in flight reject with code IO. */
  close(): Promise<void> {
    this.failAll('IO', 'the connection was closed');
    return this.closedPromise;
  }

  private track(id: number, entry: Pending): void {
    this.pending.set(id, entry);
    this.socket.ref();
  }

  private take(id: unknown): Pending | undefined {
    if (typeof id !== 'number') return undefined;
    const entry = this.pending.get(id);
    if (entry === undefined) return undefined;
    this.pending.delete(id);
    entry.cleanup();
    if (this.pending.size === 0) this.socket.unref();
    return entry;
  }

  private handleLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      return this.failAll('PROTOCOL', 'the host sent invalid JSON');
    }
    if (!isRecord(msg) || msg.jsonrpc !== JSONRPC_VERSION) {
      return this.failAll('PROTOCOL', 'the host sent a message that is not JSON-RPC 2.0');
    }
    if (!('id' in msg)) {
      if (typeof msg.method !== 'string') {
        return this.failAll('PROTOCOL', 'the host sent a message without id or method');
      }
      return this.handleNotification(msg.method, msg.params);
    }
    if ('result' in msg) {
      this.take(msg.id)?.resolve(msg.result);
      return;
    }
    const error = asRpcError(msg.error);
    if (error === null) {
      return this.failAll('PROTOCOL', 'the host sent a response without result or valid error');
    }
    if (msg.id === null) {
      // The host could not tell which request failed (e.g. FRAME_TOO_LARGE): all of them did.
      return this.shutdown((action) => fromRpcError(action, error));
    }
    const entry = this.take(msg.id);
    entry?.reject(fromRpcError(entry.action, error));
  }

  private handleNotification(method: string, params: unknown): void {
    // Unknown notifications are ignored so a newer host can add some.
    if (method !== APPROVAL_PENDING || !isRecord(params)) return;
    const { id, approvalId, expiresAt } = params;
    if (typeof id !== 'number' || typeof approvalId !== 'string' || typeof expiresAt !== 'string') {
      return;
    }
    const onPending = this.pending.get(id)?.onPending;
    try {
      onPending?.({ approvalId, expiresAt });
    } catch {
      // A throwing callback must not break the connection or the other requests.
    }
  }

  private failAll(code: 'IO' | 'PROTOCOL', cause: string): void {
    this.shutdown((action) => new KeychainError(code, `failed to ${action}: ${cause}`));
  }

  /** Closes for good and rejects everything in flight, each with its own action. */
  private shutdown(errorFor: (action: string) => KeychainError): void {
    if (this.closed) return;
    this.closed = true;
    this.splitter.close();
    this.socket.destroy();
    for (const id of [...this.pending.keys()]) {
      const entry = this.take(id);
      entry?.reject(errorFor(entry.action));
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asRpcError(value: unknown): RpcErrorObject | null {
  if (!isRecord(value) || !Number.isInteger(value.code) || typeof value.message !== 'string') {
    return null;
  }
  const data = isRecord(value.data) && typeof value.data.reason === 'string' ? value.data : null;
  return {
    code: value.code as number,
    message: value.message,
    ...(data === null ? {} : { data: { reason: data.reason as string } }),
  };
}
