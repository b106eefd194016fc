export const ROLES = ['admin', 'manager', 'operator', 'viewer', 'monitor'] as const;
export type Role = (typeof ROLES)[number];

/** Who may call what, by route family — the contract's role table. */
export const ROLE_RULES = {
  anyUser: ['viewer', 'operator', 'manager', 'admin', 'monitor'],
  read: ['viewer', 'operator', 'manager', 'admin'],
  stockWrite: ['operator', 'manager', 'admin'],
  manage: ['manager', 'admin'],
  admin: ['admin'],
  metrics: ['admin', 'monitor'],
} as const satisfies Record<string, readonly Role[]>;
