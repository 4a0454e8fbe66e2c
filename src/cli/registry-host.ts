/** Commands that talk to a running host over the agent socket, and the daemon itself. */
import type { Command } from './registry.js';

export const HOST_COMMANDS: Command[] = [];
