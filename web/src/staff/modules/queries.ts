import { useQuery } from '@tanstack/react-query';
import { api, call } from '../../api/client';

export const MODULES_KEY = ['staff', 'modules'] as const;

/** Every processing module (the API pages by 100 at most; a provider has a handful). */
export function useModules() {
  return useQuery({
    queryKey: MODULES_KEY,
    queryFn: () => call(api.GET('/api/v1/modules', { params: { query: { limit: 100 } } })),
  });
}

/** The installed plug-ins with their published JSON Schemas. */
export function useModuleTypes() {
  return useQuery({
    queryKey: ['staff', 'module-types'],
    queryFn: () => call(api.GET('/api/v1/module-types')),
    staleTime: Number.POSITIVE_INFINITY,
  });
}
