import {
  Alert,
  Anchor,
  Button,
  Center,
  Group,
  Paper,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api, call, setCsrfToken } from '../api/client';
import { errorSentence, useI18n } from '../i18n';
import { LanguageSwitch } from '../LanguageSwitch';
import { Link, navigate } from '../router';
import { ME_KEY, type Me } from '../session';
import { MIN_PASSWORD_LENGTH } from './Settings';

/** Create an account (POST /auth/signup): the server signs the newcomer in, and the client area opens. */
export function SignUp() {
  const { t } = useI18n();
  const s = t.signUp;
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [checked, setChecked] = useState(false);
  const tooShort = password.length < MIN_PASSWORD_LENGTH;
  const create = useMutation({
    mutationFn: async (): Promise<Me> => {
      const r = await call(
        api.POST('/api/v1/auth/signup', { body: { name: name.trim(), email: email.trim(), password } }),
      );
      setCsrfToken(r.csrfToken);
      return r;
    },
    onSuccess: (me) => {
      queryClient.setQueryData(ME_KEY, me);
      navigate('/services', { replace: true });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (tooShort) return;
    create.mutate();
  };
  const code = create.error instanceof ApiError ? create.error.code : create.error ? 'network_error' : null;

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder p="xl" radius="md" w="100%" maw={420}>
        <form onSubmit={submit} aria-labelledby="sign-up-title" noValidate>
          <Stack>
            <Group justify="space-between" align="flex-start" wrap="nowrap">
              <Title order={2} id="sign-up-title">
                {s.title}
              </Title>
              <LanguageSwitch />
            </Group>
            {code && (
              <Alert color="red" role="alert">
                {errorSentence(t, code)}
              </Alert>
            )}
            <TextInput
              label={s.name}
              description={s.nameHint}
              autoComplete="name"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={checked && !name.trim() ? s.fillName : undefined}
            />
            <TextInput
              label={t.email}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
              error={checked && !email.trim() ? s.fillEmail : undefined}
            />
            <PasswordInput
              label={t.password}
              autoComplete="new-password"
              required
              description={t.accountArea.passwordRule(MIN_PASSWORD_LENGTH)}
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              error={checked && tooShort ? s.passwordTooShort(MIN_PASSWORD_LENGTH) : undefined}
            />
            <Button type="submit" loading={create.isPending}>
              {s.create}
            </Button>
            <Text size="sm">
              {s.haveAccount}{' '}
              <Anchor component={Link} href="/sign-in">
                {t.signIn}
              </Anchor>
            </Text>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
