/**
 * Every relative link of the user docs resolves: in docs/*.md, README.md and each package's and
 * app's README.md, a link to a file names a file or directory that exists, and a `#anchor` (in
 * the same page or another Markdown page) names a heading of that page, spelled as GitHub spells
 * its anchors. Links inside code (fenced blocks, `inline`) are not links; http(s) and mailto links
 * are not checked (no network in tests).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function markdownFiles(): string[] {
  const files = ['README.md'];
  for (const name of readdirSync(join(root, 'docs'))) if (name.endsWith('.md')) files.push(join('docs', name));
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, group))) {
      const readme = join(group, name, 'README.md');
      if (existsSync(join(root, readme))) files.push(readme);
    }
  }
  return files.sort();
}

/** The text of a page with fenced code blocks and inline code blanked out (line numbers kept). */
function withoutCode(text: string): string {
  let fenced = false;
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line.replace(/(`+)[^`]*?\1/g, '');
    })
    .join('\n');
}

/**
 * GitHub's anchor for a heading: the rendered text lower-cased, punctuation dropped (letters,
 * digits, `_`, `-` and spaces stay), each space a hyphen; a repeated anchor gets `-1`, `-2`, ...
 */
function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading !== null) {
      const rendered = (heading[1] ?? '')
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/<[^>]+>/g, '')
        .replace(/[`*]/g, '');
      const base = rendered
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\p{M}_\- ]/gu, '')
        .replace(/ /g, '-');
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const explicit of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(explicit[1] ?? '');
  }
  return anchors;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function linksOf(file: string): Link[] {
  const text = withoutCode(readFileSync(join(root, file), 'utf8'));
  const links: Link[] = [];
  text.split('\n').forEach((line, index) => {
    const add = (target: string | undefined): void => {
      if (target !== undefined) links.push({ file, line: index + 1, target: target.replace(/^<|>$/g, '') });
    };
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) add(m[1]);
    const definition = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(line);
    if (definition !== null) add(definition[1]);
    for (const m of line.matchAll(/<a\s[^>]*href="([^"]+)"/g)) add(m[1]);
  });
  return links.filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l.target));
}

/** Why `link` does not resolve, or undefined when it does. */
function problem(link: Link, anchorsOf: (file: string) => Set<string>): string | undefined {
  const [pathPart = '', anchor] = link.target.split('#', 2);
  const path = decodeURIComponent(pathPart);
  const target = path === '' ? join(root, link.file) : resolve(dirname(join(root, link.file)), path);
  if (!existsSync(target)) return `${relative(root, target)} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(target).isDirectory() || !target.endsWith('.md')) return undefined;
  const page = relative(root, target);
  return anchorsOf(page).has(decodeURIComponent(anchor).toLowerCase())
    ? undefined
    : `${page} has no heading #${anchor}`;
}

describe('docs links', () => {
  it('spells anchors as GitHub does', () => {
    expect([
      ...headingAnchors(
        '# A `zpat` call: the *first* try\n## Options\n## Options\n```\n# not a heading\n```\n## CURVE (12/CHP) & more',
      ),
    ]).toEqual(['a-zpat-call-the-first-try', 'options', 'options-1', 'curve-12chp--more']);
  });

  it('every relative link and #anchor in docs/, README.md and the package and app READMEs resolves', () => {
    const cache = new Map<string, Set<string>>();
    const anchorsOf = (file: string): Set<string> => {
      let anchors = cache.get(file);
      if (anchors === undefined) {
        anchors = headingAnchors(readFileSync(join(root, file), 'utf8'));
        cache.set(file, anchors);
      }
      return anchors;
    };
    const files = markdownFiles();
    const links = files.flatMap(linksOf);
    expect(files.length).toBeGreaterThan(20);
    expect(links.length).toBeGreaterThan(100);
    const broken = links.flatMap((link) => {
      const why = problem(link, anchorsOf);
      return why === undefined ? [] : [`${link.file}:${link.line}: (${link.target}) ${why}`];
    });
    expect(broken).toEqual([]);
  });
});
