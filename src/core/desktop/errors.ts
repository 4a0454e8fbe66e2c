/**
 * Errors crossing to the renderer: `{ code, message, hint? }` only, never a stack, a cause
 * or a value. AkcError messages are written never to contain a value; anything else is
 * reported as INTERNAL with no detail (its name is logged, not its message).
 */
import type { ContractError } from '../../shared/contract.js';
import { isAkcError } from '../../shared/errors.js';
import type { Logger } from '../logger.js';

export function toContractError(err: unknown, logger?: Logger, where?: string): ContractError {
  if (isContractError(err)) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  if (isAkcError(err)) return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  // parseVerbInput throws an Error with code INVALID_ARGUMENT and a message naming only the field.
  if (err instanceof Error && (err as Error & { code?: unknown }).code === 'INVALID_ARGUMENT') {
    return { code: 'INVALID_ARGUMENT', message: err.message };
  }
  logger?.error(`internal error${where ? ` in ${where}` : ''}: ${err instanceof Error ? err.name : typeof err}`);
  return { code: 'INTERNAL', message: 'internal error', hint: 'see the application log' };
}

/** A plain `{ code, message, hint? }` object (what the service throws). */
export function isContractError(value: unknown): value is ContractError {
  if (typeof value !== 'object' || value === null || value instanceof Error) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === 'string' && typeof v.message === 'string' && (v.hint === undefined || typeof v.hint === 'string');
}

/** What IPC and the bridge carry: errors inside the value, so no transport can strip their fields. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ContractError };
