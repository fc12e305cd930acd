import { describe, expect, it } from 'vitest';
import {
  billingMetadata as md,
  checkoutSessionObject,
  event,
  invoiceObject,
  lifecycle,
  stripeId,
  subscriptionObject,
} from '@billing/stripe-simulator/events';
import { END, T0, useApplyFixture } from './apply-events.fixture';

// applyEvent: which user an event belongs to, events that wait for their customer, and checkout enriched from the Stripe API.
const { apply, addUser, subscriptionRow, userRow, ledger } = useApplyFixture('apply_resolution');

describe('user resolution', () => {
  const checkout = (fields: Parameters<typeof checkoutSessionObject>[0]) =>
    event('checkout.session.completed', checkoutSessionObject({ subscription: stripeId('sub'), ...fields }));

  it('customer id wins over metadata naming another user', async () => {
    const owner = await addUser('owner@example.com', 'cus_owner');
    const other = await addUser('other@example.com');
    const e = checkout({ customer: 'cus_owner', metadata: md({ userId: other.id, planSlug: 'pro' }), customerEmail: 'other@example.com' });
    expect(await apply(e)).toMatchObject({ outcome: 'applied', userVia: 'customer' });
    expect((await subscriptionRow((e.data.object as { subscription: string }).subscription))?.userId).toBe(owner.id);
    expect((await userRow(other.id)).stripeCustomerId).toBeNull();
  });

  it('metadata user id, re-checked against the table, binds the customer', async () => {
    const user = await addUser('meta@example.com');
    expect(await apply(checkout({ customer: 'cus_meta', metadata: md({ userId: user.id }) }))).toMatchObject({
      userVia: 'metadata',
      linkedCustomerId: 'cus_meta',
    });
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_meta');
  });

  it('metadata naming a user that does not exist falls through to the email', async () => {
    const user = await addUser('mail@example.com');
    expect(
      await apply(
        checkout({ customer: 'cus_mail', metadata: md({ userId: 424242 }), customerEmail: null, detailsEmail: ' MAIL@example.com' }),
      ),
    ).toMatchObject({ userVia: 'email' });
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_mail');
  });

  it('customer_email is preferred over customer_details.email', async () => {
    const first = await addUser('first@example.com');
    await addUser('second@example.com');
    const e = checkout({ customer: 'cus_pref', customerEmail: 'first@example.com', detailsEmail: 'second@example.com' });
    await apply(e);
    expect((await subscriptionRow((e.data.object as { subscription: string }).subscription))?.userId).toBe(first.id);
  });

  it('a user that already has a customer id keeps it', async () => {
    const user = await addUser('has@example.com', 'cus_first');
    await apply(checkout({ customer: 'cus_second', customerEmail: 'has@example.com' }));
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_first');
  });

  it('an unresolved event is applied in the transaction that links its customer', async () => {
    const user = await addUser('late@example.com');
    const [checkoutEvent, created] = lifecycle({
      email: 'late@example.com',
      subscriptionId: 'sub_late',
      customerId: 'cus_late',
      start: T0,
    });
    expect((await apply(created!)).outcome).toBe('unresolved');
    expect(await apply(checkoutEvent!)).toMatchObject({ outcome: 'applied', linkedCustomerId: 'cus_late' });
    expect((await ledger()).map((r) => [r.stripeEventId, r.outcome, r.unresolvedInput])).toEqual([
      [created!.id, 'applied', null],
      [checkoutEvent!.id, 'applied', null],
    ]);
    expect(await subscriptionRow('sub_late')).toMatchObject({
      userId: user.id,
      status: 'active',
      currentPeriodEnd: new Date((T0 + 30 * 86_400) * 1000),
    });
    expect((await apply(created!)).outcome).toBe('duplicate');
  });

  it('an unresolved event keeps what it needs to be applied later, without the emails', async () => {
    await apply(
      event(
        'checkout.session.completed',
        checkoutSessionObject({ subscription: 'sub_keep', customer: 'cus_keep', customerEmail: 'ghost@example.com' }),
        { created: T0 },
      ),
    );
    const [row] = await ledger();
    expect(row).toMatchObject({ outcome: 'unresolved', stripeCustomerId: 'cus_keep', eventCreatedAt: new Date(T0 * 1000) });
    expect(row?.unresolvedInput).toMatchObject({
      subscriptionId: 'sub_keep',
      customerId: 'cus_keep',
      user: { emails: [] },
      input: { kind: 'hint', hint: 'checkout' },
    });
    expect(JSON.stringify(row?.unresolvedInput)).not.toContain('ghost@example.com');
  });

  it('a user with another customer already: the subscription linked by checkout applies its earlier unresolved events', async () => {
    const user = await addUser('two@example.com', 'cus_first');
    const created = event(
      'customer.subscription.created',
      subscriptionObject({ id: 'sub_second', customer: 'cus_second', status: 'active' }),
      { created: T0 },
    );
    expect((await apply(created)).outcome).toBe('unresolved');
    const checkout = event(
      'checkout.session.completed',
      checkoutSessionObject({ subscription: 'sub_second', customer: 'cus_second', customerEmail: 'two@example.com' }),
      { created: T0 + 1 },
    );
    expect(await apply(checkout)).toMatchObject({ outcome: 'applied', userVia: 'email' });
    expect((await ledger()).map((r) => r.outcome)).toEqual(['applied', 'applied']);
    expect(await subscriptionRow('sub_second')).toMatchObject({ userId: user.id, snapshotAt: new Date(T0 * 1000) });
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_first');
  });

  it('an event of a customer the host application bound applies the customer’s earlier unresolved events', async () => {
    const created = event(
      'customer.subscription.created',
      subscriptionObject({ id: 'sub_host', customer: 'cus_host', status: 'trialing' }),
      { created: T0 },
    );
    expect((await apply(created)).outcome).toBe('unresolved');
    const user = await addUser('host@example.com', 'cus_host');
    const paid = event('invoice.paid', invoiceObject({ subscription: 'sub_host', customer: 'cus_host' }), { created: T0 + 5 });
    expect(await apply(paid)).toMatchObject({ outcome: 'applied', userVia: 'customer' });
    expect((await ledger()).map((r) => r.outcome)).toEqual(['applied', 'applied']);
    expect(await subscriptionRow('sub_host')).toMatchObject({ userId: user.id, status: 'trialing' });
    expect((await userRow(user.id)).subscriptionStatus).toBe('trialing');
  });
});

describe('Stripe API enrichment for checkout', () => {
  it('applies the fetched subscription as a snapshot taken at the fetch', async () => {
    await addUser('rich@example.com', 'cus_rich');
    const e = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_rich', customer: 'cus_rich' }), {
      created: T0,
    });
    const fetched = subscriptionObject({ id: 'sub_rich', customer: 'cus_rich', status: 'trialing', currentPeriodEnd: END });
    const before = Math.floor(Date.now() / 1000);
    await apply(e, { fetchSubscription: async (id) => (id === 'sub_rich' ? fetched : undefined) });
    const row = (await subscriptionRow('sub_rich'))!;
    expect(row).toMatchObject({ status: 'trialing', currentPeriodEnd: new Date(END * 1000) });
    expect(row.snapshotAt!.getTime() / 1000).toBeGreaterThanOrEqual(before);
    expect(row.snapshotAt!.getTime()).toBeLessThanOrEqual(Date.now()); // the fetch's time, not the event's
    // An event older than the fetch is stale: the fetched object is newer than anything in it.
    expect(
      (
        await apply(
          event('customer.subscription.created', subscriptionObject({ id: 'sub_rich', customer: 'cus_rich', status: 'incomplete' }), {
            created: T0,
          }),
        )
      ).outcome,
    ).toBe('stale');
  });

  it('dates the fetched object before the request: a deletion in the second the object was served is not older than it', async () => {
    await addUser('dated@example.com', 'cus_dated');
    const e = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_dated', customer: 'cus_dated' }), {
      created: T0,
    });
    let servedAt = 0;
    await apply(e, {
      fetchSubscription: async () => {
        servedAt = Math.floor(Date.now() / 1000);
        // A slow answer: the object is served in one second and arrives in the next.
        await new Promise((resolve) => setTimeout(resolve, (servedAt + 1) * 1000 + 50 - Date.now()));
        return subscriptionObject({ id: 'sub_dated', customer: 'cus_dated', status: 'active', currentPeriodEnd: END });
      },
    });
    expect(await subscriptionRow('sub_dated')).toMatchObject({ status: 'active' });
    const deleted = event(
      'customer.subscription.deleted',
      subscriptionObject({ id: 'sub_dated', customer: 'cus_dated', status: 'canceled', currentPeriodEnd: END }),
      { created: servedAt },
    );
    expect((await apply(deleted)).outcome).toBe('applied');
    expect(await subscriptionRow('sub_dated')).toMatchObject({ status: 'canceled' });
  });

  it('a fetch failure is reported and the event still applies', async () => {
    await addUser('poor@example.com', 'cus_poor');
    const errors: unknown[] = [];
    const e = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_poor', customer: 'cus_poor' }));
    const result = await apply(e, {
      fetchSubscription: async () => Promise.reject(new Error('Stripe is down')),
      onEnrichmentError: (err) => errors.push(err),
    });
    expect(result.outcome).toBe('applied');
    expect(errors).toHaveLength(1);
    expect(await subscriptionRow('sub_poor')).toMatchObject({ status: 'active', currentPeriodEnd: null });
  });
});
