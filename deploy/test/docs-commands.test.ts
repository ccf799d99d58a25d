/**
 * The commands in docs/ and the READMEs. Shell blocks marked ```sh runnable are run as written
 * (from the repository root, after `npm ci` and `npm run build`, which the suite has done); in
 * every other shell block, each command that runs one of our programs is checked: the program
 * exists, and every flag it is given is one that program (or zpat subcommand) lists in its --help.
 * Commands on fixed ports are not run here: the process tests of each daemon and example cover
 * them on ephemeral ports.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appBin, runCli } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DAEMONS = new Set(['mdbroker', 'titanic', 'ppqueue', 'bstarsrv', 'flserver', 'clonesrv', 'zpat']);

function pages(): string[] {
  const found = [join(root, 'README.md'), join(root, 'examples', 'README.md')];
  for (const file of readdirSync(join(root, 'docs'))) if (file.endsWith('.md')) found.push(join(root, 'docs', file));
  for (const group of ['apps', 'packages']) {
    for (const name of readdirSync(join(root, group))) {
      const readme = join(root, group, name, 'README.md');
      if (existsSync(readme)) found.push(readme);
    }
  }
  return found.sort();
}

interface Block {
  page: string;
  line: number;
  runnable: boolean;
  text: string;
}

function shellBlocks(page: string): Block[] {
  const blocks: Block[] = [];
  const lines = readFileSync(page, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(sh|bash|shell|console)?(?:\s+(.*))?$/.exec(lines[i] ?? '');
    if (open === null) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? '').startsWith('```'); i++) body.push(lines[i] ?? '');
    // Unlabelled blocks are pictures and message layouts unless they start with a command.
    const shell = open[1] !== undefined || /^(npm|npx|node|node_modules|sudo) /.test(body[0] ?? '');
    if (!shell) continue;
    blocks.push({
      page: relative(root, page),
      line: start + 1,
      runnable: (open[2] ?? '').split(/\s+/).includes('runnable'),
      text: body.join('\n'),
    });
  }
  return blocks;
}

/** Shell words of one simple command (quotes removed; no expansion). */
function words(command: string): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(command); m !== null; m = re.exec(command)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

interface Invocation {
  where: string;
  program: string;
  /** zpat subcommand path, e.g. ['clone', 'set']. */
  sub: string[];
  flags: string[];
}

function invocations(block: Block): Invocation[] {
  const found: Invocation[] = [];
  const joined = block.text.replace(/\\\n/g, ' ');
  joined.split('\n').forEach((raw, n) => {
    const line = raw.replace(/\s+#\s.*$/, '').replace(/^\$\s+/, '');
    for (const part of line.split(/&&|\|\||[|;&]/)) {
      let w = words(part.trim());
      if (w[0] === 'sudo') w = w.slice(1);
      let program: string | undefined;
      let rest: string[] = [];
      const bin = /(?:^|\/)node_modules\/\.bin\/([a-z]+)$/.exec(w[0] ?? '');
      if (bin?.[1] !== undefined) [program, rest] = [bin[1], w.slice(1)];
      else if (w[0] === 'npx' && w[1] === '--no-install' && DAEMONS.has(w[2] ?? ''))
        [program, rest] = [w[2], w.slice(3)];
      else if (w[0] === 'node' && /^examples\/dist\/[a-z-]+\.js$/.test(w[1] ?? ''))
        [program, rest] = [w[1], w.slice(2)];
      if (program === undefined) continue;
      const sub: string[] = [];
      if (program === 'zpat')
        for (const word of rest)
          if (/^[a-z][a-z-]*$/.test(word) && sub.length < 2) sub.push(word);
          else break;
      found.push({
        where: `${block.page}:${block.line + n + 1}`,
        program,
        sub,
        flags: rest.filter((x) => /^--[a-z]/.test(x)).map((x) => x.replace(/=.*$/, '')),
      });
    }
  });
  return found;
}

const all = pages().flatMap(shellBlocks);
const helpCache = new Map<string, Promise<string>>();

async function help(inv: Invocation): Promise<string> {
  if (inv.program.startsWith('examples/')) {
    // The examples parse their flags with node:util parseArgs: the option names are in the source.
    return readFileSync(join(root, inv.program.replace('dist/', 'src/').replace(/\.js$/, '.ts')), 'utf8');
  }
  // `zpat clone set` -> `zpat clone set --help`; stop at the first word that is not a subcommand.
  const key = [inv.program, ...inv.sub].join(' ');
  let text = helpCache.get(key);
  if (text === undefined) {
    text = (async () => {
      let sub = [...inv.sub];
      for (;;) {
        const r = await runCli(appBin(inv.program), [...sub, '--help']);
        if (r.code === 0 || sub.length === 0) return r.stdout;
        sub = sub.slice(0, -1);
      }
    })();
    helpCache.set(key, text);
  }
  return text;
}

describe('documented commands', () => {
  it('there are shell blocks, and some are runnable', () => {
    expect(all.length).toBeGreaterThan(20);
    expect(all.filter((b) => b.runnable).length).toBeGreaterThan(0);
  });

  const checked = all.filter((b) => !b.runnable).flatMap(invocations);
  it.each(checked.map((inv) => [`${inv.where} ${inv.program} ${inv.sub.join(' ')}`.trim(), inv] as const))(
    '%s: every flag is known',
    async (_name, inv) => {
      const text = await help(inv);
      expect(text.length).toBeGreaterThan(0);
      for (const flag of inv.flags) {
        if (flag === '--help' || flag === '--version') continue;
        const name = flag.slice(2);
        const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const known = inv.program.startsWith('examples/')
          ? text.includes(`'${name}':`) || new RegExp(`\\b${escaped}: \\{`).test(text)
          : new RegExp(`(^|[\\s\\[,])--${escaped}(?=[\\s,=\\]]|$)`, 'm').test(text);
        expect(known, `${inv.where}: ${flag} is not an option of ${inv.program} ${inv.sub.join(' ')}`).toBe(true);
      }
    },
  );

  it.each(all.filter((b) => b.runnable).map((b) => [`${b.page}:${b.line}`, b] as const))(
    '%s runs as written',
    (_where, block) => {
      // `npm ci` and `npm run build` have run before the suite; the rest runs here.
      const script = block.text
        .split('\n')
        .filter((l) => !/^npm (ci|run build)\s*$/.test(l.trim()))
        .join('\n');
      const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    },
    90_000,
  );
});
