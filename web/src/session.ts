import { useQuery } from '@tanstack/react-query';
import { ApiError, api, call, setCsrfToken } from './api/client';
import type { paths } from './api/schema';

export type Me = paths['/api/v1/me']['get']['responses'][200]['content']['application/json'];

export const ME_KEY = ['me'] as const;

/** Who is signed in (null: nobody); the session's CSRF token is kept for state-changing calls. */
export function useMe() {
  return useQuery({
    queryKey: ME_KEY,
    queryFn: async (): Promise<Me | null> => {
      try {
        const me = await call(api.GET('/api/v1/me'));
        setCsrfToken(me.csrfToken);
        return me;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    staleTime: Number.POSITIVE_INFINITY,
  });
}

export async function signIn(email: string, password: string): Promise<Me> {
  const r = await call(api.POST('/api/v1/auth/login', { body: { email, password } }));
  setCsrfToken(r.csrfToken);
  return { user: r.user, account: r.account, csrfToken: r.csrfToken };
}

export async function signOut(): Promise<void> {
  await call(api.POST('/api/v1/auth/logout'));
  setCsrfToken(null);
}
