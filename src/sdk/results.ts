/**
 * Light shape checks of what the host returns. The SDK has no runtime dependencies, so
 * no zod here; these checks only make sure the fields callers read exist with the right
 * JSON types. Extra fields pass, so a newer host can add some without breaking old SDKs.
 * Problems name paths and types only, never values.
 */
import type { AgentMethod } from '../shared/protocol.js';

/** Returns a problem ("lease.id: expected string") or null. */
type Check = (value: unknown, path: string) => string | null;

const is =
  (type: 'string' | 'boolean'): Check =>
  (v, p) =>
    typeof v === type ? null : `${p}: expected ${type}`;

const str = is('string');
const bool = is('boolean');

const int: Check = (v, p) => (Number.isSafeInteger(v) ? null : `${p}: expected integer`);

const oneOf =
  (...values: readonly string[]): Check =>
  (v, p) =>
    typeof v === 'string' && values.includes(v) ? null : `${p}: expected ${values.join(' or ')}`;

const nullable =
  (check: Check): Check =>
  (v, p) =>
    v === null ? null : check(v, p);

function obj(shape: Record<string, Check>): Check {
  return (v, p) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${p}: expected object`;
    const record = v as Record<string, unknown>;
    for (const [key, check] of Object.entries(shape)) {
      const problem = check(record[key], p === '' ? key : `${p}.${key}`);
      if (problem !== null) return problem;
    }
    return null;
  };
}

function arr(item: Check): Check {
  return (v, p) => {
    if (!Array.isArray(v)) return `${p}: expected array`;
    for (let i = 0; i < v.length; i++) {
      const problem = item(v[i] as unknown, `${p}[${i}]`);
      if (problem !== null) return problem;
    }
    return null;
  };
}

/** The top-level check reports its own path as "result". */
const root =
  (check: Check): Check =>
  (v) =>
    check(v, '')?.replace(/^: /, 'result: ') ?? null;

const vault = oneOf('locked', 'unlocked');

const checks: Record<AgentMethod, Check> = {
  hello: root(
    obj({
      protocol: int,
      server: obj({ name: str, version: str }),
      peer: obj({ pid: int, uid: nullable(int), exe: nullable(str) }),
      agent: nullable(obj({ id: str, name: str })),
      vault,
    }),
  ),
  status: root(obj({ vault, pendingApprovals: int, version: str })),
  'secret.list': root(obj({ secrets: arr(obj({ name: str, type: str, description: nullable(str) })) })),
  'secret.get': root(obj({ name: str, version: int, type: str, value: str, lease: obj({ id: str, expiresAt: str }) })),
  'secret.getMany': root(
    obj({ secrets: arr(obj({ name: str, version: int, type: str, value: str, lease: obj({ id: str, expiresAt: str }) })) }),
  ),
  'lease.list': root(
    obj({
      leases: arr(obj({ id: str, secret: str, version: int, issuedAt: str, expiresAt: str })),
    }),
  ),
  'lease.revoke': root(obj({ id: str, revoked: bool })),
};

/** A problem with a method's result, or null when it has the expected shape. */
export function resultProblem(method: AgentMethod, result: unknown): string | null {
  return checks[method](result, '');
}
