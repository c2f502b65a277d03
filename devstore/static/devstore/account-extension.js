// Devstore stand-in of Beam's customer-account extension (the full Rewards page): its birthday
// form and its points and tier histories with "Show more". It imports the extension's own
// client (extensions/checkout-rewards/src/beam-client.js) and plays the platform's part: the
// session token comes from the devstore, minted like the platform's for the logged-in
// customer. The same calls as AccountRewards.jsx's BirthdayView, history and ShowMore.

import {el, standInClient} from './extension-stand-in.js';

const root = document.getElementById('beam-account-extension');
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

function field(id, label, control) {
  return el('p', {}, el('label', {for: id}, label), ' ', control);
}

function longDate(iso) {
  const [year, month, day] = iso.split('-').map(Number);
  return new Date(year, month - 1, day).toLocaleDateString('en', {
    day: 'numeric', month: 'long', year: 'numeric',
  });
}

function entryLine(entry) {
  const amount = entry.amount > 0 ? `+${entry.amount}` : String(entry.amount);
  return `${entry.label || entry.kind}: ${amount}`;
}

function changeLine(change) {
  return `${change.at.slice(0, 10)}: ${change.label}`;
}

/** One history list; "Show more" asks the page endpoint for the rows before the cursor. */
function historySection(client, {heading, id, rows, next, part, key, line, empty}) {
  const list = el('ul', {id}, ...rows.map((row) => el('li', {}, line(row))));
  const section = el('section', {'aria-label': heading}, el('h2', {}, heading),
    rows.length ? list : el('p', {}, empty));
  let cursor = next;
  if (!cursor) return section;
  const more = el('button', {type: 'button', id: `${id}-more`}, 'Show more');
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await client.historyPage(part, cursor);
      list.append(...page[key].map((row) => el('li', {}, line(row))));
      cursor = page.next;
      if (cursor) more.disabled = false;
      else more.remove();
    } catch (failure) {
      more.disabled = false;
      section.append(el('p', {class: 'beam-history-error'}, failure.message));
    }
  });
  section.append(more);
  return section;
}

async function showHistory(client, box) {
  try {
    const history = await client.history();
    const parts = [
      historySection(client, {
        heading: 'Points history', id: 'beam-account-entries', rows: history.entries,
        next: history.entries_next, part: 'entries', key: 'entries', line: entryLine,
        empty: 'No activity yet.',
      }),
    ];
    if (history.tier_changes.length) {
      parts.push(historySection(client, {
        heading: 'VIP status history', id: 'beam-account-tiers', rows: history.tier_changes,
        next: history.tier_changes_next, part: 'tier-changes', key: 'tier_changes',
        line: changeLine, empty: '',
      }));
    }
    box.replaceChildren(...parts);
  } catch (failure) {
    box.replaceChildren(el('p', {class: 'beam-history-error'}, failure.message));
  }
}

async function start() {
  const {beam, client} = await standInClient(root);
  const label = root.querySelector('.ds-extension-label');
  const birthdayBox = el('div', {class: 'beam-account-birthday'});
  const historyBox = el('div', {class: 'beam-account-history'});
  root.replaceChildren(label, birthdayBox, historyBox);
  showHistory(client, historyBox);

  function show(doc, notice, error) {
    const saved = doc.birthday;
    const month = el('select', {id: 'beam-account-month', name: 'month', required: true},
      el('option', {value: ''}, 'Month'),
      ...MONTHS.map((name, i) =>
        el('option', {value: i + 1, selected: saved && saved.month === i + 1}, name)));
    const day = el('input', {
      id: 'beam-account-day', name: 'day', type: 'number', min: 1, max: 31, required: true,
      value: saved ? saved.day : null,
    });
    const year = el('input', {
      id: 'beam-account-year', name: 'year', type: 'number', min: 1900,
      value: saved ? saved.year : null,
    });
    const form = el('form', {'aria-label': 'Your birthday'},
      field('beam-account-month', 'Month', month),
      field('beam-account-day', 'Day', day),
      field('beam-account-year', 'Year (optional)', year),
      el('button', {type: 'submit'}, 'Save birthday'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const next = await client.setBirthday({month: month.value, day: day.value, year: year.value});
        show(next, 'Birthday saved.', '');
      } catch (failure) {
        show(doc, '', failure.message);
      }
    });
    const gift = beam.birthdayGiftMessage(doc, longDate);
    const parts = [
      el('h2', {}, 'Your birthday'),
      saved
        ? el('p', {class: 'beam-birthday-saved'},
          `Your birthday: ${saved.day} ${MONTHS[saved.month - 1]}${saved.year ? ` ${saved.year}` : ''}`)
        : el('p', {}, 'Tell us your birthday and get points on the day.'),
      gift ? el('p', {class: 'beam-birthday-gift'}, gift) : null,
      notice ? el('p', {role: 'status'}, notice) : null,
      error ? el('p', {role: 'alert'}, error) : null,
      form,
    ];
    birthdayBox.replaceChildren(...parts.filter(Boolean));
  }

  try {
    const doc = await client.birthday();
    if (doc.offered || doc.birthday) show(doc, '', '');
    else birthdayBox.replaceChildren(el('p', {}, 'Birthday gifts are not offered.'));
  } catch (failure) {
    birthdayBox.replaceChildren(el('p', {role: 'alert'}, failure.message));
  }
}

if (root) start();
