import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERROR_CODES } from '../../src/shared/errors.js';
import {
  AGENT_METHODS,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  RPC_ERROR_CODES,
  RPC_REASONS,
  errorCodeFromRpc,
  isAgentMethod,
  reasonForErrorCode,
  reasonForRpcCode,
  rpcCodeForReason,
  rpcError,
} from '../../src/shared/protocol.js';
import type { AgentMethod } from '../../src/shared/protocol.js';
import {
  approvalPendingSchema,
  decodeRequestLine,
  describeIssues,
  fastEnvelope,
  fastSecretGetParams,
  frameTooLargeError,
  paramsSchemas,
  parseRequestEnvelope,
  parseRequestParams,
  requestEnvelopeSchema,
  resultSchemas,
  serverMessageSchema,
} from '../../src/shared/protocol-schemas.js';

const FIXTURES = new URL('../../../test/fixtures/protocol-v1/', import.meta.url);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function fixture(name: string): any {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
}

/** A fixture as the exact line that goes on the wire. */
function wireLine(name: string): string {
  return JSON.stringify(fixture(name));
}

describe('protocol constants and codes', () => {
  it('fixes the v1 constants', () => {
    assert.equal(PROTOCOL_VERSION, 1);
    assert.equal(MAX_FRAME_BYTES, 65536);
    assert.deepEqual(RPC_ERROR_CODES, {
      PARSE_ERROR: -32700,
      INVALID_REQUEST: -32600,
      METHOD_NOT_FOUND: -32601,
      INVALID_PARAMS: -32602,
      LOCKED: -32001,
      DENIED: -32002,
      NOT_FOUND: -32003,
      APPROVAL_TIMEOUT: -32004,
      RATE_LIMITED: -32005,
      REVOKED: -32006,
      EXPIRED: -32007,
      INTERNAL: -32603,
    });
  });

  it('maps every reason to a code and back', () => {
    for (const reason of RPC_REASONS) {
      const code = rpcCodeForReason(reason);
      const back = reasonForRpcCode(code);
      // -32600 has two reasons; its default is INVALID_REQUEST.
      assert.equal(back, reason === 'FRAME_TOO_LARGE' ? 'INVALID_REQUEST' : reason);
    }
    assert.equal(rpcCodeForReason('FRAME_TOO_LARGE'), -32600);
    assert.equal(reasonForRpcCode(-32099), null);
  });

  it('maps domain errors both ways between ErrorCode and the wire', () => {
    const domain = ['LOCKED', 'DENIED', 'NOT_FOUND', 'APPROVAL_TIMEOUT', 'RATE_LIMITED', 'REVOKED', 'EXPIRED', 'INTERNAL'] as const;
    for (const code of domain) {
      const reason = reasonForErrorCode(code);
      assert.equal(reason, code);
      assert.equal(errorCodeFromRpc(rpcCodeForReason(reason), reason), code);
      // The numeric code alone is enough too.
      assert.equal(errorCodeFromRpc(rpcCodeForReason(reason)), code);
    }
  });

  it('never sends internal details: other ErrorCodes become INTERNAL', () => {
    for (const code of ERROR_CODES) {
      const reason = reasonForErrorCode(code);
      assert.ok(RPC_REASONS.includes(reason));
    }
    assert.equal(reasonForErrorCode('WRONG_PASSWORD'), 'INTERNAL');
    assert.equal(reasonForErrorCode('CORRUPT'), 'INTERNAL');
    assert.equal(reasonForErrorCode('IO'), 'INTERNAL');
    assert.equal(reasonForErrorCode('INVALID_ARGUMENT'), 'INVALID_PARAMS');
    assert.equal(reasonForErrorCode('PROTOCOL'), 'INVALID_REQUEST');
  });

  it('reads wire errors: reason wins, JSON-RPC codes, unknown codes', () => {
    assert.equal(errorCodeFromRpc(-32700), 'PROTOCOL');
    assert.equal(errorCodeFromRpc(-32600, 'FRAME_TOO_LARGE'), 'PROTOCOL');
    assert.equal(errorCodeFromRpc(-32601), 'PROTOCOL');
    assert.equal(errorCodeFromRpc(-32602), 'INVALID_ARGUMENT');
    assert.equal(errorCodeFromRpc(-32099), 'INTERNAL');
    assert.equal(errorCodeFromRpc(-32099, 'DENIED'), 'DENIED');
    assert.equal(errorCodeFromRpc(-32002, 'SOMETHING_NEW'), 'DENIED');
    assert.equal(errorCodeFromRpc(-32002, 42), 'DENIED');
  });

  it('builds error objects with a reason', () => {
    assert.deepEqual(rpcError('DENIED', 'denied by the user'), fixture('error-denied.json').error);
    assert.deepEqual(frameTooLargeError(MAX_FRAME_BYTES), fixture('error-frame-too-large.json').error);
  });

  it('knows exactly the §8 methods', () => {
    assert.deepEqual([...AGENT_METHODS].sort(), Object.keys(paramsSchemas).sort());
    assert.deepEqual([...AGENT_METHODS].sort(), Object.keys(resultSchemas).sort());
    assert.ok(isAgentMethod('secret.get'));
    assert.ok(!isAgentMethod('approval.approve'));
    assert.ok(!isAgentMethod('toString'));
  });
});

describe('golden vectors (test/fixtures/protocol-v1)', () => {
  const pairs: [AgentMethod, string][] = [
    ['hello', 'hello'],
    ['status', 'status'],
    ['secret.list', 'secret-list'],
    ['secret.get', 'secret-get'],
    ['secret.getMany', 'secret-getmany'],
    ['lease.list', 'lease-list'],
    ['lease.revoke', 'lease-revoke'],
  ];

  for (const [method, file] of pairs) {
    it(`${method}: the request decodes and the result validates`, () => {
      const request = fixture(`${file}.request.json`);
      const decoded = decodeRequestLine(wireLine(`${file}.request.json`));
      assert.deepEqual(decoded, { ok: true, id: request.id, method, params: request.params });

      const response = fixture(`${file}.response.json`);
      assert.equal(response.id, request.id);
      assert.ok(serverMessageSchema.safeParse(response).success);
      const result = resultSchemas[method].safeParse(response.result);
      assert.ok(result.success, JSON.stringify(result.error?.issues));
    });
  }

  it('approval.pending validates and names the waiting request', () => {
    const note = fixture('approval-pending.json');
    assert.ok(approvalPendingSchema.safeParse(note).success);
    assert.ok(serverMessageSchema.safeParse(note).success);
    assert.equal(note.params.id, fixture('secret-get.request.json').id);
    assert.ok(!('id' in note));
  });

  it('error responses validate and carry the matching code and reason', () => {
    for (const [file, reason] of [
      ['error-denied.json', 'DENIED'],
      ['error-approval-timeout.json', 'APPROVAL_TIMEOUT'],
      ['error-frame-too-large.json', 'FRAME_TOO_LARGE'],
    ] as const) {
      const msg = fixture(file);
      assert.ok(serverMessageSchema.safeParse(msg).success, file);
      assert.equal(msg.error.data.reason, reason);
      assert.equal(msg.error.code, rpcCodeForReason(reason));
    }
    assert.equal(fixture('error-frame-too-large.json').id, null);
  });

  it('results are strict: unknown keys and bad types are caught', () => {
    const result = fixture('secret-get.response.json').result;
    assert.ok(!resultSchemas['secret.get'].safeParse({ ...result, extra: 1 }).success);
    assert.ok(!resultSchemas['secret.get'].safeParse({ ...result, version: 0 }).success);
    assert.ok(
      !resultSchemas['secret.get'].safeParse({
        ...result,
        lease: { ...result.lease, expiresAt: 1735732800000 },
      }).success,
    );
  });
});

describe('parseRequestParams', () => {
  const bad = (method: string, params: unknown) => {
    const r = parseRequestParams(method, params);
    assert.equal(r.ok, false, `${method} ${JSON.stringify(params)} should be rejected`);
    return r as { ok: false; code: number; reason: string };
  };

  it('accepts valid params and treats absent params as {}', () => {
    assert.deepEqual(parseRequestParams('status', undefined), {
      ok: true,
      method: 'status',
      params: {},
    });
    assert.deepEqual(parseRequestParams('secret.get', { name: 'prod/db.url-2_X' }), {
      ok: true,
      method: 'secret.get',
      params: { name: 'prod/db.url-2_X' },
    });
    assert.ok(parseRequestParams('secret.get', { name: 'A', purpose: 'x'.repeat(500), version: 7 }).ok);
    assert.ok(parseRequestParams('hello', {}).ok);
    assert.ok(parseRequestParams('hello', { client: { name: 'c', version: '1' }, agent: 'a'.repeat(64) }).ok);
    assert.ok(parseRequestParams('lease.revoke', { id: 'lse_1' }).ok);
  });

  it('names the field and the problem', () => {
    assert.deepEqual(bad('secret.get', { name: 1 }), {
      ok: false,
      code: -32602,
      reason: 'malformed secret.get params: name: expected string',
    });
    assert.equal(bad('secret.get', {}).reason, 'malformed secret.get params: name: expected string');
    assert.equal(bad('secret.get', undefined).reason, 'malformed secret.get params: name: expected string');
    assert.equal(bad('secret.get', { name: 'A', purpouse: 'typo' }).reason, 'malformed secret.get params: unknown key "purpouse"');
    assert.equal(
      bad('secret.get', { name: 'A', purpose: 'x'.repeat(501) }).reason,
      'malformed secret.get params: purpose: expected at most 500 characters',
    );
    assert.equal(bad('secret.get', { name: 'A', version: 0 }).reason, 'malformed secret.get params: version: expected more than 0');
    assert.equal(bad('secret.get', { name: 'A', version: 1.5 }).reason, 'malformed secret.get params: version: expected int');
    assert.equal(
      bad('secret.get', { name: 'has space' }).reason,
      'malformed secret.get params: name: expected a secret name (1-128 of A-Z a-z 0-9 _ . - /)',
    );
    assert.match(bad('secret.get', { name: 'x'.repeat(129) }).reason, /^malformed secret.get params: name: /);
    assert.equal(bad('hello', { agent: 'a'.repeat(65) }).reason, 'malformed hello params: agent: expected at most 64 characters');
    assert.equal(bad('hello', { client: { name: 'c', version: '1', os: 'x' } }).reason, 'malformed hello params: client: unknown key "os"');
    assert.equal(
      bad('hello', { client: { name: '', version: '1' } }).reason,
      'malformed hello params: client.name: expected a non-empty string',
    );
    assert.equal(bad('lease.revoke', {}).reason, 'malformed lease.revoke params: id: expected string');
    assert.equal(bad('status', { verbose: true }).reason, 'malformed status params: unknown key "verbose"');
    assert.equal(bad('secret.list', []).reason, 'malformed secret.list params: expected object');
    assert.match(bad('secret.get', { name: 1, purpose: 2 }).reason, /\(and 1 more\)$/);
  });

  it('rejects unknown methods with -32601, including approval methods', () => {
    assert.deepEqual(bad('secret.set', {}), { ok: false, code: -32601, reason: 'unknown method: secret.set' });
    assert.equal(bad('approval.approve', { id: 'x' }).code, -32601);
    assert.equal(bad('__proto__', {}).code, -32601);
  });

  it('never echoes the input in a reason', () => {
    const value = 'sk_live_DO_NOT_LEAK_0123456789';
    const cases: [string, unknown][] = [
      ['secret.get', { name: `bad ${value}` }],
      ['secret.get', { name: 'A', purpose: value.repeat(40) }],
      ['secret.get', { name: 'A', version: value }],
      ['secret.get', { name: value, purpose: 5 }],
      ['hello', { agent: value.repeat(3) }],
      ['lease.revoke', { id: value.repeat(10) }],
    ];
    for (const [method, params] of cases) {
      assert.ok(!bad(method, params).reason.includes(value));
    }
  });
});

describe('parseRequestEnvelope', () => {
  const invalid = (value: unknown) => {
    const r = parseRequestEnvelope(value);
    assert.equal(r.ok, false, JSON.stringify(value));
    if (r.ok) throw new Error('unreachable');
    assert.equal(r.error.code, -32600);
    assert.equal(r.error.data?.reason, 'INVALID_REQUEST');
    return r;
  };

  it('accepts integer and short string ids, with or without params', () => {
    assert.deepEqual(parseRequestEnvelope({ jsonrpc: '2.0', id: 7, method: 'status' }), {
      ok: true,
      request: { id: 7, method: 'status', params: undefined },
    });
    assert.ok(parseRequestEnvelope({ jsonrpc: '2.0', id: 'req-1', method: 'status', params: {} }).ok);
    assert.ok(parseRequestEnvelope({ jsonrpc: '2.0', id: 'x'.repeat(64), method: 'status' }).ok);
    assert.ok(parseRequestEnvelope({ jsonrpc: '2.0', id: 0, method: 'status' }).ok);
  });

  it('rejects non-objects with id null', () => {
    for (const value of [null, 42, 'hello', [], [{ jsonrpc: '2.0', id: 1, method: 'status' }]]) {
      assert.equal(invalid(value).id, null);
    }
  });

  it('rejects bad ids', () => {
    assert.equal(invalid({ jsonrpc: '2.0', method: 'status' }).id, null);
    assert.equal(invalid({ jsonrpc: '2.0', id: null, method: 'status' }).id, null);
    assert.equal(invalid({ jsonrpc: '2.0', id: 1.5, method: 'status' }).id, null);
    assert.equal(invalid({ jsonrpc: '2.0', id: true, method: 'status' }).id, null);
    assert.equal(invalid({ jsonrpc: '2.0', id: { a: 1 }, method: 'status' }).id, null);
    const long = invalid({ jsonrpc: '2.0', id: 'x'.repeat(65), method: 'status' });
    assert.equal(long.id, null);
    assert.equal(long.error.message, 'invalid request: id: expected at most 64 characters');
    assert.equal(
      invalid({ jsonrpc: '2.0', id: 1.5, method: 'status' }).error.message,
      'invalid request: id: expected an integer or a string of at most 64 characters',
    );
  });

  it('keeps a readable id when something else is wrong, so the error can be matched', () => {
    const r = invalid({ jsonrpc: '1.0', id: 3, method: 'status' });
    assert.equal(r.id, 3);
    assert.equal(r.error.message, 'invalid request: jsonrpc: expected "2.0"');
    assert.equal(invalid({ jsonrpc: '2.0', id: 'a', method: 5 }).error.message, 'invalid request: method: expected string');
    assert.equal(invalid({ jsonrpc: '2.0', id: 4, method: 'status', params: [1] }).id, 4);
    assert.equal(invalid({ jsonrpc: '2.0', id: 4, method: 'status', params: null }).id, 4);
    assert.equal(invalid({ jsonrpc: '2.0', id: 5, method: 'status', result: {} }).error.message, 'invalid request: unknown key "result"');
  });
});

describe('decodeRequestLine', () => {
  it('answers bad JSON with -32700 and id null', () => {
    for (const line of ['{', 'not json', '{"jsonrpc":"2.0","id":1,', '']) {
      const r = decodeRequestLine(line);
      assert.deepEqual(r, {
        ok: false,
        id: null,
        error: { code: -32700, message: 'parse error: invalid JSON', data: { reason: 'PARSE_ERROR' } },
      });
    }
  });

  it('answers unknown methods with -32601 and bad params with -32602, keeping the id', () => {
    assert.deepEqual(decodeRequestLine('{"jsonrpc":"2.0","id":9,"method":"vault.unlock","params":{}}'), {
      ok: false,
      id: 9,
      error: { code: -32601, message: 'unknown method: vault.unlock', data: { reason: 'METHOD_NOT_FOUND' } },
    });
    assert.deepEqual(decodeRequestLine('{"jsonrpc":"2.0","id":"a","method":"secret.get","params":{"name":1}}'), {
      ok: false,
      id: 'a',
      error: {
        code: -32602,
        message: 'malformed secret.get params: name: expected string',
        data: { reason: 'INVALID_PARAMS' },
      },
    });
  });

  it('narrows params by method', () => {
    const r = decodeRequestLine('{"jsonrpc":"2.0","id":1,"method":"secret.get","params":{"name":"A","version":2}}');
    assert.ok(r.ok);
    if (r.ok && r.method === 'secret.get') {
      // Type-level check: params is SecretGetParams here.
      const version: number | undefined = r.params.version;
      assert.equal(version, 2);
    } else {
      assert.fail('expected secret.get');
    }
  });

  it('survives hostile JSON', () => {
    const lines = [
      '{"jsonrpc":"2.0","id":1,"method":"secret.get","params":{"__proto__":{"name":"A"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"secret.get","params":{"name":"A","constructor":{}}}',
      `{"jsonrpc":"2.0","id":1,"method":"status","params":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      '{"jsonrpc":"2.0","id":1e400,"method":"status"}',
      '{"jsonrpc":"2.0","id":9007199254740993,"method":"status"}',
    ];
    for (const line of lines) {
      const r = decodeRequestLine(line);
      assert.equal(r.ok, false, line.slice(0, 80));
    }
  });
});

describe('hand-written fast paths agree with the zod schemas', () => {
  const fixtureNames = ['hello', 'status', 'secret-list', 'secret-get', 'secret-getmany', 'lease-list', 'lease-revoke'];
  const ids: unknown[] = [
    1,
    0,
    -0,
    -7,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 53,
    1.5,
    NaN,
    Infinity,
    '',
    'x',
    'x'.repeat(64),
    'x'.repeat(65),
    null,
    true,
    [],
    {},
  ];
  const methods: unknown[] = ['secret.get', 'status', '', 'm'.repeat(128), 'm'.repeat(129), '__proto__', 'constructor', 5, null];
  const paramsValues: unknown[] = [
    undefined,
    {},
    { name: 'A' },
    null,
    [],
    [1, 2],
    'x',
    5,
    JSON.parse('{"__proto__":{"name":"A"}}'),
    JSON.parse('{"name":"A","__proto__":1}'),
    { name: 'A', constructor: {} },
    { constructor: 1 },
    { pad: 'a'.repeat(100), nested: { deep: [1, { x: null }] } },
    Object.create(null),
  ];
  const names: unknown[] = [
    'A',
    'prod/db.url-2_X',
    'x'.repeat(128),
    'x'.repeat(129),
    '',
    'has space',
    'ünï',
    'a\nb',
    1,
    null,
    undefined,
    ['A'],
  ];
  const purposes: unknown[] = [undefined, '', 'deploy', 'x'.repeat(500), 'x'.repeat(501), 7, null];
  const versions: unknown[] = [undefined, 1, 7, 0, -0, -1, 1.5, 2 ** 53 - 1, 2 ** 53, '1', null, NaN, Infinity];

  /** The same value with the same own keys in the same order (deepEqual ignores order). */
  const same = (a: unknown, b: unknown, what: string): void => {
    assert.deepEqual(a, b, what);
    if (typeof a === 'object' && a !== null) assert.deepEqual(Object.keys(a), Object.keys(b as object), `${what}: key order`);
  };
  const show = (v: unknown): string => {
    try {
      return JSON.stringify(v)?.slice(0, 120) ?? String(v);
    } catch {
      return String(v);
    }
  };

  function envelopeCases(): unknown[] {
    const out: unknown[] = [];
    for (const f of fixtureNames) out.push(fixture(`${f}.request.json`));
    for (const id of ids) out.push({ jsonrpc: '2.0', id, method: 'secret.get', params: { name: 'A' } });
    for (const method of methods) out.push({ jsonrpc: '2.0', id: 1, method, params: {} });
    for (const params of paramsValues)
      out.push(params === undefined ? { jsonrpc: '2.0', id: 1, method: 'status' } : { jsonrpc: '2.0', id: 1, method: 'status', params });
    out.push(
      { jsonrpc: '2.0', id: 1, method: 'status', params: undefined },
      { jsonrpc: '1.0', id: 1, method: 'status' },
      { jsonrpc: 2, id: 1, method: 'status' },
      { id: 1, method: 'status' },
      { jsonrpc: '2.0', method: 'status' },
      { jsonrpc: '2.0', id: 1 },
      { jsonrpc: '2.0', id: 1, method: 'status', extra: 1 },
      JSON.parse('{"jsonrpc":"2.0","id":1,"method":"status","__proto__":{}}'),
      Object.assign(Object.create(null), { jsonrpc: '2.0', id: 1, method: 'status' }),
      [],
      [{ jsonrpc: '2.0', id: 1, method: 'status' }],
      null,
      42,
      'status',
      {},
    );
    return out;
  }

  it('envelopes: the fast path accepts only what zod accepts, with the same output', () => {
    let fast = 0;
    for (const v of envelopeCases()) {
      const zod = requestEnvelopeSchema.safeParse(v);
      const quick = fastEnvelope(v);
      if (quick) {
        fast += 1;
        assert.ok(zod.success, `fast path accepted what zod rejects: ${show(v)}`);
        same(quick, { id: zod.data.id, method: zod.data.method, params: zod.data.params }, show(v));
        same(quick.params, zod.data.params, `${show(v)} params`);
      }
      // parseRequestEnvelope (fast path first) answers exactly as zod alone does.
      const r = parseRequestEnvelope(v);
      if (zod.success) assert.deepEqual(r, { ok: true, request: { id: zod.data.id, method: zod.data.method, params: zod.data.params } });
      else assert.equal(!r.ok && r.error.message, `invalid request: ${describeIssues(zod.error.issues)}`, show(v));
    }
    assert.ok(fast >= 20, `the fast path took ${fast} cases`);
  });

  it('secret.get params: the fast path accepts only what zod accepts, with the same output', () => {
    const cases: unknown[] = [fixture('secret-get.request.json').params, ...paramsValues];
    for (const name of names) {
      for (const purpose of purposes) {
        for (const version of versions) {
          const p: Record<string, unknown> = {};
          if (name !== undefined) p.name = name;
          if (purpose !== undefined) p.purpose = purpose;
          if (version !== undefined) p.version = version;
          cases.push(p);
        }
      }
    }
    cases.push({ version: 2, purpose: 'p', name: 'A' }, { name: 'A', surprise: true }, { name: 'A', purpouse: 'typo' });
    let fast = 0;
    for (const p of cases) {
      const zod = paramsSchemas['secret.get'].safeParse(p ?? {});
      const quick = fastSecretGetParams(p);
      if (quick) {
        fast += 1;
        assert.ok(zod.success, `fast path accepted what zod rejects: ${show(p)}`);
        same(quick, zod.data, show(p));
      }
      const r = parseRequestParams('secret.get', p);
      if (zod.success) same(r, { ok: true, method: 'secret.get', params: zod.data }, show(p));
      else assert.equal(r.ok, false, show(p));
    }
    assert.ok(fast >= 50, `the fast path took ${fast} cases`);
  });

  it('decodeRequestLine still answers malformed lines exactly (hostile JSON included)', () => {
    const lines = [
      '{"jsonrpc":"2.0","id":1,"method":"secret.get","params":{"__proto__":{"name":"A"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"secret.get","params":{"name":"A","__proto__":{}}}',
      '{"jsonrpc":"2.0","id":1,"method":"secret.get","params":{"name":"A","constructor":{}}}',
      '{"jsonrpc":"2.0","id":-0,"method":"secret.get","params":{"name":"A"}}',
      '{"jsonrpc":"2.0","id":9007199254740993,"method":"secret.get","params":{"name":"A"}}',
      '{"jsonrpc":"2.0","id":"a","method":"secret.get","params":{"name":"A","version":0}}',
    ];
    const expected = [
      'malformed secret.get params: name: expected string',
      null,
      'malformed secret.get params: unknown key "constructor"',
      null,
      'invalid request: id: expected at most 9007199254740991',
      'malformed secret.get params: version: expected more than 0',
    ];
    lines.forEach((line, i) => {
      const r = decodeRequestLine(line);
      if (expected[i] === null) assert.ok(r.ok, line);
      else assert.equal(!r.ok && r.error.message, expected[i], line);
    });
  });
});
