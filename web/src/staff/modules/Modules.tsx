import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  Group,
  List,
  MultiSelect,
  NumberInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useI18n } from '../../i18n';
import { EmptyState, ErrorState, Loading } from '../../pages/states';
import { Link, navigate } from '../../router';
import { idPath, type Module, type ModuleType, RefusalAlert, useStaffMutation } from '../catalog/common';
import { useProductTypes } from '../catalog/ProductTypes';
import { TARIFFS_KEY } from '../catalog/Tariffs';
import { MODULES_KEY, useModules, useModuleTypes } from './queries';
import { SchemaFields, type SchemaValues, schemaInitial, schemaOutput } from './SchemaForm';

/** Processing modules: the upstream panels and license servers services are opened through. */
export function ModulesPage() {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const modules = useModules();
  if (modules.isPending) return <Loading />;
  if (modules.isError) return <ErrorState error={modules.error} onRetry={() => modules.refetch()} />;
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2}>{s.modules}</Title>
        <Button component={Link} href="/staff/modules/new">
          {s.newModule}
        </Button>
      </Group>
      {modules.data.items.length === 0 ? (
        <EmptyState text={s.noModules} />
      ) : (
        <Table.ScrollContainer minWidth={560}>
          <Table striped aria-label={s.modules}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{s.name}</Table.Th>
                <Table.Th>{s.moduleType}</Table.Th>
                <Table.Th>{s.productTypes}</Table.Th>
                <Table.Th>{s.connection}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {modules.data.items.map((m) => (
                <Table.Tr key={m.id}>
                  <Table.Td>
                    <Anchor component={Link} href={`/staff/modules/${m.id}`}>
                      {m.name}
                    </Anchor>
                    {m.enabled ? null : (
                      <Badge ml="xs" size="xs" color="gray">
                        {s.disabled}
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>{m.type}</Table.Td>
                  <Table.Td>{m.productTypes.join(', ')}</Table.Td>
                  <Table.Td>
                    <CheckBadge check={m.lastCheck} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

function CheckBadge({ check }: { check: Module['lastCheck'] }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  if (!check)
    return (
      <Badge variant="light" color="gray">
        {s.notChecked}
      </Badge>
    );
  return (
    <Badge variant="light" color={check.ok ? 'teal' : 'red'} title={check.message}>
      {check.ok ? s.connectionOk : s.connectionFailed}
    </Badge>
  );
}

/** A new module: first its type, then a form generated from that type's published parameters. */
export function NewModulePage() {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const types = useModuleTypes();
  const [type, setType] = useState<string | null>(null);
  if (types.isPending) return <Loading />;
  if (types.isError) return <ErrorState error={types.error} onRetry={() => types.refetch()} />;
  const chosen = types.data.items.find((x) => x.type === type) ?? null;
  return (
    <Stack gap="md" maw={720}>
      <Anchor component={Link} href="/staff/modules" size="sm">
        {s.allModules}
      </Anchor>
      <Title order={2}>{s.newModule}</Title>
      <Select
        label={s.moduleType}
        required
        data={types.data.items.map((x) => ({ value: x.type, label: `${x.title} (${x.type})` }))}
        value={type}
        onChange={setType}
      />
      {chosen ? <ModuleForm key={chosen.type} type={chosen} module={null} /> : null}
    </Stack>
  );
}

/** Create or change a module; its parameters come from the plug-in's JSON Schema, secrets write-only. */
function ModuleForm({ type, module }: { type: ModuleType; module: Module | null }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const productTypes = useProductTypes();
  const modules = useModules();
  const [name, setName] = useState(module?.name ?? '');
  const [codes, setCodes] = useState<string[]>(module?.productTypes ?? type.productTypes);
  const [enabled, setEnabled] = useState(module?.enabled ?? true);
  const [sortOrder, setSortOrder] = useState<number | string>(module?.sortOrder ?? 0);
  const [minBalance, setMinBalance] = useState(module?.minBalance ?? '');
  const [licenseServer, setLicenseServer] = useState<string | null>(
    module?.licenseServerId != null ? String(module.licenseServerId) : null,
  );
  const [params, setParams] = useState<SchemaValues>(() => schemaInitial(type.paramsSchema, module?.params));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const types = useModuleTypes();
  const sources = new Set((types.data?.items ?? []).filter((x) => x.licenseSource).map((x) => x.type));
  const licenseServers = (modules.data?.items ?? []).filter(
    (m) => sources.has(m.type) && m.id !== module?.id,
  );
  const save = useStaffMutation(
    async (p: Record<string, unknown>) => {
      const common = {
        name: name.trim(),
        productTypes: codes,
        enabled,
        sortOrder: Number(sortOrder) || 0,
        minBalance: minBalance.trim() ? minBalance.trim() : null,
        ...(type.usesLicenseServer ? { licenseServerId: licenseServer ? Number(licenseServer) : null } : {}),
        params: p,
      };
      return module
        ? call(api.PATCH('/api/v1/modules/{id}', { ...idPath(module.id), body: common }))
        : call(api.POST('/api/v1/modules', { body: { ...common, type: type.type } }));
    },
    {
      invalidate: [MODULES_KEY],
      done: (m) => s.saved(m.name),
      onSuccess: (m) => {
        if (!module) navigate(`/staff/modules/${m.id}`);
      },
    },
  );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const out = schemaOutput(
          type.paramsSchema,
          params,
          { secretFields: type.secretFields, editing: !!module, stored: module?.params },
          s.fieldWords,
        );
        setErrors(out.errors);
        if (Object.keys(out.errors).length === 0) save.mutate(out.value);
      }}
    >
      <Stack gap="sm">
        <TextInput label={s.name} required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <MultiSelect
          label={s.productTypes}
          required
          data={(productTypes.data?.items ?? [])
            .filter((p) => type.productTypes.length === 0 || type.productTypes.includes(p.code))
            .map((p) => ({ value: p.code, label: p.name }))}
          value={codes}
          onChange={setCodes}
        />
        <Group grow align="flex-start">
          <NumberInput label={s.sortOrder} min={0} value={sortOrder} onChange={setSortOrder} />
          <TextInput
            label={s.minBalance}
            description={s.minBalanceHint}
            placeholder="0.00"
            value={minBalance}
            onChange={(e) => setMinBalance(e.currentTarget.value)}
          />
        </Group>
        {type.usesLicenseServer ? (
          <Select
            label={s.licenseServer}
            description={s.licenseServerHint}
            clearable
            data={licenseServers.map((m) => ({ value: String(m.id), label: `${m.name} (${m.type})` }))}
            value={licenseServer}
            onChange={setLicenseServer}
          />
        ) : null}
        <Checkbox label={s.enabled} checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} />
        <Title order={4}>{s.parameters}</Title>
        <SchemaFields
          schema={type.paramsSchema}
          values={params}
          onChange={setParams}
          errors={errors}
          secretFields={type.secretFields}
          secrets={module?.secrets}
        />
        <RefusalAlert error={save.error} />
        <Group justify="flex-end">
          <Button type="submit" loading={save.isPending}>
            {module ? s.save : s.create}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** One module: connection check, upstream balance, its parameters, importing its tariffs. */
export function ModulePage({ id }: { id: number }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const module = useQuery({
    queryKey: [...MODULES_KEY, id],
    queryFn: () => call(api.GET('/api/v1/modules/{id}', idPath(id))),
  });
  const types = useModuleTypes();
  if (module.isPending || types.isPending) return <Loading />;
  if (module.isError) return <ErrorState error={module.error} onRetry={() => module.refetch()} />;
  if (types.isError) return <ErrorState error={types.error} onRetry={() => types.refetch()} />;
  const m = module.data;
  const type = types.data.items.find((x) => x.type === m.type);
  return (
    <Stack gap="md" maw={860}>
      <Anchor component={Link} href="/staff/modules" size="sm">
        {s.allModules}
      </Anchor>
      <Group justify="space-between" align="flex-start">
        <Stack gap={2}>
          <Title order={2}>{m.name}</Title>
          <Text size="sm" c="dimmed">
            {type?.title ?? m.type} · {m.productTypes.join(', ')}
          </Text>
        </Stack>
        <CheckBadge check={m.lastCheck} />
      </Group>
      <Upstream module={m} type={type} />
      {type ? (
        <Card withBorder>
          <ModuleForm key={m.updatedAt} type={type} module={m} />
        </Card>
      ) : (
        <Alert color="red">{s.unknownType(m.type)}</Alert>
      )}
    </Stack>
  );
}

function Upstream({ module: m, type }: { module: Module; type: ModuleType | undefined }) {
  const { t } = useI18n();
  const s = t.staffCatalog;
  const check = useStaffMutation(() => call(api.POST('/api/v1/modules/{id}/check', idPath(m.id))), {
    invalidate: [MODULES_KEY],
  });
  const balance = useStaffMutation(() => call(api.GET('/api/v1/modules/{id}/balance', idPath(m.id))), {
    invalidate: [],
  });
  const importing = useStaffMutation(
    () => call(api.POST('/api/v1/modules/{id}/import-tariffs', idPath(m.id))),
    {
      invalidate: [TARIFFS_KEY],
    },
  );
  const can = (f: string) => m.features.includes(f);
  const result = importing.data;
  return (
    <Card withBorder>
      <Stack gap="sm">
        <Group gap="xs">
          {can('checkConnection') ? (
            <Button variant="default" loading={check.isPending} onClick={() => check.mutate(undefined)}>
              {s.checkConnection}
            </Button>
          ) : null}
          {can('getBalance') ? (
            <Button variant="default" loading={balance.isPending} onClick={() => balance.mutate(undefined)}>
              {s.showBalance}
            </Button>
          ) : null}
          {can('importTariffs') ? (
            <Button
              variant="default"
              loading={importing.isPending}
              onClick={() => importing.mutate(undefined)}
            >
              {s.importTariffs}
            </Button>
          ) : null}
        </Group>
        {check.data ? (
          <Alert
            color={check.data.ok ? 'teal' : 'red'}
            title={check.data.ok ? s.connectionOk : s.connectionFailed}
          >
            {check.data.message}
          </Alert>
        ) : m.lastCheck ? (
          <Text size="sm" c="dimmed">
            {s.lastCheck(m.lastCheck.at.slice(0, 16).replace('T', ' '), m.lastCheck.message)}
          </Text>
        ) : null}
        <RefusalAlert error={check.error ?? balance.error ?? importing.error} />
        {balance.data ? (
          <Alert color={balance.data.below ? 'orange' : 'blue'} title={s.balance}>
            {balance.data.amount} {balance.data.currency}
            {balance.data.minimum ? ` · ${s.minBalance}: ${balance.data.minimum}` : ''}
            {balance.data.below ? ` · ${s.belowMinimum}` : ''}
          </Alert>
        ) : null}
        {result ? (
          <Alert
            color="blue"
            title={s.imported(result.created.length, result.updated.length, result.unchanged)}
          >
            <List size="sm">
              {result.created.map((x) => (
                <List.Item key={x.tariffId}>
                  <Anchor component={Link} href={`/staff/catalog/tariffs/${x.tariffId}`}>
                    {x.name}
                  </Anchor>{' '}
                  ({s.importCreated}
                  {x.pricesCopied ? '' : `, ${s.importNoPrices}`})
                </List.Item>
              ))}
              {result.updated.map((x) => (
                <List.Item key={x.tariffId}>
                  <Anchor component={Link} href={`/staff/catalog/tariffs/${x.tariffId}`}>
                    {x.name}
                  </Anchor>{' '}
                  ({s.importUpdated})
                </List.Item>
              ))}
              {result.gone.map((x) => (
                <List.Item key={x.tariffId}>
                  {x.name} ({s.importGone})
                </List.Item>
              ))}
            </List>
          </Alert>
        ) : null}
        {type?.usesLicenseServer && m.licenseServerId === null ? (
          <Text size="sm" c="orange">
            {s.noLicenseServer}
          </Text>
        ) : null}
      </Stack>
    </Card>
  );
}
