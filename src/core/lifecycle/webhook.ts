/**
 * The webhook rotator. The host POSTs `{"secret":NAME,"version":CURRENT,"timestamp":T}`
 * (T in Unix seconds) with
 *
 *   X-AKC-Timestamp: T
 *   X-AKC-Signature: sha256=<hex HMAC-SHA256(signing key, "<T>.<body>")>
 *
 * The receiver answers 200 with `{"value":"<new value>"}`, or 202 when it will deliver
 * the value later through `akc rotate NAME --value-stdin`. Anything else is a failure.
 * Redirects are not followed; the body is capped.
 *
 * The signing key is per secret, random, sealed in the vault (table webhook_keys, AAD =
 * vault id + secret id), created when the webhook rotator is configured and shown once
 * then (on stderr) so the receiver can be set up. The HMAC key is the UTF-8 of the whole
 * printed string (`akcwh_…`), so receivers paste it as is.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { associatedData, open, seal } from '../crypto/aead.js';
import { durableTransaction } from '../store/database.js';
import { MAX_SECRET_BYTES } from '../vault/secrets.js';
import type { Vault } from '../vault/vault.js';
import { RotationFailure } from './command.js';
import { requireLifecycle } from './policy.js';

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 30_000;
export const WEBHOOK_KEY_PREFIX = 'akcwh_';
const MAX_RESPONSE_BYTES = 4 * MAX_SECRET_BYTES;

function keyAad(vaultId: string, secretId: string): Buffer {
  return associatedData('akc/webhook-key/v1', vaultId, secretId);
}

/** `sha256=<hex>` over "<timestamp>.<body>". */
export function webhookSignature(key: Buffer, timestamp: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', key).update(`${timestamp}.`).update(body).digest('hex');
}

/**
 * The secret's signing key. With `create`, makes one when there is none (`created` says
 * so, and the caller shows it once). `reset` replaces an existing key. The caller zeroes `key`.
 */
export function webhookKey(
  vault: Vault,
  name: string,
  opts: { create?: boolean; reset?: boolean; by?: string } = {},
): { key: Buffer; created: boolean } | null {
  const dek = vault.requireKey();
  const db = vault.db;
  const secret = requireLifecycle(db, name);
  const aad = keyAad(vault.id, secret.id);
  const row = db.prepare('SELECT blob FROM webhook_keys WHERE secret_id = ?').get(secret.id) as { blob: Buffer } | undefined;
  if (row && !opts.reset) return { key: open(dek, row.blob, aad), created: false };
  if (!row && !opts.create && !opts.reset) return null;
  const key = Buffer.from(WEBHOOK_KEY_PREFIX + randomBytes(32).toString('base64url'), 'utf8');
  const blob = seal(dek, key, aad);
  durableTransaction(db, () => {
    db.prepare(
      'INSERT INTO webhook_keys (secret_id, blob, created_at) VALUES (?, ?, ?) ON CONFLICT(secret_id) DO UPDATE SET blob = excluded.blob, created_at = excluded.created_at',
    ).run(secret.id, blob, vault.clock.now());
    vault.auditInTransaction([
      {
        event: 'secret.webhook_key',
        secret: name,
        reason: `${row ? 'signing key replaced' : 'signing key created'} by ${opts.by ?? 'cli'}`,
      },
    ]);
  });
  return { key, created: true };
}

export type WebhookResult = { kind: 'value'; value: Buffer } | { kind: 'pending' };

/** POSTs the signed rotation request. Resolves with the new value (caller zeroes it) or pending. */
export function callWebhook(
  url: URL,
  key: Buffer,
  payload: { secret: string; version: number },
  opts: { now: number; timeoutMs?: number },
): Promise<WebhookResult> {
  const timestamp = String(Math.floor(opts.now / 1000));
  const body = JSON.stringify({ secret: payload.secret, version: payload.version, timestamp: Number(timestamp) });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const where = `${url.origin}${url.pathname}`;
  return new Promise<WebhookResult>((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    let done = false;
    const fail = (message: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      reject(new RotationFailure(`the rotation webhook ${where} ${message}`));
    };
    const req = lib.request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'agent-keychain-rotator/1',
          'x-akc-timestamp': timestamp,
          'x-akc-signature': webhookSignature(key, timestamp, body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > MAX_RESPONSE_BYTES) {
            for (const c of chunks) c.fill(0);
            d.fill(0);
            fail(`answered with more than ${MAX_RESPONSE_BYTES} bytes`);
            return;
          }
          chunks.push(d);
        });
        res.on('error', () => fail('closed the connection mid-answer'));
        res.on('end', () => {
          if (done) return;
          const status = res.statusCode ?? 0;
          const all = Buffer.concat(chunks);
          for (const c of chunks) c.fill(0);
          if (status === 202) {
            all.fill(0);
            done = true;
            clearTimeout(timer);
            return resolve({ kind: 'pending' });
          }
          if (status !== 200) {
            all.fill(0);
            return fail(`answered HTTP ${status} (expected 200 with {"value": …} or 202)`);
          }
          let value: unknown;
          try {
            value = (JSON.parse(all.toString('utf8')) as { value?: unknown }).value;
          } catch {
            value = undefined;
          } finally {
            all.fill(0);
          }
          if (typeof value !== 'string' || value.length === 0) return fail('answered 200 without a non-empty string "value"');
          const buf = Buffer.from(value, 'utf8');
          if (buf.length > MAX_SECRET_BYTES) {
            buf.fill(0);
            return fail(`returned a value larger than ${MAX_SECRET_BYTES} bytes`);
          }
          done = true;
          clearTimeout(timer);
          resolve({ kind: 'value', value: buf });
        });
      },
    );
    const timer = setTimeout(() => fail(`did not answer within ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => fail(`could not be reached (${e.code ?? e.message})`));
    req.end(body);
  });
}
