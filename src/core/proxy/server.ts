/**
 * The brokering proxy: agents call `/<binding>/<path>` on loopback TCP or on the
 * proxy's Unix socket with no key at all; the host identifies the calling process from
 * the kernel, applies the same policy, approval and audit as `secret.get` (the prompt
 * shows method, host and path), adds the credential on the way out and scrubs it from
 * whatever comes back. The value never enters the agent's process.
 *
 * Outbound rules: the caller's own credentials (Authorization, Proxy-Authorization,
 * Cookie, X-Api-Key, the binding's header) are dropped; TLS is verified against the
 * system roots; redirects are never followed (a 3xx goes back with its Location rewritten
 * to the binding when same-origin, removed when cross-host); private, loopback and
 * link-local upstream addresses are refused unless the binding allows them; Set-Cookie is
 * stripped; the body streams back through a scrubber. Errors made by the proxy itself
 * are JSON `{"error":{"reason","message"}}` with an `x-akc-proxy-error` header.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { isAkcError, type ErrorCode } from '../../shared/errors.js';
import { MAX_PURPOSE_LENGTH } from '../../shared/protocol.js';
import type { Host } from '../host/host.js';
import { identifyPeer, getPeerCredentials, type PeerIdentity } from '../identity/index.js';
import type { Logger } from '../logger.js';
import type { Requester } from '../policy/requester.js';
import { prepareSocketPath } from '../server/socket-file.js';
import { PrivateAddressError, ResolveError, pinnedLookup, resolveUpstream } from './address.js';
import { BindingStore, SECRET_PLACEHOLDER, allowedBy, type ProxyBinding } from './bindings.js';
import { Scrubber, needlesFor } from './scrub.js';
import { CallerRefused, identifyTcpPeer } from './tcp-peer.js';

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 120_000;
export const AGENT_HEADER = 'x-akc-agent';
export const PURPOSE_HEADER = 'x-akc-purpose';
export const ERROR_HEADER = 'x-akc-proxy-error';

export interface ProxyServerOptions {
  host: Host;
  logger: Logger;
  /** Unix socket path (null: none). */
  socketPath?: string | null;
  /** Loopback TCP port (0: any free port; null: no TCP listener). */
  port?: number | null;
  /** Upstream idle timeout (no bytes for this long → 504, or the stream is cut). */
  upstreamTimeoutMs?: number;
}

type Caller = { ok: true; identity: PeerIdentity } | { ok: false; status: number; reason: string; message: string };

/** Request headers that never go upstream: hop-by-hop, framing, and the caller's own credentials. */
const DROP_REQUEST = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'accept-encoding',
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-api-key',
  AGENT_HEADER,
  PURPOSE_HEADER,
]);

/** Response headers that never go back: hop-by-hop, framing we redo, cookies. */
const DROP_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'set-cookie',
  'set-cookie2',
  'proxy-authenticate',
]);

const STATUS_FOR: Partial<Record<ErrorCode, number>> = {
  DENIED: 403,
  LOCKED: 403,
  APPROVAL_TIMEOUT: 403,
  REVOKED: 403,
  EXPIRED: 403,
  RATE_LIMITED: 429,
  NOT_FOUND: 404,
  INVALID_ARGUMENT: 400,
};

class ProxyFailure extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export class ProxyServer {
  private tcp: http.Server | null = null;
  private unix: http.Server | null = null;
  private readonly callers = new WeakMap<net.Socket, Promise<Caller>>();
  private readonly bindings: BindingStore;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly timeoutMs: number;
  private boundPort: number | null = null;

  constructor(private readonly opts: ProxyServerOptions) {
    this.bindings = new BindingStore(opts.host.vault.db);
    this.timeoutMs = opts.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  }

  /** The TCP URL (`http://127.0.0.1:PORT`) once listening, else null. */
  get url(): string | null {
    return this.boundPort === null ? null : `http://127.0.0.1:${this.boundPort}`;
  }

  get port(): number | null {
    return this.boundPort;
  }

  get socketPath(): string | null {
    return this.unix ? (this.opts.socketPath ?? null) : null;
  }

  /** Starts the Unix socket listener (if configured). */
  async listenUnix(): Promise<void> {
    const socketPath = this.opts.socketPath;
    if (!socketPath || process.platform === 'win32') return;
    await prepareSocketPath(socketPath);
    const server = this.createServer('unix');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(socketPath, 0o600);
    server.on('error', (err) => this.opts.logger.error(`proxy socket error: ${err.message}`));
    this.unix = server;
  }

  /** Starts the loopback TCP listener on `port` (0 = any). Rejects with EADDRINUSE etc. */
  async listenTcp(port: number): Promise<number> {
    const server = this.createServer('tcp');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.logger.error(`proxy listener error: ${err.message}`));
    this.tcp = server;
    this.boundPort = (server.address() as net.AddressInfo).port;
    return this.boundPort;
  }

  async close(): Promise<void> {
    const servers = [this.tcp, this.unix].filter((s): s is http.Server => s !== null);
    this.tcp = null;
    this.boundPort = null;
    const unixPath = this.unix ? this.opts.socketPath : null;
    this.unix = null;
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    if (unixPath) {
      try {
        fs.unlinkSync(unixPath);
      } catch {
        // already gone
      }
    }
  }

  private createServer(kind: 'tcp' | 'unix'): http.Server {
    const server = http.createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 30_000 }, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.error(`proxy: internal error: ${err instanceof Error ? err.name : typeof err}`);
        if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
        else res.destroy();
      });
    });
    server.maxConnections = 512;
    server.on('connection', (socket: net.Socket) => {
      const caller = this.identify(socket, kind);
      caller.catch(() => undefined);
      this.callers.set(socket, caller);
    });
    server.on('upgrade', (_req, socket: net.Socket) => {
      socket.end(rawError(501, 'NOT_SUPPORTED', 'protocol upgrades (WebSocket) are not proxied'));
    });
    server.on('connect', (_req, socket: net.Socket) => {
      socket.end(rawError(405, 'NOT_SUPPORTED', 'this is not a forward proxy: call /<binding>/<path>'));
    });
    server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end(rawError(400, 'BAD_REQUEST', 'malformed HTTP request'));
      else socket.destroy();
    });
    return server;
  }

  /** Who is calling, from the kernel. Runs once per connection, while the request is read. */
  private async identify(socket: net.Socket, kind: 'tcp' | 'unix'): Promise<Caller> {
    const log = this.opts.logger;
    try {
      if (kind === 'unix') {
        const creds = getPeerCredentials(socket);
        if (creds.uid !== process.getuid?.()) {
          log.warn(`proxy: refused pid ${creds.pid}: uid ${creds.uid} is not ours`);
          return { ok: false, status: 403, reason: 'DENIED', message: 'denied: the caller runs as another user' };
        }
        return { ok: true, identity: await identifyPeer(socket) };
      }
      return { ok: true, identity: await identifyTcpPeer(socket) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.warn(`proxy: refused a ${kind} caller: ${message}`);
      if (err instanceof CallerRefused && err.otherUser) {
        return { ok: false, status: 403, reason: 'DENIED', message: 'denied: the caller runs as another user' };
      }
      return { ok: false, status: 403, reason: 'DENIED', message: `denied: cannot identify the calling process (${message})` };
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const caller = (await this.callers.get(req.socket)) ?? {
      ok: false as const,
      status: 403,
      reason: 'DENIED',
      message: 'denied: unknown connection',
    };
    if (!caller.ok) {
      res.setHeader('connection', 'close');
      return sendError(res, caller.status, caller.reason, caller.message, req);
    }
    let target: Target;
    try {
      target = this.parseTarget(req);
    } catch (err) {
      if (err instanceof ProxyFailure) return sendError(res, err.status, err.reason, err.message, req);
      throw err;
    }
    const { binding, upstream, path } = target;
    const method = req.method ?? 'GET';
    const httpInfo = { method, host: upstream.host, path };
    const hint = headerText(req.headers[AGENT_HEADER]);
    const purposeText = headerText(req.headers[PURPOSE_HEADER]);
    const purpose = purposeText ? purposeText.slice(0, MAX_PURPOSE_LENGTH) : null;
    const host = this.opts.host;
    const requester = await host.requesterFor({ identity: caller.identity, ...(hint ? { agentHint: hint } : {}) });
    const who = { agent: requester.label, pid: requester.identity.pid, exe: requester.identity.exe };
    const detail = { binding: binding.name, ...httpInfo };

    const refuse = (status: number, reason: string, message: string, auditReason: string): void => {
      this.audit({
        ...who,
        event: 'proxy.deny',
        secret: binding.secret,
        decision: 'deny',
        purpose,
        reason: auditReason,
        detail: { ...detail, status },
      });
      sendError(res, status, reason, message, req);
    };

    // 1. The binding's own rules, before anything else.
    if (!allowedBy(binding, method, path)) {
      return refuse(
        403,
        'DENIED',
        `denied: ${method} ${path} is not allowed by proxy binding ${binding.name}`,
        'not allowed by the binding',
      );
    }
    // 2. Where the request would go (checked before bothering a human).
    let addresses;
    try {
      addresses = await resolveUpstream(upstream.hostname, binding.allowPrivate);
    } catch (err) {
      if (err instanceof PrivateAddressError) {
        return refuse(
          403,
          'DENIED',
          `denied: ${err.message}; the binding needs --allow-private to reach it`,
          `private upstream address ${err.address}`,
        );
      }
      if (err instanceof ResolveError) return refuse(502, 'UPSTREAM_ERROR', err.message, 'upstream does not resolve');
      throw err;
    }
    // 3. Policy and approval (the prompt shows method, host and path). A caller that hangs
    // up while it waits withdraws its approval (nothing is sent for a caller that is gone).
    const gone = new AbortController();
    const hungUp = (): void => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', hungUp);
    if (res.destroyed || req.socket.destroyed) gone.abort();
    let auth: { value: Buffer; version: number; grantId: string | null };
    try {
      auth = await host.authorizeProxy(
        requester,
        { secret: binding.secret, http: httpInfo, purpose, detail: { binding: binding.name } },
        (p) =>
          this.opts.logger.info(
            `proxy: ${requester.label} (pid ${requester.identity.pid}) waits for approval ${p.id}: ${method} ${upstream.host}${path}`,
          ),
        gone.signal,
      );
    } catch (err) {
      if (gone.signal.aborted) return; // withdrawn and audited by the host; nobody to answer
      if (isAkcError(err)) {
        const status = STATUS_FOR[err.code] ?? 500;
        const reason = status === 500 ? 'INTERNAL' : err.code;
        return sendError(res, status, reason, status === 500 ? 'internal error' : err.message, req);
      }
      throw err;
    } finally {
      res.off('close', hungUp);
    }
    // The binding was read before the approval, maybe while locked (unverifiable): check it
    // now, before the secret goes anywhere (src/core/integrity).
    if (!this.bindings.stillTrusted(binding)) {
      auth.value.fill(0);
      return refuse(
        403,
        'DENIED',
        `denied: proxy binding ${binding.name} failed its integrity check; see \`akc alerts\``,
        'binding tampered',
      );
    }
    if (res.destroyed || req.socket.destroyed) {
      auth.value.fill(0);
      this.audit({
        ...who,
        event: 'proxy.request',
        secret: binding.secret,
        version: auth.version,
        decision: 'allow',
        purpose,
        reason: 'the caller went away before the request was sent',
        detail: { ...detail, status: null, bytes: 0, requestBytes: 0, latencyMs: msSince(started) },
      });
      return;
    }
    this.forward(req, res, { target, requester, auth, addresses, purpose, started, detail, who });
  }

  private parseTarget(req: http.IncomingMessage): Target {
    const url = req.url ?? '';
    if (!url.startsWith('/')) throw new ProxyFailure(400, 'BAD_REQUEST', 'this is not a forward proxy: call /<binding>/<path>');
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const m = /^\/([^/]+)(\/.*)?$/.exec(rawPath);
    if (!m) throw new ProxyFailure(404, 'NOT_FOUND', 'call /<binding>/<path>; see `akc proxy list`');
    const name = m[1]!;
    const rest = m[2] ?? '/';
    for (const seg of rest.split('/')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(seg);
      } catch {
        throw new ProxyFailure(400, 'BAD_REQUEST', 'malformed percent-encoding in the path');
      }
      if (decoded === '.' || decoded === '..' || decoded.includes('/') || decoded.includes('\\')) {
        throw new ProxyFailure(400, 'BAD_REQUEST', 'the path may not contain dot segments or encoded slashes');
      }
    }
    const binding = this.bindings.get(name);
    if (!binding) throw new ProxyFailure(404, 'NOT_FOUND', `no proxy binding named ${name}; see \`akc proxy list\``);
    const upstream = new URL(binding.upstream);
    const base = upstream.pathname.replace(/\/+$/, '');
    return { binding, upstream, path: base + rest, query };
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, ctx: ForwardContext): void {
    const { target, auth, addresses, started, detail, who, purpose } = ctx;
    const { binding, upstream } = target;
    const secretText = auth.value.toString('utf8');
    const headers: http.OutgoingHttpHeaders = {};
    const dropNamed = new Set(DROP_REQUEST);
    for (const token of headerText(req.headers.connection)?.split(',') ?? []) dropNamed.add(token.trim().toLowerCase());
    if (binding.auth.kind === 'header') dropNamed.add(binding.auth.header.toLowerCase());
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      const lower = name.toLowerCase();
      if (dropNamed.has(lower)) continue;
      const prev = headers[lower];
      const value = req.rawHeaders[i + 1]!;
      headers[lower] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
    }
    headers['accept-encoding'] = 'identity';
    const extraNeedles: Buffer[] = [];
    let query = target.query;
    switch (binding.auth.kind) {
      case 'header':
        headers[binding.auth.header.toLowerCase()] = binding.auth.template.replace(SECRET_PLACEHOLDER, () => secretText);
        break;
      case 'basic': {
        const token = Buffer.from(`${binding.auth.user}:${secretText}`).toString('base64');
        headers.authorization = `Basic ${token}`;
        extraNeedles.push(Buffer.from(token));
        break;
      }
      case 'query': {
        const params = new URLSearchParams(query);
        params.delete(binding.auth.param);
        const value = binding.auth.template.replace(SECRET_PLACEHOLDER, () => secretText);
        params.append(binding.auth.param, value);
        query = params.toString();
        const encoded = new URLSearchParams({ v: secretText }).toString().slice(2);
        extraNeedles.push(Buffer.from(encoded));
        break;
      }
    }
    const scrubber = new Scrubber(needlesFor(auth.value, extraNeedles), binding.secret);
    auth.value.fill(0);

    let requestBytes = 0;
    let responseBytes = 0;
    let status: number | null = null;
    let finished = false;
    const finish = (error: string | null): void => {
      if (finished) return;
      finished = true;
      scrubber.wipe();
      this.audit({
        ...who,
        event: 'proxy.request',
        secret: binding.secret,
        version: auth.version,
        decision: 'allow',
        purpose,
        reason: error ?? (auth.grantId ? `grant ${auth.grantId}` : 'approved'),
        detail: { ...detail, status, bytes: responseBytes, requestBytes, latencyMs: msSince(started) },
      });
    };

    const isHttps = upstream.protocol === 'https:';
    const hostname = upstream.hostname.startsWith('[') ? upstream.hostname.slice(1, -1) : upstream.hostname;
    const options: https.RequestOptions = {
      protocol: upstream.protocol,
      hostname,
      port: upstream.port ? Number(upstream.port) : isHttps ? 443 : 80,
      method: req.method,
      path: target.path + (query ? `?${query}` : ''),
      headers,
      lookup: pinnedLookup(addresses),
      agent: isHttps ? this.httpsAgent : this.httpAgent,
      timeout: this.timeoutMs,
      ...(isHttps ? { rejectUnauthorized: true, ...(net.isIP(hostname) ? {} : { servername: hostname }) } : {}),
    };
    let upReq: http.ClientRequest;
    try {
      upReq = (isHttps ? https : http).request(options);
    } catch (err) {
      // E.g. a value with characters a header cannot carry: nothing was sent.
      status = 502;
      const message = `the request cannot be sent upstream: ${(err as NodeJS.ErrnoException).code ?? 'invalid request'}`;
      sendError(res, 502, 'UPSTREAM_ERROR', message, req);
      finish(message);
      return;
    }
    let timedOut = false;
    upReq.on('timeout', () => {
      timedOut = true;
      upReq.destroy(new Error('upstream timed out'));
    });
    upReq.on('error', (err) => {
      const reason = timedOut ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR';
      const code = timedOut ? 504 : 502;
      const message = timedOut
        ? `the upstream did not answer within ${Math.round(this.timeoutMs / 1000)} s`
        : `the upstream request failed: ${scrubber.scrubString(describeNetError(err))}`;
      if (!res.headersSent) {
        status = code;
        sendError(res, code, reason, message, req);
      } else res.destroy();
      finish(message);
    });
    // The caller hung up: stop the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) {
        upReq.destroy();
        finish('the caller closed the connection');
      }
    });

    upReq.on('response', (upRes) => {
      status = upRes.statusCode ?? 502;
      let decoder: Transform | null;
      try {
        decoder = decoderFor(headerText(upRes.headers['content-encoding']));
      } catch (err) {
        upRes.destroy();
        status = 502;
        sendError(res, 502, 'UPSTREAM_ERROR', (err as Error).message, req);
        finish((err as Error).message);
        return;
      }
      try {
        res.writeHead(status, responseHeaders(upRes.rawHeaders, scrubber, target, decoder !== null));
      } catch {
        upRes.destroy();
        status = 502;
        sendError(res, 502, 'UPSTREAM_ERROR', 'the upstream sent a response that cannot be passed on', req);
        finish('unusable upstream response headers');
        return;
      }
      const counter = new Transform({
        transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
          responseBytes += chunk.length;
          cb(null, chunk);
        },
      });
      const stages: NodeJS.ReadWriteStream[] = [counter, ...(decoder ? [decoder] : []), scrubber.stream()];
      pipeline([upRes, ...stages, res] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], (err) => {
        finish(err ? `the response stream failed: ${err instanceof Error ? err.message : 'error'}` : null);
      });
    });

    req.on('data', (chunk: Buffer) => {
      requestBytes += chunk.length;
    });
    req.pipe(upReq);
  }

  private audit(fields: Parameters<Host['record']>[0]): void {
    try {
      this.opts.host.record(fields);
    } catch (err) {
      this.opts.logger.error(`proxy: failed to write an audit entry: ${err instanceof Error ? err.message : 'error'}`);
    }
  }
}

interface Target {
  binding: ProxyBinding;
  upstream: URL;
  /** The path as sent upstream (base path + rest), without the query. */
  path: string;
  query: string;
}

interface ForwardContext {
  target: Target;
  requester: Requester;
  auth: { value: Buffer; version: number; grantId: string | null };
  addresses: Awaited<ReturnType<typeof resolveUpstream>>;
  purpose: string | null;
  started: bigint;
  detail: Record<string, unknown>;
  who: { agent: string; pid: number; exe: string | null };
}

function headerText(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

function msSince(started: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
}

function describeNetError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}${e.message ? ` (${e.message})` : ''}` : e.message || 'error';
}

function errorBody(reason: string, message: string): string {
  return JSON.stringify({ error: { reason, message } });
}

function sendError(res: http.ServerResponse, status: number, reason: string, message: string, req?: http.IncomingMessage): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = errorBody(reason, message);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    [ERROR_HEADER]: reason,
  });
  res.end(body);
  // Discard an unread request body so the connection can be reused.
  req?.resume();
}

function rawError(status: number, reason: string, message: string): string {
  const body = errorBody(reason, message);
  return (
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
    `${ERROR_HEADER}: ${reason}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

/** A decoder for the response's content-encoding (we ask for identity; some servers compress anyway). */
function decoderFor(encoding: string | undefined): Transform | null {
  const codings = (encoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return null;
  if (codings.length > 1) throw new Error(`unsupported content-encoding ${encoding}`);
  switch (codings[0]) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    default:
      throw new Error(`unsupported content-encoding ${encoding}`);
  }
}

/** Response headers for the caller: scrubbed, cookies and hop-by-hop removed, Location kept on the proxy. */
function responseHeaders(raw: string[], scrubber: Scrubber, target: Target, decoded: boolean): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  const add = (name: string, value: string): void => {
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  };
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (DROP_RESPONSE.has(lower)) continue;
    if (decoded && lower === 'content-encoding') continue;
    if (lower === 'location') {
      const loc = rewriteLocation(value, target);
      if (loc.kind === 'proxy') add('location', scrubber.scrubString(loc.value));
      else add('x-akc-redirect-blocked', scrubber.scrubString(`redirect to ${loc.origin} not followed (another host)`));
      continue;
    }
    add(lower, scrubber.scrubString(value));
  }
  return out;
}

/** Same-origin redirects stay on the proxy (`/<binding>/…`); others are not passed on. */
function rewriteLocation(value: string, target: Target): { kind: 'proxy'; value: string } | { kind: 'blocked'; origin: string } {
  let to: URL;
  try {
    to = new URL(value, `${target.upstream.origin}${target.path}`);
  } catch {
    return { kind: 'blocked', origin: 'an invalid URL' };
  }
  if (to.origin !== target.upstream.origin) return { kind: 'blocked', origin: to.origin };
  const base = target.upstream.pathname.replace(/\/+$/, '');
  if (base && to.pathname !== base && !to.pathname.startsWith(base + '/')) return { kind: 'blocked', origin: `${to.origin}${to.pathname}` };
  const rest = to.pathname.slice(base.length) || '/';
  return { kind: 'proxy', value: `/${target.binding.name}${rest}${to.search}` };
}
