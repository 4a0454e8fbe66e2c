/**
 * The repository explains itself: code comments in src/ and ARCHITECTURE.md cite no
 * document outside it (the design notes, issue numbers, a UI spec) — they say the reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../helpers/env.js';

const OUTSIDE = /DESIGN §|DESIGN\.md|issue \d+|UI\.md|§\d/;

function files(dir: string): string[] {
  return (fs.readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile() && /\.(ts|tsx|js|mjs|cjs|css|html)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

describe('no references to documents outside the repository', () => {
  test('the pattern catches the forms that were used', () => {
    for (const s of ['(DESIGN §6)', 'see ../shared/DESIGN.md', '(issue 16)', 'issue 4:', 'per UI.md', 'one frame (§8)'])
      assert.match(s, OUTSIDE, s);
    for (const s of ['design', 'an issue with 16 entries', 'the UI']) assert.doesNotMatch(s, OUTSIDE, s);
  });

  test('src/ and ARCHITECTURE.md', () => {
    const hits: string[] = [];
    for (const f of [...files('src'), 'ARCHITECTURE.md']) {
      fs.readFileSync(path.join(ROOT, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (OUTSIDE.test(line)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(hits, []);
  });
});
