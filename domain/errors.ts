/**
 * Errors thrown by the pure billing domain. They signal programming or data errors (a malformed amount, a
 * bad CRM property name in configuration), so callers treat them as permanent, never as retryable.
 */

export class DomainError extends Error {
  override name = 'DomainError';
}

/** An amount that is not a safe integer number of minor units, or a malformed decimal string. */
export class InvalidAmountError extends DomainError {
  override name = 'InvalidAmountError';
}

/** A currency code that is not three ASCII letters. */
export class InvalidCurrencyError extends DomainError {
  override name = 'InvalidCurrencyError';
}

/** A sum that left the range of integers a JavaScript number holds exactly (2^53). */
export class AmountOverflowError extends DomainError {
  override name = 'AmountOverflowError';
}

/** A CRM property name override that the provider would reject. */
export class InvalidCrmFieldNameError extends DomainError {
  override name = 'InvalidCrmFieldNameError';
}

/** Two logical fields mapped to the same CRM property. */
export class DuplicateCrmFieldNameError extends DomainError {
  override name = 'DuplicateCrmFieldNameError';
}

/** An override for a logical field that does not exist. */
export class UnknownCrmFieldError extends DomainError {
  override name = 'UnknownCrmFieldError';
}

/** The same subscription passed twice to an MRR computation, which would count it twice. */
export class DuplicateSubscriptionError extends DomainError {
  override name = 'DuplicateSubscriptionError';
}

/** A timestamp or option outside what the domain accepts (NaN, negative day counts, ...). */
export class InvalidArgumentError extends DomainError {
  override name = 'InvalidArgumentError';
}

/** A CRM_SUBSCRIPTION_OBJECT value the provider cannot name an object by. */
export class InvalidSubscriptionObjectError extends DomainError {
  override name = 'InvalidSubscriptionObjectError';
}
