/**
 * Record rules the real-time adapter and the backfill share: field lengths, the names an Account or a
 * Contact is created with, SOQL literals.
 */
export type SalesforceValue = string | number | boolean | null;
export type SalesforceRecord = Record<string, SalesforceValue>;

/** sObject Collections take at most 200 records per call. */
export const COLLECTION_LIMIT = 200;

/** Standard field lengths (Account Name 255, Opportunity Name 120, Task Subject 255, Description 32,000). */
export const LIMITS = { accountName: 255, website: 255, firstName: 40, lastName: 80, opportunityName: 120, subject: 255, description: 32_000 };

export function truncate(value: string, length: number): string {
  return value.length > length ? value.slice(0, length) : value;
}

/** A SOQL string literal (backslash escapes, as the SOQL reference defines them). */
export function soqlString(value: string): string {
  const escaped = value.replace(/[\\'"\n\r\t\f\b]/g, (ch) => ({ '\n': '\\n', '\r': '\\r', '\t': '\\t', '\f': '\\f', '\b': '\\b' })[ch] ?? `\\${ch}`);
  return `'${escaped}'`;
}

/** Name (required) and Website of an Account created for a customer: its name, else its domain, else its id. */
export function newAccountNaming(input: { customerId: string; name?: string | null | undefined; domain?: string | null | undefined }): SalesforceRecord {
  const name = truncate(input.name?.trim() || input.domain || input.customerId, LIMITS.accountName);
  return { Name: name, ...(input.domain ? { Website: truncate(input.domain, LIMITS.website) } : {}) };
}

/** A contact's Stripe names, where known. */
export function contactNames(input: { firstName?: string | null | undefined; lastName?: string | null | undefined }): SalesforceRecord {
  return {
    ...(input.firstName ? { FirstName: truncate(input.firstName, LIMITS.firstName) } : {}),
    ...(input.lastName ? { LastName: truncate(input.lastName, LIMITS.lastName) } : {}),
  };
}

/** LastName is required on create: a contact without a Stripe last name gets the email's local part. */
export function lastNameFromEmail(email: string): string {
  return truncate(email.split('@')[0] || email, LIMITS.lastName);
}
