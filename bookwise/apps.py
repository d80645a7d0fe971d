from django.apps import AppConfig


class BookwiseConfig(AppConfig):
    name = "bookwise"
    verbose_name = "BookWise platform"
