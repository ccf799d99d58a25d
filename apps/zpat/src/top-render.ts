/**
 * The text frame of `zpat top`: a daemon's `/status` document (docs/status.schema.json) drawn as
 * the status page draws it, for a terminal: a header line, then each section as aligned columns
 * (an array of objects) or name=value pairs (an object). Pure: document and size in, lines out.
 */

const HEADER = new Set(['version', 'daemon', 'pid', 'time', 'uptimeMs']);

/** `1234` ms as `1.2 s`, `754000` as `12 min 34 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** `1536` as `1.5 KiB`. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i] ?? ''}`;
}

function isControl(c: string): boolean {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code < 0xa0);
}

/** One value as the page shows it: by the field's unit (`...Ms`, `...Bytes`, `...PerSecond`). */
export function formatValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') {
    if (key.endsWith('Ms')) return duration(value);
    if (/[bB]ytes$/.test(key)) return bytes(value);
    if (key.endsWith('PerSecond')) return value.toFixed(1);
    return String(value);
  }
  // Service names come from peers: no control character reaches the terminal.
  if (typeof value === 'string') return [...value].map((c) => (isControl(c) ? '?' : c)).join('');
  return JSON.stringify(value);
}

function words(key: string): string {
  return key
    .replace(/Ms$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase();
}

function table(rows: Record<string, unknown>[]): string[] {
  if (rows.length === 0) return ['  (none)'];
  const cols: string[] = [];
  for (const row of rows) for (const key of Object.keys(row)) if (!cols.includes(key)) cols.push(key);
  const heads = cols.map((c) => {
    const name = c.replace(/Ms$/, '');
    return words(c).toUpperCase() + (name !== c && cols.includes(name) ? ' FOR' : '');
  });
  const cells = rows.map((row) => cols.map((c) => formatValue(c, row[c])));
  const numeric = cols.map((c) => rows.every((r) => typeof r[c] === 'number' || r[c] === null));
  const widths = cols.map((_, i) => Math.max((heads[i] ?? '').length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]): string =>
    `  ${values
      .map((v, i) => (numeric[i] === true ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()}`;
  return [line(heads), ...cells.map(line)];
}

function pairs(object: Record<string, unknown>): string[] {
  const flat: string[] = [];
  const nested: string[] = [];
  for (const [key, value] of Object.entries(object)) {
    if (value !== null && typeof value === 'object') {
      nested.push(
        `  ${words(key)}:`,
        ...table(Array.isArray(value) ? (value as Record<string, unknown>[]) : [value as Record<string, unknown>]),
      );
    } else {
      flat.push(`${words(key)}: ${formatValue(key, value)}`);
    }
  }
  const lines: string[] = [];
  let current = ' ';
  for (const item of flat) {
    if (current.length + item.length + 3 > 100 && current.trim() !== '') {
      lines.push(current.trimEnd());
      current = ' ';
    }
    current += ` ${item}  `;
  }
  if (current.trim() !== '') lines.push(current.trimEnd());
  return [...lines, ...nested];
}

/** The frame for `doc`, cut to `columns` x `rows` (the last line says what did not fit). */
export function renderFrame(doc: Record<string, unknown>, state: string, columns: number, rows: number): string[] {
  const head =
    `${formatValue('daemon', doc['daemon'])}  pid ${formatValue('pid', doc['pid'])}  ` +
    `up ${formatValue('uptimeMs', doc['uptimeMs'])}  schema v${formatValue('version', doc['version'])}  ` +
    `${formatValue('time', doc['time'])}  [${state}]   q: quit`;
  const lines = [head];
  for (const [key, value] of Object.entries(doc)) {
    if (HEADER.has(key) || value === null || typeof value !== 'object') continue;
    lines.push('', words(key).toUpperCase());
    lines.push(
      ...(Array.isArray(value) ? table(value as Record<string, unknown>[]) : pairs(value as Record<string, unknown>)),
    );
  }
  const fitted = lines.map((l) => (l.length > columns ? l.slice(0, Math.max(0, columns - 1)) + '>' : l));
  if (fitted.length <= rows) return fitted;
  return [
    ...fitted.slice(0, Math.max(0, rows - 1)),
    `... ${fitted.length - rows + 1} more lines (a taller terminal shows them)`,
  ];
}
