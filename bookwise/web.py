"""Plumbing shared by the template views: how a DomainError reaches a form, and how form fields render."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.forms.renderers import TemplatesSetting

from bookwise.errors import DomainError, InvalidInput


def form_add_domain_error(form: forms.Form, exc: DomainError, *, field_map: Mapping[str, str] | None = None) -> None:
    """Show a service's refusal on the form: next to its field when it names one, else above the form.

    `field_map` renames a service's field to the form's when they differ
    (a slot's `starts_at` is the form's `date`).
    """
    field = exc.field if isinstance(exc, InvalidInput) else None
    if field and field_map:
        field = field_map.get(field, field)
    form.add_error(field if field in form.fields else None, exc.message)


class FormRenderer(TemplatesSetting):
    """Every form field renders through one template, templates/forms/field.html (settings.FORM_RENDERER).

    `{{ field.as_field_group }}` gives the label, the input, the help text and
    the errors, with the ids the widget's aria-describedby points at.
    """

    field_template_name = "forms/field.html"
