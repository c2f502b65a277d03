"""axe-core (vendored in ``tests/e2e/vendor/``, test-only) run in a page or frame: the
violations of impact serious or critical, each with up to three of its elements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): '
      + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""
# The panel slides in: contrast is judged once its animations have finished.
SETTLED = """() => {
  const root = document.querySelector('#beam-root');
  const shadow = root && root.shadowRoot;
  return !shadow || !shadow.getAnimations().some(a => a.playState === 'running');
}"""


def serious_violations(target: Any) -> list[str]:
    """The serious and critical violations of the page or frame ``target`` as it is now."""
    target.wait_for_function(SETTLED)
    target.evaluate(AXE)
    return list(target.evaluate(SERIOUS))


CONTRAST_UNDECIDED = """async () => {
  const result = await axe.run(
    document, {resultTypes: ['incomplete'], runOnly: ['color-contrast']});
  return result.incomplete.flatMap(v => v.nodes.map(n => n.target.join(' ')));
}"""


def contrast_undecided(target: Any) -> list[str]:
    """Elements whose colour contrast axe could not decide (e.g. text over an image or a
    gradient): a person could not be sure to read them either."""
    target.wait_for_function(SETTLED)
    target.evaluate(AXE)
    return list(target.evaluate(CONTRAST_UNDECIDED))
