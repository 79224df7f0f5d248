import {
  Alert,
  Anchor,
  Button,
  Checkbox,
  Group,
  NumberInput,
  Paper,
  Radio,
  Stack,
  Stepper,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { ApiError, api, call } from '../api/client';
import type { paths } from '../api/schema';
import { errorSentence, useI18n } from '../i18n';
import { Link, navigate } from '../router';
import { ME_KEY, useMe } from '../session';
import { EmptyState, ErrorState, Loading } from './states';

type Catalog = paths['/api/v1/catalog']['get']['responses'][200]['content']['application/json'];
type Tariff = Catalog['tariffs'][number];
type Addon = Tariff['addons'][number];
type Quote = paths['/api/v1/quotes']['post']['responses'][200]['content']['application/json'];
type Order = paths['/api/v1/orders']['post']['responses'][201]['content']['application/json'];
type AddonValue = boolean | number;

/** The item being ordered, exactly as POST /quotes and POST /orders take it. */
interface Item {
  tariffId: number;
  period: number;
  addonValues: Record<string, AddonValue>;
  params: Record<string, string>;
}

const STEPS = ['product', 'tariff', 'options', 'params', 'quote'] as const;

/** A price for a period from a list of `{period, price}` (the catalog's shape), or null when none. */
const priceFor = (prices: { period: number; price: string }[], period: number): string | null =>
  prices.find((p) => p.period === period)?.price ?? null;

/** Each addon's starting value: its default, else the first offered value / off / its minimum. */
function defaultAddonValues(tariff: Tariff): Record<string, AddonValue> {
  const out: Record<string, AddonValue> = {};
  for (const a of tariff.addons) {
    if (a.valueType === 'enumeration') {
      const dflt = a.values.find((v) => v.id === a.defaultValue);
      const first = dflt ?? a.values[0];
      if (first) out[String(a.id)] = first.id;
    } else if (a.valueType === 'boolean') out[String(a.id)] = a.defaultValue === true;
    else out[String(a.id)] = typeof a.defaultValue === 'number' ? a.defaultValue : (a.min ?? a.included ?? 0);
  }
  return out;
}

const HOSTNAME =
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * What is wrong with a parameter before the server is asked (the server checks again, and its
 * answer is shown on the field too): every declared parameter is required, `ip` is an address,
 * `hostname` a host name. IPv6 is left to the server (the browser has no parser for it).
 */
function paramProblem(name: string, raw: string | undefined): string | null {
  const value = raw?.trim() ?? '';
  if (!value) return 'service_param_required';
  if (name === 'ip' && !value.includes(':') && !IPV4.test(value)) return 'invalid_ip';
  if (name === 'hostname' && !HOSTNAME.test(value)) return 'invalid_hostname';
  if (value.length > 255) return 'service_param_too_long';
  return null;
}

/**
 * The parameter an API refusal is about: `details.param` (service_param_required, invalid_ip,
 * invalid_hostname, ip_taken…) or a validation issue's path ending in `params.<name>`.
 */
function paramOfError(err: ApiError, names: string[]): string | null {
  const d = err.details as { param?: unknown; issues?: { path?: unknown }[] } | undefined;
  if (typeof d?.param === 'string' && names.includes(d.param)) return d.param;
  for (const issue of d?.issues ?? []) {
    const m = typeof issue.path === 'string' ? /(?:^|\.)params\.([^.]+)$/.exec(issue.path) : null;
    if (m?.[1] && names.includes(m[1])) return m[1];
  }
  return null;
}

/** A fresh random key per item (`seed` only ties it to the item; getRandomValues works on plain http too). */
const newKey = (seed: string): string =>
  `web-${seed.length}-${Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')}`;

const codeOf = (err: unknown) => (err instanceof ApiError ? err.code : 'network_error');

export function OrderPage() {
  const { t } = useI18n();
  const catalog = useQuery({
    queryKey: ['catalog'],
    queryFn: () => call(api.GET('/api/v1/catalog')),
  });
  if (catalog.isPending) return <Loading />;
  if (catalog.isError) return <ErrorState error={catalog.error} onRetry={() => catalog.refetch()} />;
  return (
    <Stack gap="md">
      <Title order={2}>{t.orderTitle}</Title>
      {catalog.data.tariffs.length === 0 ? (
        <EmptyState text={t.orderNothing} />
      ) : (
        <Wizard catalog={catalog.data} />
      )}
    </Stack>
  );
}

function Wizard({ catalog }: { catalog: Catalog }) {
  const { t } = useI18n();
  const phone = useMediaQuery('(max-width: 36em)');
  const queryClient = useQueryClient();
  const [step, setStep] = useState(0);
  const [productType, setProductType] = useState<string | null>(
    catalog.productTypes.length === 1 ? catalog.productTypes[0]!.code : null,
  );
  const [tariffId, setTariffId] = useState<number | null>(null);
  const [period, setPeriod] = useState<number | null>(null);
  const [addonValues, setAddonValues] = useState<Record<string, AddonValue>>({});
  const [params, setParams] = useState<Record<string, string>>({});
  const [paramErrors, setParamErrors] = useState<Record<string, string>>({});
  const [placed, setPlaced] = useState<Order | null>(null);

  const type = catalog.productTypes.find((p) => p.code === productType) ?? null;
  const tariffs = catalog.tariffs.filter((x) => x.productType === productType);
  const tariff = tariffs.find((x) => x.id === tariffId) ?? null;
  const paramNames = type?.serviceParams ?? [];
  const item: Item | null =
    tariff && period !== null ? { tariffId: tariff.id, period, addonValues, params } : null;
  // One order per confirmed item: the same key again (a retry after a lost answer) is the same order.
  const itemJson = JSON.stringify(item);
  const idempotencyKey = useMemo(() => newKey(itemJson), [itemJson]);

  const quote = useQuery({
    queryKey: ['quote', item],
    enabled: step === 4 && item !== null,
    queryFn: () => call(api.POST('/api/v1/quotes', { body: item! })),
    retry: false,
  });

  const chooseTariff = (id: number) => {
    const next = tariffs.find((x) => x.id === id);
    if (!next) return;
    setTariffId(id);
    setPeriod(next.periods[0]?.period ?? null);
    setAddonValues(defaultAddonValues(next));
  };

  /** Parameters: checked here, then priced by the server; a refusal about a field goes on that field. */
  const checkParams = useMutation({
    mutationFn: async () => {
      const problems: Record<string, string> = {};
      for (const name of paramNames) {
        const code = paramProblem(name, params[name]);
        if (code) problems[name] = errorSentence(t, code);
      }
      setParamErrors(problems);
      if (Object.keys(problems).length > 0) return false;
      await queryClient.fetchQuery({
        queryKey: ['quote', item],
        queryFn: () => call(api.POST('/api/v1/quotes', { body: item! })),
        retry: false,
      });
      return true;
    },
    onSuccess: (ok) => {
      if (ok) setStep(4);
    },
    onError: (err) => {
      const param = err instanceof ApiError ? paramOfError(err, paramNames) : null;
      if (param) setParamErrors({ [param]: errorSentence(t, codeOf(err)) });
    },
  });

  const order = useMutation({
    mutationFn: (payNow: boolean) =>
      call(api.POST('/api/v1/orders', { body: { items: [item!], payNow, idempotencyKey } })),
    onSuccess: (o) => {
      queryClient.invalidateQueries({ queryKey: ME_KEY });
      queryClient.invalidateQueries({ queryKey: ['balance'] });
      queryClient.invalidateQueries({ queryKey: ['services'] });
      const serviceId = o.items[0]?.serviceId ?? null;
      if (o.status === 'paid' && serviceId !== null) {
        notifications.show({ color: 'teal', message: t.orderPaid(o.id) });
        navigate(`/services/${serviceId}`);
      } else setPlaced(o);
    },
    onError: (err) => {
      const param = err instanceof ApiError ? paramOfError(err, paramNames) : null;
      if (param) {
        setParamErrors({ [param]: errorSentence(t, codeOf(err)) });
        setStep(3);
      }
    },
  });

  if (placed) return <Placed order={placed} />;

  const canNext = [productType !== null, tariff !== null, item !== null, true, false][step];
  const next = () => {
    if (step === 3) checkParams.mutate();
    else setStep((s) => Math.min(s + 1, 4));
  };
  const label = (i: number) => (phone && i !== step ? undefined : t.orderSteps[STEPS[i]!]);

  return (
    <Paper withBorder p={{ base: 'sm', sm: 'md' }}>
      <Stepper
        active={step}
        onStepClick={(i) => i < step && setStep(i)}
        allowNextStepsSelect={false}
        size={phone ? 'xs' : 'sm'}
      >
        <Stepper.Step label={label(0)}>
          <Radio.Group
            label={t.orderChooseProduct}
            value={productType}
            onChange={(v) => {
              setProductType(v);
              setTariffId(null);
              setPeriod(null);
              setParams({});
              setParamErrors({});
            }}
          >
            <Stack gap="xs" mt="xs">
              {catalog.productTypes.map((p) => (
                <Radio key={p.code} value={p.code} label={p.name} />
              ))}
            </Stack>
          </Radio.Group>
        </Stepper.Step>

        <Stepper.Step label={label(1)}>
          <Radio.Group
            label={t.orderChooseTariff}
            value={tariffId === null ? null : String(tariffId)}
            onChange={(v) => chooseTariff(Number(v))}
          >
            <Stack gap="xs" mt="xs">
              {tariffs.map((x) => (
                <Radio
                  key={x.id}
                  value={String(x.id)}
                  label={x.name}
                  description={[
                    x.periods[0] ? t.orderFrom(x.periods[0].price, x.currency, x.periods[0].period) : null,
                    x.setupFee ? t.orderSetupFee(x.setupFee, x.currency) : null,
                    x.expiresOn ? t.orderTariffEnds(x.expiresOn) : null,
                    x.description || null,
                  ]
                    .filter(Boolean)
                    .join(' · ')}
                />
              ))}
            </Stack>
          </Radio.Group>
        </Stepper.Step>

        <Stepper.Step label={label(2)}>
          {tariff && period !== null && (
            <Stack gap="md">
              <Radio.Group label={t.period} value={String(period)} onChange={(v) => setPeriod(Number(v))}>
                <Stack gap="xs" mt="xs">
                  {tariff.periods.map((p) => (
                    <Radio
                      key={p.period}
                      value={String(p.period)}
                      label={`${p.period === -100 ? t.orderTrial(p.trialDays ?? 0) : t.months(p.period)} — ${money(p.price, tariff.currency)}`}
                    />
                  ))}
                </Stack>
              </Radio.Group>
              {tariff.addons.map((a) => (
                <AddonField
                  key={a.id}
                  addon={a}
                  period={period}
                  currency={tariff.currency}
                  value={addonValues[String(a.id)]}
                  onChange={(v) => setAddonValues((prev) => ({ ...prev, [String(a.id)]: v }))}
                />
              ))}
            </Stack>
          )}
        </Stepper.Step>

        <Stepper.Step label={label(3)}>
          <Stack gap="sm">
            {paramNames.length === 0 && <Text c="dimmed">{t.orderNoParams}</Text>}
            {paramNames.map((name) => (
              <TextInput
                key={name}
                label={t.orderParam[name] ?? name}
                description={t.orderParamHint[name]}
                value={params[name] ?? ''}
                required
                error={paramErrors[name]}
                onChange={(e) => {
                  const value = e.currentTarget.value;
                  setParams((prev) => ({ ...prev, [name]: value }));
                  setParamErrors((prev) => ({ ...prev, [name]: '' }));
                }}
              />
            ))}
            {checkParams.isError && !paramOfError(checkParams.error as ApiError, paramNames) && (
              <Alert color="red" role="alert">
                {errorSentence(t, codeOf(checkParams.error))}
              </Alert>
            )}
          </Stack>
        </Stepper.Step>

        <Stepper.Step label={label(4)}>
          {quote.isPending ? (
            <Loading />
          ) : quote.isError ? (
            <ErrorState error={quote.error} onRetry={() => quote.refetch()} />
          ) : (
            <QuoteView quote={quote.data} tariff={tariff!} />
          )}
          {order.isError && !paramOfError(order.error as ApiError, paramNames) && (
            <Alert color="red" role="alert" mt="md">
              {errorSentence(t, codeOf(order.error))}
            </Alert>
          )}
          {quote.isSuccess && (
            <Group mt="md" gap="sm">
              <Button
                onClick={() => order.mutate(true)}
                loading={order.isPending && order.variables === true}
                disabled={order.isPending}
              >
                {t.orderPayNow(money(quote.data.total, quote.data.currency))}
              </Button>
              <Button
                variant="default"
                onClick={() => order.mutate(false)}
                loading={order.isPending && order.variables === false}
                disabled={order.isPending}
              >
                {t.orderPayLater}
              </Button>
            </Group>
          )}
          <Balance />
        </Stepper.Step>
      </Stepper>

      <Group justify="space-between" mt="lg">
        <Button variant="default" onClick={() => setStep((s) => s - 1)} disabled={step === 0}>
          {t.orderBack}
        </Button>
        {step < 4 && (
          <Button onClick={next} disabled={!canNext} loading={checkParams.isPending}>
            {t.orderNext}
          </Button>
        )}
      </Group>
    </Paper>
  );
}

const money = (amount: string, currency: string) => `${amount} ${currency}`;

/** One addon: a choice of values (the control panel), a switch, or an amount; each with its price for the period. */
function AddonField({
  addon,
  period,
  currency,
  value,
  onChange,
}: {
  addon: Addon;
  period: number;
  currency: string;
  value: AddonValue | undefined;
  onChange: (v: AddonValue) => void;
}) {
  const { t } = useI18n();
  const unitPrice = priceFor(addon.prices, period);
  if (addon.valueType === 'enumeration')
    return (
      <Radio.Group
        label={addon.label}
        required={addon.required}
        value={typeof value === 'number' ? String(value) : null}
        onChange={(v) => onChange(Number(v))}
      >
        <Stack gap="xs" mt="xs">
          {addon.values.map((v) => {
            const price = priceFor(v.prices, period);
            return (
              <Radio
                key={v.id}
                value={String(v.id)}
                label={`${v.name} — ${price === null ? t.orderNotForPeriod : price === '0.00' || Number(price) === 0 ? t.orderIncluded : money(price, currency)}`}
                disabled={price === null}
              />
            );
          })}
          {addon.unavailableValues.map((v) => (
            <Radio
              key={v.id}
              value={`unavailable-${v.id}`}
              label={`${v.name} — ${t.unavailableReason[v.reason] ?? t.unavailableOther}`}
              disabled
            />
          ))}
        </Stack>
      </Radio.Group>
    );
  if (addon.valueType === 'boolean')
    return (
      <Checkbox
        label={`${addon.label}${unitPrice ? ` — ${money(unitPrice, currency)}` : ''}`}
        checked={value === true}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
    );
  return (
    <NumberInput
      label={`${addon.label}${addon.unit ? ` (${addon.unit})` : ''}`}
      description={[
        addon.included ? t.orderAddonIncluded(addon.included, addon.unit ?? '') : null,
        unitPrice ? t.orderAddonUnitPrice(money(unitPrice, currency), addon.unit ?? '') : null,
      ]
        .filter(Boolean)
        .join(' · ')}
      value={typeof value === 'number' ? value : ''}
      min={addon.min ?? undefined}
      max={addon.max ?? undefined}
      step={addon.step ?? 1}
      allowDecimal={false}
      onChange={(v) => typeof v === 'number' && onChange(v)}
    />
  );
}

/**
 * The quote: one row per line. When the tariff ends before the period would, the server cuts
 * the period and prices it by days (`cut`, `grantedDays` of `fullDays`, each line's `fullAmount`
 * and cut `amount`); the rows say so.
 */
function QuoteView({ quote, tariff }: { quote: Quote; tariff: Tariff }) {
  const { t } = useI18n();
  return (
    <Stack gap="sm">
      <Text>
        {tariff.name}: {t.orderFromTo(quote.start, quote.end)}
      </Text>
      {quote.cut && (
        <Alert color="yellow" title={t.orderCutTitle}>
          {t.orderCutText(quote.end, quote.naturalEnd, quote.grantedDays, quote.fullDays)}
        </Alert>
      )}
      <Table aria-label={t.orderQuote}>
        <Table.Tbody>
          {quote.lines.map((l) => (
            <Table.Tr key={`${l.kind}-${l.addonId ?? 'none'}`}>
              <Table.Td>
                <Text size="sm">{l.label}</Text>
                {quote.cut && l.amount !== l.fullAmount && (
                  <Text size="xs" c="dimmed">
                    {t.orderCutLine(quote.grantedDays, quote.fullDays, l.amount, l.fullAmount)}
                  </Text>
                )}
              </Table.Td>
              <Table.Td ta="right" style={{ whiteSpace: 'nowrap' }}>
                {money(l.amount, quote.currency)}
              </Table.Td>
            </Table.Tr>
          ))}
          <Table.Tr>
            <Table.Td fw={700}>{t.orderTotal}</Table.Td>
            <Table.Td ta="right" fw={700} style={{ whiteSpace: 'nowrap' }}>
              {money(quote.total, quote.currency)}
            </Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

/** The balance now (the Balance page's query): money staff recorded since sign-in shows here too. */
function Balance() {
  const { t } = useI18n();
  const id = useMe().data?.account?.id;
  const balance = useQuery({
    queryKey: ['balance', String(id)],
    queryFn: () => call(api.GET('/api/v1/accounts/{id}/balance', { params: { path: { id: String(id) } } })),
    enabled: id !== undefined,
  });
  if (!balance.data) return null;
  return (
    <Text size="sm" c="dimmed" mt="sm">
      {t.orderBalance(money(balance.data.balance, balance.data.currency))}
    </Text>
  );
}

/** An order left awaiting payment: it is paid from the balance when money arrives. */
function Placed({ order }: { order: Order }) {
  const { t } = useI18n();
  return (
    <Alert color="blue" title={t.orderPlacedTitle(order.id)}>
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{t.orderPlacedText(money(order.total, order.currency))}</Text>
        <Anchor component={Link} href="/services" size="sm">
          {t.toServices}
        </Anchor>
      </Stack>
    </Alert>
  );
}
