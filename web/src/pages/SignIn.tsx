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
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { ApiError, api, call } from '../api/client';
import { errorSentence, useI18n } from '../i18n';
import { LanguageSwitch } from '../LanguageSwitch';
import { Link } from '../router';
import { ME_KEY, signIn } from '../session';

export function SignIn() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  // Whether the provider takes sign-ups (public): the link shows only when it does.
  const options = useQuery({
    queryKey: ['auth-options'],
    queryFn: () => call(api.GET('/api/v1/auth/options')),
    staleTime: 60_000,
  });
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
            {options.data?.signupEnabled && (
              <Text size="sm">
                {t.signUp.noAccount}{' '}
                <Anchor component={Link} href="/sign-up">
                  {t.signUp.link}
                </Anchor>
              </Text>
            )}
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
