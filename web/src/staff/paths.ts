/** Whether a path belongs to the staff area (all staff pages live under `/staff`). */
export const isStaffPath = (path: string): boolean => path === '/staff' || path.startsWith('/staff/');
