// The checkout block (reductions target and the merchant-placeable block): balance, the
// points this cart earns, a dropdown of affordable rewards; choosing one redeems it and
// applies its code; a refused code is released so the points come straight back.
import {useEffect, useMemo, useState} from 'preact/hooks';

import {
  cartFromCheckout,
  newClientKey,
  redeemAndApply,
  rewardChoices,
  rewardLabel,
} from './beam-client.js';

/** Pure view of the state, so it renders the same in tests and in the checkout. */
export function CheckoutRewardsView({state, onChoose, formatMoney = (v) => v}) {
  const {summary, busy, notice, applied, loading, failed} = state;
  if (loading) return <s-spinner accessibilityLabel="Loading your rewards" />;
  if (failed || !summary) return null;
  const earn = summary.earn?.points || 0;
  if (!summary.customer) {
    return (
      <s-stack gap="small-200">
        <s-text>
          {earn > 0 ? `Log in to earn ${earn} points with this order.` : 'Log in to earn points.'}
        </s-text>
      </s-stack>
    );
  }
  const choices = rewardChoices(summary.rewards);
  return (
    <s-stack gap="small-200">
      <s-text>
        You have <s-text type="strong">{summary.customer.balance} points</s-text>
        {earn > 0 ? ` · this order earns ${earn} points` : ''}
      </s-text>
      {applied ? (
        <s-banner tone="success">Reward applied: {applied}</s-banner>
      ) : choices.length > 0 ? (
        <s-select
          label="Use your points"
          placeholder="Choose a reward"
          disabled={busy || undefined}
          onChange={(event) => onChoose(event.currentTarget.value)}
        >
          {choices.map((choice) => (
            <s-option key={choice.value} value={choice.value}>
              {rewardLabel(choice.reward, formatMoney)}
            </s-option>
          ))}
        </s-select>
      ) : (
        <s-text color="subdued">Keep shopping to unlock a reward.</s-text>
      )}
      {busy ? <s-spinner accessibilityLabel="Applying your reward" /> : null}
      {notice ? <s-banner tone="warning">{notice}</s-banner> : null}
    </s-stack>
  );
}

/** A Beam reward code already on the checkout (after a reload the block shows it again). */
export function appliedBeamCode(discountCodes) {
  return (discountCodes || []).map((d) => d.code).find((code) => /^BEAM-/i.test(code || '')) || '';
}

/** Container: reads the checkout through `api` (the `shopify` global) and talks to Beam. */
export function CheckoutRewards({api, client}) {
  const lines = api.lines.value;
  const discounts = api.discountAllocations.value;
  const alreadyApplied = appliedBeamCode(api.discountCodes?.value);
  const cart = useMemo(
    () => cartFromCheckout({lines, discountAllocations: discounts}),
    [lines, discounts],
  );
  const cartKey = JSON.stringify(cart);
  const [state, setState] = useState({loading: true});

  useEffect(() => {
    let live = true;
    client
      .checkoutSummary(cart)
      .then((summary) => live && setState((s) => ({...s, loading: false, failed: false, summary})))
      .catch(() => live && setState((s) => ({...s, loading: false, failed: true})));
    return () => {
      live = false;
    };
  }, [cartKey]);

  async function onChoose(value) {
    const reward = (state.summary?.rewards || []).find((r) => String(r.id) === value);
    if (!reward) return;
    setState((s) => ({...s, busy: true, notice: ''}));
    const result = await redeemAndApply({
      client,
      reward,
      clientKey: newClientKey('checkout'),
      applyCode: (code) => api.applyDiscountCodeChange({type: 'addDiscountCode', code}),
    });
    setState((s) => ({
      ...s,
      busy: false,
      applied: result.ok ? result.code : s.applied,
      notice: result.ok ? '' : result.message,
      summary: s.summary && {
        ...s.summary,
        customer: {...s.summary.customer, balance: result.balance ?? s.summary.customer.balance},
      },
    }));
  }

  const formatMoney = (value) =>
    api.i18n?.formatCurrency ? api.i18n.formatCurrency(Number(value)) : value;
  return (
    <CheckoutRewardsView
      state={{...state, applied: state.applied || alreadyApplied}}
      onChoose={onChoose}
      formatMoney={formatMoney}
    />
  );
}
