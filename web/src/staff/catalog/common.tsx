import { Alert, Group, Stack, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { type QueryKey, useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../../api/client';
import type { paths } from '../../api/schema';
import { errorSentence, type Strings, useI18n } from '../../i18n';

/** The catalog's shapes as the API answers them. */
export type Tariff = paths['/api/v1/tariffs/{id}']['get']['responses'][200]['content']['application/json'];
export type Addon = Tariff['addons'][number];
export type PeriodPrice = Tariff['periods'][number];
export type Enumeration =
  paths['/api/v1/enumerations/{id}']['get']['responses'][200]['content']['application/json'];
export type ProductType =
  paths['/api/v1/product-types/{code}']['get']['responses'][200]['content']['application/json'];
export type Module = paths['/api/v1/modules/{id}']['get']['responses'][200]['content']['application/json'];
export type ModuleType =
  paths['/api/v1/module-types']['get']['responses'][200]['content']['application/json']['items'][number];

/** Periods in the order staff read them: months ascending, the trial last. */
export const PERIODS = [1, 3, 6, 12, 24, 36, -100] as const;

export const periodLabel = (t: Strings, p: number): string =>
  p === -100 ? t.staffCatalog.trial : t.months(p);

/** Prices keyed by period as the API takes them, from the explicit prices of a view. */
export function explicitPrices(prices: readonly PeriodPrice[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of prices) if (p.explicit && p.price !== null) out[String(p.period)] = p.price;
  return out;
}

/** Only the filled-in prices (an empty field means "no price for this period"). */
export function filledPrices(prices: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(prices).filter(([, v]) => v.trim() !== ''));
}

/** One price field per period, side by side (wrapping on a phone). */
export function PricesInput({
  periods,
  value,
  onChange,
  label,
}: {
  periods: readonly number[];
  value: Record<string, string>;
  onChange: (v: Record<string, string>) => void;
  label: string;
}) {
  const { t } = useI18n();
  return (
    <Stack gap={4}>
      <Text size="sm" fw={500}>
        {label}
      </Text>
      <Group gap="xs" align="flex-end">
        {periods.map((p) => (
          <TextInput
            key={p}
            w={110}
            label={periodLabel(t, p)}
            aria-label={`${label}: ${periodLabel(t, p)}`}
            placeholder="0.00"
            inputMode="decimal"
            value={value[String(p)] ?? ''}
            onChange={(e) => onChange({ ...value, [String(p)]: e.currentTarget.value })}
          />
        ))}
      </Group>
    </Stack>
  );
}

/** A refused request said in the staff's words, with the API's own message under it. */
export function RefusalAlert({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'network_error';
  const own = error instanceof ApiError ? error.message : '';
  const sentence = errorSentence(t, code);
  return (
    <Alert color="red" role="alert" title={sentence}>
      {own && own !== sentence ? <Text size="sm">{own}</Text> : null}
    </Alert>
  );
}

/**
 * A staff change: on success it refreshes the lists it touched and says so; a refusal is kept in
 * `error` for the form to show next to its fields (RefusalAlert).
 */
export function useStaffMutation<A, R>(
  fn: (arg: A) => Promise<R>,
  opts: { invalidate: QueryKey[]; done?: (r: R, arg: A) => string | null; onSuccess?: (r: R) => void },
) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSuccess: (r, arg) => {
      for (const key of opts.invalidate) queryClient.invalidateQueries({ queryKey: key });
      const message = opts.done?.(r, arg);
      if (message) notifications.show({ color: 'teal', message });
      opts.onSuccess?.(r);
    },
  });
}

export const idPath = (id: number | string) => ({ params: { path: { id: String(id) } } });
