"""Plumbing shared by the template views: how a DomainError reaches a form."""

from __future__ import annotations

from django import forms

from bookwise.errors import DomainError, InvalidInput


def form_add_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal on the form: next to its field when it names one, else above the form."""
    field = exc.field if isinstance(exc, InvalidInput) else None
    form.add_error(field if field in form.fields else None, exc.message)
