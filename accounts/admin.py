from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest

from accounts import services
from accounts.models import RefreshTokenRecord, Role, User
from bookwise.admin_tools import EstimatedCountPaginator, ReadOnlyAdminMixin, parse_id, users_with_email
from bookwise.errors import DomainError


class _EmailFormMixin:
    def clean_email(self) -> str:
        email = services.email_normalize(self.cleaned_data["email"])
        taken = User.objects.alias(email_lower=Lower("email")).filter(email_lower=email)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email


class UserCreationForm(_EmailFormMixin, BaseUserCreationForm):
    """Email and a password typed twice; Django's password validators run with the user's attributes."""

    class Meta:
        model = User
        fields = ("email", "full_name")


class UserChangeForm(_EmailFormMixin, DjangoUserChangeForm):
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "full_name",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "full_name", "role", "is_staff", "is_active", "date_joined")
    list_filter = ("role", "is_staff", "is_superuser", "is_active")
    search_fields = ("email", "full_name")
    search_help_text = "A user id, an exact email address, or part of a name or email (slower)."
    # Newest first by primary key: an index scan, where -date_joined would sort the whole table.
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    # The role changes through the actions (services), and becomes `merchant`
    # when an admin approves the user's merchant profile.
    readonly_fields = ("role", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "role")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),)
    actions = ("make_admin", "make_customer")
    # What only superusers may set: with these a staff member could grant themselves more
    # than their own Django permissions (and `is_staff` alone is no API power).
    superuser_only_fields = ("is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return fields + tuple(f for f in self.superuser_only_fields if f not in fields)

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return not self._another_admin(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        return not self._another_admin(request, obj) and super().has_delete_permission(request, obj)

    @staticmethod
    def _another_admin(request: HttpRequest, obj: User | None) -> bool:
        """Other admins' accounts (their password, email, flags) are a superuser's business."""
        return obj is not None and obj.pk != request.user.pk and obj.is_platform_admin and not request.user.is_superuser

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[User], search_term: str
    ) -> tuple[QuerySet[User], bool]:
        term = search_term.strip()
        pk = parse_id(term)
        if pk is not None:
            return queryset.filter(pk=pk), False
        if "@" in term and " " not in term:
            exact = queryset.filter(pk__in=users_with_email(term).values("pk"))
            if exact.exists():
                return exact, False
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description="Make the selected users admins (API role)", permissions=("change",))
    def make_admin(self, request, queryset) -> None:
        self._set_role(request, queryset, Role.ADMIN)

    @admin.action(description="Make the selected users customers", permissions=("change",))
    def make_customer(self, request, queryset) -> None:
        self._set_role(request, queryset, Role.CUSTOMER)

    def _set_role(self, request, queryset, role: str) -> None:
        changed = 0
        for user in queryset.order_by("pk"):
            try:
                services.user_set_role(user=user, role=role, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)
                return
            changed += 1
        self.message_user(request, f"{changed} user(s) now have the role {role}.", messages.SUCCESS)


@admin.register(RefreshTokenRecord)
class RefreshTokenRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: records are written by the token services only."""

    list_display = ("jti", "user", "family", "created_at", "expires_at", "used_at", "revoked_at")
    list_filter = (("used_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("jti",)
    search_help_text = "A token id (jti) or the user's exact email address."
    list_select_related = ("user",)
    ordering = ("-id",)
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    readonly_fields = (
        "jti",
        "family",
        "user",
        "parent_jti",
        "created_at",
        "expires_at",
        "used_at",
        "revoked_at",
        "family_started_at",
        "credentials_version",
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[RefreshTokenRecord], search_term: str
    ) -> tuple[QuerySet[RefreshTokenRecord], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if "@" in term:
            return queryset.filter(user__in=users_with_email(term)), False
        return queryset.filter(jti=term), False
