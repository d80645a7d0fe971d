from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts.models import User
        from accounts.user_cache import forget_saved_user

        # Not a domain write: the API's cached copy of the user (accounts.user_cache) must not outlive a change.
        post_save.connect(forget_saved_user, sender=User, dispatch_uid="accounts.user_cache.post_save")
        post_delete.connect(forget_saved_user, sender=User, dispatch_uid="accounts.user_cache.post_delete")
