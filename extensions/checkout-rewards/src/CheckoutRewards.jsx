// The checkout block (reductions target and the merchant-placeable block): balance, the
// points this cart earns, a dropdown of affordable rewards. Choosing one only selects it;
// the "Redeem for N points" button spends the points and applies the code. A refused code is
// released, and a reward code the buyer removes from the checkout is cancelled, so the
// points come straight back.
import {useEffect, useMemo, useRef, useState} from 'preact/hooks';

import {
  cartFromCheckout,
  isBeamCode,
  newClientKey,
  redeemAndApply,
  redeemButtonLabel,
  removedBeamCodes,
  returnRemovedCode,
  rewardChoices,
  rewardLabel,
  tierProgressMessage,
} from './beam-client.js';

/** Pure view of the state, so it renders the same in tests and in the checkout. */
export function CheckoutRewardsView({state, onSelect, onRedeem, formatMoney = (v) => v}) {
  const {summary, busy, notice, info, applied, loading, failed, selected} = state;
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
  const chosen = choices.find((choice) => choice.value === selected);
  const tier = tierProgressMessage(summary.tier, {afterOrder: true});
  return (
    <s-stack gap="small-200">
      <s-text>
        You have <s-text type="strong">{summary.customer.balance} points</s-text>
        {earn > 0 ? ` · this order earns ${earn} points` : ''}
      </s-text>
      {tier ? <s-text>{tier}</s-text> : null}
      {applied ? (
        <s-banner tone="success">Reward applied: {applied}</s-banner>
      ) : choices.length > 0 ? (
        <s-stack gap="small-200">
          <s-select
            label="Use your points"
            placeholder="Choose a reward"
            value={chosen ? chosen.value : ''}
            disabled={busy || undefined}
            onChange={(event) => onSelect(event.currentTarget.value)}
          >
            {choices.map((choice) => (
              <s-option key={choice.value} value={choice.value}>
                {rewardLabel(choice.reward, formatMoney)}
              </s-option>
            ))}
          </s-select>
          {chosen ? (
            <s-button
              variant="primary"
              disabled={busy || undefined}
              onClick={() => onRedeem(chosen.value)}
            >
              {redeemButtonLabel(chosen.reward)}
            </s-button>
          ) : null}
        </s-stack>
      ) : (
        <s-text color="subdued">Keep shopping to unlock a reward.</s-text>
      )}
      {busy ? <s-spinner accessibilityLabel="Applying your reward" /> : null}
      {info ? <s-banner tone="info">{info}</s-banner> : null}
      {notice ? <s-banner tone="warning">{notice}</s-banner> : null}
    </s-stack>
  );
}

/** A Beam reward code already on the checkout (after a reload the block shows it again). */
export function appliedBeamCode(discountCodes) {
  return (discountCodes || []).map((d) => d.code).find(isBeamCode) || '';
}

/** Container: reads the checkout through `api` (the `shopify` global) and talks to Beam. */
export function CheckoutRewards({api, client}) {
  const lines = api.lines.value;
  const discounts = api.discountAllocations.value;
  const codes = api.discountCodes?.value || [];
  const alreadyApplied = appliedBeamCode(codes);
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

  // The buyer removed a reward code from the checkout: give its points back now.
  const seenCodes = useRef(null);
  const codesKey = codes.map((d) => d.code).join(' ');
  useEffect(() => {
    const before = seenCodes.current;
    seenCodes.current = codes;
    for (const code of before ? removedBeamCodes(before, codes) : []) {
      returnRemovedCode({client, code}).then((result) =>
        setState((s) => ({
          ...s,
          applied: s.applied === code ? '' : s.applied,
          info: result.ok ? result.message : '',
          notice: result.ok ? '' : result.message,
          summary: s.summary && balanceUpdated(s.summary, result.balance),
        })),
      );
    }
  }, [codesKey]);

  function onSelect(value) {
    setState((s) => ({...s, selected: value, notice: '', info: ''}));
  }

  async function onRedeem(value) {
    const reward = (state.summary?.rewards || []).find((r) => String(r.id) === value);
    if (!reward || state.busy) return;
    setState((s) => ({...s, busy: true, notice: '', info: ''}));
    const result = await redeemAndApply({
      client,
      reward,
      clientKey: newClientKey('checkout'),
      applyCode: (code) => api.applyDiscountCodeChange({type: 'addDiscountCode', code}),
    });
    setState((s) => ({
      ...s,
      busy: false,
      selected: '',
      applied: result.ok ? result.code : s.applied,
      notice: result.ok ? '' : result.message,
      summary: s.summary && balanceUpdated(s.summary, result.balance),
    }));
  }

  const formatMoney = (value) =>
    api.i18n?.formatCurrency ? api.i18n.formatCurrency(Number(value)) : value;
  return (
    <CheckoutRewardsView
      state={{...state, applied: api.discountCodes ? alreadyApplied : state.applied}}
      onSelect={onSelect}
      onRedeem={onRedeem}
      formatMoney={formatMoney}
    />
  );
}

function balanceUpdated(summary, balance) {
  if (balance == null || !summary.customer) return summary;
  return {...summary, customer: {...summary.customer, balance}};
}
