/**
 * The layering rules of ARCHITECTURE.md, read from the import graph of the TypeScript sources (static
 * imports, re-exports, dynamic `import()` and `import('…')` types, from the TypeScript compiler's syntax
 * tree, so imports inside comments and strings do not count).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../helpers/project.js';

interface Import {
  /** Repo-relative, POSIX: src/pipeline/gc.ts */
  from: string;
  /** Repo-relative target for a relative import, else the package specifier. */
  to: string;
  line: number;
  /** `import type` / `export type` (or every named binding a type): no code is loaded. */
  typeOnly: boolean;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Static imports, re-exports and dynamic `import()` of a file, from the TypeScript compiler's syntax tree. */
function importsOf(file: string): Import[] {
  const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (spec: ts.Expression, node: ts.Node, typeOnly: boolean) => {
    if (!ts.isStringLiteralLike(spec)) return;
    const name = spec.text;
    found.push({
      from: file,
      to: name.startsWith('.')
        ? path.posix.normalize(path.posix.join(path.posix.dirname(file), name)).replace(/\.js$/, '.ts')
        : name,
      line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
      typeOnly,
    });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const allTypes = !!c && !c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, node, !!c?.isTypeOnly || allTypes);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      add(node.moduleSpecifier, node, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) {
      add(node.arguments[0], node, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal as ts.Expression, node, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const ALL = [...sources('src'), ...sources('stages')].flatMap(importsOf);
const show = (list: Import[]) => list.map((i) => `${i.from}:${i.line} imports ${i.to}`).join('\n');

/** The unit of the folder rules: `src/pipeline` for src/pipeline/x.ts, `src/errors` for src/errors.ts. */
const unit = (file: string): string => {
  const parts = file.split('/');
  if (parts[0] !== 'src') return parts[0]!;
  return parts.length > 2 ? `src/${parts[1]}` : `src/${parts[1]!.replace(/\.ts$/, '')}`;
};

test('the graph is read: every file of src and stages is seen, dynamic imports included', () => {
  assert.ok(ALL.some((i) => i.from === 'src/cli/main.ts' && i.to === 'src/cli/pipeline-commands.ts'));
  // lazy verbs are dynamic imports: they must be in the graph too
  assert.ok(ALL.some((i) => i.from === 'src/cli/pipeline-commands.ts' && i.to === 'src/cli/repro.ts'));
  assert.ok(ALL.some((i) => i.from.startsWith('stages/') && i.to.startsWith('@tensorflow/')));
});

test('the engine (src/ outside src/cli) never imports src/cli nor stages/', () => {
  const bad = ALL.filter(
    (i) => i.from.startsWith('src/') && !i.from.startsWith('src/cli/') && /^(src\/cli\/|stages\/)/.test(i.to),
  );
  assert.equal(show(bad), '');
});

test('stages/ never imports src/: the stages reach the engine only through files, params and LOCKSTEP_JOBS', () => {
  const bad = ALL.filter((i) => i.from.startsWith('stages/') && i.to.startsWith('src/'));
  assert.equal(show(bad), '');
});

test("the generic engine never imports the CIFAR-10 project's conventions (src/product, src/report)", () => {
  const engine = /^src\/(cache|config|exp|hash|pipeline|remote|util|errors|project)(\/|\.ts$)/;
  const bad = ALL.filter((i) => engine.test(i.from) && /^src\/(product|report)\//.test(i.to));
  assert.equal(show(bad), '');
});

test('no import cycles between top-level src folders (type-only imports aside), and no exceptions', () => {
  const edges = new Map<string, Map<string, Import>>();
  for (const i of ALL) {
    // a type-only import loads no code: layers may share types both ways
    if (!i.from.startsWith('src/') || !i.to.startsWith('src/') || i.typeOnly) continue;
    const [a, b] = [unit(i.from), unit(i.to)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, i);
  }
  // depth-first search for a back edge; report the cycle with one import per step
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (n: string) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges.get(n)?.keys() ?? []) {
      if (state.get(m) === 'open') {
        const loop = [...stack.slice(stack.indexOf(m)), m];
        const steps = loop.slice(0, -1).map((x, k) => edges.get(x)!.get(loop[k + 1]!)!);
        cycles.push(`${loop.join(' -> ')}\n${show(steps)}`);
      } else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...edges.keys()].sort()) if (!state.has(n)) visit(n);
  assert.equal(cycles.join('\n\n'), '');
});

test('heavy packages are imported only where ARCHITECTURE.md says (and lazily by the CLI)', () => {
  const where: Record<string, RegExp> = {
    '@tensorflow/': /^stages\//,
    '@aws-sdk/': /^src\/remote\//,
    ssh2: /^src\/remote\//,
  };
  const bad = ALL.filter((i) =>
    Object.entries(where).some(([pkg, allowed]) => i.to.startsWith(pkg) && !allowed.test(i.from)),
  );
  assert.equal(show(bad), '');
});

/** Every source file (TypeScript and JavaScript, embedded assets included) of a folder, recursively. */
function codeFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...codeFiles(rel));
    else if (/\.(ts|js|mjs|cjs|css|html)$/.test(e.name)) out.push(rel);
  }
  return out;
}

test('no line over 120 characters in src/, stages/ and test/ (Biome wraps code but not strings or comments)', () => {
  const files = ['src', 'stages', 'test'].flatMap(codeFiles);
  assert.ok(files.includes('test/unit/architecture.test.ts'), 'the walk sees the test files');
  const long: string[] = [];
  for (const f of files) {
    readFileSync(path.join(REPO_ROOT, f), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if ([...line].length > 120) long.push(`${f}:${i + 1}: ${[...line].length} characters`);
      });
  }
  assert.equal(long.join('\n'), '');
});
