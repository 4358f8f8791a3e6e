"""Small local stand-ins for the external services Fairway talks to (Messaging, Anthropic), served over real HTTP
for the demo and the tests, so nothing ever reaches the network."""
