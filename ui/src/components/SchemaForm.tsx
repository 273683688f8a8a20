// A form generated from a JSON schema (react-jsonschema-form), validated in the
// browser before anything is sent, with the server's 422 errors shown on the
// fields they name.
import Form from '@rjsf/core';
import type {
  ArrayFieldItemTemplateProps,
  ErrorSchema,
  RJSFSchema,
  RJSFValidationError,
  UiSchema,
} from '@rjsf/utils';
import { getTemplate, getUiOptions } from '@rjsf/utils';
import { useMemo, useState } from 'react';
import { ApiError, type Json, type JsonObject, type ValidationIssue } from '../api';
import { validator } from '../validator';

export interface SchemaFormProps {
  schema: JsonObject;
  submitText: string;
  /** The path prefixes of the server's 422 `loc` before the field path, e.g. ["run_input"]. */
  locPrefix: string;
  onSubmit: (data: Json) => Promise<void>;
  idPrefix?: string;
  /** Ask for every field the flow pre-filled (see `requireDefaults`). */
  requirePrefilled?: boolean;
}

/**
 * A copy of `schema` in which every property with a (non-null) default is required.
 *
 * pydantic drops a field from `required` once it has a default, so `with_initial_data(name=
 * "anonymous")` makes `name` optional. The form shows the default already filled in, so an
 * empty field can only mean the person cleared it: ask for a value rather than silently
 * sending nothing (and getting the default back).
 */
export function requireDefaults(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(requireDefaults);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'default' || key === 'const' || key === 'enum' || key === 'examples' ? value : requireDefaults(value);
  }
  const properties = out.properties as Record<string, Record<string, unknown>> | undefined;
  if (properties && typeof properties === 'object') {
    const required = new Set(Array.isArray(out.required) ? (out.required as string[]) : []);
    for (const [name, property] of Object.entries(properties)) {
      if (property && typeof property === 'object' && property.default !== undefined && property.default !== null) {
        required.add(name);
      }
    }
    if (required.size) out.required = [...required];
  }
  return out;
}

const isNull = (node: unknown) =>
  !!node && typeof node === 'object' && (node as Record<string, unknown>).type === 'null' && Object.keys(node).length === 1;

/**
 * A copy of `schema` with pydantic's optional fields (`anyOf: [X, {type: null}]`,
 * `type: [X, "null"]`) shown as plain X fields: left empty, they are simply not sent, and the
 * flow gets its default. rjsf would otherwise ask the person to pick "option 1 / option 2".
 */
export function simplifyNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(simplifyNullable);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'default' || key === 'const' || key === 'enum' || key === 'examples' ? value : simplifyNullable(value);
  }
  for (const keyword of ['anyOf', 'oneOf']) {
    const options = out[keyword];
    if (Array.isArray(options) && options.length === 2 && options.some(isNull)) {
      const other = options.find((option) => !isNull(option)) as Record<string, unknown>;
      delete out[keyword];
      Object.assign(out, { ...other, ...out });
      break;
    }
  }
  if (Array.isArray(out.type) && out.type.length === 2 && out.type.includes('null')) {
    out.type = out.type.find((type) => type !== 'null');
  }
  if (out.default === null) delete out.default;
  return out;
}

/** Where an issue points inside the form: [] for the whole form. */
function issuePath(issue: ValidationIssue, locPrefix: string): string[] {
  const loc = [...(issue.loc ?? [])].map(String);
  if (loc[0] === 'body') loc.shift();
  if (loc[0] === locPrefix) loc.shift();
  return loc;
}

/** Messages about the whole answer (a flow's model_validator), shown at the form's top. */
export function wholeFormMessages(issues: ValidationIssue[], locPrefix: string): string[] {
  return issues
    .filter((issue) => issuePath(issue, locPrefix).length === 0)
    .filter((issue) => !/^'([^']+)' is a required property/.test(issue.msg))
    .map((issue) => issue.msg);
}

/** Turn FastAPI-style issues into rjsf's nested ErrorSchema. */
export function issuesToErrorSchema(issues: ValidationIssue[], locPrefix: string): ErrorSchema {
  const root: Record<string, unknown> = {};
  for (const issue of issues) {
    const loc = [...(issue.loc ?? [])].map(String);
    if (loc[0] === 'body') loc.shift();
    if (loc[0] === locPrefix) loc.shift();
    if (loc.length === 0) {
      // Whole-object errors ("'name' is a required property") belong to the field they name.
      const named = issue.msg.match(/^'([^']+)' is a required property/);
      if (named) loc.push(named[1]);
    }
    let node = root;
    for (const part of loc) node = (node[part] ??= {}) as Record<string, unknown>;
    ((node.__errors ??= []) as string[]).push(issue.msg);
  }
  return root as ErrorSchema;
}

function ArrayItem(props: ArrayFieldItemTemplateProps) {
  const { children, className, buttonsProps, hasToolbar, registry, uiSchema } = props;
  const Buttons = getTemplate('ArrayFieldItemButtonsTemplate', registry, getUiOptions(uiSchema));
  return (
    <div className={`${className ?? ''} array-row`}>
      <div className="array-row-field">{children}</div>
      {hasToolbar && (
        <div className="array-row-tools">
          <Buttons {...buttonsProps} />
        </div>
      )}
    </div>
  );
}

/** Label array items ("Tags 1") so every input has an accessible name. */
function withItemTitles(schema: unknown, ui: Record<string, unknown> = {}): Record<string, unknown> {
  if (!schema || typeof schema !== 'object') return ui;
  const node = schema as Record<string, unknown>;
  const properties = node.properties as Record<string, unknown> | undefined;
  if (properties) {
    for (const [name, child] of Object.entries(properties)) {
      const childUi = withItemTitles(child, {});
      if (Object.keys(childUi).length) ui[name] = childUi;
    }
  }
  if (node.type === 'array' && node.items && typeof node.items === 'object') {
    const items = node.items as Record<string, unknown>;
    if (!items.title && !items.$ref && items.type !== 'object') {
      ui.items = { 'ui:title': `${typeof node.title === 'string' ? node.title : 'Item'} item` };
    }
  }
  return ui;
}

export default function SchemaForm({
  schema: given,
  submitText,
  locPrefix,
  onSubmit,
  idPrefix = 'root',
  requirePrefilled = false,
}: SchemaFormProps) {
  const schema = useMemo(() => {
    const simple = simplifyNullable(given) as JsonObject;
    return requirePrefilled ? (requireDefaults(simple) as JsonObject) : simple;
  }, [given, requirePrefilled]);
  const [formData, setFormData] = useState<unknown>(undefined);
  const [extraErrors, setExtraErrors] = useState<ErrorSchema | undefined>(undefined);
  const [attempted, setAttempted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  const uiSchema = useMemo<UiSchema>(
    () => ({
      ...withItemTitles(schema),
      'ui:title': '', // the page already names what is asked
      'ui:submitButtonOptions': { submitText, props: { disabled: busy, className: 'btn btn-primary' } },
    }),
    [schema, submitText, busy],
  );

  const submit = async (data: unknown) => {
    setBusy(true);
    setFailure(null);
    setExtraErrors(undefined);
    try {
      await onSubmit((data ?? {}) as Json);
    } catch (error) {
      if (error instanceof ApiError && error.status === 422 && error.issues.length) {
        const whole = wholeFormMessages(error.issues, locPrefix);
        const onFields = error.issues.filter((issue) => !whole.includes(issue.msg));
        // Field errors go on their fields; errors about the whole answer (a flow's own
        // model_validator, when the pause validates before resuming) go in the alert on top.
        setExtraErrors(onFields.length ? issuesToErrorSchema(onFields, locPrefix) : undefined);
        setFailure(
          whole.length
            ? `The input was refused: ${whole.join(' ')}`
            : 'The server rejected the input: see the fields marked below.',
        );
      } else {
        setFailure(error instanceof Error ? error.message : String(error));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="schema-form">
      {failure && (
        <p className="alert alert-error" role="alert" data-testid="form-error">
          {failure}
        </p>
      )}
      <Form
        schema={schema as RJSFSchema}
        uiSchema={uiSchema}
        validator={validator}
        formData={formData}
        idPrefix={idPrefix}
        onChange={(event) => {
          setFormData(event.formData);
          if (extraErrors) setExtraErrors(undefined);
        }}
        onSubmit={(event) => submit(event.formData)}
        onError={(_errors: RJSFValidationError[]) => setAttempted(true)}
        extraErrors={extraErrors}
        liveValidate={attempted ? 'onChange' : undefined}
        showErrorList={false}
        noHtml5Validate
        focusOnFirstError
        templates={{ ArrayFieldItemTemplate: ArrayItem }}
      />
    </div>
  );
}
