/**
 * `akc secret set` over an existing NAME: the question before a new version replaces the
 * current one, and the line that says what happened to the replaced version. Shared by the
 * offline command and the hardened-mode one (service-admin.ts).
 */
import { AkcError } from '../../shared/errors.js';
import type { CommandContext } from '../context.js';
import { formatTime } from '../io.js';

/**
 * Replacing a value is asked for (the old one stops being current for every agent): on a
 * terminal a yes/no question; without one, `--new-version` says so up front. `grace` is
 * the secret's grace period as printed ("1h", "0s" for none).
 */
export async function confirmNewVersion(ctx: CommandContext, name: string, current: number, grace: string): Promise<void> {
  const keeps = grace !== '0s' ? `version ${current} stays readable for ${grace}` : `version ${current} retires at once`;
  const answer = await ctx.input.confirm(
    `${name} already exists (version ${current}). Store a new version ${current + 1}? (${keeps}) [y/N] `,
  );
  if (answer === null) {
    throw new AkcError('ALREADY_EXISTS', `secret ${name} already exists (version ${current}); nothing was stored`, {
      hint: `add --new-version to store the value as version ${current + 1} (${keeps})`,
    });
  }
  if (!answer) throw new AkcError('INVALID_ARGUMENT', `cancelled; ${name} stays at version ${current}`);
}

/** What the replaced version became: readable (`previous`) until `retireAt`, or retired now. */
export interface Replaced {
  version: number;
  state: 'previous' | 'retired';
  retireAt: string;
}

/** The line `akc secret set` prints: the new version, and until when agents can still read the old one. */
export function setMessage(name: string, version: number, created: boolean, previous: Replaced | undefined): string {
  if (!previous) return created ? `Created ${name} (version ${version}).\n` : `${name} now has version ${version}.\n`;
  const old =
    previous.state === 'previous'
      ? `version ${previous.version} stays readable to existing grants until ${formatTime(previous.retireAt)}`
      : `version ${previous.version} is retired (the grace period is 0)`;
  return `${name} now has version ${version}; ${old}.\n`;
}
