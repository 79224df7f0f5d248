import {
  Button,
  Checkbox,
  Group,
  NumberInput,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { useState } from 'react';
import { api, call } from '../../api/client';
import type { paths } from '../../api/schema';
import { useI18n } from '../../i18n';
import {
  type Addon,
  explicitPrices,
  filledPrices,
  PricesInput,
  periodLabel,
  RefusalAlert,
  type Tariff,
  useStaffMutation,
} from './common';
import { useEnumerations } from './Enumerations';
import { TARIFFS_KEY } from './Tariffs';

type AddonBody = paths['/api/v1/tariffs/{id}/addons']['post']['requestBody']['content']['application/json'];
const KINDS = ['control_panel', 'cpu', 'ram', 'disk', 'ipv4', 'generic'] as const;
type Kind = (typeof KINDS)[number];
type ValueType = 'boolean' | 'integer' | 'enumeration';

interface ValueRow {
  offered: boolean;
  prices: Record<string, string>;
}

/**
 * An addon of a tariff, of any value type. An enumeration addon (e.g. the control panel) is a grid:
 * one row per value of the enumeration, with its switch (offered on this tariff or not) and its
 * price for each of the tariff's periods.
 */
export function AddonForm({
  tariff,
  addon,
  onDone,
}: {
  tariff: Tariff;
  addon: Addon | null;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const enumerations = useEnumerations();
  const periods = tariff.periods.map((p) => p.period);
  const [valueType, setValueType] = useState<ValueType>(addon?.valueType ?? 'enumeration');
  const [kind, setKind] = useState<Kind>((addon?.kind as Kind) ?? 'control_panel');
  const [label, setLabel] = useState(addon?.label ?? '');
  const [required, setRequired] = useState(addon?.required ?? false);
  const [prices, setPrices] = useState<Record<string, string>>(addon ? explicitPrices(addon.prices) : {});
  const [boolDefault, setBoolDefault] = useState(addon?.defaultValue === true);
  const [unit, setUnit] = useState(addon?.unit ?? '');
  const [included, setIncluded] = useState<number | string>(addon?.included ?? 0);
  const [min, setMin] = useState<number | string>(addon?.min ?? 0);
  const [max, setMax] = useState<number | string>(addon?.max ?? 1);
  const [step, setStep] = useState<number | string>(addon?.step ?? 1);
  const [intDefault, setIntDefault] = useState<number | string>(
    typeof addon?.defaultValue === 'number' && addon.valueType === 'integer' ? addon.defaultValue : '',
  );
  const [enumerationId, setEnumerationId] = useState<string | null>(
    addon?.enumerationId != null ? String(addon.enumerationId) : null,
  );
  const [rows, setRows] = useState<Record<number, ValueRow>>(() =>
    Object.fromEntries(
      (addon?.values ?? []).map((v) => [v.valueId, { offered: v.offered, prices: explicitPrices(v.prices) }]),
    ),
  );
  const [enumDefault, setEnumDefault] = useState<string | null>(
    addon?.valueType === 'enumeration' && typeof addon.defaultValue === 'number'
      ? String(addon.defaultValue)
      : null,
  );
  const enumeration = enumerations.data?.items.find((e) => String(e.id) === enumerationId) ?? null;
  const rowOf = (valueId: number): ValueRow => rows[valueId] ?? { offered: true, prices: {} };

  const body = (): AddonBody => {
    const common = { kind, label: label.trim(), required };
    if (valueType === 'boolean')
      return { ...common, valueType, defaultValue: boolDefault, prices: filledPrices(prices) };
    if (valueType === 'integer')
      return {
        ...common,
        valueType,
        unit: unit.trim(),
        included: Number(included) || 0,
        min: Number(min) || 0,
        max: Number(max) || 0,
        step: Number(step) || 1,
        defaultValue: intDefault === '' ? null : Number(intDefault),
        prices: filledPrices(prices),
      };
    return {
      ...common,
      valueType,
      enumerationId: Number(enumerationId),
      defaultValue: enumDefault ? Number(enumDefault) : null,
      values: (enumeration?.values ?? []).map((v) => ({
        valueId: v.id,
        offered: rowOf(v.id).offered,
        prices: filledPrices(rowOf(v.id).prices),
      })),
    };
  };

  const save = useStaffMutation(
    () =>
      addon
        ? call(
            api.PUT('/api/v1/tariffs/{id}/addons/{addonId}', {
              params: { path: { id: String(tariff.id), addonId: String(addon.id) } },
              body: body(),
            }),
          )
        : call(
            api.POST('/api/v1/tariffs/{id}/addons', {
              params: { path: { id: String(tariff.id) } },
              body: body(),
            }),
          ),
    { invalidate: [TARIFFS_KEY], done: () => s.saved(label.trim()), onSuccess: onDone },
  );

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate(undefined);
      }}
    >
      <Stack gap="sm">
        {addon ? null : (
          <SegmentedControl
            aria-label={s.valueType}
            value={valueType}
            onChange={(v) => setValueType(v as ValueType)}
            data={(['enumeration', 'integer', 'boolean'] as const).map((v) => ({
              value: v,
              label: s.valueTypes[v] ?? v,
            }))}
          />
        )}
        <Group grow align="flex-start">
          <Select
            label={s.addonKind}
            data={KINDS.map((k) => ({ value: k, label: s.addonKinds[k] ?? k }))}
            value={kind}
            onChange={(v) => setKind((v as Kind) ?? 'generic')}
            allowDeselect={false}
          />
          <TextInput
            label={s.label}
            required
            value={label}
            onChange={(e) => setLabel(e.currentTarget.value)}
          />
        </Group>
        <Checkbox
          label={s.requiredAddon}
          checked={required}
          onChange={(e) => setRequired(e.currentTarget.checked)}
        />
        {valueType === 'boolean' ? (
          <>
            <Checkbox
              label={s.onByDefault}
              checked={boolDefault}
              onChange={(e) => setBoolDefault(e.currentTarget.checked)}
            />
            <PricesInput label={s.priceWhenOn} periods={periods} value={prices} onChange={setPrices} />
          </>
        ) : null}
        {valueType === 'integer' ? (
          <>
            <Group grow align="flex-start">
              <TextInput
                label={s.unit}
                required
                value={unit}
                onChange={(e) => setUnit(e.currentTarget.value)}
              />
              <NumberInput label={s.included} min={0} value={included} onChange={setIncluded} />
              <NumberInput label={s.defaultValue} min={0} value={intDefault} onChange={setIntDefault} />
            </Group>
            <Group grow align="flex-start">
              <NumberInput label={s.min} min={0} value={min} onChange={setMin} />
              <NumberInput label={s.max} min={0} value={max} onChange={setMax} />
              <NumberInput label={s.step} min={1} value={step} onChange={setStep} />
            </Group>
            <PricesInput label={s.pricePerUnit} periods={periods} value={prices} onChange={setPrices} />
          </>
        ) : null}
        {valueType === 'enumeration' ? (
          <>
            <Select
              label={s.enumeration}
              required
              disabled={!!addon}
              data={(enumerations.data?.items ?? []).map((e) => ({ value: String(e.id), label: e.name }))}
              value={enumerationId}
              onChange={setEnumerationId}
            />
            {enumeration ? (
              <>
                <Select
                  label={s.defaultValue}
                  clearable
                  data={enumeration.values.map((v) => ({ value: String(v.id), label: v.name }))}
                  value={enumDefault}
                  onChange={setEnumDefault}
                />
                <Text size="sm" c="dimmed">
                  {s.priceGridHint}
                </Text>
                <Table.ScrollContainer minWidth={200 + periods.length * 110}>
                  <Table aria-label={s.priceGrid} withTableBorder>
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>{s.value}</Table.Th>
                        <Table.Th>{s.offered}</Table.Th>
                        {periods.map((p) => (
                          <Table.Th key={p}>{periodLabel(t, p)}</Table.Th>
                        ))}
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {enumeration.values.map((v) => {
                        const row = rowOf(v.id);
                        return (
                          <Table.Tr key={v.id}>
                            <Table.Td>
                              {v.name}
                              <Text size="xs" c="dimmed">
                                {v.internalName}
                                {v.status === 'disabled' ? ` · ${s.valueStatus.disabled}` : ''}
                              </Text>
                            </Table.Td>
                            <Table.Td>
                              <Switch
                                aria-label={`${s.offered}: ${v.name}`}
                                checked={row.offered}
                                onChange={(e) => {
                                  const offered = e.currentTarget.checked;
                                  setRows((r) => ({ ...r, [v.id]: { ...rowOf(v.id), offered } }));
                                }}
                              />
                            </Table.Td>
                            {periods.map((p) => (
                              <Table.Td key={p}>
                                <TextInput
                                  w={90}
                                  size="xs"
                                  aria-label={`${v.name}: ${periodLabel(t, p)}`}
                                  placeholder="0.00"
                                  inputMode="decimal"
                                  value={row.prices[String(p)] ?? ''}
                                  onChange={(e) => {
                                    const price = e.currentTarget.value;
                                    setRows((r) => ({
                                      ...r,
                                      [v.id]: {
                                        ...rowOf(v.id),
                                        prices: { ...rowOf(v.id).prices, [String(p)]: price },
                                      },
                                    }));
                                  }}
                                />
                              </Table.Td>
                            ))}
                          </Table.Tr>
                        );
                      })}
                    </Table.Tbody>
                  </Table>
                </Table.ScrollContainer>
              </>
            ) : null}
          </>
        ) : null}
        <RefusalAlert error={save.error} />
        <Group justify="flex-end">
          <Button type="submit" loading={save.isPending}>
            {s.save}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
