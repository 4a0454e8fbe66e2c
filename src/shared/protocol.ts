/**
 * Wire protocol v1 between agents and the host: constants, error codes,
 * method types and JSON-RPC envelopes. Types and plain data only — no zod here, so the
 * zero-dependency SDK can import this file; receivers validate with protocol-schemas.ts.
 */
import type { ErrorCode } from './errors.js';
import type { SecretType } from './secrets.js';

export const PROTOCOL_VERSION = 1;
export const JSONRPC_VERSION = '2.0';
/** Longest line either side accepts, in bytes, excluding the line terminator. */
export const MAX_FRAME_BYTES = 65536;

// ---------------------------------------------------------------------------------------
// Error codes

export const RPC_ERROR_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  LOCKED: -32001,
  DENIED: -32002,
  NOT_FOUND: -32003,
  APPROVAL_TIMEOUT: -32004,
  RATE_LIMITED: -32005,
  REVOKED: -32006,
  EXPIRED: -32007,
  INTERNAL: -32603,
} as const;

export type RpcErrorCode = (typeof RPC_ERROR_CODES)[keyof typeof RPC_ERROR_CODES];

/**
 * Machine-readable `error.data.reason` values. The domain reasons are normative (part of protocol v1);
 * FRAME_TOO_LARGE is normative for -32600 on an oversized line; the reasons for the other
 * JSON-RPC codes are ours, so that every error the host sends carries a reason.
 */
export const RPC_REASONS = [
  'PARSE_ERROR',
  'INVALID_REQUEST',
  'FRAME_TOO_LARGE',
  'METHOD_NOT_FOUND',
  'INVALID_PARAMS',
  'LOCKED',
  'DENIED',
  'NOT_FOUND',
  'APPROVAL_TIMEOUT',
  'RATE_LIMITED',
  'REVOKED',
  'EXPIRED',
  'INTERNAL',
] as const;

export type RpcReason = (typeof RPC_REASONS)[number];

const REASON_TO_RPC_CODE: Readonly<Record<RpcReason, RpcErrorCode>> = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  FRAME_TOO_LARGE: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  LOCKED: -32001,
  DENIED: -32002,
  NOT_FOUND: -32003,
  APPROVAL_TIMEOUT: -32004,
  RATE_LIMITED: -32005,
  REVOKED: -32006,
  EXPIRED: -32007,
  INTERNAL: -32603,
};

/** The default reason for each code (-32600 defaults to INVALID_REQUEST, not FRAME_TOO_LARGE). */
const RPC_CODE_TO_REASON: ReadonlyMap<number, RpcReason> = new Map<number, RpcReason>(
  RPC_REASONS.filter((r) => r !== 'FRAME_TOO_LARGE').map((r) => [REASON_TO_RPC_CODE[r], r]),
);

const REASON_TO_ERROR_CODE: Readonly<Record<RpcReason, ErrorCode>> = {
  PARSE_ERROR: 'PROTOCOL',
  INVALID_REQUEST: 'PROTOCOL',
  FRAME_TOO_LARGE: 'PROTOCOL',
  METHOD_NOT_FOUND: 'PROTOCOL',
  INVALID_PARAMS: 'INVALID_ARGUMENT',
  LOCKED: 'LOCKED',
  DENIED: 'DENIED',
  NOT_FOUND: 'NOT_FOUND',
  APPROVAL_TIMEOUT: 'APPROVAL_TIMEOUT',
  RATE_LIMITED: 'RATE_LIMITED',
  REVOKED: 'REVOKED',
  EXPIRED: 'EXPIRED',
  INTERNAL: 'INTERNAL',
};

export function isRpcReason(value: unknown): value is RpcReason {
  return typeof value === 'string' && (RPC_REASONS as readonly string[]).includes(value);
}

export function rpcCodeForReason(reason: RpcReason): RpcErrorCode {
  return REASON_TO_RPC_CODE[reason];
}

/** The reason for a code, or null for a code this protocol version does not define. */
export function reasonForRpcCode(code: number): RpcReason | null {
  return RPC_CODE_TO_REASON.get(code) ?? null;
}

/**
 * The wire reason for an internal error code. Codes agents have no business telling
 * apart (WRONG_PASSWORD, CORRUPT, IO...) become INTERNAL so nothing about the vault leaks.
 */
export function reasonForErrorCode(code: ErrorCode): RpcReason {
  switch (code) {
    case 'LOCKED':
    case 'DENIED':
    case 'NOT_FOUND':
    case 'APPROVAL_TIMEOUT':
    case 'RATE_LIMITED':
    case 'REVOKED':
    case 'EXPIRED':
      return code;
    case 'INVALID_ARGUMENT':
      return 'INVALID_PARAMS';
    case 'PROTOCOL':
      return 'INVALID_REQUEST';
    default:
      return 'INTERNAL';
  }
}

/**
 * The ErrorCode for an error received from the wire. A known `data.reason` wins (it is
 * the more specific of the two); otherwise the numeric code decides; a code unknown to
 * this version (a newer host) is INTERNAL.
 */
export function errorCodeFromRpc(rpcCode: number, reason?: unknown): ErrorCode {
  if (isRpcReason(reason)) return REASON_TO_ERROR_CODE[reason];
  const byCode = reasonForRpcCode(rpcCode);
  return byCode === null ? 'INTERNAL' : REASON_TO_ERROR_CODE[byCode];
}

// ---------------------------------------------------------------------------------------
// Envelopes (JSON-RPC 2.0)

/** Integers and short strings; never null (a request with id null cannot be answered). */
export type RequestId = string | number;
export const MAX_REQUEST_ID_LENGTH = 64;

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: { reason: string; code?: string };
}

export interface RpcRequest<M extends string = string, P = unknown> {
  jsonrpc: '2.0';
  id: RequestId;
  method: M;
  params?: P;
}

export interface RpcSuccessResponse<R = unknown> {
  jsonrpc: '2.0';
  id: RequestId;
  result: R;
}

export interface RpcErrorResponse {
  jsonrpc: '2.0';
  /** null when the request's id could not be read (parse error, oversized frame). */
  id: RequestId | null;
  error: RpcErrorObject;
}

export type RpcResponse<R = unknown> = RpcSuccessResponse<R> | RpcErrorResponse;

export interface RpcNotification<M extends string = string, P = unknown> {
  jsonrpc: '2.0';
  method: M;
  params: P;
}

/** Builds the error object for a reason; `message` must never contain a secret value. */
export function rpcError(reason: RpcReason, message: string): RpcErrorObject {
  return { code: rpcCodeForReason(reason), message, data: { reason } };
}

// ---------------------------------------------------------------------------------------
// Methods (agent socket). The host's admin methods live elsewhere.

export type VaultState = 'locked' | 'unlocked';

export interface ClientInfo {
  name: string;
  version: string;
}

export interface HelloParams {
  client?: ClientInfo;
  /** A hint only: it selects among registered agents whose rules match the real process. */
  agent?: string;
}

export interface HelloResult {
  protocol: typeof PROTOCOL_VERSION;
  server: { name: string; version: string };
  /** What the kernel says about the caller. uid is null on Windows; exe null if unreadable. */
  peer: { pid: number; uid: number | null; exe: string | null };
  agent: { id: string; name: string } | null;
  vault: VaultState;
}

export type StatusParams = Record<string, never>;

export interface StatusResult {
  vault: VaultState;
  pendingApprovals: number;
  /** The host's version. */
  version: string;
}

export type SecretListParams = Record<string, never>;

export interface SecretSummary {
  name: string;
  type: SecretType;
  description: string | null;
}

export interface SecretListResult {
  secrets: SecretSummary[];
}

export const MAX_PURPOSE_LENGTH = 500;

export interface SecretGetParams {
  name: string;
  /** Shown to the human as *claimed*. */
  purpose?: string;
  /** A specific version; the current one when absent. */
  version?: number;
}

export interface LeaseRef {
  id: string;
  /** ISO 8601. */
  expiresAt: string;
}

export interface SecretGetResult {
  name: string;
  version: number;
  type: SecretType;
  value: string;
  lease: LeaseRef;
}

/** Most names one `secret.getMany` may ask for. */
export const MAX_GET_MANY_NAMES = 32;

/**
 * Several secrets under ONE approval (`akc run`, `akc inject`): the human sees one prompt
 * listing every name no grant covers; a refusal or timeout fails the whole call.
 */
export interface SecretGetManyParams {
  /** 1 to MAX_GET_MANY_NAMES distinct names; current versions. */
  names: string[];
  /** Shown to the human as *claimed*. */
  purpose?: string;
  /**
   * The command that will hold the values (`akc run`, MCP `run_with_secrets`): shown in the
   * approval, and a grant made from it covers only this command. The host accepts it only
   * from the akc CLI's own `run`/`mcp` processes (identified by the kernel) and refuses it
   * from anyone else (INVALID_PARAMS).
   */
  command?: RunCommand;
}

/** Most arguments, and most characters over all of them, a RunCommand may carry. */
export const MAX_COMMAND_ARGS = 1024;
export const MAX_COMMAND_CHARS = 32768;
export const MAX_COMMAND_EXE_LENGTH = 4096;

export interface RunCommand {
  /** The command line as given: argv[0] the command as typed (e.g. `node`), then its arguments. */
  argv: string[];
  /** The executable argv[0] resolves to: the real path of the PATH lookup; absent when unknown. */
  exe?: string;
  /** An agent chose the command (MCP `run_with_secrets`), not the human who typed `akc run`. */
  agentChosen?: boolean;
}

export interface SecretGetManyResult {
  /** One entry per distinct name, in the order asked, each with its own lease. */
  secrets: SecretGetResult[];
}

export type LeaseListParams = Record<string, never>;

/** A lease held by the calling agent. Times are ISO 8601. */
export interface LeaseInfo {
  id: string;
  secret: string;
  version: number;
  issuedAt: string;
  expiresAt: string;
}

export interface LeaseListResult {
  leases: LeaseInfo[];
}

export interface LeaseRevokeParams {
  id: string;
}

export interface LeaseRevokeResult {
  id: string;
  /** false when the lease had already ended (revoking is idempotent). */
  revoked: boolean;
}

/** Method name → params and result; the single source the host and the SDK type from. */
export interface AgentMethods {
  hello: { params: HelloParams; result: HelloResult };
  status: { params: StatusParams; result: StatusResult };
  'secret.list': { params: SecretListParams; result: SecretListResult };
  'secret.get': { params: SecretGetParams; result: SecretGetResult };
  'secret.getMany': { params: SecretGetManyParams; result: SecretGetManyResult };
  'lease.list': { params: LeaseListParams; result: LeaseListResult };
  'lease.revoke': { params: LeaseRevokeParams; result: LeaseRevokeResult };
}

export type AgentMethod = keyof AgentMethods;
export type ParamsOf<M extends AgentMethod> = AgentMethods[M]['params'];
export type ResultOf<M extends AgentMethod> = AgentMethods[M]['result'];

export const AGENT_METHODS = [
  'hello',
  'status',
  'secret.list',
  'secret.get',
  'secret.getMany',
  'lease.list',
  'lease.revoke',
] as const satisfies readonly AgentMethod[];

export function isAgentMethod(method: string): method is AgentMethod {
  return (AGENT_METHODS as readonly string[]).includes(method);
}

// ---------------------------------------------------------------------------------------
// Notifications (host → agent)

export const APPROVAL_PENDING = 'approval.pending';

export interface ApprovalPendingParams {
  /** The id of the secret.get request that waits. */
  id: RequestId;
  approvalId: string;
  /** ISO 8601: when the request is denied with APPROVAL_TIMEOUT if nobody answers. */
  expiresAt: string;
}

export type ApprovalPendingNotification = RpcNotification<typeof APPROVAL_PENDING, ApprovalPendingParams>;
