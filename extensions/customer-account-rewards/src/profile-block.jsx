// Entry of customer-account.profile.block.render: balance, latest history, rewards, redeem.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';

import {createBeamClient} from '../../checkout-rewards/src/beam-client.js';
import {APP_URL} from '../../checkout-rewards/src/config.js';
import {AccountRewards} from './AccountRewards.jsx';

export default async () => {
  const client = createBeamClient({baseUrl: APP_URL, getToken: () => shopify.sessionToken.get()});
  render(
    <s-section heading="Rewards">
      <AccountRewards client={client} compact />
    </s-section>,
    document.body,
  );
};
