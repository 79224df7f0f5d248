import {
  Alert,
  Anchor,
  Button,
  Center,
  Group,
  Paper,
  PasswordInput,
  Stack,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError } from '../api/client';
import { errorSentence, useI18n } from '../i18n';
import { LanguageSwitch } from '../LanguageSwitch';
import { Link } from '../router';
import { ME_KEY, signIn } from '../session';

export function SignIn() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const login = useMutation({
    mutationFn: () => signIn(email.trim(), password),
    onSuccess: (me) => queryClient.setQueryData(ME_KEY, me),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate();
  };
  const code = login.error instanceof ApiError ? login.error.code : login.error ? 'network_error' : null;

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder p="xl" radius="md" w="100%" maw={400}>
        <form onSubmit={submit} aria-labelledby="sign-in-title">
          <Stack>
            <Group justify="space-between" align="flex-start" wrap="nowrap">
              <Title order={2} id="sign-in-title">
                {t.signInTitle}
              </Title>
              <LanguageSwitch />
            </Group>
            {code && (
              <Alert color="red" role="alert">
                {errorSentence(t, code)}
              </Alert>
            )}
            <TextInput
              label={t.email}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
            />
            <PasswordInput
              label={t.password}
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
            />
            <Button type="submit" loading={login.isPending}>
              {t.signIn}
            </Button>
            <Anchor component={Link} href="/forgot-password" size="sm">
              {t.passwordReset.forgotLink}
            </Anchor>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
