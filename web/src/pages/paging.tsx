import { Button, Group } from '@mantine/core';
import { type RefObject, useState } from 'react';
import { useI18n } from '../i18n';

/**
 * Keyset paging over a list the API pages with `before` (newest first): the cursors of the pages
 * seen so far, so "Newer" goes back one page and "Older" follows the answer's `nextBefore`.
 */
export function useCursorPages() {
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const before = cursors[cursors.length - 1];
  return {
    before,
    /** The list request's cursor parameter: `{ before }` past the first page, nothing on it. */
    query: before !== undefined ? { before: String(before) } : {},
    hasNewer: cursors.length > 1,
    newer: () => setCursors((c) => c.slice(0, -1)),
    older: (next: number) => setCursors((c) => [...c, next]),
  };
}

export function Pager({
  pages,
  nextBefore,
  busy,
  label,
  top,
}: {
  pages: ReturnType<typeof useCursorPages>;
  nextBefore: number | null | undefined;
  busy: boolean;
  label: string;
  /** A list taller than the screen: where it starts, brought into view when the page turns. */
  top?: RefObject<HTMLElement | null>;
}) {
  const { t } = useI18n();
  if (!pages.hasNewer && nextBefore == null) return null;
  const turn = (go: () => void) => () => {
    go();
    const el = top?.current;
    // Above the window, or behind a fixed header (the element's scroll-margin-top says how tall).
    if (el && el.getBoundingClientRect().top < (Number.parseFloat(getComputedStyle(el).scrollMarginTop) || 0))
      el.scrollIntoView({ block: 'start' });
  };
  return (
    <Group justify="space-between" mt="sm" role="group" aria-label={label}>
      <Button variant="default" size="xs" disabled={!pages.hasNewer} onClick={turn(pages.newer)}>
        {t.newer}
      </Button>
      <Button
        variant="default"
        size="xs"
        disabled={nextBefore == null || busy}
        onClick={turn(() => nextBefore != null && pages.older(nextBefore))}
      >
        {t.older}
      </Button>
    </Group>
  );
}
