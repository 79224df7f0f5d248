import { SegmentedControl } from '@mantine/core';
import { type Lang, useI18n } from './i18n';

export function LanguageSwitch() {
  const { t, lang, setLang } = useI18n();
  return (
    <SegmentedControl
      size="xs"
      aria-label={t.language}
      value={lang}
      onChange={(v) => setLang(v as Lang)}
      data={[
        { value: 'en', label: 'EN' },
        { value: 'ru', label: 'RU' },
      ]}
    />
  );
}
