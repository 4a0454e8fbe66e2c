/**
 * The one error type callers match on. `code` is stable and machine-readable; `message`
 * is lowercase, one line, "failed to X: cause", and never contains a secret value.
 */
export const ERROR_CODES = [
  'WRONG_PASSWORD',
  'LOCKED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'NOT_INITIALIZED',
  'ALREADY_INITIALIZED',
  'CORRUPT',
  'KEYCHAIN_UNAVAILABLE',
  'INVALID_ARGUMENT',
  'DENIED',
  'APPROVAL_TIMEOUT',
  'RATE_LIMITED',
  'REVOKED',
  'EXPIRED',
  'HOST_RUNNING',
  'HOST_NOT_RUNNING',
  'PROTOCOL',
  'IO',
  'INTERNAL',
  'UNSUPPORTED_PLATFORM',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AkcError extends Error {
  readonly code: ErrorCode;
  /** An optional next step for a human ("run `akc init` first"). */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AkcError';
    this.code = code;
    this.hint = options?.hint;
  }
}

export function isAkcError(err: unknown, code?: ErrorCode): err is AkcError {
  return err instanceof AkcError && (code === undefined || err.code === code);
}

/** A short description of an unknown thrown value, safe for messages (no stack, no data). */
export function describeCause(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
