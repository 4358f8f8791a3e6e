# The scheduled sync ticks run against the same real Messaging simulator as the sync's own tests.
from tests.marketing.conftest import messaging_simulator  # noqa: F401
