/**
 * Check a daemon's `/status` answer against docs/status.schema.json with a small JSON Schema
 * validator: the subset that schema uses (type, const, enum, pattern, minimum, required,
 * properties, additionalProperties: false, items, allOf, if/then, local $ref). Anything else in a
 * schema is an error, so the validator never silently accepts what it does not understand.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema',
  '$id',
  '$defs',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'pattern',
  'minimum',
  'required',
  'properties',
  'additionalProperties',
  'items',
  'allOf',
  'if',
  'then',
  '$ref',
]);

/** The status schema of this repository (docs/status.schema.json). */
export function statusSchema(): Schema {
  const path = fileURLToPath(new URL('../../../docs/status.schema.json', import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as Schema;
}

/** Every way `value` breaks `schema` (empty: valid), each as `path: problem`. */
export function validateSchema(value: unknown, schema: Schema = statusSchema()): string[] {
  const errors: string[] = [];
  check(value, schema, schema, '$', errors);
  return errors;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function check(value: unknown, schema: Schema, root: Schema, path: string, errors: string[]): void {
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) errors.push(`${path}: schema keyword ${key} unsupported`);
  if (typeof schema['$ref'] === 'string') {
    const name = /^#\/\$defs\/(.+)$/.exec(schema['$ref'])?.[1];
    const target = name === undefined ? undefined : (root['$defs'] as Record<string, Schema> | undefined)?.[name];
    if (target === undefined) errors.push(`${path}: unresolved $ref ${schema['$ref']}`);
    else check(value, target, root, path, errors);
  }
  const type = schema['type'];
  if (type !== undefined) {
    const types = Array.isArray(type) ? (type as string[]) : [type as string];
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === 'integer' && types.includes('number'))) {
      errors.push(`${path}: expected ${types.join('|')}, got ${actual}`);
      return;
    }
  }
  if ('const' in schema && value !== schema['const'])
    errors.push(`${path}: expected ${JSON.stringify(schema['const'])}`);
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).includes(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} not one of ${JSON.stringify(schema['enum'])}`);
  }
  if (
    typeof schema['pattern'] === 'string' &&
    typeof value === 'string' &&
    !new RegExp(schema['pattern']).test(value)
  ) {
    errors.push(`${path}: ${JSON.stringify(value)} does not match ${schema['pattern']}`);
  }
  if (typeof schema['minimum'] === 'number' && typeof value === 'number' && value < schema['minimum']) {
    errors.push(`${path}: ${value} < ${schema['minimum']}`);
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of (schema['required'] as string[] | undefined) ?? []) {
      if (!(name in object)) errors.push(`${path}: missing ${name}`);
    }
    const properties = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
    for (const [name, v] of Object.entries(object)) {
      const sub = properties[name];
      if (sub !== undefined) check(v, sub, root, `${path}.${name}`, errors);
      else if (schema['additionalProperties'] === false) errors.push(`${path}: unexpected property ${name}`);
    }
  }
  if (Array.isArray(value) && schema['items'] !== undefined) {
    value.forEach((item, i) => check(item, schema['items'] as Schema, root, `${path}[${i}]`, errors));
  }
  for (const sub of (schema['allOf'] as Schema[] | undefined) ?? []) check(value, sub, root, path, errors);
  if (schema['if'] !== undefined && schema['then'] !== undefined) {
    if (validateSchema(value, { ...(schema['if'] as Schema), $defs: root['$defs'] }).length === 0) {
      check(value, schema['then'] as Schema, root, path, errors);
    }
  }
}
