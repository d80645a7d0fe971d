import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    # CONCURRENTLY: the users table is large (1.7M rows at full scale) and stays writable while this builds.
    atomic = False

    dependencies = [
        ("accounts", "0002_credentials_version_and_family_age"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="user",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("full_name", config="simple"),
                name="user_full_name_search_idx",
            ),
        ),
    ]
