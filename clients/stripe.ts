import Stripe from 'stripe';

export interface StripeClientOptions {
  apiKey: string;
  /** e.g. the sandbox's http://127.0.0.1:12111; absent: api.stripe.com */
  baseUrl?: string;
  maxNetworkRetries?: number;
}

/** The Stripe client, pointed at a base URL when one is configured (the sandbox, a proxy). */
export function createStripeClient(options: StripeClientOptions): Stripe {
  const config: Stripe.StripeConfig = { maxNetworkRetries: options.maxNetworkRetries ?? 2, timeout: 30_000, appInfo: { name: 'stripe-crm-sync' } };
  if (options.baseUrl) {
    const url = new URL(options.baseUrl);
    config.host = url.hostname;
    config.port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    config.protocol = url.protocol === 'https:' ? 'https' : 'http';
  }
  return new Stripe(options.apiKey, config);
}

/** Request options for an account: Connect accounts are addressed with the Stripe-Account header. */
export function accountRequestOptions(accountId: string, primaryAccountId: string): Stripe.RequestOptions {
  return accountId !== primaryAccountId && accountId.startsWith('acct_') ? { stripeAccount: accountId } : {};
}
