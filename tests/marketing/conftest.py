import pytest
import requests

from simulators.messaging import start_messaging_simulator

SIMULATOR_API_KEY = "test-messaging-key-0123456789"


class SimulatorControl:
    """The simulator's control endpoints, over HTTP like any other client."""

    def __init__(self, url: str):
        self.url = url

    def fail(self, **rule) -> None:
        requests.post(f"{self.url}/_sim/fail", json=rule, timeout=5).raise_for_status()

    def block(self, *addresses: str) -> None:
        requests.post(f"{self.url}/_sim/block", json={"addresses": list(addresses)}, timeout=5).raise_for_status()

    def stop_failing(self) -> None:
        requests.delete(f"{self.url}/_sim/fail", timeout=5).raise_for_status()

    def requests(self, *, method: str | None = None, path_suffix: str = "") -> list[dict]:
        received = requests.get(f"{self.url}/_sim/requests", timeout=5).json()["requests"]
        return [
            request
            for request in received
            if (method is None or request["method"] == method) and request["path"].endswith(path_suffix)
        ]

    def state(self) -> dict:
        return requests.get(f"{self.url}/_sim/state", timeout=5).json()


@pytest.fixture
def messaging_simulator(settings):
    """A real Messaging simulator on a free port, with settings pointing the client at it: a short
    timeout so "timeout" failures cost half a second, and short backoffs so retries are quick."""
    simulator = start_messaging_simulator(api_key=SIMULATOR_API_KEY)
    settings.MESSAGING_BASE_URL = simulator.url
    settings.MESSAGING_API_KEY = SIMULATOR_API_KEY
    settings.MESSAGING_TIMEOUT_SECONDS = 0.5
    settings.MESSAGING_MAX_RETRIES = 2
    settings.MESSAGING_BACKOFF_SECONDS = 0.01
    settings.MESSAGING_BACKOFF_MAX_SECONDS = 2.0
    yield SimulatorControl(simulator.url)
    simulator.stop()
