// web/src/staff/route-type.ts
import type { ReactNode } from 'react';
import type { Strings } from '../i18n';

/** One staff page: its nav entry (when `label` is set) and the element it renders for a path. */
export interface StaffRoute {
  /** Where the nav entry points. */
  readonly href: string;
  /** The nav entry's text; routes without one (detail pages) are not in the nav. */
  readonly label?: (t: Strings) => string;
  /** The page for `path`, or null when this route does not match it. */
  readonly match: (path: string) => ReactNode | null;
}
