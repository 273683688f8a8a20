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

export default function SchemaForm({ schema, submitText, locPrefix, onSubmit, idPrefix = 'root' }: SchemaFormProps) {
  const [formData, setFormData] = useState<unknown>(undefined);
  const [extraErrors, setExtraErrors] = useState<ErrorSchema | undefined>(undefined);
  const [attempted, setAttempted] = useState(false);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);

  const uiSchema = useMemo<UiSchema>(
    () => ({
      ...withItemTitles(schema),
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
        setExtraErrors(issuesToErrorSchema(error.issues, locPrefix));
        setFailure('The server rejected the input: see the fields marked below.');
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
        <p className="alert alert-error" role="alert">
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
