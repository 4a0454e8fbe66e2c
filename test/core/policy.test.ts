/**
 * Policy core against a real SQLite file: glob matching, GrantStore.decide (deny by
 * default, deny wins, exact beats glob, ended grants ignored, executable hash pinning),
 * AgentRegistry.match (every rule must match the kernel's view; the hint only chooses
 * among matches), and policy file parsing.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { openDatabase } from '../../src/core/store/database.js';
import { AgentRegistry, type AgentRecord } from '../../src/core/policy/agents.js';
import { GrantStore, type GrantInput } from '../../src/core/policy/grants.js';
import { globMatch, globToRegExp, isGlob } from '../../src/core/policy/glob.js';
import {
  agentFingerprint,
  akcSubcommand,
  programFingerprint,
  programLabel,
  viaProgram,
  type Requester,
} from '../../src/core/policy/requester.js';
import { formatPath, parsePolicy } from '../../src/core/policy/policy-file.js';
import { secretPatternProblem } from '../../src/core/policy/admin.js';
import type { PeerIdentity } from '../../src/core/identity/index.js';
import { isAkcError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/env.js';

const NOW = 1_700_000_000_000;
const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

function freshDb(): Database {
  return openDatabase(tempDir(), { create: true })!;
}

function identity(over: Partial<PeerIdentity> = {}): PeerIdentity {
  return {
    pid: 4242,
    uid: 1000,
    gid: 1000,
    exe: '/usr/bin/node',
    argv: ['node', '/home/me/agent.js', '--mode', 'eval'],
    cwd: '/home/me/project',
    script: '/home/me/agent.js',
    exeSha256: HASH_A,
    startTime: '1',
    parents: [],
    pidCheck: 'pidfd',
    ...over,
  };
}

function agentRequester(agent: AgentRecord, over: Partial<PeerIdentity> = {}): Requester {
  return {
    identity: identity(over),
    agent: { id: agent.id, name: agent.name },
    fingerprint: agentFingerprint(agent.id),
    label: agent.name,
  };
}

function programRequester(over: Partial<PeerIdentity> = {}): Requester {
  const id = identity(over);
  return { identity: id, agent: null, fingerprint: programFingerprint(id), label: 'node agent.js' };
}

function addAgent(
  db: Database,
  name: string,
  over: Partial<Omit<AgentRecord, 'id' | 'name' | 'createdAt' | 'revokedAt'>> = {},
): AgentRecord {
  return new AgentRegistry(db).upsert(
    { name, exePath: '/usr/bin/node', exeSha256: null, argPattern: null, cwdPattern: null, ...over },
    NOW,
  );
}

describe('glob', () => {
  test('* stays within a segment, ** crosses segments, ? is one character', () => {
    assert.ok(globMatch('OPENAI_*', 'OPENAI_KEY'));
    assert.ok(globMatch('OPENAI_*', 'OPENAI_'));
    assert.ok(!globMatch('OPENAI_*', 'XOPENAI_KEY'));
    assert.ok(!globMatch('prod/*', 'prod/db/url'));
    assert.ok(globMatch('prod/**', 'prod/db/url'));
    assert.ok(globMatch('**', 'anything/at/all'));
    assert.ok(globMatch('/home/**', '/home/me/src'));
    assert.ok(!globMatch('/home/*', '/home/me/src'));
    assert.ok(globMatch('KEY_?', 'KEY_1'));
    assert.ok(!globMatch('KEY_?', 'KEY_12'));
    assert.ok(!globMatch('KEY_?', 'KEY_/'));
  });

  test('everything else is literal (no regular-expression syntax gets through)', () => {
    assert.ok(globMatch('a.b', 'a.b'));
    assert.ok(!globMatch('a.b', 'axb'));
    assert.ok(globMatch('(x)|[y]+', '(x)|[y]+'));
    assert.ok(!globMatch('(x)|[y]+', 'x'));
    assert.ok(!globMatch('a$', 'a'));
    assert.ok(globMatch('^a\\b', '^a\\b'));
    assert.ok(!globMatch('KEY', 'KEY2'), 'anchored at both ends');
    assert.ok(globMatch('multi*line', 'multi\nline'), 'a newline is just a character');
    assert.equal(globToRegExp('x*'), globToRegExp('x*'), 'compiled patterns are cached');
  });

  test('isGlob and secret pattern validation', () => {
    assert.ok(isGlob('A*') && isGlob('A?') && !isGlob('A.B/C'));
    assert.equal(secretPatternProblem('OPENAI_*'), null);
    assert.equal(secretPatternProblem('prod/**'), null);
    assert.equal(secretPatternProblem('OPENAI_KEY'), null);
    assert.match(secretPatternProblem('a b*')!, /wildcards/);
    assert.match(secretPatternProblem('a b')!, /may only contain/);
    assert.match(secretPatternProblem('')!, /empty/);
  });
});

describe('GrantStore.decide', () => {
  function setup(): { db: Database; grants: GrantStore; agent: AgentRecord; add(g: Partial<GrantInput>, at?: number): string } {
    const db = freshDb();
    const grants = new GrantStore(db);
    const agent = addAgent(db, 'claude');
    return {
      db,
      grants,
      agent,
      add: (g, at = NOW) =>
        grants.create({ agentId: agent.id, secretPattern: 'X', effect: 'allow', scope: 'always', createdBy: 'test', ...g }, at).id,
    };
  }

  test('deny by default: no grant, no access', () => {
    const { grants, agent } = setup();
    assert.equal(grants.decide(agentRequester(agent), 'OPENAI_KEY', NOW), null);
  });

  test('a matching deny wins over any allow, exact or not', () => {
    const { grants, agent, add } = setup();
    add({ secretPattern: 'OPENAI_KEY' });
    add({ secretPattern: 'OPENAI_*' });
    const deny = add({ secretPattern: '**', effect: 'deny' });
    add({ secretPattern: 'OPENAI_KEY', scope: 'duration', expiresAt: NOW + 60_000 });
    const g = grants.decide(agentRequester(agent), 'OPENAI_KEY', NOW);
    assert.equal(g?.id, deny);
    assert.equal(g?.effect, 'deny');
    // A deny on another secret does not touch this one.
    const { grants: g2, agent: a2, add: add2 } = setup();
    const allow = add2({ secretPattern: 'OPENAI_KEY' });
    add2({ secretPattern: 'DB_*', effect: 'deny' });
    assert.equal(g2.decide(agentRequester(a2), 'OPENAI_KEY', NOW)?.id, allow);
  });

  test('an exact grant beats a glob, whichever was created first', () => {
    for (const order of ['glob-first', 'exact-first']) {
      const { grants, agent, add } = setup();
      let exact: string;
      if (order === 'glob-first') {
        add({ secretPattern: 'OPENAI_*', usesLeft: 5 });
        exact = add({ secretPattern: 'OPENAI_KEY' }, NOW + 1);
      } else {
        exact = add({ secretPattern: 'OPENAI_KEY' });
        add({ secretPattern: 'OPENAI_*' }, NOW + 1);
      }
      assert.equal(grants.decide(agentRequester(agent), 'OPENAI_KEY', NOW + 2)?.id, exact, order);
      assert.equal(grants.decide(agentRequester(agent), 'OPENAI_ORG', NOW + 2)?.secretPattern, 'OPENAI_*', order);
    }
  });

  test('expired, revoked and used-up grants are ignored', () => {
    const { grants, agent, add } = setup();
    add({ secretPattern: 'EXPIRED', scope: 'duration', expiresAt: NOW - 1 });
    add({ secretPattern: 'EXPIRES_NOW', scope: 'duration', expiresAt: NOW });
    const revoked = add({ secretPattern: 'REVOKED' });
    grants.revoke(revoked, NOW);
    add({ secretPattern: 'USED', usesLeft: 0 });
    const once = add({ secretPattern: 'ONCE', scope: 'once', usesLeft: 1 });
    const r = agentRequester(agent);
    for (const name of ['EXPIRED', 'EXPIRES_NOW', 'REVOKED', 'USED']) assert.equal(grants.decide(r, name, NOW), null, name);
    // A revoked or expired deny no longer blocks either.
    const blockId = add({ secretPattern: 'ONCE', effect: 'deny', scope: 'duration', expiresAt: NOW - 1 });
    const g = grants.decide(r, 'ONCE', NOW);
    assert.equal(g?.id, once);
    assert.notEqual(g?.id, blockId);
    assert.ok(grants.consume(g!, NOW));
    assert.equal(grants.decide(r, 'ONCE', NOW), null, 'used up after its one use');
    assert.ok(!grants.consume(g!, NOW), 'a raced second use fails');
  });

  test('consume refuses a grant whose time ran out after decide() read it', () => {
    const { grants, agent, add } = setup();
    add({ secretPattern: 'SOON', scope: 'duration', expiresAt: NOW + 10 });
    const g = grants.decide(agentRequester(agent), 'SOON', NOW)!;
    assert.notEqual(g, null);
    assert.equal(grants.consume(g, NOW + 10), false, 'expired while the request waited');
    assert.equal(grants.consume(g, NOW + 9), true, 'still live a millisecond before');
  });

  test('a grant recorded with an executable hash stops applying when the hash changes', () => {
    const { grants, agent, add } = setup();
    const pinned = add({ secretPattern: 'PINNED', exeSha256: HASH_A });
    add({ secretPattern: 'ANY', exeSha256: null });
    assert.equal(grants.decide(agentRequester(agent, { exeSha256: HASH_A }), 'PINNED', NOW)?.id, pinned);
    assert.equal(grants.decide(agentRequester(agent, { exeSha256: HASH_B }), 'PINNED', NOW), null);
    assert.equal(grants.decide(agentRequester(agent, { exeSha256: null }), 'PINNED', NOW), null, 'an unknown hash is not a match');
    assert.notEqual(grants.decide(agentRequester(agent, { exeSha256: HASH_B }), 'ANY', NOW), null);
  });

  test('grants apply only to their own requester: agent id or program fingerprint', () => {
    const { db, grants, agent, add } = setup();
    const other = addAgent(db, 'other');
    add({ secretPattern: 'X' });
    assert.equal(grants.decide(agentRequester(other), 'X', NOW), null);
    const prog = programRequester();
    const progGrant = grants.create(
      {
        fingerprint: prog.fingerprint,
        exePath: '/usr/bin/node',
        exeSha256: HASH_A,
        secretPattern: 'X',
        effect: 'allow',
        scope: 'always',
        createdBy: 't',
      },
      NOW,
    );
    assert.equal(grants.decide(prog, 'X', NOW)?.id, progGrant.id);
    assert.equal(grants.decide(programRequester({ script: '/tmp/other.js' }), 'X', NOW), null, 'another script is another program');
    assert.notEqual(grants.decide(agentRequester(agent), 'X', NOW)?.id, progGrant.id);
  });
});

describe('AgentRegistry.match', () => {
  test('matches on the executable path, or the script for interpreters', async () => {
    const db = freshDb();
    const reg = new AgentRegistry(db);
    addAgent(db, 'by-exe', { exePath: '/usr/bin/python3' });
    addAgent(db, 'by-script', { exePath: '/home/me/agent.js' });
    assert.equal((await reg.match(identity({ exe: '/usr/bin/python3', script: null })))?.name, 'by-exe');
    assert.equal((await reg.match(identity()))?.name, 'by-script');
    assert.equal(await reg.match(identity({ exe: '/usr/bin/ruby', script: '/home/me/other.rb' })), null);
    assert.equal(await reg.match(identity({ exe: null, script: null })), null, 'a vanished process is nobody');
  });

  test('a pinned SHA-256 must match the running executable (or the script file)', async () => {
    const db = freshDb();
    const reg = new AgentRegistry(db);
    addAgent(db, 'pinned', { exePath: '/usr/bin/node', exeSha256: HASH_A });
    assert.equal((await reg.match(identity({ script: null, exeSha256: HASH_A })))?.name, 'pinned');
    assert.equal(await reg.match(identity({ script: null, exeSha256: HASH_B })), null);
    assert.equal(await reg.match(identity({ script: null, exeSha256: null })), null);

    const dir = tempDir();
    const script = path.join(dir, 'agent.py');
    fs.writeFileSync(script, 'print("hi")\n');
    const hash = createHash('sha256').update(fs.readFileSync(script)).digest('hex');
    addAgent(db, 'py', { exePath: script, exeSha256: hash });
    const py = identity({ exe: '/usr/bin/python3', script, argv: ['python3', script] });
    assert.equal((await reg.match(py))?.name, 'py');
    fs.writeFileSync(script, 'print("changed")\n');
    assert.equal(await reg.match(py), null, 'an edited script no longer matches its pin');
  });

  test('argv and cwd globs must match too', async () => {
    const db = freshDb();
    const reg = new AgentRegistry(db);
    addAgent(db, 'evals', { exePath: '/usr/bin/node', argPattern: '** --mode eval', cwdPattern: '/home/me/**' });
    assert.equal((await reg.match(identity({ script: null })))?.name, 'evals');
    assert.equal(await reg.match(identity({ script: null, argv: ['node', '/home/me/agent.js', '--mode', 'train'] })), null);
    assert.equal(await reg.match(identity({ script: null, cwd: '/tmp' })), null);
    assert.equal(await reg.match(identity({ script: null, cwd: null })), null, 'an unknown cwd does not match a cwd rule');
  });

  test('the hint selects among matching agents only; revoked agents never match', async () => {
    const db = freshDb();
    const reg = new AgentRegistry(db);
    addAgent(db, 'alpha', { exePath: '/usr/bin/node' });
    addAgent(db, 'beta', { exePath: '/usr/bin/node', cwdPattern: '/home/me/**' });
    addAgent(db, 'gamma', { exePath: '/usr/bin/node', cwdPattern: '/srv/**' });
    const ident = identity({ script: null });
    assert.equal((await reg.match(ident))?.name, 'alpha', 'first match by name without a hint');
    assert.equal((await reg.match(ident, 'beta'))?.name, 'beta');
    assert.equal((await reg.match(ident, 'gamma'))?.name, 'alpha', 'a hint naming a non-matching agent is ignored');
    assert.equal((await reg.match(ident, 'nobody'))?.name, 'alpha');
    reg.revoke(reg.get('alpha').id, NOW);
    assert.equal((await reg.match(ident))?.name, 'beta');
    reg.revoke(reg.get('beta').id, NOW);
    assert.equal(await reg.match(ident, 'beta'), null);
  });
});

describe('policy file parsing', () => {
  function problem(text: string, file = 'p.yaml'): string {
    try {
      parsePolicy(text, file);
    } catch (err) {
      assert.ok(isAkcError(err, 'INVALID_ARGUMENT'));
      return err.message;
    }
    assert.fail('expected an error');
  }

  test('a valid file is normalized (defaults filled, nulls dropped)', () => {
    const doc = parsePolicy(
      'version: 1\nagents:\n  - name: a\n    exe: /bin/sh\n    sha256: ~\ngrants:\n  - agent: a\n    secret: "X_*"\n    expires: null\n',
      'p.yml',
    );
    assert.deepEqual(doc, {
      version: 1,
      agents: [{ name: 'a', exe: '/bin/sh' }],
      grants: [{ agent: 'a', secret: 'X_*', effect: 'allow', scope: 'always' }],
    });
    assert.deepEqual(parsePolicy('{"version":1}', 'no-extension'), { version: 1, agents: [], grants: [] });
    const expires = parsePolicy(
      'version: 1\ngrants:\n  - agent: a\n    secret: X\n    scope: duration\n    expires: "2030-01-01T02:00:00+02:00"\n',
    ).grants[0]!.expires;
    assert.equal(expires, '2030-01-01T00:00:00.000Z');
  });

  test('errors name the path of the problem', () => {
    assert.equal(
      problem('version: 1\ngrants:\n  - agent: a\n    secret: X\n  - agent: a\n    secret: X\n'),
      'malformed policy: grants[1]: the same grant (subject, secret, effect, scope) is listed twice',
    );
    assert.equal(
      problem('version: 1\nagents:\n  - {name: a, exe: /x}\n  - {name: a, exe: /y}\n'),
      'malformed policy: agents[1].name: agent a is defined twice',
    );
    assert.equal(
      problem('version: 1\ngrants:\n  - agent: a\n    program: prog:' + 'a'.repeat(32) + '\n    secret: X\n'),
      'malformed policy: grants[0].agent: give exactly one of agent or program',
    );
    assert.equal(
      problem('version: 1\ngrants:\n  - agent: a\n    exe: /bin/sh\n    secret: X\n'),
      'malformed policy: grants[0].exe: exe and sha256 belong to the agent definition, not to its grants',
    );
    assert.equal(
      problem('version: 1\ngrants:\n  - agent: a\n    secret: X\n    expires: "2030-01-01T00:00:00Z"\n'),
      'malformed policy: grants[0].expires: an always grant does not expire; use scope: duration',
    );
    assert.equal(
      problem('version: 1\ngrants:\n  - agent: a\n    secret: X\n    scope: duration\n    expires: tomorrow\n'),
      'malformed policy: grants[0].expires: expected an ISO 8601 date and time, e.g. 2030-01-01T00:00:00Z',
    );
    assert.equal(
      problem('version: 1\ngrants:\n  - agent: a\n    secret: X\n    effect: maybe\n'),
      'malformed policy: grants[0].effect: expected allow or deny',
    );
    assert.equal(
      problem('version: 1\ngrants:\n  - agent: a\n    secret: X\n    effect: deny\n    uses: 2\n'),
      'malformed policy: grants[0].uses: a deny grant has no use count',
    );
    assert.equal(problem('version: 1\nextra: true\n'), 'malformed policy: extra: unknown key');
    assert.equal(problem('version: 1\nagents: {}\n'), 'malformed policy: agents: invalid input: expected array, received object');
    assert.match(problem('version: [1\n'), /^malformed policy: invalid YAML: /);
    assert.match(problem('{"version": 1', 'x.json'), /^malformed policy: invalid JSON: /);
    assert.equal(formatPath([]), '(top level)');
    assert.equal(formatPath(['grants', 3, 'secret']), 'grants[3].secret');
  });
});

describe('requester fingerprints for the akc CLI', () => {
  const akcPeer = (via: { exe: string; script: string | null }) => ({
    pid: 50,
    exe: '/usr/bin/node',
    exeSha256: 'a'.repeat(64),
    script: '/opt/akc/bin/akc.js',
    argv: ['/usr/bin/node', '/opt/akc/bin/akc.js', 'get', 'OPENAI_API_KEY'],
    parents: [
      { pid: 49, exe: '/usr/bin/bash', script: null, argv: ['bash', '-c', 'akc get OPENAI_API_KEY'], cwd: '/', uid: 1000 },
      { pid: 48, exe: via.exe, script: via.script, argv: [via.exe], cwd: '/', uid: 1000 },
    ],
  });

  test('`akc get` run by two different programs gets two fingerprints (one approval never serves both)', () => {
    const a = akcPeer({ exe: '/home/ana/.local/bin/claude', script: null });
    const b = akcPeer({ exe: '/usr/bin/python3', script: '/tmp/evil.py' });
    assert.equal(akcSubcommand(a), 'get');
    assert.equal(viaProgram(a)?.exe, '/home/ana/.local/bin/claude', 'shells are skipped');
    assert.notEqual(programFingerprint(a), programFingerprint(b));
    assert.equal(programLabel(a), 'akc get via claude');
    assert.equal(programLabel(b), 'akc get via evil.py');
  });

  test('a shell script that runs akc is the program; an interactive shell is skipped', () => {
    const peer = akcPeer({ exe: '/home/ana/.local/bin/claude', script: null });
    const viaScript = {
      ...peer,
      parents: [
        { pid: 49, exe: '/usr/bin/bash', script: '/srv/deploy.sh', argv: ['bash', '/srv/deploy.sh'], cwd: '/', uid: 1000 },
        ...peer.parents,
      ],
    };
    assert.equal(viaProgram(viaScript)?.script, '/srv/deploy.sh');
    assert.equal(programLabel(viaScript), 'akc get via deploy.sh');
  });

  test('the subcommand is part of the fingerprint (`akc mcp` approvals do not cover `akc get`)', () => {
    const get = akcPeer({ exe: '/home/ana/.local/bin/claude', script: null });
    const mcp = { ...get, argv: ['/usr/bin/node', '/opt/akc/bin/akc.js', 'mcp'] };
    assert.equal(akcSubcommand(mcp), 'mcp');
    assert.notEqual(programFingerprint(get), programFingerprint(mcp));
  });

  test('npm and npx are launchers also after renaming themselves (`npm exec akc get X`, no script)', () => {
    const peer = akcPeer({ exe: '/usr/bin/python3', script: '/srv/agent.py' });
    const npm = { pid: 47, exe: '/usr/bin/node', script: null, argv: ['npm exec akc get OPENAI_API_KEY', '', ''], cwd: '/srv', uid: 1000 };
    const viaNpx = { ...peer, parents: [peer.parents[0]!, npm, ...peer.parents.slice(1)] };
    assert.equal(viaProgram(viaNpx)?.script, '/srv/agent.py');
    assert.equal(programLabel(viaNpx), 'akc get via agent.py');
    assert.equal(programFingerprint(viaNpx), programFingerprint(peer), 'npx adds nothing: the program is who ran it');
    assert.equal(viaProgram({ parents: [{ ...npm, argv: ['npx akc get X'] }, ...peer.parents.slice(1)] })?.script, '/srv/agent.py');
    // Only node renamed as npm: a native program or another title is the program itself.
    assert.equal(viaProgram({ parents: [{ ...npm, exe: '/usr/local/bin/tool' }] })?.exe, '/usr/local/bin/tool');
    assert.equal(viaProgram({ parents: [{ ...npm, argv: ['my-agent', ''] }] })?.pid, 47);
    assert.equal(viaProgram({ parents: [{ ...npm, argv: ['npmish x'] }] })?.pid, 47);
  });

  test('a script elsewhere named bin/akc.js is taken for the CLI but never shares its grants', () => {
    const real = akcPeer({ exe: '/usr/bin/python3', script: '/srv/agent.py' });
    const fake = { ...real, script: '/tmp/x/bin/akc.js', argv: ['/usr/bin/node', '/tmp/x/bin/akc.js', 'get', 'OPENAI_API_KEY'] };
    assert.equal(akcSubcommand(fake), 'get');
    assert.equal(programLabel(fake), programLabel(real), 'the same words in the prompt…');
    assert.notEqual(programFingerprint(fake), programFingerprint(real), '…but its own path, so its own grants');
    const sameContent = { ...real, scriptSha256: 'c'.repeat(64) };
    assert.notEqual(
      programFingerprint({ ...fake, scriptSha256: 'c'.repeat(64) }),
      programFingerprint(sameContent),
      'even with the same content',
    );
  });

  test('a program that is not akc keeps its plain fingerprint', () => {
    const p = {
      exe: '/usr/bin/python3',
      exeSha256: 'b'.repeat(64),
      script: '/srv/agent.py',
      argv: ['python3', '/srv/agent.py'],
      parents: [],
    };
    assert.equal(akcSubcommand(p), null);
    assert.equal(programFingerprint(p), programFingerprint({ exe: p.exe, exeSha256: p.exeSha256, script: p.script }));
  });
});
