/**
 * `akc run --env-file FILE` parsing (src/cli/env-file.ts): dotenv lines, `akc://` references,
 * quotes, comments, `export`, and every bad line named FILE:LINE without quoting it (a
 * literal value may itself be a secret). The run itself is tested in run.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseEnvFile, readEnvFiles } from '../../src/cli/env-file.js';
import { tempDir } from '../helpers/env.js';

describe('parseEnvFile', () => {
  test('references, literals, quotes, comments, export, CRLF', () => {
    const text = [
      '# a comment',
      '',
      'OPENAI_API_KEY=akc://OPENAI_API_KEY',
      'export GH=akc://github/token',
      'QUOTED_REF="akc://db/main"',
      'PLAIN=hello world  # trailing comment',
      'HASH=a#b',
      "SINGLE='raw $HOME \\n kept'",
      'DOUBLE="line1\\nline2 \\"q\\" \\\\"',
      'EMPTY=',
      'URL=https://akc.example/akc://not-a-ref',
      'CRLF=yes\r',
    ].join('\n');
    const r = parseEnvFile(text, '.env');
    assert.deepEqual(r.references, [
      { variable: 'OPENAI_API_KEY', secret: 'OPENAI_API_KEY', where: '.env:3' },
      { variable: 'GH', secret: 'github/token', where: '.env:4' },
      { variable: 'QUOTED_REF', secret: 'db/main', where: '.env:5' },
    ]);
    assert.deepEqual(Object.fromEntries(r.literals), {
      PLAIN: 'hello world',
      HASH: 'a#b',
      SINGLE: 'raw $HOME \\n kept',
      DOUBLE: 'line1\nline2 "q" \\',
      EMPTY: '',
      URL: 'https://akc.example/akc://not-a-ref',
      CRLF: 'yes',
    });
  });

  test('bad lines: FILE:LINE and what is wrong, never the line itself', () => {
    const cases: [string, RegExp][] = [
      ['sk-LITERAL-SECRET-no-equals', /^f:2: expected KEY=VALUE$/],
      ['=sk-LITERAL-SECRET', /^f:2: expected KEY=VALUE$/],
      ['1BAD=sk-LITERAL-SECRET', /^f:2: not a variable name before =$/],
      ['A=1\nA=sk-LITERAL-SECRET', /^f:3: A is set twice$/],
      ['K="sk-LITERAL-SECRET', /^f:2: unterminated double quote$/],
      ["K='sk-LITERAL-SECRET' junk", /^f:2: unexpected text after the closing quote$/],
      ['K=akc://', /^f:2: K=akc:\/\/…: /],
      ['K=akc://has space', /^f:2: K=akc:\/\/…: /],
    ];
    for (const [line, error] of cases) {
      const text = `# first\n${line}\n`;
      assert.throws(
        () => parseEnvFile(text, 'f'),
        (err: Error) => error.test(err.message) && !err.message.includes('sk-LITERAL-SECRET'),
        line,
      );
    }
  });
});

describe('readEnvFiles', () => {
  test('several files in order; a variable in two files, a missing or non-regular file: errors', () => {
    const dir = tempDir('akc-envfile-');
    const a = path.join(dir, 'a.env');
    const b = path.join(dir, 'b.env');
    fs.writeFileSync(a, 'X=akc://K\nA=1\n');
    fs.writeFileSync(b, 'Y=akc://L\nB=2\n');
    const r = readEnvFiles([a, b]);
    assert.deepEqual(
      r.references.map((x) => [x.variable, x.secret]),
      [
        ['X', 'K'],
        ['Y', 'L'],
      ],
    );
    assert.deepEqual(Object.fromEntries(r.literals), { A: '1', B: '2' });
    fs.writeFileSync(b, 'A=akc://L\n');
    const message = (re: RegExp) => (err: Error) => re.test(err.message);
    assert.throws(() => readEnvFiles([a, b]), message(new RegExp(`^A is set in both ${a} and ${b}$`)));
    assert.throws(() => readEnvFiles([path.join(dir, 'nope.env')]), message(/^--env-file .*nope\.env: no such file$/));
    assert.throws(() => readEnvFiles([dir]), message(/: not a regular file$/));
  });
});
