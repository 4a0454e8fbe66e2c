/**
 * Receiver-side validation of wire protocol v1. The host runs every incoming
 * line through decodeRequestLine; tests also check the host's results against the result
 * schemas. Objects are strict: an unknown key is an error, not silently dropped, so a
 * typo'd `purpouse` is reported instead of ignored.
 *
 * Error phrases name paths, expected types and limits only — never the input — because a
 * confused agent may put a secret value anywhere.
 */
import { z } from 'zod';
import {
  APPROVAL_PENDING,
  JSONRPC_VERSION,
  MAX_COMMAND_ARGS,
  MAX_COMMAND_CHARS,
  MAX_COMMAND_EXE_LENGTH,
  MAX_GET_MANY_NAMES,
  MAX_PURPOSE_LENGTH,
  MAX_REQUEST_ID_LENGTH,
  PROTOCOL_VERSION,
  isAgentMethod,
  rpcError,
} from './protocol.js';
import type { AgentMethod, AgentMethods, ParamsOf, RequestId, RpcErrorObject, SecretGetParams } from './protocol.js';
import { SECRET_NAME_PATTERN, SECRET_TYPES } from './secrets.js';

export const MAX_CLIENT_FIELD_LENGTH = 64;
export const MAX_AGENT_HINT_LENGTH = 64;
export const MAX_LEASE_ID_LENGTH = 128;

const secretName = z.string().regex(SECRET_NAME_PATTERN, {
  error: 'expected a secret name (1-128 of A-Z a-z 0-9 _ . - /)',
});
const positiveInt = z.int().positive();
const shortString = (max: number) => z.string().min(1).max(max);
const isoTime = z.iso.datetime({ offset: true });
const empty = z.strictObject({});

/** RunCommand: bounded, so one claim cannot fill a prompt or the audit log. */
const runCommand = z.strictObject({
  argv: z
    .array(z.string().max(MAX_COMMAND_CHARS))
    .min(1)
    .max(MAX_COMMAND_ARGS)
    .refine((argv) => argv[0] !== '', { error: 'expected a non-empty command' })
    .refine((argv) => argv.reduce((n, a) => n + a.length, 0) <= MAX_COMMAND_CHARS, {
      error: `expected at most ${MAX_COMMAND_CHARS} characters over all arguments`,
    }),
  exe: z.string().min(1).max(MAX_COMMAND_EXE_LENGTH).optional(),
  agentChosen: z.boolean().optional(),
});

// ---------------------------------------------------------------------------------------
// Params

export const paramsSchemas = {
  hello: z.strictObject({
    client: z
      .strictObject({
        name: shortString(MAX_CLIENT_FIELD_LENGTH),
        version: shortString(MAX_CLIENT_FIELD_LENGTH),
      })
      .optional(),
    agent: shortString(MAX_AGENT_HINT_LENGTH).optional(),
  }),
  status: empty,
  'secret.list': empty,
  'secret.get': z.strictObject({
    name: secretName,
    purpose: z.string().max(MAX_PURPOSE_LENGTH).optional(),
    version: positiveInt.optional(),
  }),
  'secret.getMany': z.strictObject({
    names: z
      .array(secretName)
      .min(1)
      .max(MAX_GET_MANY_NAMES)
      .refine((names) => new Set(names).size === names.length, { error: 'expected distinct names' }),
    purpose: z.string().max(MAX_PURPOSE_LENGTH).optional(),
    command: runCommand.optional(),
  }),
  'lease.list': empty,
  'lease.revoke': z.strictObject({ id: shortString(MAX_LEASE_ID_LENGTH) }),
} satisfies { [M in AgentMethod]: z.ZodType<ParamsOf<M>> };

/** A request narrowed by method: checking `method` types `params`. */
export type TypedRequest = { [M in AgentMethod]: { method: M; params: ParamsOf<M> } }[AgentMethod];

export type ParseParamsResult =
  | ({ ok: true } & TypedRequest)
  /** `reason` is a short human phrase, meant for the error's `message`. */
  | { ok: false; code: -32601 | -32602; reason: string };

/** Validates a request's params; absent params count as `{}`. */
export function parseRequestParams(method: string, params: unknown): ParseParamsResult {
  if (!isAgentMethod(method)) {
    return { ok: false, code: -32601, reason: `unknown method: ${clip(method)}` };
  }
  if (method === 'secret.get') {
    const fast = fastSecretGetParams(params);
    if (fast) return { ok: true, method, params: fast };
  }
  const parsed = paramsSchemas[method].safeParse(params ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      code: -32602,
      reason: `malformed ${method} params: ${describeIssues(parsed.error.issues)}`,
    };
  }
  return { ok: true, method, params: parsed.data } as ParseParamsResult;
}

// ---------------------------------------------------------------------------------------
// Results and notifications (the host's side of the contract, checked in tests)

const vaultState = z.enum(['locked', 'unlocked']);
const secretType = z.enum(SECRET_TYPES);

export const resultSchemas = {
  hello: z.strictObject({
    protocol: z.literal(PROTOCOL_VERSION),
    server: z.strictObject({ name: z.string(), version: z.string() }),
    peer: z.strictObject({
      pid: positiveInt,
      uid: z.int().nonnegative().nullable(),
      exe: z.string().nullable(),
    }),
    agent: z.strictObject({ id: z.string(), name: z.string() }).nullable(),
    vault: vaultState,
  }),
  status: z.strictObject({
    vault: vaultState,
    pendingApprovals: z.int().nonnegative(),
    version: z.string(),
  }),
  'secret.list': z.strictObject({
    secrets: z.array(z.strictObject({ name: secretName, type: secretType, description: z.string().nullable() })),
  }),
  'secret.get': z.strictObject({
    name: secretName,
    version: positiveInt,
    type: secretType,
    value: z.string(),
    lease: z.strictObject({ id: z.string().min(1), expiresAt: isoTime }),
  }),
  'secret.getMany': z.strictObject({
    secrets: z.array(
      z.strictObject({
        name: secretName,
        version: positiveInt,
        type: secretType,
        value: z.string(),
        lease: z.strictObject({ id: z.string().min(1), expiresAt: isoTime }),
      }),
    ),
  }),
  'lease.list': z.strictObject({
    leases: z.array(
      z.strictObject({
        id: z.string().min(1),
        secret: secretName,
        version: positiveInt,
        issuedAt: isoTime,
        expiresAt: isoTime,
      }),
    ),
  }),
  'lease.revoke': z.strictObject({ id: z.string().min(1), revoked: z.boolean() }),
} satisfies { [M in AgentMethod]: z.ZodType<AgentMethods[M]['result']> };

const requestId = z.union([z.int(), z.string().max(MAX_REQUEST_ID_LENGTH)], {
  error: `expected an integer or a string of at most ${MAX_REQUEST_ID_LENGTH} characters`,
});

export const approvalPendingSchema = z.strictObject({
  jsonrpc: z.literal(JSONRPC_VERSION),
  method: z.literal(APPROVAL_PENDING),
  params: z.strictObject({ id: requestId, approvalId: z.string().min(1), expiresAt: isoTime }),
});

const rpcErrorObject = z.strictObject({
  code: z.int(),
  message: z.string(),
  data: z.strictObject({ reason: z.string() }).optional(),
});

/** Any message the host may send: a result, an error, or a notification. */
export const serverMessageSchema = z.union([
  z.strictObject({ jsonrpc: z.literal(JSONRPC_VERSION), id: requestId, result: z.unknown() }),
  z.strictObject({
    jsonrpc: z.literal(JSONRPC_VERSION),
    id: requestId.nullable(),
    error: rpcErrorObject,
  }),
  approvalPendingSchema,
]);

// ---------------------------------------------------------------------------------------
// Request envelope

export const requestEnvelopeSchema = z.strictObject({
  jsonrpc: z.literal(JSONRPC_VERSION, { error: 'expected "2.0"' }),
  id: requestId,
  method: z.string().min(1).max(128),
  params: z.record(z.string(), z.unknown()).optional(),
});

export interface ParsedRequest {
  id: RequestId;
  method: string;
  /** Not yet validated: pass to parseRequestParams. */
  params: Record<string, unknown> | undefined;
}

export type ParseEnvelopeResult =
  | { ok: true; request: ParsedRequest }
  /** `id` is the request's id when it could be read, else null (JSON-RPC says so). */
  | { ok: false; id: RequestId | null; error: RpcErrorObject };

/** Checks the JSON-RPC shape of an already-parsed message (-32600 on failure). */
export function parseRequestEnvelope(value: unknown): ParseEnvelopeResult {
  const fast = fastEnvelope(value);
  if (fast) return { ok: true, request: fast };
  const parsed = requestEnvelopeSchema.safeParse(value);
  if (parsed.success) {
    const { id, method, params } = parsed.data;
    return { ok: true, request: { id, method, params } };
  }
  return {
    ok: false,
    id: readableId(value),
    error: rpcError('INVALID_REQUEST', `invalid request: ${describeIssues(parsed.error.issues)}`),
  };
}

export type DecodeRequestResult = ({ ok: true; id: RequestId } & TypedRequest) | { ok: false; id: RequestId | null; error: RpcErrorObject };

/**
 * One incoming line to a validated request, or to the exact error to answer with:
 * -32700 for bad JSON, -32600 for a bad envelope, -32601 unknown method, -32602 bad params.
 */
export function decodeRequestLine(line: string): DecodeRequestResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, id: null, error: rpcError('PARSE_ERROR', 'parse error: invalid JSON') };
  }
  const envelope = parseRequestEnvelope(value);
  if (!envelope.ok) return envelope;
  const { id, method } = envelope.request;
  const params = parseRequestParams(method, envelope.request.params);
  if (!params.ok) {
    const reason = params.code === -32601 ? 'METHOD_NOT_FOUND' : 'INVALID_PARAMS';
    return { ok: false, id, error: rpcError(reason, params.reason) };
  }
  return { ...params, id };
}

/** The error for an oversized line (over MAX_FRAME_BYTES); the host sends it and closes the connection. */
export function frameTooLargeError(maxBytes: number): RpcErrorObject {
  return rpcError('FRAME_TOO_LARGE', `frame too large: lines are limited to ${maxBytes} bytes`);
}

// ---------------------------------------------------------------------------------------
// Fast paths: hand-written checks for the common, valid case (every secret.get). Each one
// accepts only input its zod schema accepts, and returns what the schema would return;
// anything else (invalid, or merely unusual) returns null and goes through zod, which
// decides and words the error. test/shared/protocol.test.ts checks them against zod.

/** An object literal as JSON.parse makes them (zod's "plain object" for these inputs). */
function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** z.int(): a safe integer (-0 included). */
function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** `requestEnvelopeSchema`, or null to let zod decide. */
export function fastEnvelope(value: unknown): ParsedRequest | null {
  if (!isJsonObject(value)) return null;
  for (const key of Object.keys(value)) {
    if (key !== 'jsonrpc' && key !== 'id' && key !== 'method' && key !== 'params') return null;
  }
  const { jsonrpc, id, method } = value;
  if (jsonrpc !== JSONRPC_VERSION) return null;
  if (!(isInt(id) || (typeof id === 'string' && id.length <= MAX_REQUEST_ID_LENGTH))) return null;
  if (typeof method !== 'string' || method.length < 1 || method.length > 128) return null;
  if (!hasOwn(value, 'params')) return { id, method, params: undefined };
  const params = value.params;
  if (!isJsonObject(params)) return null;
  // z.record copies the object (and drops a "__proto__" key: left to zod).
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(params)) {
    if (key === '__proto__') return null;
    copy[key] = params[key];
  }
  return { id, method, params: copy };
}

/** paramsSchemas['secret.get'], or null to let zod decide. */
export function fastSecretGetParams(params: unknown): SecretGetParams | null {
  if (!isJsonObject(params)) return null;
  for (const key of Object.keys(params)) {
    if (key !== 'name' && key !== 'purpose' && key !== 'version') return null;
  }
  const name = params.name;
  if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) return null;
  const out: SecretGetParams = { name };
  if (hasOwn(params, 'purpose')) {
    const purpose = params.purpose;
    if (typeof purpose !== 'string' || purpose.length > MAX_PURPOSE_LENGTH) return null;
    out.purpose = purpose;
  }
  if (hasOwn(params, 'version')) {
    const version = params.version;
    if (!isInt(version) || !(version > 0)) return null;
    out.version = version;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Helpers

/** The id of an invalid request when it is itself valid, so the error can still be matched. */
function readableId(value: unknown): RequestId | null {
  if (typeof value !== 'object' || value === null || !('id' in value)) return null;
  const parsed = requestId.safeParse(value.id);
  return parsed.success ? parsed.data : null;
}

/** The first issue as "path: problem", plus how many more there are. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const first = issues[0];
  if (first === undefined) return 'invalid';
  const where = first.path.length > 0 ? `${first.path.map(String).join('.')}: ` : '';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return `${where}${describeIssue(first)}${more}`;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${clip(k)}"`).join(', ')}`;
    case 'too_big':
      return issue.origin === 'string' ? `expected at most ${issue.maximum} characters` : `expected at most ${issue.maximum}`;
    case 'too_small':
      if (issue.origin === 'string') {
        return issue.minimum === 1 ? 'expected a non-empty string' : `expected at least ${issue.minimum} characters`;
      }
      return issue.inclusive ? `expected at least ${issue.minimum}` : `expected more than ${issue.minimum}`;
    default:
      // Our own `error:` messages and zod's defaults for the rest; neither quotes input.
      return issue.message;
  }
}

function clip(text: string): string {
  return text.length > 32 ? `${text.slice(0, 32)}…` : text;
}
