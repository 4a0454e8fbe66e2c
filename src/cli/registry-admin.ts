/** Policy and audit administration commands (agents, grants, policy-as-code, leases, audit). */
import type { Command } from './registry.js';

export const ADMIN_COMMANDS: Command[] = [];
