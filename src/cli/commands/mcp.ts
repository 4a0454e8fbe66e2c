/**
 * `akc mcp`: an MCP server on stdio for LLM agents. It lets the model use secrets without
 * ever seeing one:
 *
 *   list_secrets      names, types and descriptions (from the host, like `secret.list`)
 *   http_request      a call through a brokering-proxy binding (the host adds the key and
 *                     scrubs it from the response)
 *   run_with_secrets  a command run by `akc run` (values only in the command's environment,
 *                     its output redacted), with a time limit
 *
 * This process never holds a value: the host sees `akc mcp` (or the `akc run` it starts)
 * as the requester, with the parent chain (the agent that launched the MCP server) in the
 * approval prompt; `--agent NAME` is passed as the agent hint. Every call goes through the
 * host's policy, approval and audit. stdout carries MCP only; notes go to stderr.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { connect } from '../../sdk/index.js';
import { MAX_PURPOSE_LENGTH } from '../../shared/protocol.js';
import { option } from '../args.js';
import type { CommandContext } from '../context.js';
import { proxySocketPath } from '../../core/proxy/config.js';

const VERSION = '0.1.0';
const MAX_BODY_BYTES = 256 * 1024;
const MAX_OUTPUT_BYTES = 256 * 1024;
const DEFAULT_HTTP_TIMEOUT_MS = 180_000;
const DEFAULT_RUN_TIMEOUT_MS = 60_000;
const MAX_RUN_TIMEOUT_MS = 600_000;
const KILL_GRACE_MS = 2_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** bin/akc.js of this install (dist/src/cli/commands/mcp.js → bin/akc.js). */
function akcBin(): string {
  const beside = fileURLToPath(new URL('../../../../bin/akc.js', import.meta.url));
  if (fs.existsSync(beside)) return beside;
  return process.argv[1] ?? beside;
}

function text(value: unknown, isError = false): CallToolResult {
  const structured = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  return {
    content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
    structuredContent: structured,
    ...(isError ? { isError } : {}),
  };
}

function failure(message: string, reason = 'ERROR'): CallToolResult {
  return text({ error: { reason, message } }, true);
}

export async function mcp(ctx: CommandContext): Promise<number> {
  const agent = option(ctx.args, 'agent');
  const defaultPurpose = option(ctx.args, 'purpose');
  const proxySocket = proxySocketPath(ctx.paths.socket);
  const purposeOf = (p: string | undefined): string | undefined => {
    const v = p ?? defaultPurpose;
    return v === undefined ? undefined : v.slice(0, MAX_PURPOSE_LENGTH);
  };

  const server = new McpServer(
    { name: 'agent-keychain', version: VERSION },
    {
      instructions:
        'Agent Keychain keeps API keys and passwords out of your context. Use list_secrets to see what exists, ' +
        'http_request to call an API through a proxy binding (the key is added for you), and run_with_secrets to ' +
        'run a command with secrets in its environment. You never receive a secret value; a human may have to ' +
        'approve a call first.',
    },
  );

  server.registerTool(
    'list_secrets',
    {
      title: 'List secrets',
      description: 'Names, types and descriptions of the secrets in the keychain (never values).',
      inputSchema: {},
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => {
      try {
        const client = await connect({
          socketPath: ctx.paths.socket,
          client: { name: 'akc-mcp', version: VERSION },
          ...(agent ? { agent } : {}),
        });
        try {
          const secrets = await client.listSecrets();
          return text({ secrets: secrets.map((s) => ({ name: s.name, type: s.type, description: s.description })) });
        } finally {
          await client.close();
        }
      } catch (err) {
        return failure(errorMessage(err), 'HOST');
      }
    },
  );

  server.registerTool(
    'http_request',
    {
      title: 'HTTP request through the keychain proxy',
      description:
        'Calls an API through a brokering-proxy binding (see `akc proxy list`): the request goes to the binding’s ' +
        'upstream with the credential added by the keychain host. `path` is the upstream path, e.g. /v1/models. ' +
        'Returns status, headers and body; any secret value is scrubbed. May wait for a human approval.',
      inputSchema: {
        binding: z.string().min(1).max(64).describe('the proxy binding name'),
        method: z
          .string()
          .regex(/^[A-Za-z]+$/)
          .default('GET')
          .describe('HTTP method'),
        path: z.string().startsWith('/').max(8192).describe('path (and query) on the upstream, starting with /'),
        headers: z.record(z.string(), z.string()).optional().describe('extra request headers (auth headers are ignored)'),
        body: z
          .string()
          .max(10 * 1024 * 1024)
          .optional()
          .describe('request body (text)'),
        purpose: z.string().max(MAX_PURPOSE_LENGTH).optional().describe('why, shown to the human approving'),
        timeoutMs: z.number().int().min(1000).max(600_000).optional(),
      },
      annotations: { openWorldHint: true },
    },
    async (args) => {
      try {
        const r = await proxyRequest(proxySocket, {
          binding: args.binding,
          method: args.method.toUpperCase(),
          path: args.path,
          headers: args.headers ?? {},
          body: args.body,
          agent,
          purpose: purposeOf(args.purpose),
          timeoutMs: args.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
        });
        return text(r, r.proxyError !== null);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
          return failure(
            `the brokering proxy is not running (no socket at ${proxySocket}); start the Agent Keychain app or \`akc daemon\``,
            'HOST',
          );
        }
        return failure(errorMessage(err), 'PROXY');
      }
    },
  );

  server.registerTool(
    'run_with_secrets',
    {
      title: 'Run a command with secrets in its environment',
      description:
        'Runs `command args…` (no shell) through `akc run`, with each env variable set to the named secret. ' +
        'Returns exit code and output with every secret value redacted. May wait for a human approval.',
      inputSchema: {
        command: z.string().min(1).describe('the program to run (looked up on PATH)'),
        args: z.array(z.string()).default([]).describe('its arguments'),
        env: z.record(z.string().regex(ENV_NAME), z.string().min(1)).describe('environment variable → secret name'),
        timeoutMs: z
          .number()
          .int()
          .min(100)
          .max(MAX_RUN_TIMEOUT_MS)
          .optional()
          .describe(`time limit (default ${DEFAULT_RUN_TIMEOUT_MS} ms)`),
        cwd: z.string().optional().describe('working directory'),
        purpose: z.string().max(MAX_PURPOSE_LENGTH).optional().describe('why, shown to the human approving'),
      },
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    async (args) => {
      const pairs = Object.entries(args.env);
      if (pairs.length === 0) return failure('give at least one env entry: {"VAR": "SECRET_NAME"}', 'INVALID_PARAMS');
      const purpose = purposeOf(args.purpose);
      const argv = [
        akcBin(),
        'run',
        ...pairs.flatMap(([v, s]) => ['--env', `${v}=${s}`]),
        ...(purpose !== undefined ? ['--purpose', purpose] : []),
        ...(agent ? ['--agent', agent] : []),
        // The model chose this command: the approval must say so (the host also sees `akc mcp` as the parent).
        '--agent-chosen',
        '--',
        args.command,
        ...args.args,
      ];
      const r = await runCapture(process.execPath, argv, {
        timeoutMs: args.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS,
        ...(args.cwd ? { cwd: path.resolve(args.cwd) } : {}),
      });
      return text(r, r.timedOut || r.exitCode !== 0);
    },
  );

  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  ctx.note(`MCP server ready (agent socket ${ctx.paths.socket}, proxy ${proxySocket})`);
  await closed;
  await server.close().catch(() => undefined);
  return 0;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface ProxyCall {
  binding: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  agent: string | undefined;
  purpose: string | undefined;
  timeoutMs: number;
}

interface ProxyResult {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
  bodyEncoding: 'utf8' | 'base64';
  truncated: boolean;
  /** Set when the proxy itself refused or failed (DENIED, APPROVAL_TIMEOUT, UPSTREAM_ERROR…). */
  proxyError: string | null;
}

/** One request over the proxy's Unix socket. */
function proxyRequest(socketPath: string, call: ProxyCall): Promise<ProxyResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...call.headers };
    if (call.agent) headers['x-akc-agent'] = call.agent;
    if (call.purpose) headers['x-akc-purpose'] = call.purpose;
    const body = call.body === undefined ? undefined : Buffer.from(call.body, 'utf8');
    if (body) headers['content-length'] = String(body.length);
    const req = http.request({
      socketPath,
      method: call.method,
      path: `/${encodeURIComponent(call.binding)}${call.path}`,
      headers,
      timeout: call.timeoutMs,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${call.timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      res.on('data', (c: Buffer) => {
        if (size >= MAX_BODY_BYTES) {
          truncated = true;
          return;
        }
        const take = c.subarray(0, MAX_BODY_BYTES - size);
        if (take.length < c.length) truncated = true;
        chunks.push(take);
        size += take.length;
      });
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const utf8 = buf.toString('utf8');
        const isText = Buffer.from(utf8, 'utf8').equals(buf);
        const proxyError = res.headers['x-akc-proxy-error'];
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers as Record<string, string | string[]>,
          body: isText ? utf8 : buf.toString('base64'),
          bodyEncoding: isText ? 'utf8' : 'base64',
          truncated,
          proxyError: typeof proxyError === 'string' ? proxyError : null,
        });
      });
    });
    req.end(body);
  });
}

interface RunResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** Runs `akc run …` with a time limit, capturing (bounded) output. */
function runCapture(cmd: string, argv: string[], opts: { timeoutMs: number; cwd?: string }): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
    let truncated = false;
    const collect = (stream: NodeJS.ReadableStream): (() => string) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        if (size >= MAX_OUTPUT_BYTES) {
          truncated = true;
          return;
        }
        const take = c.subarray(0, MAX_OUTPUT_BYTES - size);
        if (take.length < c.length) truncated = true;
        chunks.push(take);
        size += take.length;
      });
      return () => Buffer.concat(chunks).toString('utf8');
    };
    const out = collect(child.stdout);
    const err = collect(child.stderr);
    let timedOut = false;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM'); // `akc run` forwards it to the command
      killer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    }, opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ exitCode: null, signal: null, timedOut, stdout: '', stderr: `failed to start akc run: ${e.message}`, truncated });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      resolve({ exitCode: code, signal, timedOut, stdout: out(), stderr: err(), truncated });
    });
  });
}
