// An rjsf ValidatorType that needs no `eval`.
//
// @rjsf/validator-ajv8 compiles every schema into a function with `new Function`,
// which the server's Content-Security-Policy (script-src 'self', no
// 'unsafe-eval') forbids: the form would throw on its first validation. This
// validator interprets schemas with @cfworker/json-schema instead, and turns its
// output units into rjsf's error shapes the way validator-ajv8 does.
import { dereference, validate, type OutputUnit, type Schema } from '@cfworker/json-schema';
import {
  createErrorHandler,
  getDefaultFormState,
  toErrorSchema,
  unwrapErrorHandler,
  validationDataMerge,
  type CustomValidator,
  type ErrorTransformer,
  type RJSFSchema,
  type RJSFValidationError,
  type UiSchema,
  type ValidationData,
  type ValidatorType,
} from '@rjsf/utils';

const BASE = 'https://schema.inloop.invalid/root';

type Lookup = Record<string, Schema | boolean>;

// Keywords whose failure only says "a subschema failed"; their children carry the detail.
const WRAPPERS = new Set([
  '$ref',
  '$recursiveRef',
  '$dynamicRef',
  'properties',
  'patternProperties',
  'additionalProperties',
  'unevaluatedProperties',
  'dependentSchemas',
  'items',
  'prefixItems',
  'additionalItems',
  'unevaluatedItems',
  'allOf',
  'if',
  'then',
  'else',
  'propertyNames',
]);

// Keywords whose children are noise (one alternative's failures among several).
const ALTERNATIVES = new Set(['anyOf', 'oneOf', 'not', 'contains']);

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Point every local `$ref` ("#/$defs/X") at the root schema registered under BASE. */
function absolutize(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(absolutize);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#') ? BASE + value : absolutize(value);
    }
    return out;
  }
  return node;
}

function decodePointer(pointer: string): string[] {
  return pointer
    .replace(/^#/, '')
    .split('/')
    .slice(1)
    .map((part) => decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~'));
}

function friendly(unit: OutputUnit): { message: string; property: string[]; params: Record<string, unknown> } {
  const property = decodePointer(unit.instanceLocation);
  const text = unit.error;
  let match: RegExpMatchArray | null;
  switch (unit.keyword) {
    case 'required':
      match = text.match(/required property "(.*)"\.$/);
      if (match) return { message: 'This field is required', property: [...property, match[1]], params: { missingProperty: match[1] } };
      break;
    case 'type':
      match = text.match(/Expected "(.*)"\.$/);
      if (match) {
        const types = match[1].split('", "').map((t) => (t === 'integer' ? 'a whole number' : t === 'number' ? 'a number' : t));
        return { message: `Must be ${types.join(' or ')}`, property, params: { type: match[1] } };
      }
      break;
    case 'minLength':
      match = text.match(/< (\d+)\)/);
      if (match) {
        const n = Number(match[1]);
        return { message: `Must be at least ${n} character${n === 1 ? '' : 's'}`, property, params: { limit: n } };
      }
      break;
    case 'maxLength':
      match = text.match(/> (\d+)\)/);
      if (match) return { message: `Must be at most ${match[1]} characters`, property, params: { limit: Number(match[1]) } };
      break;
    case 'minItems':
      match = text.match(/< (\d+)\)/);
      if (match) return { message: `Must have at least ${match[1]} item${match[1] === '1' ? '' : 's'}`, property, params: {} };
      break;
    case 'maxItems':
      match = text.match(/> (\d+)\)/);
      if (match) return { message: `Must have at most ${match[1]} items`, property, params: {} };
      break;
    case 'enum':
      return { message: 'Must be one of the allowed values', property, params: {} };
    case 'const':
      return { message: 'Must be the allowed value', property, params: {} };
    case 'pattern':
      return { message: 'Does not match the expected pattern', property, params: {} };
    case 'format':
      match = text.match(/format "(.*)"\.$/);
      return { message: `Must be a valid ${match ? match[1] : 'value'}`, property, params: {} };
    case 'false':
      return { message: 'Not allowed here', property, params: {} };
    case 'uniqueItems':
      return { message: 'Must not contain duplicate items', property, params: {} };
    case 'anyOf':
    case 'oneOf':
      return { message: 'Does not match any of the allowed shapes', property, params: {} };
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum': {
      match = text.match(/(less|greater) than (or equal to )?\s*(-?[\d.e+-]+)\.$/);
      if (match) {
        const strict = unit.keyword.startsWith('exclusive') || Boolean(match[2]);
        const bound = match[3];
        const word = match[1] === 'less' ? (strict ? 'greater than' : 'at least') : strict ? 'less than' : 'at most';
        return { message: `Must be ${word} ${bound}`, property, params: { limit: Number(bound) } };
      }
      break;
    }
    case 'multipleOf':
      match = text.match(/multiple of (.*)\.$/);
      return { message: `Must be a multiple of ${match ? match[1] : 'the step'}`, property, params: {} };
  }
  // Anything else: cfworker's own sentence.
  return { message: text.replace(/\.$/, '').replace(/\s+/g, ' '), property, params: {} };
}

/** Keep the errors a person can act on, in rjsf's shape. */
export function toRjsfErrors(units: OutputUnit[], schema: RJSFSchema): RJSFValidationError[] {
  const hidden = units
    .filter((unit) => ALTERNATIVES.has(unit.keyword))
    .map((unit) => `${unit.keywordLocation}/`);
  const seen = new Set<string>();
  const errors: RJSFValidationError[] = [];
  for (const unit of units) {
    if (WRAPPERS.has(unit.keyword)) continue;
    if (hidden.some((prefix) => unit.keywordLocation.startsWith(prefix))) continue;
    const { message, property, params } = friendly(unit);
    const path = property.map((part) => `.${part}`).join('');
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const title = titleFor(schema, property) ?? property[property.length - 1] ?? '';
    errors.push({
      name: unit.keyword,
      property: path || '.',
      message,
      params,
      stack: title ? `${title}: ${message}` : message,
      schemaPath: unit.keywordLocation,
      title,
    });
  }
  return errors;
}

function titleFor(schema: RJSFSchema, path: string[]): string | undefined {
  let node: unknown = schema;
  for (const part of path) {
    if (!node || typeof node !== 'object') return undefined;
    const record = node as Record<string, unknown>;
    const ref = record.$ref;
    if (typeof ref === 'string' && ref.startsWith('#/')) node = resolveLocal(schema, ref);
    const next = node as Record<string, unknown>;
    if (/^\d+$/.test(part) && next.items && typeof next.items === 'object') node = next.items;
    else node = (next.properties as Record<string, unknown> | undefined)?.[part];
  }
  if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record.title === 'string') return record.title;
  }
  return undefined;
}

function resolveLocal(root: unknown, ref: string): unknown {
  let node = root;
  for (const part of decodePointer(ref)) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

export class CspSafeValidator<T = unknown> implements ValidatorType<T, RJSFSchema> {
  private cache = new Map<string, { schema: Schema; lookup: Lookup }>();

  /** The root schema, dereferenced under BASE; cached by content. */
  private prepare(root: RJSFSchema): { schema: Schema; lookup: Lookup } {
    const text = JSON.stringify(root);
    let entry = this.cache.get(text);
    if (!entry) {
      const schema = JSON.parse(text) as Schema; // dereference() annotates the schema it is given
      const lookup = dereference(schema, Object.create(null), new URL(BASE)) as Lookup;
      entry = { schema, lookup };
      if (this.cache.size > 50) this.cache.clear();
      this.cache.set(text, entry);
    }
    return entry;
  }

  private run(schema: RJSFSchema, formData: unknown, root: RJSFSchema) {
    const prepared = this.prepare(root);
    const target = schema === root ? prepared.schema : (absolutize(clone(schema)) as Schema);
    // JSON has no `undefined`: validate what would actually be sent.
    const instance = formData === undefined ? (schema === root ? {} : null) : clone(formData);
    return validate(instance, target, '2020-12', prepared.lookup as never, false);
  }

  rawValidation<Result = OutputUnit>(schema: RJSFSchema, formData?: T): { errors?: Result[]; validationError?: Error } {
    try {
      const result = this.run(schema, formData, schema);
      return { errors: result.valid ? undefined : (result.errors as Result[]) };
    } catch (error) {
      return { validationError: error as Error };
    }
  }

  validateFormData(
    formData: T | undefined,
    schema: RJSFSchema,
    customValidate?: CustomValidator<T, RJSFSchema>,
    transformErrors?: ErrorTransformer<T, RJSFSchema>,
    uiSchema?: UiSchema<T, RJSFSchema>,
  ): ValidationData<T> {
    const raw = this.rawValidation(schema, formData);
    let errors = toRjsfErrors((raw.errors as OutputUnit[] | undefined) ?? [], schema);
    if (raw.validationError) errors = [...errors, { stack: `invalid schema: ${raw.validationError.message}` }];
    if (transformErrors) errors = transformErrors(errors, uiSchema);
    const errorSchema = toErrorSchema<T>(errors);
    if (typeof customValidate !== 'function') return { errors, errorSchema };
    const full = getDefaultFormState<T>(this, schema, formData, schema, true) as T;
    const handler = customValidate(full, createErrorHandler<T>(full), uiSchema, errorSchema);
    return validationDataMerge<T>({ errors, errorSchema }, unwrapErrorHandler<T>(handler));
  }

  isValid(schema: RJSFSchema, formData: T | undefined, rootSchema: RJSFSchema): boolean {
    try {
      return this.run(schema, formData, rootSchema).valid;
    } catch {
      return false;
    }
  }

  reset() {
    this.cache.clear();
  }
}

export const validator = new CspSafeValidator();
