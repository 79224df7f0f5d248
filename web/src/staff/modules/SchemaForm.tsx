import {
  Badge,
  Checkbox,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Textarea,
  TextInput,
} from '@mantine/core';
import { useI18n } from '../../i18n';

/**
 * A form generated from a plug-in's published JSON Schema (`GET /module-types`: `paramsSchema`,
 * `tariffSettingsSchema`), so a new module type needs no page of its own. Fields are kept as
 * text while typed and turned into the schema's types on submit; the server checks the rest.
 * Secret fields are write-only: never filled in from the module, left empty they stay as they are.
 */

interface Prop {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  items?: Prop;
  format?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
}
export interface ObjectSchema {
  properties?: Record<string, Prop>;
  required?: string[];
}

export type SchemaValues = Record<string, string | boolean>;

const kindOf = (p: Prop): 'boolean' | 'integer' | 'number' | 'array' | 'enum' | 'object' | 'string' => {
  if (p.enum) return 'enum';
  const type = Array.isArray(p.type) ? p.type.find((x) => x !== 'null') : p.type;
  if (type === 'boolean' || type === 'integer' || type === 'number' || type === 'array' || type === 'object')
    return type;
  return 'string';
};

export const schemaProps = (schema: unknown): [string, Prop][] =>
  Object.entries((schema as ObjectSchema | null)?.properties ?? {});

/** The form's starting values from what is stored (secrets are never sent back, so they start empty). */
export function schemaInitial(schema: unknown, stored: Record<string, unknown> = {}): SchemaValues {
  const out: SchemaValues = {};
  for (const [name, p] of schemaProps(schema)) {
    const v = stored[name];
    const kind = kindOf(p);
    if (kind === 'boolean') out[name] = v === true;
    else if (v === undefined || v === null) out[name] = '';
    else if (kind === 'array') out[name] = (v as unknown[]).join(', ');
    else if (kind === 'object') out[name] = JSON.stringify(v, null, 2);
    else out[name] = String(v);
  }
  return out;
}

/**
 * The values in the schema's types. `editing`: a cleared field becomes null (the API removes it)
 * and an empty secret is left out (unchanged). Returns field errors for what cannot be converted.
 */
export function schemaOutput(
  schema: unknown,
  values: SchemaValues,
  opts: { secretFields: readonly string[]; editing: boolean; stored?: Record<string, unknown> },
  words: { required: string; notNumber: string; notJson: string },
): { value: Record<string, unknown>; errors: Record<string, string> } {
  const required = new Set((schema as ObjectSchema | null)?.required ?? []);
  const value: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [name, p] of schemaProps(schema)) {
    const raw = values[name];
    const kind = kindOf(p);
    const secret = opts.secretFields.includes(name);
    if (kind === 'boolean') {
      value[name] = raw === true;
      continue;
    }
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (text === '') {
      if (secret && opts.editing) continue;
      if (required.has(name)) errors[name] = words.required;
      else if (opts.editing && opts.stored?.[name] !== undefined) value[name] = null;
      continue;
    }
    if (kind === 'integer' || kind === 'number') {
      const n = Number(text);
      if (!Number.isFinite(n)) errors[name] = words.notNumber;
      else value[name] = n;
    } else if (kind === 'array') {
      const parts = text
        .split(/[,\s]+/)
        .map((x) => x.trim())
        .filter(Boolean);
      const itemKind = p.items ? kindOf(p.items) : 'string';
      if (itemKind === 'integer' || itemKind === 'number') {
        const nums = parts.map(Number);
        if (nums.some((n) => !Number.isFinite(n))) errors[name] = words.notNumber;
        else value[name] = nums;
      } else value[name] = parts;
    } else if (kind === 'object') {
      try {
        value[name] = JSON.parse(text);
      } catch {
        errors[name] = words.notJson;
      }
    } else value[name] = typeof raw === 'string' ? raw : text;
  }
  return { value, errors };
}

/** The humane label of a camelCase field: "timeoutMs" → "Timeout ms". */
const labelOf = (name: string) => {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export function SchemaFields({
  schema,
  values,
  onChange,
  errors,
  secretFields = [],
  secrets,
}: {
  schema: unknown;
  values: SchemaValues;
  onChange: (v: SchemaValues) => void;
  errors: Record<string, string>;
  secretFields?: readonly string[];
  /** The module's secrets as set/unset (editing); absent when creating. */
  secrets?: Record<string, 'set' | 'unset'>;
}) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const required = new Set((schema as ObjectSchema | null)?.required ?? []);
  const set = (name: string, v: string | boolean) => onChange({ ...values, [name]: v });
  return (
    <Stack gap="sm">
      {schemaProps(schema).map(([name, p]) => {
        const kind = kindOf(p);
        const common = {
          label: labelOf(name),
          description: p.description,
          error: errors[name],
          withAsterisk: required.has(name) && !(secrets && secretFields.includes(name)),
        };
        const text = typeof values[name] === 'string' ? (values[name] as string) : '';
        if (secretFields.includes(name))
          return (
            <PasswordInput
              key={name}
              {...common}
              autoComplete="new-password"
              description={
                secrets
                  ? secrets[name] === 'set'
                    ? s.secretSetKeep
                    : s.secretUnset
                  : (p.description ?? s.secretWriteOnly)
              }
              leftSection={
                secrets?.[name] === 'set' ? (
                  <Badge size="xs" variant="light" color="teal">
                    {s.set}
                  </Badge>
                ) : undefined
              }
              leftSectionWidth={secrets?.[name] === 'set' ? 44 : undefined}
              value={text}
              onChange={(e) => set(name, e.currentTarget.value)}
            />
          );
        if (kind === 'boolean')
          return (
            <Checkbox
              key={name}
              label={common.label}
              description={p.description}
              checked={values[name] === true}
              onChange={(e) => set(name, e.currentTarget.checked)}
            />
          );
        if (kind === 'enum')
          return (
            <Select
              key={name}
              {...common}
              data={(p.enum ?? []).map(String)}
              value={text || null}
              onChange={(v) => set(name, v ?? '')}
              clearable={!required.has(name)}
            />
          );
        if (kind === 'integer' || kind === 'number')
          return (
            <NumberInput
              key={name}
              {...common}
              min={p.minimum}
              max={p.maximum}
              allowDecimal={kind === 'number'}
              value={text}
              onChange={(v) => set(name, String(v))}
            />
          );
        if (kind === 'object')
          return (
            <Textarea
              key={name}
              {...common}
              description={`${p.description ?? ''} (JSON)`}
              autosize
              minRows={2}
              value={text}
              onChange={(e) => set(name, e.currentTarget.value)}
            />
          );
        return (
          <TextInput
            key={name}
            {...common}
            description={kind === 'array' ? `${p.description ?? ''} ${s.commaSeparated}` : p.description}
            value={text}
            onChange={(e) => set(name, e.currentTarget.value)}
          />
        );
      })}
    </Stack>
  );
}
