/**
 * The SDK's one error type. It extends the shared AkcError, so callers match on `code`
 * ('DENIED', 'APPROVAL_TIMEOUT', 'HOST_NOT_RUNNING', ...) whichever layer they sit in.
 */
import { AkcError, ERROR_CODES } from '../shared/errors.js';
import type { ErrorCode } from '../shared/errors.js';
import { errorCodeFromRpc } from '../shared/protocol.js';
import type { RpcErrorObject } from '../shared/protocol.js';

export class KeychainError extends AkcError {
  /** The JSON-RPC error code when the host answered with an error, else undefined. */
  readonly rpcCode: number | undefined;
  /** The host's `error.data.reason` ('DENIED', 'FRAME_TOO_LARGE', ...), if it gave one. */
  readonly reason: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { rpcCode?: number; reason?: string; cause?: unknown; hint?: string }) {
    super(code, message, options);
    this.name = 'KeychainError';
    this.rpcCode = options?.rpcCode;
    this.reason = options?.reason;
  }
}

export function isKeychainError(err: unknown, code?: ErrorCode): err is KeychainError {
  return err instanceof KeychainError && (code === undefined || err.code === code);
}

/** A host error response as a KeychainError; `action` completes "failed to ...". */
export function fromRpcError(action: string, error: RpcErrorObject): KeychainError {
  const reason = typeof error.data?.reason === 'string' ? error.data.reason : undefined;
  // Admin methods add the host's precise ErrorCode (e.g. WRONG_PASSWORD) in data.code.
  const precise = (error.data as { code?: unknown } | undefined)?.code;
  return new KeychainError(
    typeof precise === 'string' && (ERROR_CODES as readonly string[]).includes(precise)
      ? (precise as ErrorCode)
      : errorCodeFromRpc(error.code, reason),
    `failed to ${action}: ${oneLine(error.message) || 'the agent keychain gave no reason'}`,
    { rpcCode: error.code, ...(reason === undefined ? {} : { reason }) },
  );
}

/** Host text goes into our one-line messages: no control characters, bounded length. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}
