// Entry of customer-account.page.render: the full Rewards page.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';

import {createBeamClient} from '../../checkout-rewards/src/beam-client.js';
import {APP_URL} from '../../checkout-rewards/src/config.js';
import {AccountRewards} from './AccountRewards.jsx';

export default async () => {
  const client = createBeamClient({baseUrl: APP_URL, getToken: () => shopify.sessionToken.get()});
  const formatDate = (iso) =>
    shopify.i18n.formatDate(new Date(iso), {day: 'numeric', month: 'short', year: 'numeric'});
  render(
    <s-page heading="Rewards">
      <AccountRewards client={client} formatDate={formatDate} />
    </s-page>,
    document.body,
  );
};
