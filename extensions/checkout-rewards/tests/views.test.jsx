import {render} from 'preact-render-to-string';
import {describe, expect, it} from 'vitest';

import {appliedBeamCode, CheckoutRewardsView} from '../src/CheckoutRewards.jsx';
import {OrderPointsView} from '../src/OrderPoints.jsx';

const summary = {
  earn: {points: 42},
  customer: {balance: 1200, pending: 0},
  rewards: [
    {id: 1, name: '$5 off', kind: 'fixed_amount', points: 500, affordable: true},
    {id: 2, name: '$50 off', kind: 'fixed_amount', points: 5000, affordable: false},
  ],
};

describe('CheckoutRewardsView', () => {
  it('shows the balance, the points this cart earns and the affordable rewards', () => {
    const html = render(<CheckoutRewardsView state={{summary}} onSelect={() => {}} />);
    expect(html).toContain('1200 points');
    expect(html).toContain('this order earns 42 points');
    expect(html).toContain('<s-option value="1">$5 off (500 points)</s-option>');
    expect(html).not.toContain('$50 off');
  });

  it('offers no way to spend points until a reward is chosen', () => {
    const html = render(<CheckoutRewardsView state={{summary}} onSelect={() => {}} />);
    expect(html).toContain('placeholder="Choose a reward"');
    expect(html).not.toContain('s-button');
  });

  it('spends only through the button that says what it costs', () => {
    const redeemed = [];
    const view = CheckoutRewardsView({
      state: {summary, selected: '1'},
      onSelect: () => {},
      onRedeem: (value) => redeemed.push(value),
    });
    const html = render(view);
    expect(html).toContain('<s-button variant="primary">Redeem for 500 points</s-button>');
    const select = findElement(view, 's-select');
    expect(select.props.value).toBe('1');
    select.props.onChange({currentTarget: {value: '1'}}); // choosing again spends nothing
    expect(redeemed).toEqual([]);
    findElement(view, 's-button').props.onClick();
    expect(redeemed).toEqual(['1']);
  });

  it('disables the button while a redemption is on its way', () => {
    const html = render(<CheckoutRewardsView state={{summary, selected: '1', busy: true}} />);
    expect(html).toContain('<s-button variant="primary" disabled>Redeem for 500 points</s-button>');
  });

  it('tells the buyer when a removed reward gave the points back', () => {
    const html = render(
      <CheckoutRewardsView state={{summary, info: 'Reward removed: your 500 points are back.'}} />,
    );
    expect(html).toContain('<s-banner tone="info">Reward removed: your 500 points are back.</s-banner>');
  });

  it('invites a logged-out buyer to log in', () => {
    const html = render(
      <CheckoutRewardsView state={{summary: {...summary, customer: null}}} onSelect={() => {}} />,
    );
    expect(html).toContain('Log in to earn 42 points with this order.');
    expect(html).not.toContain('s-select');
  });

  it('shows the applied code, and a refused one as a warning', () => {
    expect(render(<CheckoutRewardsView state={{summary, applied: 'BEAM-1'}} />)).toContain(
      'Reward applied: BEAM-1',
    );
    const html = render(<CheckoutRewardsView state={{summary, notice: 'points were returned'}} />);
    expect(html).toContain('<s-banner tone="warning">points were returned</s-banner>');
  });

  it('renders nothing when Beam is unreachable', () => {
    expect(render(<CheckoutRewardsView state={{failed: true}} />)).toBe('');
  });
});

function findElement(vnode, type) {
  if (!vnode || typeof vnode !== 'object') return null;
  if (vnode.type === type) return vnode;
  const children = [].concat(vnode.props?.children ?? []);
  for (const child of children.flat(Infinity)) {
    const found = findElement(child, type);
    if (found) return found;
  }
  return null;
}

describe('appliedBeamCode', () => {
  it('finds a Beam code among the checkout codes', () => {
    expect(appliedBeamCode([{code: 'SUMMER'}, {code: 'BEAM-ABCD-EFGH'}])).toBe('BEAM-ABCD-EFGH');
    expect(appliedBeamCode([{code: 'SUMMER'}])).toBe('');
    expect(appliedBeamCode(undefined)).toBe('');
  });
});

describe('OrderPointsView', () => {
  it('shows the order points and the new balance', () => {
    const html = render(
      <OrderPointsView
        state={{result: {order: {status: 'credited', points: 40}, customer: {balance: 1240}}}}
      />,
    );
    expect(html).toContain('You earned 40 points with this order.');
    expect(html).toContain('1240 points');
  });
  it('invites a guest to create an account', () => {
    expect(render(<OrderPointsView state={{guest: true}} />)).toContain('Create an account');
  });
});

describe('tier progress', () => {
  const silver = {
    name: 'Silver',
    reached: null,
    multiplier: '1.25',
    metric: 'spend',
    currency: 'USD',
    value: '460.00',
    next: {name: 'Gold', threshold: '500.00', remaining: '40.00'},
  };

  it('says in checkout what the next tier still needs after this order', () => {
    const html = render(<CheckoutRewardsView state={{summary: {...summary, tier: silver}}} />);
    expect(html).toContain('<s-text>Spend 40.00 USD more after this order to reach Gold.</s-text>');
  });

  it('says in checkout that this order brings the buyer to the next tier', () => {
    const tier = {...silver, name: 'Gold', reached: 'Gold', next: null};
    const html = render(<CheckoutRewardsView state={{summary: {...summary, tier}}} />);
    expect(html).toContain('<s-text>This order brings you to Gold.</s-text>');
  });

  it('says nothing about tiers while the shop has none, or to a guest', () => {
    expect(render(<CheckoutRewardsView state={{summary: {...summary, tier: null}}} />)).not.toContain(
      'reach',
    );
    const guest = {...summary, customer: null, tier: null};
    expect(render(<CheckoutRewardsView state={{summary: guest}} />)).not.toContain('reach');
  });

  it('says on the thank-you page where the order left the tier', () => {
    const result = {
      order: {status: 'credited', points: 50},
      customer: {balance: 1250},
      tier: {...silver, reached: 'Silver'},
    };
    const html = render(<OrderPointsView state={{result}} />);
    expect(html).toContain('You earned 50 points with this order.');
    expect(html).toContain('<s-text>This order brings you to Silver.</s-text>');
    const need = render(<OrderPointsView state={{result: {...result, tier: silver}}} />);
    expect(need).toContain('<s-text>Spend 40.00 USD more to reach Gold.</s-text>');
  });
});
