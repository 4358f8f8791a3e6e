"""PostgreSQL only: a GIN index over the profile search document (names and member number).

Not in the model's Meta because SQLite can't build a GIN index; the search falls back to
prefix LIKEs there. The expression must stay identical to `crm.selectors.profile_search_document`
(tests/crm/api/test_search.py checks the planner uses this index).
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

INDEX = GinIndex(
    SearchVector("first_name", "last_name", "member_number", config="simple"),
    name="profile_search_document",
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(apps.get_model("crm", "CustomerProfile"), INDEX)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("crm", "CustomerProfile"), INDEX)


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_api_keys")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
