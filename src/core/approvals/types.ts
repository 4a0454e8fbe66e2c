/** Approval requests and decisions, and the Approver port (popup, TTY, or logging only). */
import type { Grant } from '../policy/grants.js';
import type { Requester } from '../policy/requester.js';
import type { ApprovedCommand } from '../policy/run-command.js';

export type ApprovalScope = 'once' | '15m' | '1h' | 'until_lock' | 'always';
export const APPROVAL_SCOPES: readonly ApprovalScope[] = ['once', '15m', '1h', 'until_lock', 'always'];

export interface ApprovalSubject {
  requester: Requester;
  /** The secrets asked for (one for `secret.get`; several for `akc run`). */
  secrets: string[];
  /** What the agent says it needs it for: *claimed*, never verified. */
  purpose: string | null;
  /** For the brokering proxy: method, host and path (and the binding, for the grant's channel). */
  http?: { method: string; host: string; path: string; binding?: string } | null;
  /** For `akc run`: the command that will hold the values (accepted from akc's own CLI only). */
  command?: ApprovedCommand | null;
}

export interface PendingApproval extends ApprovalSubject {
  id: string;
  createdAt: number;
  expiresAt: number;
  /** Identical concurrent requests collapsed into this one. */
  count: number;
  /** known: approved before with this hash; new: first time; changed: same program, different hash. */
  badge: 'known' | 'new' | 'changed';
  /** The vault was locked: allowing also needs an unlock. */
  needsUnlock: boolean;
  /** A grant already covers it; only the unlock is missing. */
  coveredByGrant: boolean;
}

export interface ApprovalDecision {
  allow: boolean;
  scope: ApprovalScope;
  /** Deny and add a deny-always grant for this requester. */
  block: boolean;
  /** Who decided: 'tty', 'cli', 'ui'. */
  by: string;
}

/**
 * How a pending request ended. A decision carries the grants it created (one per secret
 * asked, none for a denial or an unlock-only release): the waiting request consumes exactly
 * these, so two concurrent requests answered differently never pick up each other's grant.
 */
export type ApprovalOutcome =
  | { kind: 'decided'; decision: ApprovalDecision; grants: readonly Grant[] }
  | { kind: 'timeout' }
  | { kind: 'cancelled'; reason: string }
  | ApprovalWithdrawn;

/**
 * The client that asked went away (its connection closed) before anyone decided: nothing
 * may be delivered to a process that no longer exists. `last`: this waiter was the last
 * one, so the approval itself ended (the Approver's `ended` always gets `last: true`);
 * false when identical requests from other clients still wait for it.
 */
export interface ApprovalWithdrawn {
  kind: 'withdrawn';
  reason: string;
  last: boolean;
}

/** A host's way to show pending approvals to a human. */
export interface Approver {
  /** A new request is pending, or a pending one changed (count). */
  show(pending: PendingApproval, queue: readonly PendingApproval[]): void;
  /** A pending request ended (decided, timed out, cancelled, withdrawn by its client going away). */
  ended(id: string, outcome: ApprovalOutcome, queue: readonly PendingApproval[]): void;
}

/** An approver that shows nothing (requests wait for `akc approve` or the timeout). */
export const silentApprover: Approver = { show() {}, ended() {} };
