/**
 * Resource abuse by a same-user agent (issue 16), against a real daemon:
 *  - a client that pipelines requests and never reads its replies used to grow the host
 *    without bound (4 MiB sent → 730 MiB RSS); now its output is bounded, the connection
 *    is dropped and audited once, and everyone else is still served;
 *  - one program asking for many secrets used to take 8 of the 64 approval slots and got
 *    its 9th refusal with no audit entry; now it has a share of 4, every refusal past the
 *    share is audited, and another program still gets its prompt.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type AkcEnv } from '../helpers/env.js';
import { Child, Daemon, initVault, RAW_PEER, RawClient, rpc, vaultDb, type Json } from '../helpers/daemon.js';

const MiB = 1024 * 1024;
/** What the flooding client sends without reading a byte back. */
const FLOOD_BYTES = 8 * MiB;
/** Generous: the daemon's answers queued for the flood must stay far below this (memory, not time). */
const RSS_BOUND_BYTES = 150 * MiB;

/** The daemon's resident set size, from the kernel. */
function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

interface AuditRowLite {
  event: string;
  pid: number | null;
  exe: string | null;
  secret: string | null;
  decision: string | null;
  reason: string | null;
  detail: string | null;
}

function auditRows(env: AkcEnv, where: string): AuditRowLite[] {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    return db
      .prepare(`SELECT event, pid, exe, secret, decision, reason, detail FROM audit WHERE ${where} ORDER BY seq`)
      .all() as AuditRowLite[];
  } finally {
    db.close();
  }
}

/** Pipelined `status` and `secret.list` requests, `bytes` long in all. */
function floodPayload(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let id = 1; size < bytes; id++) {
    const line = JSON.stringify({ jsonrpc: '2.0', id, method: id % 2 ? 'status' : 'secret.list' }) + '\n';
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join(''), 'utf8');
}

describe('a client that never reads its replies', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ ALPHA: 'abuse-alpha-value', BETA: 'abuse-beta-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('keeps the daemon bounded, is dropped and audited once, and others are served throughout', async () => {
    // Warm up (first requests load code paths), then take the baseline.
    for (let i = 0; i < 20; i++) await rpc(env.socket, i % 2 ? 'status' : 'secret.list');
    const baseline = rssBytes(daemon.pid);

    const flood = net.createConnection({ path: env.socket });
    await new Promise<void>((resolve, reject) => {
      flood.once('connect', resolve);
      flood.once('error', reject);
    });
    flood.pause(); // never read a byte
    flood.on('error', () => undefined); // EPIPE/ECONNRESET once the host drops us
    const floodClosed = new Promise<void>((resolve) => flood.once('close', () => resolve()));
    flood.write(floodPayload(FLOOD_BYTES));

    // Sample the daemon's memory until it drops the flood (or grows past the bound).
    let peak = baseline;
    let over = false;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(daemon.pid));
      if (peak - baseline > RSS_BOUND_BYTES && !over) {
        over = true;
        flood.destroy();
      }
    }, 25);

    // Served during the flood: a fresh client gets its answers while the flood is open.
    const during = await rpc(env.socket, 'secret.list');
    assert.deepEqual(
      during.result.secrets.map((s: Json) => s.name),
      ['ALPHA', 'BETA'],
    );
    const duringStatus = await rpc(env.socket, 'status');
    assert.equal(duringStatus.result.vault, 'unlocked');
    assert.equal(flood.destroyed, false, 'the flood was still connected while the others were served');

    const dropped = await Promise.race([
      floodClosed.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000).unref()),
    ]);
    clearInterval(sampler);
    peak = Math.max(peak, rssBytes(daemon.pid));
    flood.destroy();

    assert.equal(over, false, `the daemon grew by ${Math.round((peak - baseline) / MiB)} MiB for ${FLOOD_BYTES / MiB} MiB of requests`);
    assert.ok(
      peak - baseline < RSS_BOUND_BYTES,
      `daemon RSS grew by ${Math.round((peak - baseline) / MiB)} MiB (bound ${RSS_BOUND_BYTES / MiB} MiB)`,
    );
    assert.equal(dropped, true, 'the host dropped the connection that never read');

    // Audited once, naming the peer (this test process), with no payload.
    // The entry is committed as the host closes the socket, which the client may see first.
    let drops = auditRows(env, "event = 'connection.drop'");
    for (let i = 0; i < 100 && drops.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      drops = auditRows(env, "event = 'connection.drop'");
    }
    assert.equal(drops.length, 1, JSON.stringify(drops));
    assert.equal(drops[0]!.reason, 'slow reader');
    assert.equal(drops[0]!.pid, process.pid);
    assert.equal(drops[0]!.exe, fs.realpathSync(process.execPath));
    assert.doesNotMatch(JSON.stringify(drops[0]), /jsonrpc|secret\.list|ALPHA/, 'no request or answer in the entry');

    // And after: the daemon lives and serves new clients.
    assert.equal(daemon.running, true);
    const afterList = await rpc(env.socket, 'secret.list');
    assert.equal(afterList.result.secrets.length, 2);
  });
});

describe('one program flooding the approval queue', () => {
  let env: AkcEnv;
  let daemon: Daemon;
  // 8 distinct names: the anomaly guard's burst rule (more than 8 in 60 s) would lock the vault.
  const NAMES = Array.from({ length: 8 }, (_, i) => `FLOOD_${String(i).padStart(2, '0')}`);

  before(async () => {
    env = await initVault({ ...Object.fromEntries(NAMES.map((n) => [n, `value-of-${n}`])), OTHER: 'other-program-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('gets RATE_LIMITED past its share, every refusal audited, and another program still gets a prompt', async () => {
    // Program A (this test process) asks for 8 distinct secrets on one connection at once.
    const a = await RawClient.connect(env.socket);
    try {
      const answers = NAMES.map((name, i) => ({ name, id: `a-${i}` }));
      await a.write(
        answers.map(({ name, id }) => JSON.stringify({ jsonrpc: '2.0', id, method: 'secret.get', params: { name } }) + '\n').join(''),
      );
      // Each request ends up either waiting for a human (approval.pending) or refused.
      const outcome = (id: string): Json | undefined =>
        a.messages.find((m) => (m.method === 'approval.pending' && m.params.id === id) || (m.id === id && 'error' in m));
      await a.waitCount(answers.length);
      const outcomes = await Promise.all(answers.map(({ id }) => a.waitMessage((m) => m === outcome(id), `the outcome of ${id}`)));
      const pendingNames = answers.filter((_, i) => outcomes[i].method === 'approval.pending').map((x) => x.name);
      const refusedNames = answers.filter((_, i) => 'error' in outcomes[i]).map((x) => x.name);
      assert.equal(pendingNames.length, 4, `four prompts (its share): ${JSON.stringify(a.messages)}`);
      assert.equal(refusedNames.length, 4);
      for (const r of outcomes.filter((o) => 'error' in o)) assert.equal(r.error.data.reason, 'RATE_LIMITED', JSON.stringify(r));
      assert.equal(new Set(outcomes.filter((o) => o.method).map((p) => p.params.approvalId)).size, 4, 'four distinct prompts');

      // Every refusal past the share is in the audit log (secret.get once refused these silently).
      const denies = auditRows(env, "event = 'secret.deny' AND reason = 'rate limited'");
      assert.deepEqual(denies.map((d) => d.secret).sort(), refusedNames.sort(), JSON.stringify(denies));
      for (const d of denies) assert.equal(d.pid, process.pid);

      // Program B (another script, so another fingerprint) still gets its prompt.
      const b = Child.spawn(process.execPath, [RAW_PEER, env.socket, 'OTHER'], env);
      const summary = JSON.parse((await b.exited).stdout) as { lines: string[] };
      const bMessages = summary.lines.map((l) => JSON.parse(l) as Json);
      const bPending = bMessages.find((m) => m.method === 'approval.pending');
      assert.ok(bPending, `program B got a prompt: ${JSON.stringify(bMessages)}`);
      assert.equal(
        bMessages.some((m) => m.error?.data?.reason === 'RATE_LIMITED'),
        false,
      );
    } finally {
      a.close();
    }
  });
});
