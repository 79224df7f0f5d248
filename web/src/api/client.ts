import createClient from 'openapi-fetch';
import type { paths } from './schema';

/** The API as the server documents it: paths, bodies and answers typed from schema.d.ts. */
export const api = createClient<paths>({ baseUrl: window.location.origin });

/**
 * The session's CSRF token (from sign-in or GET /me): every state-changing request made with
 * the session cookie must echo it in x-csrf-token.
 */
let csrfToken: string | null = null;
export const setCsrfToken = (token: string | null): void => {
  csrfToken = token;
};

api.use({
  onRequest({ request }) {
    if (csrfToken && request.method !== 'GET' && request.method !== 'HEAD')
      request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
});

/** A refused request: the API's stable `code` (see docs/api.md "Errors") and its status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

/** The answer's data, or an ApiError with the API's code (`network_error` when none came back). */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await request;
  } catch (err) {
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : String(err));
  }
  if (result.response.ok) return result.data as T;
  const body = (result.error ?? {}) as ErrorBody;
  const code = typeof body.error?.code === 'string' ? body.error.code : `http_${result.response.status}`;
  const message = typeof body.error?.message === 'string' ? body.error.message : result.response.statusText;
  throw new ApiError(result.response.status, code, message, body.error?.details);
}
