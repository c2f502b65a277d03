import {render} from 'preact-render-to-string';
import {describe, expect, it} from 'vitest';

import {AccountRewardsView, entryLabel} from '../src/AccountRewards.jsx';

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
