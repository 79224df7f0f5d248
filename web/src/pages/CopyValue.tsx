import { Button, CopyButton } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { errorSentence, useI18n } from '../i18n';

/**
 * Copies a value to the clipboard and says so; when the browser refuses, says what to do instead
 * (CopyButton's own copy stays silent on a refusal, so the clipboard is written here first).
 */
export function CopyValue({ value, done, label }: { value: string; done: string; label?: string }) {
  const { t } = useI18n();
  return (
    <CopyButton value={value}>
      {({ copied, copy }) => (
        <Button
          variant={copied ? 'light' : 'filled'}
          color={copied ? 'teal' : undefined}
          aria-label={label}
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(value);
              copy();
              notifications.show({ color: 'teal', message: done });
            } catch {
              notifications.show({ color: 'red', message: errorSentence(t, 'copy_failed') });
            }
          }}
        >
          {copied ? t.copied : t.copy}
        </Button>
      )}
    </CopyButton>
  );
}
