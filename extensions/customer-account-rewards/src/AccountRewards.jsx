// Customer account: balance, the VIP tier with its history, the reward catalogue with redeem,
// the birthday form (full page) and the points history. Used full-page
// (customer-account.page.render) and as a profile block.
import {useEffect, useState} from 'preact/hooks';

import {
  birthdayGiftMessage,
  newClientKey,
  tierMultiplierLabel,
  tierNeedMessage,
} from '../../checkout-rewards/src/beam-client.js';

const KIND_LABEL = {
  order_earn: 'Order',
  redeem: 'Reward redeemed',
  redeem_refund: 'Points returned',
};

export function entryLabel(entry) {
  return entry.label || KIND_LABEL[entry.kind] || entry.kind;
}

/** `2027-12-31` from an ISO time (when the platform's date formatting is not passed). */
export function plainDate(iso) {
  return String(iso || '').slice(0, 10);
}

/** The member's tier (as Beam's tier rules hold it), what the next one needs, and the
 * recent tier changes in Beam's words (the full page only). */
/** "Show more" under a history list while older rows exist (`more`: the cursor). */
export function ShowMore({more, busy, onMore}) {
  if (!more || !onMore) return null;
  return (
    <s-button variant="secondary" disabled={busy || undefined} onClick={onMore}>
      Show more
    </s-button>
  );
}

export function TierView({
  tier,
  changes = [],
  compact = false,
  formatDate = plainDate,
  more = null,
  busy = false,
  onMore,
}) {
  if (!tier) return null;
  const multiplier = tierMultiplierLabel(tier);
  // last_day: the calendar day (shop's zone) the tier holds through, read at local noon so
  // every browser shows that day.
  const until =
    tier.name && tier.last_day ? `${tier.name} until ${formatDate(`${tier.last_day}T12:00:00`)}` : '';
  const shown = compact ? [] : changes;
  return (
    <s-section heading="VIP status">
      <s-stack gap="small-200">
        <s-text>
          {tier.name ? (
            <>
              Your tier: <s-text type="strong">{tier.name}</s-text>
            </>
          ) : (
            'No tier yet'
          )}
          {multiplier ? ` · ${multiplier}` : ''}
        </s-text>
        {until ? <s-text color="subdued">{until}</s-text> : null}
        <s-text>{tierNeedMessage(tier)}</s-text>
        {shown.length > 0 ? (
          <s-unordered-list>
            {shown.map((change) => (
              <s-list-item key={change.id}>
                {formatDate(change.at)}: {change.label}
              </s-list-item>
            ))}
          </s-unordered-list>
        ) : null}
        {compact ? null : <ShowMore more={more} busy={busy} onMore={onMore} />}
      </s-stack>
    </s-section>
  );
}

const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/** The birthday form: the saved birthday, when its gift comes, and month / day / year to
 * set it (the same service as the storefront panel; Beam answers a bad date with the reason). */
export function BirthdayView({birthday, onSave, formatDate = plainDate}) {
  if (!birthday || !birthday.doc) return null;
  const {doc, notice, error, busy} = birthday;
  if (!doc.offered && !doc.birthday) return null;
  return (
    <BirthdayForm
      doc={doc}
      notice={notice}
      error={error}
      busy={busy}
      onSave={onSave}
      formatDate={formatDate}
    />
  );
}

function BirthdayForm({doc, notice, error, busy, onSave, formatDate}) {
  const saved = doc.birthday;
  const [draft, setDraft] = useState({
    month: saved?.month || '',
    day: saved?.day || '',
    year: saved?.year || '',
  });
  const edit = (name) => (event) => {
    const value = event.currentTarget.value;
    setDraft((d) => ({...d, [name]: value}));
  };
  const gift = birthdayGiftMessage(doc, (iso) => formatDate(`${iso}T12:00:00`));
  return (
    <s-section heading="Your birthday">
      <s-stack gap="small-200">
        {saved ? (
          <s-text>
            Your birthday: {saved.day} {MONTHS[saved.month - 1]}
            {saved.year ? ` ${saved.year}` : ''}
          </s-text>
        ) : (
          <s-text>Tell us your birthday and get points on the day.</s-text>
        )}
        {gift ? <s-text color="subdued">{gift}</s-text> : null}
        {notice ? <s-banner tone="success">{notice}</s-banner> : null}
        {error ? <s-banner tone="critical">{error}</s-banner> : null}
        <s-form
          onSubmit={(event) => {
            event.preventDefault?.();
            onSave(draft);
          }}
        >
          <s-stack direction="inline" gap="base">
            <s-select
              label="Month"
              value={String(draft.month)}
              onChange={edit('month')}
            >
              <s-option value="">Month</s-option>
              {MONTHS.map((name, index) => (
                <s-option key={name} value={String(index + 1)}>
                  {name}
                </s-option>
              ))}
            </s-select>
            <s-number-field
              label="Day"
              min={1}
              max={31}
              value={String(draft.day)}
              onChange={edit('day')}
            />
            <s-number-field
              label="Year (optional)"
              min={1900}
              value={String(draft.year)}
              onChange={edit('year')}
            />
          </s-stack>
          <s-button type="submit" disabled={busy || undefined}>
            Save birthday
          </s-button>
        </s-form>
      </s-stack>
    </s-section>
  );
}

export function AccountRewardsView({
  state,
  onRedeem,
  onBirthday,
  onMore,
  compact = false,
  formatDate,
}) {
  if (state.loading) return <s-spinner accessibilityLabel="Loading your rewards" />;
  if (state.guest) return <s-text>Log in to see your rewards.</s-text>;
  if (state.failed || !state.customer) {
    return <s-text color="subdued">Your rewards are unavailable right now.</s-text>;
  }
  const {customer, rewards = [], entries = [], redeemed, notice, busy} = state;
  const shown = compact ? entries.slice(0, 3) : entries;
  return (
    <s-stack gap="base">
      <s-text>
        Balance: <s-text type="strong">{customer.balance} points</s-text>
        {customer.pending ? ` (+${customer.pending} pending)` : ''}
      </s-text>
      {redeemed ? (
        <s-banner tone="success">
          Your code: <s-text type="strong">{redeemed.code}</s-text> — use it at checkout.
        </s-banner>
      ) : null}
      {notice ? <s-banner tone="warning">{notice}</s-banner> : null}
      <TierView
        tier={state.tier}
        changes={state.tierChanges}
        compact={compact}
        formatDate={formatDate}
        more={state.tierChangesNext}
        busy={state.loadingMore}
        onMore={onMore && (() => onMore('tier-changes'))}
      />
      {compact ? null : (
        <BirthdayView birthday={state.birthday} onSave={onBirthday} formatDate={formatDate} />
      )}
      <s-section heading="Rewards">
        <s-stack gap="small-200">
          {rewards.map((reward) => (
            <s-stack key={reward.id} direction="inline" gap="base">
              <s-text>
                {reward.name} · {reward.variable_points || reward.points} points
              </s-text>
              <s-button
                disabled={!reward.affordable || busy || undefined}
                onClick={() => onRedeem(reward)}
              >
                Redeem
              </s-button>
            </s-stack>
          ))}
        </s-stack>
      </s-section>
      <s-section heading="History">
        {shown.length === 0 ? (
          <s-text color="subdued">No activity yet.</s-text>
        ) : (
          <s-unordered-list>
            {shown.map((entry) => (
              <s-list-item key={entry.id}>
                {entryLabel(entry)}: {entry.amount > 0 ? `+${entry.amount}` : entry.amount}
              </s-list-item>
            ))}
          </s-unordered-list>
        )}
        {compact ? null : (
          <ShowMore
            more={state.entriesNext}
            busy={state.loadingMore}
            onMore={onMore && (() => onMore('entries'))}
          />
        )}
      </s-section>
    </s-stack>
  );
}

/** Where each history's rows and cursor live in the state, by the page endpoint's part. */
const HISTORY_PARTS = {
  entries: {rows: 'entries', next: 'entriesNext', key: 'entries'},
  'tier-changes': {rows: 'tierChanges', next: 'tierChangesNext', key: 'tier_changes'},
};

export function AccountRewards({client, compact, formatDate}) {
  const [state, setState] = useState({loading: true});

  async function load() {
    try {
      const [summary, history] = await Promise.all([client.customer(), client.history()]);
      setState((s) => ({
        ...s,
        loading: false,
        customer: summary.customer,
        tier: summary.tier,
        rewards: summary.rewards,
        entries: history.entries,
        entriesNext: history.entries_next || null,
        tierChanges: history.tier_changes || [],
        tierChangesNext: history.tier_changes_next || null,
      }));
    } catch (error) {
      setState({loading: false, failed: true, guest: error.code === 'customer_login_required'});
    }
  }

  async function loadBirthday() {
    try {
      const doc = await client.birthday();
      setState((s) => ({...s, birthday: {doc}}));
    } catch {
      setState((s) => ({...s, birthday: null}));
    }
  }

  useEffect(() => {
    load();
    if (!compact) loadBirthday();
  }, [client]);

  async function onBirthday(fields) {
    setState((s) => ({...s, birthday: {...s.birthday, busy: true, error: '', notice: ''}}));
    try {
      const doc = await client.setBirthday(fields);
      setState((s) => ({...s, birthday: {doc, notice: 'Birthday saved.'}}));
    } catch (error) {
      setState((s) => ({...s, birthday: {...s.birthday, busy: false, error: error.message}}));
    }
  }

  async function onMore(part) {
    const {rows, next, key} = HISTORY_PARTS[part];
    const before = state[next];
    if (!before || state.loadingMore) return;
    setState((s) => ({...s, loadingMore: true}));
    try {
      const page = await client.historyPage(part, before);
      setState((s) => ({
        ...s,
        loadingMore: false,
        [rows]: [...(s[rows] || []), ...page[key]],
        [next]: page.next,
      }));
    } catch (error) {
      setState((s) => ({...s, loadingMore: false, notice: error.message}));
    }
  }

  async function onRedeem(reward) {
    setState((s) => ({...s, busy: true, notice: ''}));
    try {
      const result = await client.redeem({
        rewardId: reward.id,
        points: reward.kind === 'variable' ? reward.variable_points : undefined,
        clientKey: newClientKey('account'),
        channel: 'customer_account',
      });
      const ok = result.redemption?.status === 'issued';
      setState((s) => ({
        ...s,
        busy: false,
        redeemed: ok ? result.redemption : null,
        notice: ok ? '' : result.redemption?.error || 'Your reward is being prepared.',
      }));
    } catch (error) {
      setState((s) => ({...s, busy: false, notice: error.message}));
    }
    await load();
  }

  return (
    <AccountRewardsView
      state={state}
      onRedeem={onRedeem}
      onBirthday={onBirthday}
      onMore={onMore}
      compact={compact}
      formatDate={formatDate}
    />
  );
}
