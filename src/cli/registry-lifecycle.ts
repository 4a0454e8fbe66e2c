/** Secret lifecycle commands: policy, rotation, pruning, break-glass revocation, the anomaly guard and alerts. */
import type { Command } from './registry.js';

const policy = () => import('./commands/secret-policy.js');
const guard = () => import('./commands/guard.js');

const PASSWORD_NOTE = 'Needs the master password every time (never the keychain), from a prompt or --password-stdin. Audited.';

export const LIFECYCLE_COMMANDS: Command[] = [
  {
    path: ['secret', 'policy'],
    summary: 'set a secret’s owner, purpose, expiry, rotation schedule, grace and rotator',
    usage:
      'akc secret policy NAME [--owner O] [--purpose P] [--expires-in 90d | --no-expiry] [--rotate-every 30d | --no-rotation]\n' +
      '                       [--grace 1h] [--rotator SPEC] [--canary | --no-canary] [--new-webhook-key] [--password-stdin] [--json]',
    details:
      'Without options, shows the policy. Durations: 30s, 15m, 1h, 2d, 1w or combinations.\n' +
      '  --expires-in D     agents get EXPIRED after D (counted again from every new version);\n' +
      '                     `akc status` warns 7 days ahead\n' +
      '  --rotate-every D   the host rotates it every D while unlocked (first time D from now)\n' +
      '  --grace D          after a rotation the previous version stays readable for D (default 1h; 0 = none)\n' +
      '  --rotator SPEC     how a new value is made:\n' +
      '      generate[:length=N,charset=alnum|hex|base64url|ascii,prefix=P]   random (default 32 alnum)\n' +
      '      command:PATH [ARGS…]   runs PATH (absolute, no shell, clean environment, 30 s timeout) with the\n' +
      '                             current value on stdin; its stdout is the new value\n' +
      '      webhook:URL            POSTs {secret, version, timestamp} signed with HMAC-SHA256 (headers\n' +
      '                             X-AKC-Timestamp, X-AKC-Signature: sha256=HEX over "<timestamp>.<body>");\n' +
      '                             the answer is 200 {"value": …}, or 202 and later `akc rotate NAME --value-stdin`.\n' +
      '                             The signing key is created now and printed once, on stderr.\n' +
      '      manual                 a human types it (`akc rotate NAME`)\n' +
      '  --canary           any agent request for this secret fires the anomaly guard\n' +
      '  --new-webhook-key  replace the webhook signing key (printed once on stderr)\n' +
      PASSWORD_NOTE,
    flags: {
      owner: { value: true },
      purpose: { value: true },
      'expires-in': { value: true },
      'no-expiry': {},
      'rotate-every': { value: true },
      'no-rotation': {},
      grace: { value: true },
      rotator: { value: true },
      canary: {},
      'no-canary': {},
      'new-webhook-key': {},
    },
    run: async (ctx) => (await policy()).policy(ctx),
  },
  {
    path: ['rotate'],
    summary: 'rotate a secret now with its rotator (or the value given); prints the new version number',
    usage: 'akc rotate NAME [--value-stdin] [--password-stdin] [--json]',
    details:
      'One durable transaction: the new version becomes current, the old one `previous` (readable by\n' +
      'pinned requests until the grace period ends), older previous versions are retired. Grants for\n' +
      'the secret ask again unless made with --keep-on-rotate. --value-stdin gives the new value\n' +
      '(after the password line with --password-stdin): for manual rotators and to finish a webhook\n' +
      'rotation that was answered 202. Prints only the new version number, never a value.\n' +
      PASSWORD_NOTE,
    flags: { 'value-stdin': {} },
    run: async (ctx) => (await import('./commands/rotate.js')).rotate(ctx),
  },
  {
    path: ['secret', 'prune'],
    summary: 'delete old versions of a secret, keeping the N newest (live ones always stay)',
    usage: 'akc secret prune NAME --keep N [--password-stdin] [--json]',
    details: 'Retired versions stay encrypted in history until pruned. ' + PASSWORD_NOTE,
    flags: { keep: { value: true } },
    run: async (ctx) => (await policy()).prune(ctx),
  },
  {
    path: ['secret', 'revoke-grants'],
    summary: 'break-glass: revoke every grant covering a secret (exact or glob) and its live leases',
    usage: 'akc secret revoke-grants NAME [--password-stdin] [--json]',
    details:
      'Every agent must then be approved again for it. Blocks (deny grants) stay.\n' +
      'See also `akc agent revoke NAME`, `akc lease revoke ID` and `akc lock --revoke-all`.\n' +
      PASSWORD_NOTE,
    flags: {},
    run: async (ctx) => (await policy()).revokeGrants(ctx),
  },
  {
    path: ['guard', 'show'],
    summary: 'show the anomaly guard settings and open guard alerts',
    usage: 'akc guard show [--json]',
    details:
      'Rules (each fires with an audit entry `guard.fired`, an alert and a host event, then locks the\n' +
      'vault or blocks only the requester, per its action setting):\n' +
      '  burst     more than N distinct secrets from one requester within T seconds (default 8 in 60)\n' +
      '  denials   more than N denied or timed-out requests from one requester within T (default 10 in 60)\n' +
      '  offHours  a requester’s first request for a secret outside guard.activeHours (off by default)\n' +
      '  canary    any request for a secret marked --canary',
    flags: {},
    run: async (ctx) => (await guard()).show(ctx),
  },
  {
    path: ['guard', 'set'],
    summary: 'change an anomaly guard setting (e.g. burst.limit 12, activeHours 08-20, canary.action block)',
    usage: 'akc guard set KEY VALUE [--password-stdin]',
    details: 'KEY with or without the `guard.` prefix; see `akc guard show` for every key. ' + PASSWORD_NOTE,
    flags: {},
    run: async (ctx) => (await guard()).set(ctx),
  },
  {
    path: ['alerts'],
    summary: 'list open alerts: failed rotations, due manual rotations, anomaly guard firings',
    usage: 'akc alerts [--all] [--json]',
    details: '--all also lists cleared alerts.',
    flags: { all: {} },
    run: async (ctx) => (await guard()).alerts(ctx),
  },
  {
    path: ['alerts', 'clear'],
    summary: 'clear an alert (or all of them) once handled',
    usage: 'akc alerts clear (ID | --all) [--password-stdin]',
    details:
      'A cleared rotation failure lets the scheduler try that secret again. A successful rotation clears\n' +
      'its rotation alerts by itself. ' +
      PASSWORD_NOTE,
    flags: { all: {} },
    run: async (ctx) => (await guard()).clear(ctx),
  },
];
