"""The HTTP face of the bot: webhooks, the seed's REST API, health."""
