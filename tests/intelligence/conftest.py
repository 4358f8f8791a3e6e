import pytest

from simulators.anthropic_api import AnthropicSimulator


@pytest.fixture(scope="session")
def anthropic_server():
    """One fake Messages API for the session, on a free port; each test resets it."""
    server = AnthropicSimulator().start()
    yield server
    server.stop()


@pytest.fixture
def fake_anthropic(anthropic_server, settings):
    """The real SDK pointed at the fake over HTTP, with one quick retry and a short timeout."""
    anthropic_server.reset()
    settings.ANTHROPIC_API_KEY = "sk-ant-test-key"
    settings.ANTHROPIC_BASE_URL = anthropic_server.url
    settings.ANTHROPIC_MODEL = "claude-sonnet-5-5"
    settings.ANTHROPIC_MAX_RETRIES = 1
    settings.ANTHROPIC_TIMEOUT_SECONDS = 5
    yield anthropic_server
    anthropic_server.reset()


@pytest.fixture
def offline(settings):
    """No API key: the builder uses the offline parser (and never touches the network)."""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # discard port: a call here would fail loudly
