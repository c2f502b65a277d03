"""The store admin's design system in Django templates: Polaris components as tags that emit
the markup (class names) Polaris's React components render, styled by the vendored compiled
CSS (``static/vendor/polaris/polaris.css``). Layout values Polaris passes as inline CSS
custom properties are set by class in ``static/beam/admin.css`` instead, so pages carry no
inline style and a strict ``style-src`` stays possible.

Block components (``card``, ``banner``, ``empty_state``, ``page_header``) wrap their body;
``button``, ``badge``, ``icon``, ``field`` and ``pagination`` are one tag each."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from django import template
from django.contrib.staticfiles import finders
from django.forms import BoundField
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.template.context import Context
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ICONS = "vendor/polaris-icons"  # the static folder the icons are vendored in

BUTTON_VARIANTS = {"primary", "secondary", "tertiary", "plain", "monochromePlain"}
BADGE_TONES = {"", "info", "success", "warning", "critical", "attention", "new", "magic"}
BANNER_TONES = {
    "info": "InfoIcon",
    "success": "CheckCircleIcon",
    "warning": "AlertTriangleIcon",
    "critical": "AlertDiamondIcon",
}
TONE_WORDS = {
    "info": "Info",
    "success": "Success",
    "warning": "Warning",
    "critical": "Critical",
    "attention": "Attention",
    "new": "New",
}


@lru_cache(maxsize=64)
def _icon_svg(name: str) -> str:
    found = finders.find(f"{ICONS}/{name}.svg") if name.isidentifier() else None
    if not found:
        raise template.TemplateSyntaxError(
            f"unknown Polaris icon {name!r} (vendor it in static/{ICONS}/)"
        )
    svg = Path(str(found)).read_text()
    return svg.replace(
        '<svg xmlns="http://www.w3.org/2000/svg"',
        '<svg class="Polaris-Icon__Svg" focusable="false" aria-hidden="true"',
        1,
    )


@register.simple_tag
def icon(name: str, tone: str = "") -> SafeString:
    """An icon from ``@shopify/polaris-icons``, inline like Polaris's ``<Icon>`` (decorative)."""
    tone_class = f" Polaris-Icon--tone{tone[:1].upper()}{tone[1:]}" if tone else ""
    return format_html(
        '<span class="Polaris-Icon{}">{}</span>',
        tone_class,
        mark_safe(_icon_svg(name)),  # noqa: S308 (a vendored file, not input)
    )


def _attrs(extra: dict[str, Any]) -> SafeString:
    """HTML attributes from tag keywords: ``hx_get`` → ``hx-get``; ``True`` → bare attribute;
    ``None``/``False``/"" → left out."""
    pairs = []
    for key, value in extra.items():
        if value is None or value is False or value == "":
            continue
        name = key.replace("_", "-")
        pairs.append((name, name if value is True else value))
    return format_html_join("", ' {}="{}"', pairs)


def _button_classes(variant: str, tone: str, size: str, full: bool, disabled: bool) -> str:
    if variant not in BUTTON_VARIANTS:
        raise template.TemplateSyntaxError(
            f"button variant {variant!r} is not one of {sorted(BUTTON_VARIANTS)}"
        )
    classes = [
        "Polaris-Button",
        "Polaris-Button--pressable",
        f"Polaris-Button--variant{variant[:1].upper()}{variant[1:]}",
        f"Polaris-Button--size{size.title()}",
        "Polaris-Button--textAlignCenter",
    ]
    if tone:
        classes.append(f"Polaris-Button--tone{tone.title()}")
    if full:
        classes.append("Polaris-Button--fullWidth")
    if disabled:
        classes.append("Polaris-Button--disabled")
    return " ".join(classes)


@register.simple_tag
def button(
    label: str,
    url: str = "",
    *,
    variant: str = "secondary",
    tone: str = "",
    size: str = "medium",
    submit: bool = False,
    full: bool = False,
    disabled: bool = False,
    hx: bool = False,
    icon_name: str = "",
    classes: str = "",
    **extra: Any,
) -> SafeString:
    """A Polaris ``<Button>``: a link when it has a ``url`` (``hx=True`` loads it into the page
    with htmx and pushes the address), else a ``<button>`` (``submit=True`` submits its form).
    Other keywords become attributes (``id``, ``name``, ``value``, ``hx_post``, ``data_x``…)."""
    css = _button_classes(variant, tone, size, full, disabled)
    if classes:
        css = f"{css} {classes}"
    weight = "semibold" if variant == "primary" else ("regular" if variant == "plain" else "medium")
    text_size = "bodyMd" if variant == "plain" else "bodySm"
    inner = format_html(
        '<span class="Polaris-Text--root Polaris-Text--{} Polaris-Text--{}">{}</span>',
        text_size,
        weight,
        label,
    )
    if icon_name:
        inner = format_html(
            '<span class="Polaris-Button__Icon">{}</span>{}', icon(icon_name), inner
        )
    if url:
        if hx:
            extra = {"hx_get": url, "hx_target": "#beam-main", "hx_push_url": "true", **extra}
        if disabled:
            extra["aria_disabled"] = "true"
        return format_html('<a class="{}" href="{}"{}>{}</a>', css, url, _attrs(extra), inner)
    kind = "submit" if submit else extra.pop("type", "button")
    if disabled:
        extra["disabled"] = True
    return format_html(
        '<button class="{}" type="{}"{}>{}</button>', css, kind, _attrs(extra), inner
    )


@register.simple_tag
def badge(text: str, tone: str = "", **extra: Any) -> SafeString:
    """A Polaris ``<Badge>``; a tone adds its word for screen readers, as Polaris does."""
    if tone not in BADGE_TONES:
        raise template.TemplateSyntaxError(
            f"badge tone {tone!r} is not one of {sorted(BADGE_TONES)}"
        )
    tone_class = f" Polaris-Badge--tone{tone.title()}" if tone else ""
    hidden = (
        format_html(
            '<span class="Polaris-Text--root Polaris-Text--visuallyHidden">{} </span>',
            TONE_WORDS[tone],
        )
        if tone in TONE_WORDS
        else ""
    )
    return format_html(
        '<span class="Polaris-Badge{}"{}>{}'
        '<span class="Polaris-Text--root Polaris-Text--bodySm">{}</span></span>',
        tone_class,
        _attrs(extra),
        hidden,
        text,
    )


@register.inclusion_tag("polaris/field.html")
def field(bound: BoundField, help_text: str = "") -> dict[str, Any]:
    """One form field as Polaris's TextField / Select / Checkbox / ChoiceList, with its label,
    help text and inline error wired by ``aria-describedby``."""
    widget_type = bound.widget_type
    kind = {
        "checkbox": "checkbox",
        "select": "select",
        "nullbooleanselect": "select",
        "radioselect": "choices",
        "checkboxselectmultiple": "choices",
        "textarea": "textarea",
        "color": "color",
        "clearablefile": "file",
        "file": "file",
    }.get(widget_type, "text")
    if getattr(bound.field.widget, "input_type", "") == "color":  # a TextInput typed colour
        kind = "color"
    auto_id = bound.auto_id or bound.html_name
    describedby = []
    if bound.errors:
        describedby.append(f"{auto_id}Error")
    help_value = help_text or bound.help_text
    if help_value:
        describedby.append(f"{auto_id}HelpText")
    attrs: dict[str, Any] = {}
    if describedby:
        attrs["aria-describedby"] = " ".join(describedby)
    if bound.errors:
        attrs["aria-invalid"] = "true"
    if kind in {"text", "textarea"}:
        attrs["class"] = "Polaris-TextField__Input"
    elif kind == "select":
        attrs["class"] = "Polaris-Select__Input"
    elif kind == "checkbox":
        attrs["class"] = "Polaris-Checkbox__Input"
    widget = bound.as_widget(attrs=attrs) if kind != "choices" else None
    selected_label = ""
    if kind == "select":
        value = bound.value()
        choices = list(getattr(bound.field, "choices", []))
        for option_value, option_label in choices:
            if str(option_value) == str(value if value is not None else ""):
                selected_label = str(option_label)
                break
        else:
            # Nothing selected: the browser shows (and submits) the first option.
            selected_label = str(choices[0][1]) if choices else ""
    return {
        "field": bound,
        "kind": kind,
        "widget": widget,
        "auto_id": auto_id,
        "help_text": help_value,
        "selected_label": selected_label,
        "has_value": bound.value() not in (None, ""),
    }


@register.inclusion_tag("polaris/pagination.html")
def pagination(
    previous_url: str = "",
    next_url: str = "",
    label: str = "",
    hx: bool = True,
    target: str = "#beam-main",
    swap: str = "",
    previous_label: str = "Previous",
    next_label: str = "Next",
) -> dict[str, Any]:
    """Polaris's ``<Pagination>``: previous/next icon buttons around a label. htmx loads a
    page into ``target`` (a list that swaps alone: its own element, ``swap="outerHTML"``).
    ``previous_label``/``next_label`` name the buttons (a history: "Newer"/"Older")."""
    return {
        "previous_url": previous_url,
        "next_url": next_url,
        "label": label,
        "hx": hx,
        "target": target,
        "swap": swap,
        "previous_label": previous_label,
        "next_label": next_label,
    }


class ComponentNode(template.Node):
    """A block component: renders its body, then its partial with the body and keywords."""

    def __init__(
        self, template_name: str, nodelist: NodeList, kwargs: dict[str, FilterExpression]
    ) -> None:
        self.template_name = template_name
        self.nodelist = nodelist
        self.kwargs = kwargs

    def render(self, context: Context) -> str:
        values = {key: value.resolve(context) for key, value in self.kwargs.items()}
        # The body is template output, escaped as it rendered.
        values["body"] = mark_safe(self.nodelist.render(context))  # noqa: S308
        if "tone" in values and self.template_name == "polaris/banner.html":
            values["icon_name"] = BANNER_TONES.get(values["tone"] or "info", "InfoIcon")
        return render_to_string(self.template_name, values)


def _component(name: str) -> None:
    def compile_tag(parser: Parser, token: Token) -> ComponentNode:
        bits = token.split_contents()[1:]
        kwargs = template.base.token_kwargs(bits, parser, support_legacy=False)
        if bits:
            raise template.TemplateSyntaxError(f"{name} takes keyword arguments only, got {bits}")
        nodelist = parser.parse((f"end{name}",))
        parser.delete_first_token()
        return ComponentNode(f"polaris/{name}.html", nodelist, kwargs)

    compile_tag.__doc__ = (
        f"``{{% {name} key=value %}}…{{% end{name} %}}``: see templates/polaris/{name}.html."
    )
    register.tag(name, compile_tag)


for _name in ("card", "banner", "empty_state", "page_header"):
    _component(_name)
