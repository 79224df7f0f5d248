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
import { useMutation } from '@tanstack/react-query';
import { type FormEvent, type ReactNode, useState } from 'react';
import { ApiError, api, call } from '../api/client';
import { errorSentence, useI18n } from '../i18n';
import { LanguageSwitch } from '../LanguageSwitch';
import { Link } from '../router';

/** The server's rule for a new password (src/modules/accounts/passwords.ts MIN_PASSWORD_LENGTH). */
const MIN_PASSWORD_LENGTH = 10;
const codeOf = (err: unknown) => (err instanceof ApiError ? err.code : 'network_error');

function Card({ titleId, title, children }: { titleId: string; title: string; children: ReactNode }) {
  return (
    <Center mih="100vh" p="md">
      <Paper withBorder p="xl" radius="md" w="100%" maw={400}>
        <Stack>
          <Group justify="space-between" align="flex-start" wrap="nowrap">
            <Title order={2} id={titleId}>
              {title}
            </Title>
            {/* Never squeezed by a long title on a phone. */}
            <div style={{ flexShrink: 0 }}>
              <LanguageSwitch />
            </div>
          </Group>
          {children}
        </Stack>
      </Paper>
    </Center>
  );
}

/** Ask for a reset link: the same answer whatever the address (the server tells nobody whether it exists). */
export function ForgotPassword() {
  const { t } = useI18n();
  const [email, setEmail] = useState('');
  const ask = useMutation({
    mutationFn: () => call(api.POST('/api/v1/auth/password-reset', { body: { email: email.trim() } })),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (email.trim() !== '') ask.mutate();
  };
  return (
    <Card titleId="forgot-title" title={t.passwordReset.forgotTitle}>
      {ask.isSuccess ? (
        <Alert color="teal" role="status">
          {t.passwordReset.sent}
        </Alert>
      ) : (
        <form onSubmit={submit} aria-labelledby="forgot-title">
          <Stack>
            {ask.isError && (
              <Alert color="red" role="alert">
                {errorSentence(t, codeOf(ask.error))}
              </Alert>
            )}
            <Text size="sm">{t.passwordReset.forgotHint}</Text>
            <TextInput
              label={t.email}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
            />
            <Button type="submit" loading={ask.isPending}>
              {t.passwordReset.send}
            </Button>
          </Stack>
        </form>
      )}
      <Anchor component={Link} href="/sign-in" size="sm">
        {t.passwordReset.backToSignIn}
      </Anchor>
    </Card>
  );
}

/** The mailed link's page: a new password, twice; the token comes from the link. */
export function ResetPassword() {
  const { t } = useI18n();
  const token = new URLSearchParams(window.location.search).get('token') ?? '';
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [checked, setChecked] = useState(false);
  const tooShort = next.length < MIN_PASSWORD_LENGTH;
  const mismatch = repeat !== next;
  const reset = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/auth/password-reset/confirm', { body: { token, newPassword: next } })),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (!tooShort && !mismatch) reset.mutate();
  };
  return (
    <Card titleId="reset-title" title={t.passwordReset.resetTitle}>
      {reset.isSuccess ? (
        <Alert color="teal" role="status">
          {t.passwordReset.done}
        </Alert>
      ) : (
        <form onSubmit={submit} aria-labelledby="reset-title" noValidate>
          <Stack>
            {(reset.isError || token === '') && (
              <Alert color="red" role="alert">
                {errorSentence(t, token === '' ? 'reset_token_invalid' : codeOf(reset.error))}
              </Alert>
            )}
            <PasswordInput
              label={t.accountArea.newPassword}
              description={t.accountArea.passwordRule(MIN_PASSWORD_LENGTH)}
              autoComplete="new-password"
              required
              value={next}
              error={checked && tooShort ? t.accountArea.passwordTooShort(MIN_PASSWORD_LENGTH) : undefined}
              onChange={(e) => setNext(e.currentTarget.value)}
            />
            <PasswordInput
              label={t.accountArea.repeatPassword}
              autoComplete="new-password"
              required
              value={repeat}
              error={checked && mismatch ? t.accountArea.passwordsDiffer : undefined}
              onChange={(e) => setRepeat(e.currentTarget.value)}
            />
            <Button type="submit" loading={reset.isPending} disabled={token === ''}>
              {t.passwordReset.setPassword}
            </Button>
          </Stack>
        </form>
      )}
      <Anchor component={Link} href="/sign-in" size="sm">
        {t.passwordReset.backToSignIn}
      </Anchor>
    </Card>
  );
}
