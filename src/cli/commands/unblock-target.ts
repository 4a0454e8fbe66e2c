/**
 * What `akc unblock TARGET` lifts besides a registered agent's block: a block made from a
 * prompt for an unregistered program, named by its fingerprint (`prog:…`, as `akc grants`
 * shows it; a unique prefix of at least 8 hex digits will do) or by the block's grant id
 * (`g_…`). Works on the rows `akc grants --json` prints (core/views/policy.ts), so the
 * offline command and the hardened host's client resolve targets alike.
 */
import { AkcError } from '../../shared/errors.js';
import { BLOCK_PATTERN } from '../../core/policy/block.js';

type Row = Record<string, unknown>;

/** Whether TARGET names a program or a grant rather than an agent (agent names cannot start so). */
export function isProgramOrGrant(target: string): boolean {
  return target.startsWith('prog:') || target.startsWith('g_');
}

const isBlockRow = (g: Row): boolean => g.effect === 'deny' && g.secret === BLOCK_PATTERN && g.scope === 'always';

/** The live block rows TARGET names: NOT_FOUND or INVALID_ARGUMENT (ambiguous, not a block) otherwise. */
export function blockRowsFor(target: string, live: readonly Row[]): Row[] {
  if (target.startsWith('g_')) {
    const g = live.find((r) => r.id === target);
    if (!g) throw new AkcError('NOT_FOUND', `no live grant ${target}`, { hint: 'see `akc grants`' });
    if (!isBlockRow(g))
      throw new AkcError('INVALID_ARGUMENT', `grant ${target} is not a block`, { hint: `revoke it with \`akc ungrant ${target}\`` });
    return [g];
  }
  if (!/^prog:[0-9a-f]{8,32}$/.test(target)) {
    throw new AkcError('INVALID_ARGUMENT', `invalid program ${JSON.stringify(target)}: expected prog: and at least 8 hex digits`, {
      hint: 'copy it from `akc grants`',
    });
  }
  const blocks = live.filter((r) => isBlockRow(r) && typeof r.program === 'string' && r.program.startsWith(target));
  const programs = new Set(blocks.map((r) => r.program));
  if (programs.size > 1) {
    throw new AkcError('INVALID_ARGUMENT', `${target} matches ${programs.size} blocked programs`, {
      hint: 'give more of the fingerprint (see `akc grants --json`)',
    });
  }
  if (blocks.length === 0) throw new AkcError('NOT_FOUND', `no block for program ${target}`, { hint: 'see `akc grants`' });
  return blocks;
}
