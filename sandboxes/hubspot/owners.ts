/** A HubSpot owner (the spec's `PublicOwner`): a user records can be assigned to via `hubspot_owner_id`. */
export interface Owner {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  userId: number;
  type: 'PERSON' | 'QUEUE';
  archived: boolean;
  teams: Array<{ id: string; name: string; primary: boolean }>;
  createdAt: string;
  updatedAt: string;
}

/** Seeded owners: two active sales reps and one deactivated user, so archived filtering is observable. */
export const DEFAULT_OWNERS: readonly Owner[] = [
  {
    id: '52550153',
    email: 'ada.lovelace@sandbox.example',
    firstName: 'Ada',
    lastName: 'Lovelace',
    userId: 9001001,
    type: 'PERSON',
    archived: false,
    teams: [{ id: '3410001', name: 'Sales', primary: true }],
    createdAt: '2024-01-15T09:00:00.000Z',
    updatedAt: '2024-06-01T12:00:00.000Z',
  },
  {
    id: '52550154',
    email: 'grace.hopper@sandbox.example',
    firstName: 'Grace',
    lastName: 'Hopper',
    userId: 9001002,
    type: 'PERSON',
    archived: false,
    teams: [
      { id: '3410001', name: 'Sales', primary: false },
      { id: '3410002', name: 'Customer Success', primary: true },
    ],
    createdAt: '2024-02-20T09:00:00.000Z',
    updatedAt: '2024-06-01T12:00:00.000Z',
  },
  {
    id: '52550155',
    email: 'alan.turing@sandbox.example',
    firstName: 'Alan',
    lastName: 'Turing',
    userId: 9001003,
    type: 'PERSON',
    archived: true,
    teams: [],
    createdAt: '2023-11-02T09:00:00.000Z',
    updatedAt: '2024-03-10T12:00:00.000Z',
  },
];

export function serializeOwner(o: Owner): Record<string, unknown> {
  return {
    id: o.id,
    email: o.email,
    firstName: o.firstName,
    lastName: o.lastName,
    userId: o.userId,
    userIdIncludingInactive: o.userId,
    type: o.type,
    archived: o.archived,
    teams: o.teams.map((t) => ({ ...t })),
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  };
}
