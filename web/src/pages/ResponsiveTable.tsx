import { Table } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { type ReactNode, useLayoutEffect, useRef } from 'react';
import './tables.css';

/** The phone breakpoint of the whole app (Mantine's `xs`). */
export const PHONE_QUERY = '(max-width: 36em)';

/**
 * A table that reads well everywhere: on a wide screen as is (scrolling sideways inside its
 * card only below `minWidth`), on a phone as stacked rows, each cell labelled with its column's
 * header. The labels are copied from the header into `data-label` after every change of the
 * rows, so a page writes its table once.
 */
export function ResponsiveTable({ minWidth, children }: { minWidth: number; children: ReactNode }) {
  const phone = useMediaQuery(PHONE_QUERY);
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const root = ref.current;
    if (!root || !phone) return;
    const label = () => {
      const heads = [...root.querySelectorAll('thead th')].map((th) => th.textContent?.trim() ?? '');
      for (const row of root.querySelectorAll('tbody tr'))
        row.querySelectorAll(':scope > td').forEach((td, i) => {
          const text = heads[i] ?? '';
          if (td.getAttribute('data-label') !== text) td.setAttribute('data-label', text);
        });
    };
    label();
    const observer = new MutationObserver(label);
    observer.observe(root, { childList: true, subtree: true });
    return () => observer.disconnect();
  }, [phone]);
  if (phone)
    return (
      <div ref={ref} className="bf-stacked">
        {children}
      </div>
    );
  return <Table.ScrollContainer minWidth={minWidth}>{children}</Table.ScrollContainer>;
}
