import {render} from 'preact-render-to-string';
import {describe, expect, it} from 'vitest';

import {
  AccountRewardsView,
  BirthdayView,
  entryLabel,
  plainDate,
  TierView,
} from '../src/AccountRewards.jsx';

const state = {
  customer: {balance: 700, pending: 40},
  rewards: [
    {id: 1, name: '$5 off', kind: 'fixed_amount', points: 500, affordable: true},
    {id: 2, name: '$50 off', kind: 'fixed_amount', points: 5000, affordable: false},
  ],
  entries: [
    {id: 3, amount: -500, kind: 'redeem', label: 'Reward redeemed'},
    {id: 2, amount: 40, kind: 'order_earn', label: 'Order'},
    {id: 1, amount: 1160, kind: 'adjustment', label: ''},
    {id: 0, amount: 10, kind: 'welcome', label: ''},
  ],
};

describe('AccountRewardsView', () => {
  it('shows balance, pending, rewards with redeem and the history', () => {
    const html = render(<AccountRewardsView state={state} onRedeem={() => {}} />);
    expect(html).toContain('700 points');
    expect(html).toContain('(+40 pending)');
    expect(html).toContain('$5 off · 500 points');
    expect(html.match(/<s-button/g)).toHaveLength(2);
    expect(html).toContain('<s-button disabled>Redeem</s-button>');
    expect(html).toContain('Reward redeemed: -500');
    expect(html).toContain('Order: +40');
  });

  it('keeps the profile block short', () => {
    const html = render(<AccountRewardsView state={state} compact onRedeem={() => {}} />);
    expect(html.match(/<s-list-item/g)).toHaveLength(3);
  });

  it('shows a redeemed code', () => {
    const html = render(
      <AccountRewardsView state={{...state, redeemed: {code: 'BEAM-X'}}} onRedeem={() => {}} />,
    );
    expect(html).toContain('BEAM-X');
  });

  it('asks a guest to log in', () => {
    expect(render(<AccountRewardsView state={{guest: true}} />)).toContain('Log in');
  });
});

describe('entryLabel', () => {
  it('falls back to the kind', () => {
    expect(entryLabel({kind: 'redeem_refund'})).toBe('Points returned');
    expect(entryLabel({kind: 'custom'})).toBe('custom');
  });
});

describe('TierView', () => {
  const tier = {
    name: 'Gold',
    multiplier: '1.5',
    granted: true,
    until: '2028-01-01T05:00:00Z',
    last_day: '2027-12-31',
    metric: 'points',
    value: 640,
    next: {name: 'Platinum', threshold: 1000, remaining: 360},
  };
  const changes = [
    {id: '2', at: '2027-01-02T10:00:00Z', reason: 'granted', label: 'Gold access until 31 Dec 2027'},
    {id: '1', at: '2026-11-05T10:00:00Z', reason: 'earned', label: 'Reached Silver'},
  ];

  it('shows the tier, its multiplier, its end, the next need and the history', () => {
    const html = render(<AccountRewardsView state={{...state, tier, tierChanges: changes}} />);
    expect(html).toContain('Your tier: <s-text type="strong">Gold</s-text> · 1.5× points on orders');
    expect(html).toContain('Gold until 2027-12-31');
    expect(html).toContain('Earn 360 more points to reach Platinum.');
    expect(html).toContain('<s-list-item>2027-01-02: Gold access until 31 Dec 2027</s-list-item>');
    expect(html).toContain('<s-list-item>2026-11-05: Reached Silver</s-list-item>');
  });

  it('uses the platform date format when given one', () => {
    const html = render(<TierView tier={tier} formatDate={(iso) => `[${iso.slice(0, 4)}]`} />);
    expect(html).toContain('Gold until [2027]');
  });

  it('keeps the profile block to the tier itself', () => {
    const html = render(<TierView tier={tier} changes={changes} compact />);
    expect(html).toContain('Gold');
    expect(html).not.toContain('Reached Silver');
  });

  it('shows a member below the first tier what it needs, and nothing while tiers are off', () => {
    const none = {...tier, name: null, until: null, last_day: null, multiplier: '1'};
    const html = render(<TierView tier={none} />);
    expect(html).toContain('No tier yet');
    expect(html).toContain('Earn 360 more points to reach Platinum.');
    expect(render(<TierView tier={null} />)).toBe('');
    expect(render(<AccountRewardsView state={state} />)).not.toContain('VIP status');
  });

  it('cuts an ISO time to its date', () => {
    expect(plainDate('2027-12-31T23:00:00Z')).toBe('2027-12-31');
    expect(plainDate(null)).toBe('');
  });
});

describe('BirthdayView', () => {
  const doc = {
    birthday: {month: 7, day: 14, year: null},
    offered: true,
    gift_on: '2027-07-14',
    first_gift: true,
  };

  it('shows the saved birthday, when the first gift arrives and the form', () => {
    const html = render(<BirthdayView birthday={{doc}} onSave={() => {}} />);
    expect(html).toContain('Your birthday: 14 July');
    expect(html).toContain('Your first birthday gift arrives on 2027-07-14.');
    expect(html).toContain('<s-option value="7">July</s-option>');
    expect(html).toContain('Save birthday');
  });

  it('shows the reason of a refused date', () => {
    const html = render(
      <BirthdayView birthday={{doc, error: 'Choose a day of the month.'}} onSave={() => {}} />,
    );
    expect(html).toContain('<s-banner tone="critical">Choose a day of the month.</s-banner>');
  });

  it('is left out while birthdays are not offered and none is saved, and on the profile block', () => {
    const off = {birthday: null, offered: false, gift_on: null, first_gift: true};
    expect(render(<BirthdayView birthday={{doc: off}} onSave={() => {}} />)).toBe('');
    const html = render(<AccountRewardsView state={{...state, birthday: {doc}}} compact />);
    expect(html).not.toContain('Your birthday');
    expect(render(<AccountRewardsView state={{...state, birthday: {doc}}} />)).toContain(
      'Your birthday',
    );
  });
});

describe('Show more', () => {
  const tier = {name: 'Gold', multiplier: '1', next: null, metric: 'points', value: 10};
  const changes = [{id: '9', at: '2027-01-02T10:00:00Z', label: 'Reached Gold'}];

  it('offers older points entries and tier changes while Beam has more', () => {
    const more = {...state, tier, tierChanges: changes, entriesNext: '0', tierChangesNext: '9'};
    const html = render(<AccountRewardsView state={more} onMore={() => {}} />);
    expect(html.match(/Show more<\/s-button>/g)).toHaveLength(2);
    expect(html).toContain('<s-button variant="secondary">Show more</s-button>');
  });

  it('is left out at the end of a history, on the profile block and while loading', () => {
    const end = {...state, tier, tierChanges: changes, entriesNext: null, tierChangesNext: null};
    expect(render(<AccountRewardsView state={end} onMore={() => {}} />)).not.toContain('Show more');
    const more = {...state, tier, tierChanges: changes, entriesNext: '0', tierChangesNext: '9'};
    expect(render(<AccountRewardsView state={more} compact onMore={() => {}} />)).not.toContain(
      'Show more',
    );
    const busy = render(<AccountRewardsView state={{...more, loadingMore: true}} onMore={() => {}} />);
    expect(busy).toContain('<s-button variant="secondary" disabled>Show more</s-button>');
  });

  it('asks the page endpoints with the cursor and a bounded limit', async () => {
    const {createBeamClient} = await import('../../checkout-rewards/src/beam-client.js');
    const calls = [];
    const client = createBeamClient({
      baseUrl: 'https://beam.example/',
      getToken: async () => 't',
      fetchImpl: async (url) => {
        calls.push(url);
        return {ok: true, status: 200, json: async () => ({entries: [], next: null})};
      },
    });
    await client.historyPage('entries', '41');
    await client.historyPage('tier-changes', '7', 5);
    expect(calls).toEqual([
      'https://beam.example/ext/customer/history/entries?before=41&limit=20',
      'https://beam.example/ext/customer/history/tier-changes?before=7&limit=5',
    ]);
  });
});
