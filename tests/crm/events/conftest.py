import pytest


def pytest_collection_modifyitems(items):
    # The pipeline enqueues processing on commit; these tests need real commits to see it run.
    for item in items:
        if "/crm/events/" in str(item.fspath) and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db(transaction=True))
