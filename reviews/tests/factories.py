import factory

from accounts.tests.factories import UserFactory
from catalog.tests.factories import ThemeFactory
from reviews.models import Review


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    author = factory.SubFactory(UserFactory)
    theme = factory.SubFactory(ThemeFactory)
    rating = 4
    comment = "Great fun."
