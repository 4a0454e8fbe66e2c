/**
 * No import cycle in src/core (issue 13: `host.ts` and `lifecycle/host-lifecycle.ts` imported
 * each other). Read from the TypeScript sources, so type-only imports, `export … from` and
 * dynamic `import()` count: a cycle through types is still two modules that cannot be
 * understood, tested or replaced one without the other. A failure names the cycle's path.
 * The detector is probed with a planted cycle first, so it cannot silently stop finding them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { ROOT, tempDir } from '../helpers/env.js';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.isFile() && p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Each module's relative imports inside `root` (`./x.js` resolves to `./x.ts`, or `./x/index.ts`). */
function importGraph(root: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(root)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const deps: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const base = path.resolve(path.dirname(file), fileName).replace(/\.js$/, '');
      const target = [`${base}.ts`, path.join(base, 'index.ts')].find((t) => fs.existsSync(t));
      if (target && target.startsWith(root + path.sep) && !deps.includes(target)) deps.push(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** The first cycle found (a path that starts and ends at the same module), or null. */
function findCycle(graph: Map<string, string[]>): string[] | null {
  const done = new Set<string>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const visit = (m: string): string[] | null => {
    stack.push(m);
    onStack.add(m);
    for (const d of graph.get(m) ?? []) {
      if (onStack.has(d)) return [...stack.slice(stack.indexOf(d)), d];
      if (!done.has(d)) {
        const c = visit(d);
        if (c) return c;
      }
    }
    stack.pop();
    onStack.delete(m);
    done.add(m);
    return null;
  };
  for (const m of [...graph.keys()].sort()) {
    if (done.has(m)) continue;
    const c = visit(m);
    if (c) return c;
  }
  return null;
}

describe('src/core import graph', () => {
  test('the detector finds a planted cycle, through a type-only import, and names its path', () => {
    const root = path.join(tempDir('akc-cycles-'), 'core');
    fs.mkdirSync(path.join(root, 'host'), { recursive: true });
    fs.mkdirSync(path.join(root, 'lifecycle'), { recursive: true });
    fs.writeFileSync(path.join(root, 'host/host.ts'), "import { L } from '../lifecycle/l.js';\nexport class Host { l = new L(); }\n");
    fs.writeFileSync(path.join(root, 'lifecycle/l.ts'), "import type { Host } from '../host/host.js';\nexport class L { h?: Host; }\n");
    fs.writeFileSync(path.join(root, 'leaf.ts'), 'export const x = 1;\n');
    const cycle = findCycle(importGraph(root));
    assert.deepEqual(
      cycle?.map((f) => path.relative(root, f)),
      ['host/host.ts', 'lifecycle/l.ts', 'host/host.ts'],
    );
    fs.writeFileSync(path.join(root, 'lifecycle/l.ts'), 'export class L {}\n');
    assert.equal(findCycle(importGraph(root)), null, 'and none once it is broken');
  });

  test('src/core has no import cycle', () => {
    const root = path.join(ROOT, 'src/core');
    const graph = importGraph(root);
    assert.ok(graph.size > 50, `read the sources (${graph.size} modules)`);
    assert.ok(
      graph.get(path.join(root, 'host/host.ts'))?.includes(path.join(root, 'lifecycle/host-lifecycle.ts')),
      'the graph sees the host composing the lifecycle',
    );
    const cycle = findCycle(graph);
    assert.equal(cycle, null, `import cycle: ${cycle?.map((f) => path.relative(root, f)).join(' → ')}`);
  });
});
