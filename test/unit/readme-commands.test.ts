/**
 * Every `lockstep …` command the README shows names a verb that exists and options that verb accepts
 * (read from the real CLI's --help), so the README cannot drift from the commands.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/lockstep.js');
const helpCache = new Map<string, string>();

function help(verbs: string[]): string {
  const key = verbs.join(' ');
  let text = helpCache.get(key);
  if (text === undefined) {
    text = execFileSync(process.execPath, [bin, ...verbs, '--help'], {
      encoding: 'utf8',
      env: { ...process.env, COLUMNS: '200' },
    });
    helpCache.set(key, text);
  }
  return text;
}

/** The commands listed under "Commands:" in a help text, with their aliases. */
function subcommands(text: string): Set<string> {
  const names = new Set<string>();
  const at = text.indexOf('\nCommands:\n');
  if (at < 0) return names;
  for (const line of text.slice(at + 11).split('\n')) {
    const m = /^ {2}(\S+)/.exec(line);
    if (m) for (const n of m[1]!.split('|')) names.add(n);
  }
  return names;
}

/** `lockstep` commands in the README's shell blocks, comments and shell operators cut off. */
function readmeCommands(): string[][] {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const out: string[][] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const raw of block[1]!.split('\n')) {
      for (const part of raw.replace(/\s#.*$/, '').split(/&&|\|\||;|\|/)) {
        const m = /(?:^|\s)(?:npx |\.\/bin\/)?lockstep\s+(.*)$/.exec(part.trim());
        if (m && !/^\s*#/.test(raw)) out.push(m[1]!.trim().split(/\s+/).filter(Boolean));
      }
    }
  }
  return out;
}

test('every lockstep command in the README exists and accepts the options it is shown with', () => {
  const commands = readmeCommands();
  assert.ok(commands.length >= 25, `found ${commands.length} commands in README.md`);
  const problems: string[] = [];
  for (const tokens of commands) {
    const verbs: string[] = [];
    let text = help([]);
    for (const t of tokens) {
      if (t.startsWith('-')) break;
      if (!subcommands(text).has(t)) break;
      verbs.push(t);
      text = help(verbs);
    }
    if (verbs.length === 0) {
      problems.push(`lockstep ${tokens.join(' ')}: no such command`);
      continue;
    }
    for (const t of tokens) {
      const flag = /^(--?[A-Za-z][\w-]*)/.exec(t)?.[1];
      if (!flag) continue;
      const spelled = new RegExp(`(^|[\\s,])${flag.replace(/-/g, '\\-')}([\\s,=]|$)`, 'm');
      if (!spelled.test(text))
        problems.push(`lockstep ${tokens.join(' ')}: '${verbs.join(' ')}' has no option ${flag}`);
    }
  }
  assert.deepEqual(problems, []);
});
