/**
 * Host administration over the agent socket, used by the `akc` CLI: lock, unlock,
 * listing and deciding approvals. Anything that grants access (unlock, allow) carries
 * the master password, which the host verifies: no agent-reachable path approves
 * anything without the human's password. Locking needs nothing (it only takes access away).
 */
import { z } from 'zod';

export const MAX_PASSWORD_LENGTH = 1024;
const password = z.string().min(1).max(MAX_PASSWORD_LENGTH);
const approvalId = z.string().min(1).max(64);

export const ADMIN_SCOPES = ['once', '15m', '1h', 'until_lock', 'always'] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

export const adminParamsSchemas = {
  'host.lock': z.strictObject({ revokeAll: z.boolean().optional() }),
  'host.unlock': z.strictObject({ password }),
  'approval.list': z.strictObject({}),
  'approval.decide': z.strictObject({
    approvalId,
    allow: z.boolean(),
    scope: z.enum(ADMIN_SCOPES).optional(),
    block: z.boolean().optional(),
    password,
  }),
};

export type AdminMethod = keyof typeof adminParamsSchemas;
export type AdminParams<M extends AdminMethod> = z.infer<(typeof adminParamsSchemas)[M]>;

export function isAdminMethod(method: string): method is AdminMethod {
  return Object.hasOwn(adminParamsSchemas, method);
}

/** A pending approval as listed to the CLI (no values; identity from the kernel). */
export interface ApprovalSummary {
  id: string;
  agent: string | null;
  program: string;
  pid: number;
  exe: string | null;
  script: string | null;
  exeSha256: string | null;
  badge: 'known' | 'new' | 'changed';
  secrets: string[];
  purpose: string | null;
  count: number;
  createdAt: string;
  expiresAt: string;
  needsUnlock: boolean;
  /** For the brokering proxy: the HTTP request the secret would authenticate. */
  http?: { method: string; host: string; path: string } | null;
}

export interface AdminResults {
  'host.lock': { vault: 'locked'; revokedLeases: number };
  'host.unlock': { vault: 'unlocked' };
  'approval.list': { approvals: ApprovalSummary[] };
  'approval.decide': { approvalId: string; decision: 'allow' | 'deny' | 'block' };
}
