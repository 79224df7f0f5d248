import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { forwardRef, useSyncExternalStore } from 'react';

/**
 * The app's few routes need no router library: the path is the state, pushState changes it and
 * popstate (back/forward) announces it. The server answers every client route with the app.
 */
const listeners = new Set<() => void>();
const notify = () => {
  for (const l of listeners) l();
};
window.addEventListener('popstate', notify);

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  notify();
}

const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

export const usePath = (): string => useSyncExternalStore(subscribe, () => window.location.pathname);

/** An ordinary link (opens in a new tab with a modifier key) that navigates in place otherwise. */
export const Link = forwardRef<HTMLAnchorElement, AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }>(
  function Link({ href, onClick, ...rest }, ref) {
    const go = (e: MouseEvent<HTMLAnchorElement>) => {
      onClick?.(e);
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      e.preventDefault();
      navigate(href);
    };
    return <a ref={ref} href={href} onClick={go} {...rest} />;
  },
);
